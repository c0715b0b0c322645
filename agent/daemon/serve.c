// SPDX-License-Identifier: MIT
/* What the daemon serves: the control socket (status, ping, snapshots taken with the daemon's
 * own sampler) and HTTP (/metrics), on util-free netserver connections. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "daemon/control.h"
#include "daemon/state.h"
#include "format/folded.h"
#include "os/procfs.h"
#include "util/clock.h"
#include "util/log.h"

static void respond_text(struct netserver *s, uint64_t conn, const char *head,
			 void (*body)(struct daemon *, FILE *), struct daemon *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return;
	fputs(head, f);
	if (body)
		body(d, f);
	fclose(f);
	netserver__respond(s, conn, buf, len);
	free(buf);
}

int serve__snapshot_uses(const struct daemon *d, pid_t pid)
{
	for (int i = 0; i < MAX_SNAPSHOTS; i++) {
		if (d->snaps[i].active && collector__has_process(d->snaps[i].coll, pid))
			return 1;
	}
	return 0;
}

int serve__tree_snapshots(const struct daemon *d)
{
	int n = 0;

	for (int i = 0; i < MAX_SNAPSHOTS; i++)
		n += d->snaps[i].active && d->snaps[i].tree;
	return n;
}

/* Answers conn with "error CODE: message" (control.h). */
static void answer_error(struct netserver *s, uint64_t conn, enum control_status status,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void answer_error(struct netserver *s, uint64_t conn, enum control_status status,
			 const char *fmt, ...)
{
	char message[400], line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	n = control__answer_line(line, sizeof(line), status, 0, 0, message);
	if (n > 0)
		netserver__respond(s, conn, line, (size_t)n);
}

/* Stops sampling pid unless the daemon's windows or another snapshot still want it. */
static void release_pid(struct daemon *d, pid_t pid)
{
	if (!serve__snapshot_uses(d, pid) && !collector__has_process(d->coll, pid))
		sampler__remove_target(d->smp, pid);
}

/* Fork events only while a tree snapshot runs: a host forks far more often than it executes,
 * and a detached program costs its forks nothing. */
static int update_forks(struct daemon *d)
{
	int want = serve__tree_snapshots(d) > 0;
	char err_msg[256];
	int err;

	if (!d->pw || procwatch__forks(d->pw) == want)
		return 0;
	err = procwatch__set_forks(d->pw, want, err_msg, sizeof(err_msg));
	if (err)
		log_warn("%s; tree snapshots cannot follow forked processes", err_msg);
	else
		log_debug("fork events %s", want ? "on: a tree snapshot runs" : "off");
	return err;
}

/* discovery's callbacks of a snapshot: its processes, as they come and go. */
static int snap_select(void *ctx, pid_t pid)
{
	struct snapshot_req *r = ctx;

	return proctree__has(&r->procs, pid);
}

static int snap_on_target(void *ctx, struct pyproc *p)
{
	struct snapshot_req *r = ctx;
	pid_t pid = p->pid;
	int err;

	if (collector__has_process(r->coll, pid))
		collector__forget(r->coll, pid); /* it executed another interpreter */
	/* again when sampled already: the entry then describes the interpreter of now */
	err = sampler__add_target(r->d->smp, p);
	if (!err) {
		err = collector__add_process(r->coll, p);
		if (err)
			release_pid(r->d, pid);
	}
	if (err) {
		snprintf(r->why, sizeof(r->why), "cannot sample pid %d: %s", pid, strerror(-err));
		pyproc__free(p);
	}
	return err;
}

static void snap_on_gone(void *ctx, pid_t pid)
{
	struct snapshot_req *r = ctx;

	collector__forget(r->coll, pid); /* what it named stays in the profile */
	release_pid(r->d, pid);
}

static void release_target(void *ctx, pid_t pid)
{
	struct snapshot_req *r = ctx;

	release_pid(r->d, pid);
}

/* Frees what r holds; its processes are no longer sampled for it. */
static void snapshot_free(struct daemon *d, struct snapshot_req *r)
{
	r->active = 0;
	if (r->disc)
		discovery__each_target(r->disc, release_target, r);
	discovery__free(r->disc);
	r->disc = NULL;
	proctree__free(&r->procs);
	collector__free(r->coll);
	r->coll = NULL;
	update_forks(d);
}

/* Whether the snapshot's root can be sampled, else answers why: the errors of snapshot --pid.
 * With tree=1 a root that is not CPython is fine (its descendants may be); with held=1 it is
 * not yet, and need only exist. */
static int check_root(struct daemon *d, uint64_t conn, const struct control_request *req)
{
	struct pyproc *p = NULL;
	char err_msg[256];
	int err;

	if (req->held) {
		if (procfs__alive(req->pid))
			return 0;
		answer_error(d->ctl, conn, CONTROL_NO_PROCESS, "no process with pid %d", req->pid);
		return -ESRCH;
	}
	err = pyproc__open(req->pid, NULL, &p, err_msg, sizeof(err_msg));
	pyproc__free(p);
	if (!err || (err == -ENOEXEC && req->tree))
		return 0;
	answer_error(d->ctl, conn, control__status_of(err), "%s", err_msg);
	return err;
}

static void snapshot_start(struct daemon *d, uint64_t conn, const struct control_request *req)
{
	struct collector_opts co = {
	    .kinds = 1u << req->mode,
	    .rate_hz = sampler__frequency(d->smp),
	    .threads = req->threads,
	    .kernel = req->kernel,
	    .gil_only = req->gil_only,
	    .parents = req->tree,
	};
	struct snapshot_req *r = NULL;
	struct discovery_ops ops = {
	    .on_target = snap_on_target, .on_gone = snap_on_gone, .select = snap_select};
	uint64_t now = clock__mono_ns();

	for (int i = 0; i < MAX_SNAPSHOTS && !r; i++) {
		if (!d->snaps[i].active)
			r = &d->snaps[i];
	}
	if (!r) {
		answer_error(d->ctl, conn, CONTROL_BUSY, "too many snapshots at once");
		return;
	}
	if (req->mode != PROFILE_CPU && sampler__offcpu_unavailable(d->smp)) {
		answer_error(d->ctl, conn, CONTROL_OFFCPU_UNAVAILABLE,
			     "off-CPU tracing is unavailable: %s",
			     sampler__offcpu_unavailable(d->smp));
		return;
	}
	if (req->mode != PROFILE_CPU && !sampler__offcpu_attach_kind(d->smp)) {
		answer_error(d->ctl, conn, CONTROL_OFFCPU_DISABLED,
			     "off-CPU tracing is disabled in this agent");
		return;
	}
	if ((req->tree || req->held) && !d->pw) {
		answer_error(d->ctl, conn, CONTROL_FAILED,
			     "this agent has no process events (%s): it cannot follow pid %d",
			     d->pw_unavailable, req->pid);
		return;
	}
	if (check_root(d, conn, req))
		return; /* answered */
	memset(r, 0, sizeof(*r));
	r->d = d;
	r->tree = req->tree;
	r->active = 1; /* now, so that forks are asked for */
	ops.ctx = r;
	/* the descendants now alive; later ones come by their fork events */
	proctree__init(&r->procs, req->pid, req->tree, 0);
	r->coll = collector__new(&co, &d->ksyms);
	r->disc = discovery__new(NULL, &ops);
	if (!r->coll || !r->disc) {
		answer_error(d->ctl, conn, CONTROL_FAILED, "out of memory");
		snapshot_free(d, r);
		return;
	}
	if (req->tree && update_forks(d)) {
		answer_error(d->ctl, conn, CONTROL_FAILED,
			     "the kernel refused fork events: cannot follow the tree of pid %d",
			     req->pid);
		snapshot_free(d, r);
		return;
	}
	/* a tree: every process of it now; one process: at once (a held one once it executed,
	 * its exec event comes) */
	if (req->tree)
		discovery__scan(r->disc, now);
	else
		discovery__on_exec(r->disc, req->pid, now);
	discovery__tick(r->disc, now);
	if (!req->held && !req->tree && !discovery__ntargets(r->disc)) {
		answer_error(d->ctl, conn, r->why[0] ? CONTROL_FAILED : CONTROL_NO_PROCESS, "%s",
			     r->why[0] ? r->why : "the process exited before sampling began");
		snapshot_free(d, r);
		return;
	}
	if (req->held && netserver__send_early(d->ctl, conn, "started\n", 8)) {
		snapshot_free(d, r); /* the client is gone, or cannot read: it will not run it */
		return;
	}
	daemon_set_tick(d, TICK_NS); /* its deadline is kept to the busy loop's precision */
	r->mode = req->mode;
	r->conn_id = conn;
	r->pid = req->pid;
	r->deadline_ns = now + (uint64_t)req->duration_ms * 1000000ULL;
}

void serve__snapshot_finish(struct daemon *d, struct snapshot_req *r, int exited)
{
	struct profile *prof = collector__profile(r->coll, r->mode);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f) {
		char line[64];

		if (control__answer_line(line, sizeof(line), CONTROL_OK, exited,
					 sampler__frequency(d->smp), NULL) > 0)
			fputs(line, f);
		folded__write(prof, f);
		fclose(f);
		netserver__respond(d->ctl, r->conn_id, buf, len);
		free(buf);
	}
	snapshot_free(d, r);
	d->snapshots_served++;
}

void serve__on_proc_event(struct daemon *d, const struct pyprof_proc_event *ev, uint64_t now_ns)
{
	for (int i = 0; i < MAX_SNAPSHOTS; i++) {
		struct snapshot_req *r = &d->snaps[i];

		if (r->active)
			proctree__on_event(&r->procs, r->disc, ev, now_ns);
	}
}

uint64_t serve__discover(struct daemon *d, uint64_t now_ns)
{
	uint64_t first = 0;

	for (int i = 0; i < MAX_SNAPSHOTS; i++) {
		struct snapshot_req *r = &d->snaps[i];
		uint64_t due;

		if (!r->active)
			continue;
		discovery__tick(r->disc, now_ns);
		due = discovery__next_due(r->disc);
		if (due && (!first || due < first))
			first = due;
	}
	return first;
}

void serve__snapshots_tick(struct daemon *d, uint64_t now_ns)
{
	for (int i = 0; i < MAX_SNAPSHOTS; i++) {
		struct snapshot_req *r = &d->snaps[i];

		if (!r->active)
			continue;
		if (now_ns >= r->deadline_ns)
			serve__snapshot_finish(d, r, 0);
		/* one process: until it exits; a tree: until its root and every target have */
		else if (!procfs__alive(r->pid) && (!r->tree || !discovery__ntargets(r->disc)))
			serve__snapshot_finish(d, r, 1);
	}
}

/* The client ended its side of the connection (or went away): the snapshot ends now, with
 * what is in the ring so far. */
static void on_hangup(void *ctx, struct netserver *s, uint64_t conn)
{
	struct daemon *d = ctx;

	for (int i = 0; i < MAX_SNAPSHOTS; i++) {
		struct snapshot_req *r = &d->snaps[i];

		if (r->active && r->conn_id == conn) {
			sampler__drain(d->smp, 0);
			serve__snapshot_finish(d, r, 0);
		}
	}
}

static void on_control(void *ctx, struct netserver *s, uint64_t conn, const char *req, size_t len,
		       uid_t uid)
{
	struct daemon *d = ctx;
	struct control_request r;
	const char *why;
	int err;

	if (uid != 0) {
		/* the socket is 0600 already; this also refuses a peer that got the fd */
		answer_error(s, conn, CONTROL_DENIED, "permission denied (root only)");
		return;
	}
	err = control__parse(req, len, &r, &why);
	if (err) {
		if (err == -EPROTO)
			answer_error(s, conn, CONTROL_VERSION, "%s", why);
		else
			answer_error(s, conn, CONTROL_BAD_REQUEST, "bad request: %s", why);
		return;
	}
	switch (r.cmd) {
	case CONTROL_PING:
		netserver__respond(s, conn, "ok\n", 3);
		break;
	case CONTROL_STATUS:
		respond_text(s, conn, "ok\n", status__write, d);
		break;
	case CONTROL_SNAPSHOT:
		snapshot_start(d, conn, &r);
		break;
	}
}

static void on_http(void *ctx, struct netserver *s, uint64_t conn, const char *req, size_t len,
		    uid_t uid)
{
	struct daemon *d = ctx;
	static const char not_found[] = "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n"
					"Content-Length: 10\r\n\r\nnot found\n";

	if (len >= 13 && !strncmp(req, "GET /metrics", 12) && (req[12] == ' ' || req[12] == '?')) {
		char *body = NULL, *resp = NULL;
		size_t blen = 0, rlen = 0;
		FILE *f = open_memstream(&body, &blen);

		if (!f)
			return;
		status__write_metrics(d, f);
		fclose(f);
		f = open_memstream(&resp, &rlen);
		if (f) {
			fprintf(f,
				"HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
				"Content-Length: %zu\r\n\r\n",
				blen);
			fwrite(body, 1, blen, f);
			fclose(f);
			netserver__respond(s, conn, resp, rlen);
		}
		free(body);
		free(resp);
		return;
	}
	netserver__respond(s, conn, not_found, sizeof(not_found) - 1);
}

/* The socket's directory (the default's is /run/pyprof-agent, which systemd's RuntimeDirectory=
 * makes under the unit): made when missing; if that fails, listening says why. */
static void make_socket_dir(const char *socket_path)
{
	const char *slash = strrchr(socket_path, '/');
	char dir[PATH_MAX];

	if (!slash || slash == socket_path || (size_t)(slash - socket_path) >= sizeof(dir))
		return;
	memcpy(dir, socket_path, slash - socket_path);
	dir[slash - socket_path] = '\0';
	(void)mkdir(dir, 0750);
}

int serve__open(struct daemon *d, const struct agent_config *cfg)
{
	char err_msg[256];
	int err;

	make_socket_dir(cfg->control.socket);
	err = netserver__listen_unix(cfg->control.socket, d->epfd, on_control, d, &d->ctl, err_msg,
				     sizeof(err_msg));
	if (err) {
		log_error("%s", err_msg);
		return err;
	}
	netserver__on_hangup(d->ctl, on_hangup);
	if (cfg->metrics.listen[0]) {
		err =
		    netserver__listen_tcp(cfg->metrics.listen_host, cfg->metrics.listen_port,
					  d->epfd, on_http, d, &d->http, err_msg, sizeof(err_msg));
		if (err) {
			log_error("%s", err_msg);
			return err;
		}
		log_info("serving metrics on http://%s/metrics", cfg->metrics.listen);
	}
	return 0;
}

void serve__close(struct daemon *d)
{
	netserver__close(d->ctl);
	netserver__close(d->http);
	d->ctl = d->http = NULL;
	for (int i = 0; i < MAX_SNAPSHOTS; i++) {
		if (d->snaps[i].active)
			snapshot_free(d, &d->snaps[i]);
	}
}
