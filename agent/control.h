/* SPDX-License-Identifier: MIT */
/* The control protocol between agentctl and the daemon: one request line per connection,
 * answered by "ok\n" and a body, or "error: MESSAGE\n", then the daemon closes. */
#ifndef PYPROF_CONTROL_H
#define PYPROF_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* In the systemd unit's RuntimeDirectory; the daemon creates the directory when run otherwise. */
#define CONTROL_DEFAULT_SOCKET "/run/pyprof-agent/agent.sock"

enum control_cmd {
	CONTROL_STATUS = 1,   /* "status" */
	CONTROL_SNAPSHOT = 2, /* "snapshot pid=N duration_ms=N [threads=1] [kernel=1] [gil=1]
			       *  [mode=cpu|offcpu|wall]" */
	CONTROL_PING = 3,     /* "ping" */
};

struct control_request {
	enum control_cmd cmd;
	pid_t pid;
	uint32_t duration_ms;
	int threads;
	int kernel;
	int gil_only;
	int mode; /* enum profile_kind: 0 cpu, 1 offcpu, 2 wall */
};

/* Parses one request (the line, with or without its '\n'). Strict: unknown words, repeated or
 * out-of-range values are -EINVAL; *ret_err names the problem. */
int control__parse(const char *line, size_t len, struct control_request *ret, const char **ret_err);
/* Formats a request line (with '\n') into buf. */
int control__format(const struct control_request *req, char *buf, size_t len);

/* Client: connects to the daemon's socket, sends the request and copies the body of an "ok"
 * answer to out. Returns 0, -ENOENT/-ECONNREFUSED when no daemon listens, -EPROTO with the
 * daemon's message in errbuf for an "error:" answer, or another -errno. */
int control__call(const char *socket_path, const struct control_request *req, int timeout_s,
		  FILE *out, char *errbuf, size_t errlen);

#endif
