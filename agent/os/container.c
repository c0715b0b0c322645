// SPDX-License-Identifier: MIT
/* Container ids from cgroup paths. The layouts recognised, as one path component each:
 *   Docker      /docker/<id>                      (cgroupfs driver, v1 and v2)
 *               /system.slice/docker-<id>.scope   (systemd driver)
 *   containerd  /kubepods/<qos>/pod<uid>/<id>     (cgroupfs; also dockershim)
 *               .../kubepods-<qos>-pod<uid>.slice/cri-containerd-<id>.scope   (systemd)
 *               .../kubepods-<qos>-pod<uid>.slice:cri-containerd:<id>         (v1 systemd)
 *   CRI-O       .../crio-<id>.scope, /kubepods/.../pod<uid>/crio-<id>
 *   Podman      .../libpod-<id>.scope
 * and, generally, any component that is or ends in 64 hex digits after '-' or ':'. Monitor
 * processes (crio-conmon-<id>, libpod-conmon-<id>) are not in the container they watch. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "os/container.h"
#include "os/procfs.h"
#include "util/text.h"

#define CGROUP_FILE_MAX (64 * 1024)
#define STATUS_FILE_MAX (64 * 1024)

static int all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

static int contains(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; i + k <= n; i++) {
		if (!memcmp(s + i, needle, k))
			return 1;
	}
	return 0;
}

/* The container id a path component names, if any: copied lowercase into id. */
static int component_id(const char *c, size_t n, const char *parent, size_t parent_len, char *id,
			enum container_runtime *ret_runtime)
{
	const char *hex;
	size_t plen;

	if (text__ends_with(c, n, ".scope"))
		n -= 6;
	if (n < CONTAINER_ID_LEN)
		return 0;
	hex = c + n - CONTAINER_ID_LEN;
	if (!all_hex(hex, CONTAINER_ID_LEN))
		return 0;
	plen = n - CONTAINER_ID_LEN;
	if (plen && hex[-1] != '-' && hex[-1] != ':')
		return 0; /* longer than an id: not one */
	if (plen)
		plen--; /* the prefix, without its separator */
	if (contains(c, plen, "conmon"))
		return 0;
	if (text__ends_with(c, plen, "cri-containerd"))
		*ret_runtime = CONTAINER_RUNTIME_CONTAINERD;
	else if (text__ends_with(c, plen, "crio"))
		*ret_runtime = CONTAINER_RUNTIME_CRIO;
	else if (text__ends_with(c, plen, "libpod"))
		*ret_runtime = CONTAINER_RUNTIME_PODMAN;
	else if (text__ends_with(c, plen, "docker") ||
		 (!plen && parent_len == 6 && !memcmp(parent, "docker", 6)))
		*ret_runtime = CONTAINER_RUNTIME_DOCKER;
	else
		*ret_runtime = CONTAINER_RUNTIME_UNKNOWN;
	for (size_t i = 0; i < CONTAINER_ID_LEN; i++)
		id[i] = (char)tolower((unsigned char)hex[i]);
	id[CONTAINER_ID_LEN] = '\0';
	return 1;
}

/* A pod uid: a UUID (8-4-4-4-12 hex digits) or, for a static pod, 32 hex digits. In systemd
 * slice names the dashes of the UUID are written as underscores. */
static int pod_uid_copy(const char *s, size_t n, char *uid)
{
	if (n == 32) {
		if (!all_hex(s, 32))
			return 0;
	} else if (n == 36) {
		for (size_t i = 0; i < 36; i++) {
			int dash = i == 8 || i == 13 || i == 18 || i == 23;

			if (dash ? s[i] != '-' && s[i] != '_' : !isxdigit((unsigned char)s[i]))
				return 0;
		}
	} else {
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		uid[i] = s[i] == '_' ? '-' : (char)tolower((unsigned char)s[i]);
	uid[n] = '\0';
	return 1;
}

/* The pod uid a path component names: "pod<uid>" (cgroupfs) or
 * "kubepods[-<qos>]-pod<uid>.slice[:...]" (systemd). */
static int component_pod(const char *c, size_t n, char *uid)
{
	size_t slice = 0;

	if (n > 3 && !memcmp(c, "pod", 3))
		return pod_uid_copy(c + 3, n - 3, uid);
	while (slice + 6 <= n && memcmp(c + slice, ".slice", 6))
		slice++;
	if (slice + 6 > n || slice < 12 || memcmp(c, "kubepods", 8))
		return 0;
	for (size_t i = slice - 4; i >= 8; i--) {
		if (!memcmp(c + i, "-pod", 4))
			return pod_uid_copy(c + i + 4, slice - (i + 4), uid);
	}
	return 0;
}

/* What one cgroup path says: the innermost container id and pod uid on it. */
static void parse_path(const char *path, size_t len, struct container_info *ret)
{
	const char *end = path + len, *c = path, *parent = "";
	size_t parent_len = 0;
	int kube = contains(path, len, "kubepods");

	while (c < end) {
		const char *slash = memchr(c, '/', end - c);
		size_t n = (slash ? slash : end) - c;
		char uid[CONTAINER_POD_UID_MAX + 1];

		if (n) {
			component_id(c, n, parent, parent_len, ret->id, &ret->runtime);
			if (kube && component_pod(c, n, uid))
				memcpy(ret->pod_uid, uid, sizeof(uid));
			parent = c;
			parent_len = n;
		}
		c += n + 1;
	}
}

int container__parse_cgroup(const char *text, size_t len, struct container_info *ret)
{
	const char *line = text, *end = text + len;
	int best_v2 = 0;

	memset(ret, 0, sizeof(*ret));
	while (line < end) {
		const char *nl = memchr(line, '\n', end - line), *eol = nl ? nl : end;
		const char *c1 = memchr(line, ':', eol - line), *c2;
		struct container_info here = {0};
		int v2;

		c2 = c1 ? memchr(c1 + 1, ':', eol - (c1 + 1)) : NULL;
		if (c2) {
			/* "0::/path" is the cgroup v2 line; "N:controllers:/path" are v1 lines */
			v2 = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
			parse_path(c2 + 1, eol - (c2 + 1), &here);
			if (here.id[0] && (!ret->id[0] || (v2 && !best_v2))) {
				*ret = here;
				best_v2 = v2;
			} else if (!ret->id[0] && !ret->pod_uid[0] && here.pod_uid[0]) {
				memcpy(ret->pod_uid, here.pod_uid, sizeof(ret->pod_uid));
			}
		}
		line = eol + 1;
	}
	return 0;
}

int container__parse_nspid(const char *status, size_t len, pid_t *ret_ns_pid)
{
	const char *p = status, *end = status + len;
	long first = -1, last = -1;

	*ret_ns_pid = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p), *eol = nl ? nl : end;

		if (eol - p > 6 && !memcmp(p, "NSpid:", 6)) {
			char buf[256], *s = buf, *next;
			size_t n = (size_t)(eol - p - 6) < sizeof(buf) - 1 ? (size_t)(eol - p - 6)
									   : sizeof(buf) - 1;

			memcpy(buf, p + 6, n);
			buf[n] = '\0';
			for (;;) {
				long v = strtol(s, &next, 10);

				if (next == s)
					break;
				if (first < 0)
					first = v;
				last = v;
				s = next;
			}
			if (first <= 0)
				return -ENOENT;
			if (last > 0 && last != first)
				*ret_ns_pid = (pid_t)last;
			return 0;
		}
		p = eol + 1;
	}
	return -ENOENT;
}

int container__read(pid_t pid, struct container_info *ret)
{
	char path[64], *text = NULL;
	size_t len;
	int err;

	memset(ret, 0, sizeof(*ret));
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	err = procfs__read_file(path, CGROUP_FILE_MAX, &text, &len);
	if (err)
		return err;
	container__parse_cgroup(text, len, ret);
	free(text);
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!procfs__read_file(path, STATUS_FILE_MAX, &text, &len)) {
		container__parse_nspid(text, len, &ret->ns_pid);
		free(text);
	}
	return 0;
}

int container__id_matches(const char *id, const char *prefix)
{
	size_t n = strlen(prefix);

	return id[0] && n && !strncmp(id, prefix, n);
}

const char *container__runtime_name(enum container_runtime runtime)
{
	switch (runtime) {
	case CONTAINER_RUNTIME_DOCKER:
		return "docker";
	case CONTAINER_RUNTIME_CONTAINERD:
		return "containerd";
	case CONTAINER_RUNTIME_CRIO:
		return "cri-o";
	case CONTAINER_RUNTIME_PODMAN:
		return "podman";
	default:
		return "";
	}
}

/* Appends to the string in buf, as snprintf would write it. */
static void append(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t len, const char *fmt, ...)
{
	size_t o = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	if (o < len)
		vsnprintf(buf + o, len - o, fmt, ap);
	va_end(ap);
}

const char *container__describe(pid_t pid, char *buf, size_t len)
{
	struct container_info ci;

	buf[0] = '\0';
	if (container__read(pid, &ci))
		return buf;
	if (ci.id[0])
		append(buf, len, " in container %.12s", ci.id);
	if (ci.id[0] && ci.runtime)
		append(buf, len, " (%s)", container__runtime_name(ci.runtime));
	if (ci.pod_uid[0])
		append(buf, len, " %s pod %s", ci.id[0] ? "of" : "in", ci.pod_uid);
	if (ci.ns_pid)
		append(buf, len, "%s ns pid %d", buf[0] ? "," : " with", ci.ns_pid);
	return buf;
}
