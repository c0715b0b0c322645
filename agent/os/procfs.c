// SPDX-License-Identifier: MIT
/* /proc readers. Everything read here is produced by the kernel, but a process controls its own
 * names and mapped paths, so lengths are still bounded. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "os/procfs.h"

int procfs__read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	char *buf = NULL;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap + 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (len == cap) {
			char *nb;

			if (cap >= max) {
				err = -EFBIG;
				goto out;
			}
			cap = cap * 2 > max ? max : cap * 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if (r == 0)
			break;
		len += r;
	}
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return err;
}

static int procmaps__parse_line(char *line, struct procmaps_entry *e)
{
	char *p = line, *end;
	int n = 0;

	memset(e, 0, sizeof(*e));
	e->start = strtoull(p, &end, 16);
	if (end == p || *end != '-')
		return -EINVAL;
	p = end + 1;
	e->end = strtoull(p, &end, 16);
	if (end == p || *end != ' ' || e->end < e->start)
		return -EINVAL;
	p = end + 1;
	if (strlen(p) < 5 || p[4] != ' ')
		return -EINVAL;
	memcpy(e->perms, p, 4);
	p += 5;
	e->offset = strtoull(p, &end, 16);
	if (end == p || *end != ' ')
		return -EINVAL;
	p = end + 1;
	if (sscanf(p, "%x:%x %" SCNu64 "%n", &e->dev_major, &e->dev_minor, &e->inode, &n) != 3)
		return -EINVAL;
	p += n;
	while (*p == ' ')
		p++;
	e->path = p;
	return 0;
}

int procmaps__parse(const char *text, size_t len, struct procmaps *ret)
{
	struct procmaps maps = {0};
	size_t cap = 0, pos = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - (text + pos)) : len - pos;
		struct procmaps_entry e;
		char *line = strndup(text + pos, llen);

		pos += llen + 1;
		if (!line)
			goto nomem;
		if (procmaps__parse_line(line, &e) == 0) {
			size_t plen = strlen(e.path);
			static const char deleted[] = " (deleted)";

			if (plen >= sizeof(deleted) - 1 &&
			    !strcmp(e.path + plen - (sizeof(deleted) - 1), deleted)) {
				e.path[plen - (sizeof(deleted) - 1)] = '\0';
				e.deleted = 1;
			}
			e.path = strdup(e.path);
			if (!e.path) {
				free(line);
				goto nomem;
			}
			if (maps.n == cap) {
				struct procmaps_entry *ne;

				cap = cap ? cap * 2 : 64;
				ne = realloc(maps.entries, cap * sizeof(*ne));
				if (!ne) {
					free(e.path);
					free(line);
					goto nomem;
				}
				maps.entries = ne;
			}
			maps.entries[maps.n++] = e;
		}
		free(line);
	}
	*ret = maps;
	return 0;
nomem:
	procmaps__free(&maps);
	return -ENOMEM;
}

int procmaps__read(pid_t pid, struct procmaps *ret)
{
	char path[64], *buf;
	size_t len;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	err = procfs__read_file(path, 64 << 20, &buf, &len);
	if (err)
		return err == -ENOENT ? -ESRCH : err;
	err = procmaps__parse(buf, len, ret);
	free(buf);
	return err;
}

void procmaps__free(struct procmaps *maps)
{
	if (!maps)
		return;
	for (size_t i = 0; i < maps->n; i++)
		free(maps->entries[i].path);
	free(maps->entries);
	maps->entries = NULL;
	maps->n = 0;
}

void procfs__sanitize_comm(char *comm)
{
	for (; *comm; comm++) {
		if ((unsigned char)*comm < 0x20 || *comm == 0x7f)
			*comm = '?';
	}
}

void procfs__comm(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[64], *text;
	size_t n;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (procfs__read_file(path, 256, &text, &n)) {
		snprintf(buf, len, "?");
		return;
	}
	if (n && text[n - 1] == '\n')
		text[--n] = '\0';
	procfs__sanitize_comm(text);
	snprintf(buf, len, "%s", text);
	free(text);
}

int procfs__cmdline(pid_t pid, char *buf, size_t size)
{
	char path[64];
	size_t len = 0;
	int fd;

	if (!size)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < size - 1) {
		ssize_t r = read(fd, buf + len, size - 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		if (r == 0)
			break;
		len += r;
	}
	close(fd);
	while (len > 0 && buf[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\0')
			buf[i] = ' ';
	}
	buf[len] = '\0';
	return (int)len;
}

int procfs__exists(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d", pid);
	return access(path, F_OK) == 0 ? 0 : -ESRCH;
}

int procfs__exe(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int procfs__parse_cpu_list(const char *text, unsigned char **ret_online, int *ret_n)
{
	unsigned char *online = calloc(4096, 1);
	const char *p = text;
	int n = 0;

	if (!online)
		return -ENOMEM;
	while (*p && *p != '\n') {
		char *end;
		long a = strtol(p, &end, 10), b;

		if (end == p || a < 0 || a >= 4096)
			goto bad;
		b = a;
		p = end;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			if (end == p + 1 || b < a || b >= 4096)
				goto bad;
			p = end;
		}
		for (long i = a; i <= b; i++)
			online[i] = 1;
		if (b + 1 > n)
			n = b + 1;
		if (*p == ',')
			p++;
		else if (*p && *p != '\n')
			goto bad;
	}
	if (!n)
		goto bad;
	*ret_online = online;
	*ret_n = n;
	return 0;
bad:
	free(online);
	return -EINVAL;
}

int procfs__online_cpus(unsigned char **ret_online, int *ret_n)
{
	char *text;
	size_t len;
	int err;

	err = procfs__read_file("/sys/devices/system/cpu/online", 65536, &text, &len);
	if (err)
		return err;
	err = procfs__parse_cpu_list(text, ret_online, ret_n);
	free(text);
	return err;
}

int procfs__stat(pid_t pid, struct procfs_stat *ret)
{
	return procfs__task_stat(pid, 0, ret);
}

int procfs__task_stat(pid_t pid, pid_t tid, struct procfs_stat *ret)
{
	char path[96], *text, *p;
	unsigned long long start, vsize;
	char state;
	int ppid;
	size_t len;
	int err;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	err = procfs__read_file(path, 4096, &text, &len);
	if (err)
		return err;
	/* the command name may hold spaces and parentheses: fields resume after the last ')' */
	p = strrchr(text, ')');
	if (!p || sscanf(p + 1,
			 " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
			 "%*d %*d %*d %llu %llu",
			 &state, &ppid, &start, &vsize) != 4)
		err = -EINVAL;
	free(text);
	if (err)
		return err;
	ret->state = state;
	ret->ppid = ppid;
	ret->starttime = start;
	ret->vsize = vsize;
	return 0;
}

uint64_t procfs__starttime(pid_t pid)
{
	struct procfs_stat st;

	return procfs__stat(pid, &st) ? 0 : st.starttime;
}

int64_t procfs__age_ms(pid_t pid)
{
	uint64_t start = procfs__starttime(pid);
	double uptime = 0;
	long hz = sysconf(_SC_CLK_TCK);
	char *text;
	size_t len;

	if (!start || hz <= 0 || procfs__read_file("/proc/uptime", 256, &text, &len))
		return -1;
	if (sscanf(text, "%lf", &uptime) != 1)
		uptime = 0;
	free(text);
	return (int64_t)(uptime * 1000) - (int64_t)(start * 1000 / hz);
}

int procfs__alive(pid_t pid)
{
	struct procfs_stat st;

	/* Z and X have exited */
	return !procfs__stat(pid, &st) && st.state != 'Z' && st.state != 'X';
}
