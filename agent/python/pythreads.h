/* SPDX-License-Identifier: MIT */
/* The thread states of a CPython process, read from its interpreters' thread lists without
 * stopping it, and the kernel thread each belongs to. */
#ifndef PYPROF_PYTHREADS_H
#define PYPROF_PYTHREADS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "os/memread.h"
#include "python/pyproc.h"

enum pythread_tid_from {
	PYTHREAD_TID_UNKNOWN = 0,
	PYTHREAD_TID_NATIVE = 1, /* tstate->native_thread_id (3.11+) */
	PYTHREAD_TID_TCB = 2,	 /* the tid the C library keeps in the thread's control block */
};

struct pythread {
	uint64_t tstate;
	uint64_t thread_id; /* pthread_self() of the thread: its FS base on x86_64 */
	pid_t ns_tid;	    /* its kernel tid as its pid namespace sees it, 0 if unknown */
	enum pythread_tid_from tid_from;
};

/* Reads the thread states of every interpreter of p (PYPROF_MAX_INTERPS interpreters, at most
 * max threads, each list bounded and checked for loops: the memory is the target's). *ret_more
 * is set when there were more. Returns 0, -ESRCH when the process is gone, -EFAULT when the
 * first interpreter cannot be read. */
int pythreads__list(const struct mem_reader *r, const struct pyproc *p, struct pythread *ret,
		    size_t max, size_t *ret_n, int *ret_more);

/* Fills ns_tid of the threads: from native_thread_id where the layout has it, else from the
 * thread control blocks their thread_id points to, at the one offset where the C library keeps
 * the tid (glibc's or musl's alike), found as the offset that holds a tid of ns_tids (the
 * process's threads as its namespace sees them) for the most threads. Only values in ns_tids are
 * taken. */
void pythreads__match_tids(const struct mem_reader *r, const struct py_offsets *off,
			   struct pythread *threads, size_t n, const pid_t *ns_tids, size_t ntids);

#endif
