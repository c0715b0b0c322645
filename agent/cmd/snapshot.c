// SPDX-License-Identifier: MIT
/* agentctl snapshot: describe the process, start the sampler on it, drain every 100 ms while
 * naming frames promptly (so a process that exits keeps its names), then write folded stacks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

#define DRAIN_INTERVAL_NS (100ULL * 1000 * 1000)
#define TICK_INTERVAL_NS  (1000ULL * 1000 * 1000)

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000ULL, .tv_nsec = ns % 1000000000ULL};

	nanosleep(&ts, NULL); /* EINTR (Ctrl-C) simply ends the nap early */
}

/* The exit code for each answer of the daemon, and (through control__status_of) for each error
 * of the local path: one cause, one code. */
static const unsigned char exit_code_of_answer[CONTROL_STATUS_MAX] = {
    [CONTROL_OK] = SNAP_OK,
    [CONTROL_BAD_REQUEST] = SNAP_FAILED,
    [CONTROL_VERSION] = SNAP_FAILED,
    [CONTROL_DENIED] = SNAP_NO_PRIVILEGE,
    [CONTROL_BUSY] = SNAP_FAILED,
    [CONTROL_NO_PROCESS] = SNAP_NO_PROCESS,
    [CONTROL_NOT_PYTHON] = SNAP_NOT_PYTHON,
    [CONTROL_UNSUPPORTED] = SNAP_UNSUPPORTED,
    [CONTROL_NO_PRIVILEGE] = SNAP_NO_PRIVILEGE,
    [CONTROL_OFFCPU_DISABLED] = SNAP_FAILED,		   /* served locally instead */
    [CONTROL_OFFCPU_UNAVAILABLE] = SNAP_NO_KERNEL_SUPPORT, /* loading here would be refused too */
    [CONTROL_FAILED] = SNAP_FAILED,
};

static int exit_code_for(int err)
{
	return exit_code_of_answer[control__status_of(err)];
}

static void report_counters(struct sampler *s, struct collector *c)
{
	uint64_t bpf[METRIC_MAX], sym[SYM_STAT_MAX];
	const uint64_t *cs = collector__stats(c);
	char line[2048];
	size_t o = 0;

	if (sampler__metrics(s, bpf))
		memset(bpf, 0, sizeof(bpf));
	collector__sym_stats(c, sym);
	o += snprintf(line + o, sizeof(line) - o, "counters:");
	for (int i = METRIC_NONE + 1; i < METRIC_MAX && o < sizeof(line); i++) {
		if (bpf[i])
			o += snprintf(line + o, sizeof(line) - o, " %s=%llu",
				      pyprof_metric_names[i], (unsigned long long)bpf[i]);
	}
	for (int i = 0; i < COLL_STAT_MAX && o < sizeof(line); i++) {
		if (cs[i] && i != COLL_STAT_SAMPLES && i != COLL_STAT_ON_CPU &&
		    i != COLL_STAT_GIL_HELD)
			o += snprintf(line + o, sizeof(line) - o, " %s=%llu",
				      collector_stat_names[i], (unsigned long long)cs[i]);
	}
	for (int i = SYM_STAT_UNREADABLE; i < SYM_STAT_MAX && o < sizeof(line); i++) {
		if (sym[i])
			o += snprintf(line + o, sizeof(line) - o, " %s=%llu", sym_stat_names[i],
				      (unsigned long long)sym[i]);
	}
	log_info("%s", line);
}

/* A process started a moment ago may not have mapped its interpreter library yet: while it is
 * younger than PROCESS_SETTLE_MS, "not a CPython process" is asked again. */
#define PROCESS_SETTLE_MS 1500

int snapshot__open_process(pid_t pid, struct pyproc **ret, char *errbuf, size_t errlen)
{
	int err;

	for (;;) {
		int64_t age;

		err = pyproc__open(pid, NULL, ret, errbuf, errlen);
		if (err != -ENOEXEC)
			return err;
		age = procfs__age_ms(pid);
		if (age < 0 || age >= PROCESS_SETTLE_MS)
			return err;
		sleep_ns(50ULL * 1000 * 1000);
	}
}

int snapshot__start(const struct snapshot_opts *opts, struct snapshot_live *ret)
{
	struct sampler_opts so = {
	    .freq_hz = opts->rate_hz,
	    /* off-CPU stacks always carry their kernel reason */
	    .kernel_stacks = opts->kernel || opts->mode != PROFILE_CPU,
	    .off_cpu = opts->mode != PROFILE_CPU,
	    .min_block_us = opts->min_block_us,
	    .note = log__info_line,
	};
	struct collector_opts co = {
	    .kinds = 1u << opts->mode,
	    .rate_hz = opts->rate_hz,
	    .threads = opts->threads,
	    .kernel = opts->kernel,
	    .gil_only = opts->gil_only,
	};
	struct pyproc *proc = NULL;
	char err_msg[512] = "";
	int err, code = SNAP_FAILED;

	memset(ret, 0, sizeof(*ret));
	err = snapshot__open_process(opts->pid, &proc, err_msg, sizeof(err_msg));
	if (err) {
		char missing[64];

		/* without CAP_SYS_PTRACE the kernel shows a process's /proc files only to its own
		 * user, holding every capability it holds; without CAP_DAC_READ_SEARCH, not its
		 * files in directories closed to ours: a refusal then is for want of them */
		if ((err == -EACCES || err == -EPERM) &&
		    privilege__missing(PRIVILEGE_PTRACE | PRIVILEGE_FILES, missing,
				       sizeof(missing)))
			log_error("%s (needs %s)", err_msg, missing);
		else
			log_error("%s", err_msg);
		return exit_code_for(err);
	}
	procfs__comm(opts->pid, 0, ret->comm, sizeof(ret->comm));
	ret->major = proc->major;
	ret->minor = proc->minor;
	log_info("pid %d (%s): CPython %u.%u in %s, layout from %s", opts->pid, ret->comm,
		 proc->major, proc->minor, proc->elf_path,
		 proc->layout_from_debug_offsets ? "its _Py_DebugOffsets" : "the built-in table");
	if (proc->layout_guessed_from)
		log_warn("CPython %u.%u is newer than this agent knows: read with the 3.%u layout, "
			 "which checked out against the process",
			 proc->major, proc->minor, proc->layout_guessed_from);
	if (so.kernel_stacks) {
		err = kallsyms__load(&ret->ksyms);
		if (err)
			log_warn(
			    "kernel symbols unavailable (%s): kernel frames will be [unknown]_[k]",
			    strerror(-err));
		else
			ret->ksyms_loaded = 1;
	}
	ret->coll = collector__new(&co, ret->ksyms_loaded ? &ret->ksyms : NULL);
	if (!ret->coll) {
		log_error("out of memory");
		goto out;
	}
	err = sampler__open(&so, collector__on_sample, ret->coll, &ret->smp, err_msg,
			    sizeof(err_msg));
	if (err) {
		log_error("%s", err_msg);
		code = err == -EPERM ? SNAP_NO_PRIVILEGE : SNAP_FAILED;
		goto out;
	}
	log_debug("on-CPU sampler: %s", sampler__oncpu_kind(ret->smp));
	if (so.off_cpu && !sampler__offcpu_attach_kind(ret->smp)) {
		log_error("--mode %s needs the off-CPU tracer: %s", profile__kind_name(opts->mode),
			  sampler__offcpu_unavailable(ret->smp));
		code = SNAP_NO_KERNEL_SUPPORT;
		goto out;
	}
	if (sampler__offcpu_attach_kind(ret->smp))
		log_info("off-CPU tracer: %s", sampler__offcpu_attach_kind(ret->smp));
	err = sampler__add_target(ret->smp, proc);
	if (err) {
		log_error("cannot start sampling pid %d: %s", opts->pid, strerror(-err));
		goto out;
	}
	err = collector__add_process(ret->coll, proc);
	if (err) {
		log_error("cannot track pid %d: %s", opts->pid, strerror(-err));
		goto out;
	}
	return SNAP_OK; /* proc is owned by the collector now */
out:
	pyproc__free(proc);
	snapshot__stop(ret);
	return code;
}

void snapshot__stop(struct snapshot_live *l)
{
	sampler__close(l->smp);
	collector__free(l->coll);
	kallsyms__free(&l->ksyms);
	memset(l, 0, sizeof(*l));
}

int snapshot__run(const struct snapshot_opts *opts, volatile sig_atomic_t *stop)
{
	struct snapshot_live live;
	struct collector *coll;
	struct sampler *smp;
	uint64_t start, deadline, last_tick, elapsed;
	struct profile_meta meta = {.kind = opts->mode, .rate_hz = opts->rate_hz};
	struct timespec wall;
	int err, code, exited = 0;
	FILE *out = stdout;

	code = snapshot__start(opts, &live);
	if (code != SNAP_OK)
		return code;
	code = SNAP_FAILED;
	coll = live.coll;
	smp = live.smp;

	clock_gettime(CLOCK_REALTIME, &wall);
	meta.start_ns = (uint64_t)wall.tv_sec * 1000000000ULL + wall.tv_nsec;
	start = last_tick = clock__mono_ns();
	deadline = start + (uint64_t)(opts->duration_s * 1e9);
	while (!*stop) {
		uint64_t t = clock__mono_ns();

		if (t >= deadline)
			break;
		sleep_ns(deadline - t < DRAIN_INTERVAL_NS ? deadline - t : DRAIN_INTERVAL_NS);
		sampler__drain(smp, 0);
		if (clock__mono_ns() - last_tick >= TICK_INTERVAL_NS) {
			collector__tick(coll);
			last_tick = clock__mono_ns();
		}
		if (!procfs__alive(opts->pid)) {
			exited = 1;
			break;
		}
	}
	sampler__drain(smp, 0);
	sampler__remove_target(smp, opts->pid);
	elapsed = clock__mono_ns() - start;

	if (opts->output) {
		out = fopen(opts->output, "w");
		if (!out) {
			log_error("cannot write %s: %s", opts->output, strerror(errno));
			goto out;
		}
	}
	meta.duration_ns = elapsed;
	err = output__write(collector__profile(coll, opts->mode), &meta, opts->format, out);
	if (opts->output && fclose(out) && !err)
		err = -errno;
	if (err) {
		log_error("cannot write the profile: %s", strerror(-err));
		goto out;
	}
	if (exited)
		log_warn("pid %d exited after %.1f s; wrote the %llu samples collected until then",
			 opts->pid, elapsed / 1e9,
			 (unsigned long long)collector__stats(coll)[COLL_STAT_SAMPLES]);
	else if (*stop)
		log_info("interrupted after %.1f s; wrote the %llu samples collected",
			 elapsed / 1e9,
			 (unsigned long long)collector__stats(coll)[COLL_STAT_SAMPLES]);
	else
		log_info("%llu samples of pid %d in %.1f s",
			 (unsigned long long)collector__stats(coll)[COLL_STAT_SAMPLES], opts->pid,
			 elapsed / 1e9);
	/* the sampled interval, for comparing with the target's own clock (time.monotonic) */
	log_info("sampled from %.6f to %.6f s of CLOCK_MONOTONIC", start / 1e9,
		 (start + elapsed) / 1e9);
	{
		uint64_t drain_ns, records;

		sampler__drain_stats(smp, &drain_ns, &records);
		log_info(
		    "userspace: %.0f ns per record over %llu records (drain, naming, counting)",
		    records ? (double)drain_ns / records : 0.0, (unsigned long long)records);
	}
	report_counters(smp, coll);
	code = SNAP_OK;
out:
	snapshot__stop(&live);
	return code;
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
	};
	struct profile_meta meta = {.kind = opts->mode};
	struct control_answer ans;
	struct folded_parser fp;
	struct profile prof;
	char err_msg[512] = "", *body = NULL;
	size_t body_len = 0;
	FILE *mem, *out = stdout;
	int err, code = SNAP_FAILED;

	if (!req.duration_ms)
		req.duration_ms = 1;
	for (;;) {
		int64_t age;

		mem = open_memstream(&body, &body_len);
		if (!mem)
			return SNAP_FAILED;
		err = control__call(socket_path, &req, (int)opts->duration_s + 30, mem, &ans);
		fclose(mem);
		age = procfs__age_ms(opts->pid);
		if (err || ans.status != CONTROL_NOT_PYTHON || age < 0 || age >= PROCESS_SETTLE_MS)
			break;
		free(body); /* just started: ask again once its interpreter is mapped */
		body = NULL;
		sleep_ns(50ULL * 1000 * 1000);
	}
	if (err == -ENOENT || err == -ECONNREFUSED ||
	    (!err && ans.status == CONTROL_OFFCPU_DISABLED)) {
		free(body); /* no daemon, or one that cannot serve this mode: do it here */
		return -1;
	}
	if (err || ans.status != CONTROL_OK) {
		/* the daemon's own words, e.g. "no process with pid 42" */
		log_error("%s", err && err != -EPROTO ? strerror(-err) : ans.message);
		free(body);
		return err ? SNAP_FAILED : exit_code_of_answer[ans.status];
	}
	log_info("snapshot of pid %d taken through the agent on %s", opts->pid, socket_path);
	if (ans.exited)
		log_warn(
		    "pid %d exited during the snapshot; wrote the samples collected until then",
		    opts->pid);
	profile__init(&prof);
	folded_parser__init(&fp, &prof);
	err = folded_parser__feed(&fp, body, body_len, err_msg, sizeof(err_msg));
	if (!err)
		err = folded_parser__finish(&fp, err_msg, sizeof(err_msg));
	folded_parser__free(&fp);
	free(body);
	if (err) {
		log_error("the agent's answer is not a profile: %s", err_msg);
		goto out;
	}
	if (opts->output) {
		out = fopen(opts->output, "w");
		if (!out) {
			log_error("cannot write %s: %s", opts->output, strerror(errno));
			goto out;
		}
	}
	meta.duration_ns = (uint64_t)(opts->duration_s * 1e9);
	err = output__write(&prof, &meta, opts->format, out);
	if (opts->output && fclose(out) && !err)
		err = -errno;
	if (err)
		log_error("cannot write the profile: %s", strerror(-err));
	else
		code = SNAP_OK;
out:
	profile__free(&prof);
	return code;
}
