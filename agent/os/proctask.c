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

/* Reads of a thread's state, system call and kernel function until they agree (see
 * proctask__read). */
#define PROCTASK_READ_TRIES 4

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

/* The stat letter of the thread, or 0 when it is gone. */
static char read_state(pid_t pid, pid_t tid)
{
	struct procfs_stat st;

	return procfs__task_stat(pid, tid, &st) ? 0 : st.state;
}

/* The syscall file: "NR ARG0 ... SP PC" when blocked in a system call, "-1 SP PC" when blocked
 * elsewhere (the kernel reads it only of a thread that is off CPU, without stopping it), and
 * "running" otherwise. Returns 1 (running), 0 (blocked; the call and its first argument set when
 * in one) or -errno (unreadable: another user's process); raw gets the text. */
static int read_syscall(pid_t pid, pid_t tid, struct proctask *ret, char *raw, size_t raw_len)
{
	unsigned long long arg;
	char *text;
	size_t len;
	long nr;
	int err, running;

	err = read_task_file(pid, tid, "syscall", &text, &len);
	if (err)
		return err;
	snprintf(raw, raw_len, "%s", text);
	running = !strncmp(text, "running", 7);
	ret->syscall_nr = -1;
	ret->syscall_arg = 0;
	if (sscanf(text, "%ld 0x%llx", &nr, &arg) == 2 && nr >= 0) {
		ret->syscall_nr = nr;
		ret->syscall_arg = arg;
	}
	free(text);
	return running;
}

/* The kernel function a thread that is off CPU waits in, into ret->wchan. Returns 0 (found, or
 * hidden from us), or -EAGAIN when the kernel says it waits nowhere: it runs again. */
static int read_wchan(pid_t pid, pid_t tid, struct proctask *ret)
{
	char *text;
	size_t len;

	if (!read_task_file(pid, tid, "wchan", &text, &len)) {
		if (strcmp(text, "0") && text[0])
			snprintf(ret->wchan, sizeof(ret->wchan), "%s", text);
		free(text);
	}
	if (ret->wchan[0])
		return 0;
	/* wchan is "0" where the kernel hides it, and of a running thread: the stack (root only)
	 * tells them apart, empty for a running thread */
	if (read_task_file(pid, tid, "stack", &text, &len))
		return 0;
	stack_function(text, ret->wchan, sizeof(ret->wchan));
	free(text);
	return ret->wchan[0] ? 0 : -EAGAIN;
}

int proctask__read(pid_t pid, pid_t tid, struct proctask *ret)
{
	char *text, *p;
	size_t len;
	int running;

	memset(ret, 0, sizeof(*ret));
	ret->tid = ret->ns_tid = tid;
	ret->syscall_nr = -1;
	ret->state = read_state(pid, tid);
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
	/* The state, the system call and the kernel function are reads moments apart: a thread
	 * that waits for the GIL a few microseconds at a time may be found asleep by one and
	 * running by the next (one read in 80 to 500 of such threads), which read as "sleeping,
	 * in no system call" or "in no function". They are read again until they agree, the
	 * function between two reads of the system call that find the thread blocked at the same
	 * place; after the last try the system call's read says whether it runs (and if it does
	 * not, "S": whether its sleep is interruptible is not known, and that is the likelier). */
	for (int tries = 1;; tries++) {
		char call[256], again[256] = "";
		int agree;

		ret->wchan[0] = '\0';
		running = read_syscall(pid, tid, ret, call, sizeof(call));
		if (running >= 0 && running != (ret->state == 'R')) {
			agree = 0;
		} else if (ret->state == 'R') {
			agree = 1;
		} else {
			agree = read_wchan(pid, tid, ret) != -EAGAIN;
			if (agree && running >= 0) {
				running = read_syscall(pid, tid, ret, again, sizeof(again));
				agree = !strcmp(call, again);
			}
		}
		if (agree)
			break;
		if (tries == PROCTASK_READ_TRIES) {
			if (running >= 0)
				ret->state = running ? 'R' : 'S';
			break;
		}
		ret->state = read_state(pid, tid);
		if (!ret->state)
			return -ENOENT;
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
