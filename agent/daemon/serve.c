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
		if (d->snaps[i].active && d->snaps[i].pid == pid)
			return 1;
	}
	return 0;
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
	n = control__answer_line(line, sizeof(line), status, 0, message);
	if (n > 0)
		netserver__respond(s, conn, line, (size_t)n);
}

static void snapshot_start(struct daemon *d, uint64_t conn, const struct control_request *req)
{
	struct collector_opts co = {
	    .kinds = 1u << req->mode,
	    .rate_hz = sampler__frequency(d->smp),
	    .threads = req->threads,
	    .kernel = req->kernel,
	    .gil_only = req->gil_only,
	};
	struct snapshot_req *r = NULL;
	struct pyproc *p = NULL;
	char err_msg[256];
	int err;

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
	err = pyproc__open(req->pid, NULL, &p, err_msg, sizeof(err_msg));
	if (err) {
		answer_error(d->ctl, conn, control__status_of(err), "%s", err_msg);
		return;
	}
	memset(r, 0, sizeof(*r));
	daemon_want_ksyms(d);
	r->coll = collector__new(&co, &d->ksyms);
	if (!r->coll) {
		answer_error(d->ctl, conn, CONTROL_FAILED, "out of memory");
		pyproc__free(p);
		return;
	}
	if (!collector__has_process(d->coll, req->pid) && !serve__snapshot_uses(d, req->pid)) {
		err = sampler__add_target(d->smp, p);
		if (err) {
			answer_error(d->ctl, conn, CONTROL_FAILED, "cannot sample pid %d: %s",
				     req->pid, strerror(-err));
			collector__free(r->coll);
			pyproc__free(p);
			return;
		}
		r->own_target = 1;
	}
	if (collector__add_process(r->coll, p)) {
		answer_error(d->ctl, conn, CONTROL_FAILED, "out of memory");
		if (r->own_target)
			sampler__remove_target(d->smp, req->pid);
		pyproc__free(p);
		collector__free(r->coll);
		return;
	}
	r->active = 1;
	daemon_set_tick(d, TICK_NS); /* its deadline is kept to the busy loop's precision */
	r->mode = req->mode;
	r->conn_id = conn;
	r->pid = req->pid;
	r->deadline_ns = clock__mono_ns() + (uint64_t)req->duration_ms * 1000000ULL;
}

void serve__snapshot_finish(struct daemon *d, struct snapshot_req *r, int exited)
{
	struct profile *prof = collector__profile(r->coll, r->mode);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	r->active = 0;
	if (f) {
		char line[64];

		if (control__answer_line(line, sizeof(line), CONTROL_OK, exited, NULL) > 0)
			fputs(line, f);
		folded__write(prof, f);
		fclose(f);
		netserver__respond(d->ctl, r->conn_id, buf, len);
		free(buf);
	}
	if (r->own_target && !serve__snapshot_uses(d, r->pid) &&
	    !collector__has_process(d->coll, r->pid))
		sampler__remove_target(d->smp, r->pid);
	collector__free(r->coll);
	r->coll = NULL;
	d->snapshots_served++;
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
		if (d->snaps[i].active) {
			d->snaps[i].active = 0;
			collector__free(d->snaps[i].coll);
		}
	}
}
