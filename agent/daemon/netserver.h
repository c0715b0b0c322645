/* SPDX-License-Identifier: MIT */
/* Non-blocking request/response servers on an epoll loop: the control socket (a Unix socket,
 * one line per request) and the metrics endpoint (HTTP/1.x GET). Bounded: request size,
 * connections, idle time; a client that never reads is dropped instead of blocking others, and
 * when every slot is taken the client quiet for longest makes room for a new one. */
#ifndef PYPROF_NETSERVER_H
#define PYPROF_NETSERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NETSERVER_MAX_REQUEST  4096
#define NETSERVER_MAX_CONNS    64
#define NETSERVER_IDLE_NS      (10ULL * 1000 * 1000 * 1000)
#define NETSERVER_MAX_RESPONSE (64u << 20)
/* After answering, input left unread is discarded up to this much, for this long. */
#define NETSERVER_DRAIN_BYTES (64u << 10)
#define NETSERVER_DRAIN_NS    (1000ULL * 1000 * 1000)

enum netserver_proto {
	NETSERVER_LINE = 1, /* a request is one line ending in '\n' */
	NETSERVER_HTTP = 2, /* a request ends with an empty line */
};

struct netserver;

/* Called with a complete request. Respond now with netserver__respond, or later (the
 * connection id stays valid until then or until the client goes away). */
typedef void (*netserver_request_cb)(void *ctx, struct netserver *s, uint64_t conn_id,
				     const char *req, size_t len, uid_t peer_uid);

/* Called when the client of a connection that awaits a deferred answer ends its input
 * (shutdown(SHUT_WR): "answer now") or goes away. The callee may respond at once, which is
 * then sent before the connection closes; else the connection is closed. */
typedef void (*netserver_hangup_cb)(void *ctx, struct netserver *s, uint64_t conn_id);

/* A Unix socket at path, mode 0600. A stale socket file (no listener) is replaced; a live one
 * is an error (-EADDRINUSE): another daemon runs. */
int netserver__listen_unix(const char *path, int epfd, netserver_request_cb cb, void *ctx,
			   struct netserver **ret, char *errbuf, size_t errlen);
/* A TCP socket on host:port (IPv4 or IPv6 literal, or a name). */
int netserver__listen_tcp(const char *host, unsigned port, int epfd, netserver_request_cb cb,
			  void *ctx, struct netserver **ret, char *errbuf, size_t errlen);
/* 1 if the epoll event belongs to this server (its data.ptr is the server or one of its
 * connections), after handling it. */
int netserver__handle(struct netserver *s, void *event_ptr, uint32_t events, uint64_t now_ns);
/* Sends data and closes the connection once sent (input the client sent beyond its request is
 * read and discarded first, within NETSERVER_DRAIN_*). Returns -ENOENT if it is gone. */
int netserver__respond(struct netserver *s, uint64_t conn_id, const char *data, size_t len);
/* Sets the hang-up callback (none by default). */
void netserver__on_hangup(struct netserver *s, netserver_hangup_cb cb);
/* Sends a short line ahead of a deferred answer, leaving the connection open: it must go at
 * once (a few bytes into a fresh socket's buffer), else -EAGAIN and nothing was sent. */
int netserver__send_early(struct netserver *s, uint64_t conn_id, const char *data, size_t len);
/* Drops connections idle for too long. */
void netserver__tick(struct netserver *s, uint64_t now_ns);
size_t netserver__nconns(const struct netserver *s);
/* Clients closed to make room for a new one while every slot was taken (0 for NULL). */
uint64_t netserver__evicted(const struct netserver *s);
void netserver__close(struct netserver *s);

#endif
