// SPDX-License-Identifier: MIT
/* epoll-driven servers. Every connection has a bounded input buffer and an output buffer
 * written as the peer reads; nothing here ever blocks the daemon. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "daemon/netserver.h"
#include "util/clock.h"

struct conn {
	struct netserver *srv; /* first member: epoll data points here */
	int fd;
	uint64_t id;
	uid_t uid;
	int in_use;
	int responded;
	int too_long; /* the request passed NETSERVER_MAX_REQUEST: more of it may follow */
	int draining; /* answered and write side shut: reading and discarding until EOF */
	size_t drained;
	char in[NETSERVER_MAX_REQUEST + 1];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	uint64_t last_ns;
};

struct netserver {
	struct netserver *self; /* first member: epoll data of the listening socket */
	int fd;
	int epfd;
	enum netserver_proto proto;
	netserver_request_cb cb;
	netserver_hangup_cb hangup;
	void *ctx;
	char path[108];
	uint64_t next_id;
	uint64_t evicted;
	size_t nconns; /* slots in use: the loop's ticks skip a server without clients */
	struct conn conns[NETSERVER_MAX_CONNS];
};

static int server_init(struct netserver **ret, int fd, int epfd, enum netserver_proto proto,
		       netserver_request_cb cb, void *ctx)
{
	struct netserver *s = calloc(1, sizeof(*s));
	struct epoll_event ev = {.events = EPOLLIN};

	if (!s)
		return -ENOMEM;
	s->self = s;
	s->fd = fd;
	s->epfd = epfd;
	s->proto = proto;
	s->cb = cb;
	s->ctx = ctx;
	s->next_id = 1;
	ev.data.ptr = s;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int err = -errno;

		free(s);
		return err;
	}
	*ret = s;
	return 0;
}

int netserver__listen_unix(const char *path, int epfd, netserver_request_cb cb, void *ctx,
			   struct netserver **ret, char *errbuf, size_t errlen)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, err;
	mode_t old;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(errbuf, errlen, "control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a socket file nobody listens on is left over from a crash: replace it */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		close(fd);
		snprintf(errbuf, errlen, "another agent is listening on %s", path);
		return -EADDRINUSE;
	}
	close(fd);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old = umask(0077); /* the socket is created 0600: root only */
	err = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ? -errno : 0;
	umask(old);
	if (!err && chmod(path, 0600))
		err = -errno;
	if (!err && listen(fd, 16))
		err = -errno;
	if (!err)
		err = server_init(ret, fd, epfd, NETSERVER_LINE, cb, ctx);
	if (err) {
		snprintf(errbuf, errlen, "cannot listen on %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	snprintf((*ret)->path, sizeof((*ret)->path), "%s", path);
	return 0;
}

int netserver__listen_tcp(const char *host, unsigned port, int epfd, netserver_request_cb cb,
			  void *ctx, struct netserver **ret, char *errbuf, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
	char portstr[16];
	int fd = -1, err, one = 1;

	snprintf(portstr, sizeof(portstr), "%u", port);
	err = getaddrinfo(host[0] ? host : NULL, portstr, &hints, &ai);
	if (err) {
		snprintf(errbuf, errlen, "cannot resolve %s: %s", host, gai_strerror(err));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16)) {
		err = -errno;
		goto fail;
	}
	err = server_init(ret, fd, epfd, NETSERVER_HTTP, cb, ctx);
	if (err)
		goto fail;
	freeaddrinfo(ai);
	return 0;
fail:
	snprintf(errbuf, errlen, "cannot listen on %s:%u: %s", host, port, strerror(-err));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return err;
}

static void conn_close(struct conn *c)
{
	if (!c->in_use)
		return;
	epoll_ctl(c->srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	c->out = NULL;
	c->in_use = 0;
	c->srv->nconns--;
}

/* Answered, and the answer is still to come from the callback (a snapshot): the one state in
 * which a connection may stay quiet as long as it likes. */
static int conn_awaits_answer(const struct conn *c)
{
	return c->responded && !c->out && !c->draining;
}

/* A free slot; when all are taken, the one of the client quiet for longest is closed for it
 * (counted), so idle clients cannot lock everyone out. NULL if every client awaits an answer. */
static struct conn *conn_slot(struct netserver *s)
{
	struct conn *oldest = NULL;

	for (int i = 0; i < NETSERVER_MAX_CONNS; i++) {
		struct conn *c = &s->conns[i];

		if (!c->in_use)
			return c;
		if (!conn_awaits_answer(c) && (!oldest || c->last_ns < oldest->last_ns))
			oldest = c;
	}
	if (oldest) {
		conn_close(oldest);
		s->evicted++;
	}
	return oldest;
}

static void conn_accept(struct netserver *s, uint64_t now_ns)
{
	for (;;) {
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};
		struct conn *c;
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		c = conn_slot(s);
		if (!c) {
			close(fd); /* every slot awaits an answer: refuse rather than queue */
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->srv = s;
		c->fd = fd;
		c->id = s->next_id++;
		c->in_use = 1;
		s->nconns++;
		c->last_ns = now_ns;
		c->uid = (uid_t)-1;
		if (s->proto == NETSERVER_LINE &&
		    !getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen))
			c->uid = cred.uid;
		ev.data.ptr = c;
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			c->in_use = 0;
			s->nconns--;
		}
	}
}

/* Length of a complete request in the buffer, 0 if more is needed. */
static size_t request_end(const struct conn *c)
{
	if (c->srv->proto == NETSERVER_LINE) {
		const char *nl = memchr(c->in, '\n', c->in_len);

		return nl ? (size_t)(nl - c->in) + 1 : 0;
	}
	for (size_t i = 3; i < c->in_len; i++) {
		if (!memcmp(c->in + i - 3, "\r\n\r\n", 4))
			return i + 1;
		if (i >= 1 && c->in[i] == '\n' && c->in[i - 1] == '\n')
			return i + 1;
	}
	return 0;
}

/* Closing with unread input makes the kernel reset the connection, and the client may lose the
 * answer it has not read yet. So with input left (or more of a too-long request to come), the
 * write side is shut (the client sees the answer, then EOF) and the rest read and discarded,
 * up to NETSERVER_DRAIN_BYTES or NETSERVER_DRAIN_NS, before closing. */
static void conn_done(struct conn *c)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
	int unread = 0;

	if (!c->too_long && (ioctl(c->fd, FIONREAD, &unread) || unread <= 0)) {
		conn_close(c);
		return;
	}
	free(c->out);
	c->out = NULL;
	c->draining = 1;
	c->last_ns = clock__mono_ns();
	if (shutdown(c->fd, SHUT_WR) || epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &ev))
		conn_close(c);
}

static void conn_drain(struct conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->in, sizeof(c->in), 0);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_close(c); /* EOF: the client has all of the answer */
			return;
		}
		c->drained += n;
		if (c->drained >= NETSERVER_DRAIN_BYTES) {
			conn_close(c);
			return;
		}
	}
}

static void conn_flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct epoll_event ev = {.events = EPOLLOUT | EPOLLRDHUP,
							 .data.ptr = c};

				epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &ev);
				return;
			}
			conn_close(c);
			return;
		}
		c->out_off += n;
		c->last_ns = clock__mono_ns();
	}
	conn_done(c);
}

static void conn_read(struct conn *c, uint64_t now_ns)
{
	for (;;) {
		ssize_t n;
		size_t end;

		if (c->in_len >= NETSERVER_MAX_REQUEST) {
#define TOO_LONG "request too long (over 4 KiB)\n"
			/* the line protocol's answer is the control protocol's bad-request */
			static const char too_long[] = "error bad-request: " TOO_LONG;
			static const char too_long_http[] =
			    "HTTP/1.1 431 Request Header Fields Too Large\r\n"
			    "Content-Type: text/plain\r\nContent-Length: 30\r\n"
			    "Connection: close\r\n\r\n" TOO_LONG;
			int http = c->srv->proto == NETSERVER_HTTP;

			_Static_assert(sizeof(TOO_LONG) - 1 == 30, "Content-Length above");
#undef TOO_LONG

			c->responded = 1;
			c->too_long = 1;
			netserver__respond(c->srv, c->id, http ? too_long_http : too_long,
					   http ? sizeof(too_long_http) - 1 : sizeof(too_long) - 1);
			return;
		}
		n = recv(c->fd, c->in + c->in_len, NETSERVER_MAX_REQUEST - c->in_len, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
			conn_close(c);
			return;
		}
		if (n < 0)
			return;
		c->in_len += n;
		c->last_ns = now_ns;
		end = request_end(c);
		if (end) {
			struct epoll_event ev = {.events = EPOLLRDHUP, .data.ptr = c};

			/* one request per connection: stop reading, watch only for hang-ups */
			epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &ev);
			c->in[end] = '\0';
			c->responded = 1;
			c->srv->cb(c->srv->ctx, c->srv, c->id, c->in, end, c->uid);
			return;
		}
	}
}

int netserver__handle(struct netserver *s, void *event_ptr, uint32_t events, uint64_t now_ns)
{
	struct conn *c;

	if (event_ptr == s) {
		conn_accept(s, now_ns);
		return 1;
	}
	if ((char *)event_ptr < (char *)s->conns ||
	    (char *)event_ptr >= (char *)(s->conns + NETSERVER_MAX_CONNS))
		return 0;
	c = event_ptr;
	if (!c->in_use)
		return 1;
	if (c->draining) {
		conn_drain(c);
		return 1;
	}
	if (c->out) {
		if (events & (EPOLLERR | EPOLLHUP)) {
			conn_close(c);
			return 1;
		}
		conn_flush(c);
		return 1;
	}
	if (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
		if (!c->responded || !(events & EPOLLIN)) {
			/* the owner of a pending answer may give it now: what the client asked by
			 * ending its input, or work to stop for a client gone */
			if (conn_awaits_answer(c) && s->hangup) {
				s->hangup(s->ctx, s, c->id);
				if (!c->in_use || c->out || c->draining)
					return 1; /* answered: being sent */
			}
			conn_close(c); /* gone before an answer: drop it (a pending answer too) */
			return 1;
		}
	}
	if (events & EPOLLIN)
		conn_read(c, now_ns);
	return 1;
}

static struct conn *conn_by_id(struct netserver *s, uint64_t id)
{
	for (int i = 0; i < NETSERVER_MAX_CONNS; i++) {
		if (s->conns[i].in_use && s->conns[i].id == id)
			return &s->conns[i];
	}
	return NULL;
}

int netserver__respond(struct netserver *s, uint64_t conn_id, const char *data, size_t len)
{
	struct conn *c = conn_by_id(s, conn_id);

	if (!c)
		return -ENOENT;
	if (c->out)
		return -EALREADY;
	if (len > NETSERVER_MAX_RESPONSE)
		len = NETSERVER_MAX_RESPONSE;
	c->out = malloc(len ? len : 1);
	if (!c->out) {
		conn_close(c);
		return -ENOMEM;
	}
	memcpy(c->out, data, len);
	c->out_len = len;
	c->out_off = 0;
	c->last_ns = clock__mono_ns();
	conn_flush(c);
	return 0;
}

void netserver__on_hangup(struct netserver *s, netserver_hangup_cb cb)
{
	s->hangup = cb;
}

int netserver__send_early(struct netserver *s, uint64_t conn_id, const char *data, size_t len)
{
	struct conn *c = conn_by_id(s, conn_id);
	ssize_t n;

	if (!c)
		return -ENOENT;
	if (!conn_awaits_answer(c))
		return -EALREADY;
	n = send(c->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	if ((size_t)n != len) {
		conn_close(c); /* a part sent: the rest would garble what the client reads */
		return -EAGAIN;
	}
	c->last_ns = clock__mono_ns();
	return 0;
}

void netserver__tick(struct netserver *s, uint64_t now_ns)
{
	for (int i = 0; s->nconns && i < NETSERVER_MAX_CONNS; i++) {
		struct conn *c = &s->conns[i];

		/* waiting for a deferred answer (a snapshot) is not idleness */
		if (c->in_use && !conn_awaits_answer(c) &&
		    now_ns - c->last_ns > (c->draining ? NETSERVER_DRAIN_NS : NETSERVER_IDLE_NS))
			conn_close(c);
	}
}

uint64_t netserver__evicted(const struct netserver *s)
{
	return s ? s->evicted : 0;
}

size_t netserver__nconns(const struct netserver *s)
{
	return s->nconns;
}

void netserver__close(struct netserver *s)
{
	if (!s)
		return;
	for (int i = 0; i < NETSERVER_MAX_CONNS; i++)
		conn_close(&s->conns[i]);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	if (s->path[0])
		unlink(s->path);
	free(s);
}
