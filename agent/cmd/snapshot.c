// SPDX-License-Identifier: MIT
/* agentctl snapshot: describe the process, start the sampler on it, drain every 100 ms while
 * naming frames promptly (so a process that exits keeps its names), then write folded stacks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bpf/sampler.h"
#include "cmd/snapshot.h"
#include "daemon/control.h"
#include "format/folded.h"
#include "os/privilege.h"
#include "os/procfs.h"
#include "profile/collector.h"
#include "python/pyproc.h"
#include "util/clock.h"
#include "util/log.h"

int snapshot__write(struct session *s, enum profile_kind kind, const char *path,
		    enum output_format format, uint64_t start_wall_ns, uint64_t duration_ns)
{
	struct profile_meta meta = {.kind = kind,
				    .rate_hz = sampler__frequency(session__sampler(s)),
				    .start_ns = start_wall_ns,
				    .duration_ns = duration_ns};

	return snapshot__write_profile(collector__profile(session__collector(s), kind), &meta, path,
				       format);
}

struct session_opts snapshot__session_opts(const struct snapshot_opts *opts)
{
	return (struct session_opts){
	    .pid = opts->pid,
	    .subprocesses = opts->subprocesses,
	    .rate_hz = opts->rate_hz,
	    .mode = opts->mode,
	    .threads = opts->threads,
	    .kernel = opts->kernel,
	    .gil_only = opts->gil_only,
	    .min_block_us = opts->min_block_us,
	};
}

int snapshot__run(const struct snapshot_opts *opts, volatile sig_atomic_t *stop)
{
	struct session_opts so = snapshot__session_opts(opts);
	struct session *s = NULL;
	uint64_t start, deadline, elapsed, wall, samples;
	int code, exited = 0;

	code = session__open(&so, &s);
	if (code)
		return code;
	wall = clock__wall_ns();
	start = clock__mono_ns();
	deadline = start + (uint64_t)(opts->duration_s * 1e9);
	while (!*stop) {
		uint64_t t = clock__mono_ns();

		if (t >= deadline)
			break;
		session__poll(s, deadline - t);
		/* one process: until it exits; a tree: until its root and every target have */
		if (!session__ntargets(s) && (!opts->subprocesses || !procfs__alive(opts->pid))) {
			exited = 1;
			break;
		}
	}
	session__poll(s, 0);
	elapsed = clock__mono_ns() - start;
	code = SNAP_FAILED;
	if (snapshot__write(s, opts->mode, opts->output, opts->format, wall, elapsed))
		goto out;
	samples = collector__stats(session__collector(s))[COLL_STAT_SAMPLES];
	if (exited)
		log_warn("pid %d %s after %.1f s; wrote the %llu samples collected until then",
			 opts->pid, opts->subprocesses ? "and its descendants exited" : "exited",
			 elapsed / 1e9, (unsigned long long)samples);
	else if (*stop)
		log_info("interrupted after %.1f s; wrote the %llu samples collected",
			 elapsed / 1e9, (unsigned long long)samples);
	else
		log_info("%llu samples of pid %d%s in %.1f s", (unsigned long long)samples,
			 opts->pid, opts->subprocesses ? " and its descendants" : "",
			 elapsed / 1e9);
	if (opts->subprocesses && !session__targets_seen(s))
		log_warn("none of pid %d and its descendants ran CPython", opts->pid);
	/* the sampled interval, for comparing with the target's own clock (time.monotonic) */
	log_info("sampled from %.6f to %.6f s of CLOCK_MONOTONIC", start / 1e9,
		 (start + elapsed) / 1e9);
	session__report(s);
	code = SNAP_OK;
out:
	session__close(s);
	return code;
}

int snapshot__agent_unable(int err, const struct control_request *req,
			   const struct control_answer *ans, const char *socket_path)
{
	if (err == -ENOENT || err == -ECONNREFUSED)
		return 1; /* no daemon */
	if (err)
		return 0;
	if (ans->status == CONTROL_OFFCPU_DISABLED)
		return 1; /* one that cannot serve this mode */
	if (ans->status == CONTROL_BAD_REQUEST && (req->tree || req->held) &&
	    strstr(ans->message, "unknown argument")) {
		log_info("the agent on %s is older than this agentctl and follows no process "
			 "tree: sampling here",
			 socket_path);
		return 1;
	}
	return 0;
}

int snapshot__read_agent_profile(int fd, int timeout_s, struct profile *ret,
				 struct control_answer *ans, char *errbuf, size_t errlen)
{
	struct folded_parser fp;
	char *body = NULL;
	size_t body_len = 0;
	FILE *mem;
	int err;

	mem = open_memstream(&body, &body_len);
	if (!mem)
		return -ENOMEM;
	err = control__read_answer(fd, timeout_s, mem, ans);
	fclose(mem);
	if (err || ans->status != CONTROL_OK) {
		free(body);
		return err;
	}
	profile__init(ret);
	folded_parser__init(&fp, ret);
	err = folded_parser__feed(&fp, body, body_len, errbuf, errlen);
	if (!err)
		err = folded_parser__finish(&fp, errbuf, errlen);
	folded_parser__free(&fp);
	free(body);
	if (err) {
		profile__free(ret);
		return -EBADMSG;
	}
	return 0;
}

int snapshot__agent_profile(const char *socket_path, const struct control_request *req,
			    int timeout_s, struct profile *ret, struct control_answer *ans,
			    char *errbuf, size_t errlen)
{
	for (;;) {
		int fd = control__send(socket_path, req), err;
		int64_t age;

		memset(ans, 0, sizeof(*ans));
		if (fd < 0)
			return fd;
		err = snapshot__read_agent_profile(fd, timeout_s, ret, ans, errbuf, errlen);
		close(fd);
		age = procfs__age_ms(req->pid);
		if (err || ans->status != CONTROL_NOT_PYTHON || age < 0 || age >= SESSION_SETTLE_MS)
			return err;
		/* just started: ask again once its interpreter is mapped */
		clock__sleep_ns(50ULL * 1000 * 1000);
	}
}

int snapshot__write_profile(const struct profile *prof, const struct profile_meta *meta,
			    const char *path, enum output_format format)
{
	FILE *out = stdout;
	int err;

	if (path && strcmp(path, "-")) {
		out = fopen(path, "w");
		if (!out) {
			err = -errno;
			log_error("cannot write %s: %s", path, strerror(-err));
			return err;
		}
	}
	err = output__write(prof, meta, format, out);
	if (out != stdout && fclose(out) && !err)
		err = -errno;
	if (err)
		log_error("cannot write the profile: %s", strerror(-err));
	return err;
}

int snapshot__via_agent(const struct snapshot_opts *opts, const char *socket_path)
{
	struct control_request req = {
	    .cmd = CONTROL_SNAPSHOT,
	    .pid = opts->pid,
	    .duration_ms = (uint32_t)(opts->duration_s * 1000),
	    .threads = opts->threads,
	    .kernel = opts->kernel,
	    .gil_only = opts->gil_only,
	    .mode = (int)opts->mode,
	    .tree = opts->subprocesses,
	};
	struct profile_meta meta = {.kind = opts->mode};
	struct control_answer ans;
	struct profile prof;
	char err_msg[512] = "";
	const char *what = opts->subprocesses ? " and its descendants" : "";
	int err, code = SNAP_FAILED;

	if (!req.duration_ms)
		req.duration_ms = 1;
	err = snapshot__agent_profile(socket_path, &req, (int)opts->duration_s + 30, &prof, &ans,
				      err_msg, sizeof(err_msg));
	if (snapshot__agent_unable(err, &req, &ans, socket_path))
		return -1; /* do it here */
	if (err == -EBADMSG) {
		log_error("the agent's answer is not a profile: %s", err_msg);
		return SNAP_FAILED;
	}
	if (err || ans.status != CONTROL_OK) {
		/* the daemon's own words, e.g. "no process with pid 42" */
		log_error("%s", err && err != -EPROTO ? strerror(-err) : ans.message);
		return err ? SNAP_FAILED : snapshot_exit_of_status[ans.status];
	}
	if (ans.rate_hz)
		log_info("snapshot of pid %d%s taken through the agent on %s at %u Hz", opts->pid,
			 what, socket_path, ans.rate_hz);
	else /* an agent that does not say its rate */
		log_info("snapshot of pid %d%s taken through the agent on %s", opts->pid, what,
			 socket_path);
	if (ans.exited)
		log_warn("pid %d%s exited during the snapshot; wrote the samples collected until "
			 "then",
			 opts->pid, what);
	if (opts->subprocesses && !prof.nstacks)
		log_warn("no CPython sample of pid %d and its descendants", opts->pid);
	meta.duration_ns = (uint64_t)(opts->duration_s * 1e9);
	meta.rate_hz = ans.rate_hz;
	if (!snapshot__write_profile(&prof, &meta, opts->output, opts->format))
		code = SNAP_OK;
	profile__free(&prof);
	return code;
}
