// SPDX-License-Identifier: MIT
/* Control protocol: request parsing (fed untrusted bytes from any local root client, and
 * fuzzed) and the client side used by agentctl. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "daemon/control.h"
#include "profile/profile.h"
#include "util/text.h"

static int parse_u32(const char *s, size_t len, uint32_t max, uint32_t *ret)
{
	uint64_t v;
	int err = text__parse_u64(s, len, max, &v);

	if (!err)
		*ret = (uint32_t)v;
	return err;
}

/* The request's v= (its words are separated by spaces): the number, 0 when there is none, or
 * UINT32_MAX when it is malformed or repeated. */
static uint32_t request_version(const char *line, size_t len)
{
	uint32_t version = 0;

	for (size_t pos = 0; pos < len;) {
		size_t start, end;
		uint32_t v;

		while (pos < len && line[pos] == ' ')
			pos++;
		start = pos;
		while (pos < len && line[pos] != ' ')
			pos++;
		end = pos;
		if (end - start < 2 || line[start] != 'v' || line[start + 1] != '=')
			continue;
		if (version || parse_u32(line + start + 2, end - start - 2, 0xffff, &v) || !v)
			return UINT32_MAX;
		version = v;
	}
	return version;
}

static const char *version_error(uint32_t version)
{
	if (!version)
		return "this agent speaks control protocol " CONTROL_PROTOCOL_STR
		       " and the request names none (an agentctl older than the agent): use the "
		       "agentctl of the agent's release";
	if (version == UINT32_MAX)
		return "v: expected the protocol version, once";
	return "this agent speaks control protocol " CONTROL_PROTOCOL_STR
	       ", the request another: use the agentctl of the agent's release";
}

int control__parse(const char *line, size_t len, struct control_request *ret, const char **ret_err)
{
	struct control_request r = {0};
	unsigned seen = 0;
	size_t pos = 0;
	int word = 0;

	*ret_err = NULL;
	if (len && line[len - 1] == '\n')
		len--;
	if (len && line[len - 1] == '\r')
		len--;
	while (pos < len) {
		size_t start, end, eq;
		uint32_t v;

		while (pos < len && line[pos] == ' ')
			pos++;
		if (pos >= len)
			break;
		start = pos;
		while (pos < len && line[pos] != ' ')
			pos++;
		end = pos;
		if (memchr(line + start, '\0', end - start)) {
			*ret_err = "NUL byte in request";
			return -EINVAL;
		}
		if (word++ == 0) {
			if (end - start == 6 && !memcmp(line + start, "status", 6))
				r.cmd = CONTROL_STATUS;
			else if (end - start == 8 && !memcmp(line + start, "snapshot", 8))
				r.cmd = CONTROL_SNAPSHOT;
			else if (end - start == 4 && !memcmp(line + start, "ping", 4))
				r.cmd = CONTROL_PING;
			else {
				*ret_err = "unknown command (expected status, snapshot or ping)";
				return -EINVAL;
			}
			/* before the other words: another version may have other words */
			r.version = request_version(line, len);
			if (r.version != CONTROL_PROTOCOL) {
				*ret_err = version_error(r.version);
				return -EPROTO;
			}
			continue;
		}
		for (eq = start; eq < end && line[eq] != '='; eq++)
			;
		if (eq == end) {
			*ret_err = "expected key=value";
			return -EINVAL;
		}
#define KEY_IS(k) (eq - start == sizeof(k) - 1 && !memcmp(line + start, k, sizeof(k) - 1))
		if (KEY_IS("v"))
			continue; /* read by request_version() */
		if (r.cmd != CONTROL_SNAPSHOT) {
			*ret_err = "this command takes no arguments but v=";
			return -EINVAL;
		}
		if (KEY_IS("pid")) {
			if ((seen & 1) || parse_u32(line + eq + 1, end - eq - 1, 0x3fffffff, &v) ||
			    !v) {
				*ret_err = "pid: expected one process id";
				return -EINVAL;
			}
			r.pid = (pid_t)v;
			seen |= 1;
		} else if (KEY_IS("duration_ms")) {
			if ((seen & 2) || parse_u32(line + eq + 1, end - eq - 1, 86400000, &v) ||
			    !v) {
				*ret_err = "duration_ms: expected 1 to 86400000";
				return -EINVAL;
			}
			r.duration_ms = v;
			seen |= 2;
		} else if (KEY_IS("threads") || KEY_IS("kernel") || KEY_IS("gil")) {
			int *flag = KEY_IS("threads")  ? &r.threads
				    : KEY_IS("kernel") ? &r.kernel
						       : &r.gil_only;
			unsigned bit = KEY_IS("threads") ? 4 : KEY_IS("kernel") ? 8 : 16;

			if ((seen & bit) || parse_u32(line + eq + 1, end - eq - 1, 1, &v)) {
				*ret_err = "threads/kernel/gil: expected 0 or 1, once";
				return -EINVAL;
			}
			*flag = (int)v;
			seen |= bit;
		} else if (KEY_IS("mode")) {
			size_t vlen = end - eq - 1;
			int m = -1;

			for (int i = 0; i < PROFILE_KIND_MAX; i++) {
				const char *name = profile__kind_name(i);

				if (vlen == strlen(name) && !memcmp(line + eq + 1, name, vlen))
					m = i;
			}
			if ((seen & 32) || m < 0) {
				*ret_err = "mode: expected cpu, offcpu or wall, once";
				return -EINVAL;
			}
			r.mode = m;
			seen |= 32;
		} else if (KEY_IS("tree") || KEY_IS("held")) {
			int *flag = KEY_IS("tree") ? &r.tree : &r.held;
			unsigned bit = KEY_IS("tree") ? 64 : 128;

			if ((seen & bit) || parse_u32(line + eq + 1, end - eq - 1, 1, &v)) {
				*ret_err = "tree/held: expected 0 or 1, once";
				return -EINVAL;
			}
			*flag = (int)v;
			seen |= bit;
		} else {
			*ret_err = "unknown argument";
			return -EINVAL;
		}
#undef KEY_IS
	}
	if (!r.cmd) {
		*ret_err = "empty request";
		return -EINVAL;
	}
	if (r.cmd == CONTROL_SNAPSHOT && (seen & 3) != 3) {
		*ret_err = "snapshot needs pid= and duration_ms=";
		return -EINVAL;
	}
	*ret = r;
	return 0;
}

#define STATUS_NAME(id, name) [id] = name,
const char *const control_status_names[CONTROL_STATUS_MAX] = {CONTROL_STATUSES(STATUS_NAME)};
#undef STATUS_NAME

enum control_status control__status_of(int err)
{
	switch (err) {
	case 0:
		return CONTROL_OK;
	case -ESRCH:
		return CONTROL_NO_PROCESS;
	case -ENOEXEC:
		return CONTROL_NOT_PYTHON;
	case -EPROTONOSUPPORT:
		return CONTROL_UNSUPPORTED;
	case -EPERM:
	case -EACCES:
		return CONTROL_NO_PRIVILEGE;
	default:
		return CONTROL_FAILED;
	}
}

int control__answer_line(char *buf, size_t len, enum control_status status, int exited,
			 unsigned rate_hz, const char *message)
{
	int n;

	if ((unsigned)status >= CONTROL_STATUS_MAX)
		status = CONTROL_FAILED;
	if (status == CONTROL_OK && rate_hz)
		n = snprintf(buf, len, "ok%s rate=%u\n", exited ? " exited" : "", rate_hz);
	else if (status == CONTROL_OK)
		n = snprintf(buf, len, "ok%s\n", exited ? " exited" : "");
	else
		n = snprintf(buf, len, "error %s: %s\n", control_status_names[status],
			     message && message[0] ? message : "(no detail)");
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

/* Reads an answer's first line (without its '\n') into ans. */
static int parse_answer_line(char *head, struct control_answer *ans)
{
	char *p, *save = NULL;

	if (!strncmp(head, "ok", 2) && (head[2] == '\0' || head[2] == ' ')) {
		ans->status = CONTROL_OK;
		/* words it does not know: later fields */
		for (p = strtok_r(head + 2, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
			uint32_t v;

			ans->exited |= !strcmp(p, "exited");
			if (!strncmp(p, "rate=", 5) && !parse_u32(p + 5, strlen(p + 5), 100000, &v))
				ans->rate_hz = v;
		}
		return 0;
	}
	if (!strncmp(head, "error ", 6) && (p = strstr(head + 6, ": "))) {
		*p = '\0';
		snprintf(ans->message, sizeof(ans->message), "%s", p + 2);
		ans->status = CONTROL_FAILED; /* a code this agentctl does not know */
		for (int i = CONTROL_OK + 1; i < CONTROL_STATUS_MAX; i++) {
			if (!strcmp(head + 6, control_status_names[i]))
				ans->status = (enum control_status)i;
		}
		return 0;
	}
	/* "error: text", or anything else: an agent of protocol 1 or none at all */
	snprintf(ans->message, sizeof(ans->message),
		 "the agent speaks an older control protocol than this agentctl (%s); use the "
		 "agentctl of its release, or upgrade the agent (it answered: \"%.200s\")",
		 CONTROL_PROTOCOL_STR, head);
	return -EPROTO;
}

int control__format(const struct control_request *req, char *buf, size_t len)
{
	int n;

	switch (req->cmd) {
	case CONTROL_STATUS:
		n = snprintf(buf, len, "status v=%d\n", CONTROL_PROTOCOL);
		break;
	case CONTROL_PING:
		n = snprintf(buf, len, "ping v=%d\n", CONTROL_PROTOCOL);
		break;
	case CONTROL_SNAPSHOT:
		if (req->mode < 0 || req->mode >= PROFILE_KIND_MAX)
			return -EINVAL;
		n = snprintf(buf, len,
			     "snapshot v=%d pid=%d duration_ms=%u threads=%d kernel=%d gil=%d "
			     "mode=%s\n",
			     CONTROL_PROTOCOL, req->pid, req->duration_ms, req->threads ? 1 : 0,
			     req->kernel ? 1 : 0, req->gil_only ? 1 : 0,
			     profile__kind_name(req->mode));
		/* only when set: an older agent refuses words it does not know */
		if (n > 0 && (size_t)n < len && (req->tree || req->held)) {
			n--; /* over the '\n' */
			n += snprintf(buf + n, len - n, "%s%s\n", req->tree ? " tree=1" : "",
				      req->held ? " held=1" : "");
		}
		break;
	default:
		return -EINVAL;
	}
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	int r = poll(&p, 1, timeout_ms);

	if (r < 0)
		return -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

int control__send(const char *socket_path, const struct control_request *req)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char line[256];
	int fd, err;

	if (strlen(socket_path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, socket_path);
	err = control__format(req, line, sizeof(line));
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    send(fd, line, strlen(line), MSG_NOSIGNAL) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int control__read_started(int fd, int timeout_s, struct control_answer *ans)
{
	char head[512];
	size_t len = 0;
	int err;

	memset(ans, 0, sizeof(*ans));
	/* a byte at a time: what follows the line is the answer, read by control__read_answer */
	while (len < sizeof(head) - 1) {
		ssize_t n;

		err = wait_fd(fd, POLLIN, timeout_s * 1000);
		if (err)
			return err;
		n = recv(fd, head + len, 1, 0);
		if (n < 0)
			return -errno;
		if (n == 0 || head[len] == '\n')
			break;
		len++;
	}
	head[len] = '\0';
	if (!strcmp(head, "started"))
		return 0;
	if (!len) {
		snprintf(ans->message, sizeof(ans->message),
			 "the agent closed the connection without an answer");
		return -EPROTO;
	}
	err = parse_answer_line(head, ans);
	return err ? err : -EBADMSG; /* an answer instead: an error, or not a held snapshot */
}

int control__read_answer(int fd, int timeout_s, FILE *out, struct control_answer *ans)
{
	char head[512];
	size_t head_len = 0;
	int err, header_done = 0;

	memset(ans, 0, sizeof(*ans));
	for (;;) {
		char buf[65536];
		ssize_t n;

		err = wait_fd(fd, POLLIN, timeout_s * 1000);
		if (err)
			return err;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		if (header_done) {
			if (fwrite(buf, 1, n, out) != (size_t)n)
				return -EIO;
			continue;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (header_done) {
				if (fwrite(buf + i, 1, n - i, out) != (size_t)(n - i))
					return -EIO;
				break;
			}
			if (head_len < sizeof(head) - 1)
				head[head_len++] = buf[i];
			if (buf[i] == '\n')
				header_done = 1;
		}
	}
	head[head_len] = '\0';
	head[strcspn(head, "\n")] = '\0';
	if (!header_done) {
		snprintf(ans->message, sizeof(ans->message),
			 "the agent closed the connection without an answer");
		return -EPROTO;
	}
	err = parse_answer_line(head, ans);
	if (!err && fflush(out))
		err = -errno;
	return err;
}

int control__call(const char *socket_path, const struct control_request *req, int timeout_s,
		  FILE *out, struct control_answer *ans)
{
	int fd, err;

	memset(ans, 0, sizeof(*ans));
	fd = control__send(socket_path, req);
	if (fd < 0)
		return fd;
	err = control__read_answer(fd, timeout_s, out, ans);
	close(fd);
	return err;
}
