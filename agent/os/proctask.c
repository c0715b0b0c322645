// SPDX-License-Identifier: MIT
/* Threads and children of a process, from /proc (see proctask.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "os/procfs.h"
#include "os/proctask.h"

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* The thread ids of pid into ret (NULL: only counted), at most max stored. Returns how many
 * there are (stored or not), or -errno. */
static long walk_tasks(pid_t pid, pid_t *ret, size_t max)
{
	char path[64];
	struct dirent *d;
	long n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return errno == EACCES || errno == EPERM ? -errno : -ESRCH;
	while ((d = readdir(dir))) {
		long tid = strtol(d->d_name, NULL, 10);

		if (tid <= 0)
			continue;
		if (ret && (size_t)n < max)
			ret[n] = (pid_t)tid;
		n++;
	}
	closedir(dir);
	return n;
}

int proctask__count(pid_t pid)
{
	return (int)walk_tasks(pid, NULL, 0);
}

int proctask__list(pid_t pid, pid_t *ret, size_t max, size_t *ret_n, int *ret_more)
{
	long n = walk_tasks(pid, ret, max);

	*ret_more = 0;
	*ret_n = 0;
	if (n < 0)
		return (int)n;
	*ret_more = (size_t)n > max;
	*ret_n = *ret_more ? max : (size_t)n;
	qsort(ret, *ret_n, sizeof(*ret), cmp_pid);
	return 0;
}

/* A small /proc file of the thread, NUL-terminated; 0 or -errno. */
static int read_task_file(pid_t pid, pid_t tid, const char *name, char **ret, size_t *ret_len)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/%s", pid, tid, name);
	return procfs__read_file(path, 64 * 1024, ret, ret_len);
}

/* The kernel function name of a /proc stack line "[<0>] futex_wait_queue+0x7e/0x90". */
static void stack_function(const char *line, char *buf, size_t len)
{
	const char *p = strchr(line, ']'), *end;

	buf[0] = '\0';
	if (!p)
		return;
	p++;
	while (*p == ' ')
		p++;
	end = p;
	while (*end && *end != '+' && *end != '\n' && *end != ' ')
		end++;
	if (end > p)
		snprintf(buf, len, "%.*s", (int)(end - p), p);
}

int proctask__read(pid_t pid, pid_t tid, struct proctask *ret)
{
	char *text, *p;
	size_t len;

	memset(ret, 0, sizeof(*ret));
	ret->tid = ret->ns_tid = tid;
	ret->syscall_nr = -1;
	if (read_task_file(pid, tid, "stat", &text, &len))
		return -ENOENT;
	/* the name may hold spaces and parentheses: fields resume after the last ')' */
	p = strrchr(text, ')');
	if (p && p[1] == ' ' && p[2])
		ret->state = p[2];
	free(text);
	if (!ret->state)
		return -ENOENT;
	procfs__comm(pid, tid, ret->comm, sizeof(ret->comm));
	if (!read_task_file(pid, tid, "status", &text, &len)) {
		p = strstr(text, "\nNSpid:");
		if (p) {
			char *eol = strchr(p + 1, '\n'), *last = NULL;

			if (eol)
				*eol = '\0';
			for (char *q = p + 7; *q; q++) {
				if (isdigit((unsigned char)*q) && (q[-1] == ' ' || q[-1] == '\t'))
					last = q;
			}
			if (last && atol(last) > 0)
				ret->ns_tid = (pid_t)atol(last);
		}
		free(text);
	}
	/* "NR ARG0 ... SP PC" when blocked in a system call; "running", or "-1 SP PC" otherwise
	 * (the kernel reads it only of a thread that is off CPU, without stopping it) */
	if (!read_task_file(pid, tid, "syscall", &text, &len)) {
		long nr;
		unsigned long long arg;

		if (sscanf(text, "%ld 0x%llx", &nr, &arg) == 2 && nr >= 0) {
			ret->syscall_nr = nr;
			ret->syscall_arg = arg;
		}
		free(text);
	}
	if (!read_task_file(pid, tid, "wchan", &text, &len)) {
		if (strcmp(text, "0") && text[0])
			snprintf(ret->wchan, sizeof(ret->wchan), "%s", text);
		free(text);
	}
	/* wchan is "0" where the kernel hides it: the stack (root only) names it too */
	if (!ret->wchan[0] && ret->state != 'R' &&
	    !read_task_file(pid, tid, "stack", &text, &len)) {
		stack_function(text, ret->wchan, sizeof(ret->wchan));
		free(text);
	}
	return 0;
}

int proctask__children(pid_t pid, pid_t *ret, size_t max, size_t *ret_n, int *ret_more)
{
	pid_t tids[256];
	size_t ntids, n = 0;
	int more, err;

	*ret_more = 0;
	err = proctask__list(pid, tids, sizeof(tids) / sizeof(tids[0]), &ntids, &more);
	if (err)
		return err;
	*ret_more = more; /* children of threads beyond the first 256 are not seen */
	for (size_t i = 0; i < ntids; i++) {
		char *text, *p, *end;
		size_t len;

		if (read_task_file(pid, tids[i], "children", &text, &len))
			continue;
		for (p = text;; p = end) {
			long child = strtol(p, &end, 10);

			if (end == p)
				break;
			if (child <= 0)
				continue;
			if (n == max) {
				*ret_more = 1;
				break;
			}
			ret[n++] = (pid_t)child;
		}
		free(text);
	}
	*ret_n = n;
	return 0;
}
