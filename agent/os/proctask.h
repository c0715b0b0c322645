/* SPDX-License-Identifier: MIT */
/* Reading a process's threads and children from /proc without stopping them: each thread's
 * state, the system call it is blocked in and the kernel function it waits in. */
#ifndef PYPROF_PROCTASK_H
#define PYPROF_PROCTASK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The thread ids of pid (its /proc/PID/task), ascending, at most max of them; *ret_more is set
 * when there were more. Returns 0, or -ESRCH when the process is gone. */
int proctask__list(pid_t pid, pid_t *ret, size_t max, size_t *ret_n, int *ret_more);
/* How many threads pid has, or -ESRCH (gone), -EACCES/-EPERM. */
int proctask__count(pid_t pid);

struct proctask {
	pid_t tid;
	pid_t ns_tid;	 /* as its innermost pid namespace sees it (NSpid), else tid */
	char state;	 /* the /proc stat letter: R running, S sleeping, D disk, ...; 0 gone */
	long syscall_nr; /* the system call it is blocked in, -1 if none (running, ...) */
	uint64_t syscall_arg; /* its first argument (a futex's address) */
	char wchan[64];	      /* the kernel function it waits in, "" if none or unknown */
	char comm[64];	      /* its name, sanitized; "?" if unreadable */
};

/* Reads what /proc says of thread tid of pid now. Each of its files is a snapshot of its own
 * moment: the state, the system call and the kernel function are read again (a few times at
 * most) until they agree. Returns 0, or -ENOENT when the thread is gone. */
int proctask__read(pid_t pid, pid_t tid, struct proctask *ret);

/* The children of every thread of pid (/proc/PID/task/TID/children), at most max of them; *ret_n
 * counts them, *ret_more is set when there were more. Returns 0 or -ESRCH. */
int proctask__children(pid_t pid, pid_t *ret, size_t max, size_t *ret_n, int *ret_more);

#endif
