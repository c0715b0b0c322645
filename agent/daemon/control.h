/* SPDX-License-Identifier: MIT */
/* The control protocol between agentctl and the daemon: one request line per connection,
 * naming the protocol's version ("status v=2"), answered by a line and a body, then the daemon
 * closes. The line is "ok" and the answer's fields ("exited": the process of a snapshot exited
 * before its end; "rate=N": the daemon's sampling rate), or "error CODE: MESSAGE" with CODE one
 * of control_status_names: a client acts on the code, and shows the message. Words of an "ok"
 * line a client does not know are later fields, and ignored. A request without v=2 is answered
 * "error version: ..."; protocol 1 answered "error: MESSAGE", which a client of protocol 2
 * reports as an older agent.
 *
 * Fields added within protocol 2 are sent only when set (tree=1, held=1), so a plain request
 * still reads as before to an older agent of protocol 2, and a request with one of them is
 * answered "error bad-request: unknown argument" by it: the client then samples by itself.
 *
 * A snapshot ends at duration_ms, when its process (with tree=1: its root and every target)
 * has exited, or when the client ends its side of the connection (shutdown(SHUT_WR)): the
 * daemon then answers at once with what was collected. With held=1 the daemon first sends the
 * line "started" once it follows the pid, which is held by the client before its exec: the
 * client lets it run then, and no start-up sample is lost (agentctl record). */
#ifndef PYPROF_CONTROL_H
#define PYPROF_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define CONTROL_PROTOCOL     2
#define CONTROL_STRINGIFY(x) #x
#define CONTROL_STR(x)	     CONTROL_STRINGIFY(x)
#define CONTROL_PROTOCOL_STR CONTROL_STR(CONTROL_PROTOCOL)

/* What an answer says: its id, and its word on the wire. */
#define CONTROL_STATUSES(X)                                                                        \
	X(CONTROL_OK, "ok")                                                                        \
	X(CONTROL_BAD_REQUEST, "bad-request")	      /* malformed, or too long */                 \
	X(CONTROL_VERSION, "version")		      /* another protocol version */               \
	X(CONTROL_DENIED, "denied")		      /* the peer is not root */                   \
	X(CONTROL_BUSY, "busy")			      /* too many snapshots at once */             \
	X(CONTROL_NO_PROCESS, "no-process")	      /* no such pid */                            \
	X(CONTROL_NOT_PYTHON, "not-python")	      /* no CPython in the process (yet) */        \
	X(CONTROL_UNSUPPORTED, "unsupported")	      /* a CPython without a layout */             \
	X(CONTROL_NO_PRIVILEGE, "no-privilege")	      /* the agent may not read the process */     \
	X(CONTROL_OFFCPU_DISABLED, "offcpu-disabled") /* sampling.off_cpu is off */                \
	X(CONTROL_OFFCPU_UNAVAILABLE, "offcpu-unavailable") /* the kernel refused every way */     \
	X(CONTROL_FAILED, "failed")

#define CONTROL_STATUS_ID(id, name) id,
enum control_status { CONTROL_STATUSES(CONTROL_STATUS_ID) CONTROL_STATUS_MAX };
#undef CONTROL_STATUS_ID

extern const char *const control_status_names[CONTROL_STATUS_MAX];

/* An answer as the client read it. */
struct control_answer {
	enum control_status status;
	int exited;	   /* "ok exited" */
	unsigned rate_hz;  /* "ok rate=N": the daemon's sampling rate (0: not said) */
	char message[512]; /* an error's words */
};

enum control_cmd {
	CONTROL_STATUS = 1,   /* "status" */
	CONTROL_SNAPSHOT = 2, /* "snapshot pid=N duration_ms=N [threads=1] [kernel=1] [gil=1]
			       *  [mode=cpu|offcpu|wall] [tree=1] [held=1]" */
	CONTROL_PING = 3,     /* "ping" */
};

struct control_request {
	enum control_cmd cmd;
	pid_t pid;
	uint32_t duration_ms;
	int threads;
	int kernel;
	int gil_only;
	int mode;	  /* enum profile_kind: 0 cpu, 1 offcpu, 2 wall */
	int tree;	  /* and every CPython descendant, as it appears, under its own root */
	int held;	  /* the pid is held before its exec: "started" first (see above) */
	unsigned version; /* v=: CONTROL_PROTOCOL, or the request is refused */
};

/* Parses one request (the line, with or without its '\n'). Strict: unknown words, repeated or
 * out-of-range values are -EINVAL, a version other than CONTROL_PROTOCOL (or none) -EPROTO;
 * *ret_err names the problem. */
int control__parse(const char *line, size_t len, struct control_request *ret, const char **ret_err);
/* Formats a request line (with v= and '\n') into buf. */
int control__format(const struct control_request *req, char *buf, size_t len);

/* Daemon: formats an answer's line (with '\n'): "ok[ exited][ rate=N]" for CONTROL_OK (rate_hz
 * 0: not said), else "error CODE: message". Returns its length, or -ENOSPC. */
int control__answer_line(char *buf, size_t len, enum control_status status, int exited,
			 unsigned rate_hz, const char *message);
/* The status for an error of pyproc__open or the sampler (-ESRCH, -ENOEXEC, ...). */
enum control_status control__status_of(int err);

/* Client: connects to the daemon's socket, sends the request, reads the answer's line into ans
 * and copies the body of an "ok" answer to out. Returns 0 when the daemon answered (ans->status
 * says how), -ENOENT/-ECONNREFUSED when no daemon listens, -EPROTO when the answer is not of
 * this protocol (ans->message says so), or another -errno. */
int control__call(const char *socket_path, const struct control_request *req, int timeout_s,
		  FILE *out, struct control_answer *ans);
/* control__call in steps, for a client that acts while the daemon works: connects and sends
 * the request (returns the socket, or -errno as control__call), ... */
int control__send(const char *socket_path, const struct control_request *req);
/* ... reads the "started" line of a held=1 snapshot (0), or an error answer instead (-EPROTO
 * or -EBADMSG, ans says which), waiting at most timeout_s, ... */
int control__read_started(int fd, int timeout_s, struct control_answer *ans);
/* ... then reads the answer into out and ans as control__call does (the socket stays the
 * caller's to close). */
int control__read_answer(int fd, int timeout_s, FILE *out, struct control_answer *ans);

#endif
