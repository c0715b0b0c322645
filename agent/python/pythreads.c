// SPDX-License-Identifier: MIT
/* Thread states of a CPython process and their kernel threads (see pythreads.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "python/pythreads.h"
#include "pyprof_event.h"

/* Bytes of a thread control block searched for the tid: glibc keeps it at 720 on x86_64, musl
 * at 48. */
#define TCB_SCAN 2048

static int read_u64(const struct mem_reader *r, uint64_t addr, uint64_t *ret)
{
	return mem_read(r, addr, ret, sizeof(*ret));
}

static int seen(const struct pythread *t, size_t n, uint64_t tstate)
{
	for (size_t i = 0; i < n; i++) {
		if (t[i].tstate == tstate)
			return 1;
	}
	return 0;
}

int pythreads__list(const struct mem_reader *r, const struct pyproc *p, struct pythread *ret,
		    size_t max, size_t *ret_n, int *ret_more)
{
	const struct py_offsets *off = &p->offsets;
	uint64_t interp = 0;
	size_t n = 0;
	int err;

	*ret_n = 0;
	*ret_more = 0;
	err = read_u64(r, p->interp_head_addr, &interp);
	if (err)
		return err == -ESRCH ? err : -EFAULT;
	for (int i = 0; i < PYPROF_MAX_INTERPS && interp; i++) {
		uint64_t ts = 0;

		if (read_u64(r, interp + off->interp_threads_head, &ts))
			break;
		for (int j = 0; ts && j < PYPROF_MAX_THREADS; j++) {
			struct pythread t = {.tstate = ts};

			/* a list that loops (hostile or changing memory) ends where it repeats */
			if (seen(ret, n, ts) ||
			    read_u64(r, ts + off->tstate_thread_id, &t.thread_id))
				break;
			if (n == max) {
				*ret_more = 1;
				break;
			}
			ret[n++] = t;
			if (read_u64(r, ts + off->tstate_next, &ts))
				break;
		}
		if (off->interp_next == PYOFF_NONE ||
		    read_u64(r, interp + off->interp_next, &interp))
			break;
	}
	*ret_n = n;
	return 0;
}

static int is_tid(const pid_t *tids, size_t n, int32_t v)
{
	for (size_t i = 0; i < n; i++) {
		if (tids[i] == v)
			return 1;
	}
	return 0;
}

void pythreads__match_tids(const struct mem_reader *r, const struct py_offsets *off,
			   struct pythread *threads, size_t n, const pid_t *ns_tids, size_t ntids)
{
	static unsigned hits[TCB_SCAN / 4];
	static int32_t tcb[TCB_SCAN / 4];
	size_t best = 0, left = 0;

	for (size_t i = 0; i < n; i++) {
		int32_t v = 0;

		if (off->tstate_native_thread_id != PYOFF_NONE &&
		    !mem_read(r, threads[i].tstate + off->tstate_native_thread_id, &v, sizeof(v)) &&
		    is_tid(ns_tids, ntids, v)) {
			threads[i].ns_tid = v;
			threads[i].tid_from = PYTHREAD_TID_NATIVE;
		} else {
			left++;
		}
	}
	if (!left)
		return;
	/* the offset of the tid in the control block: where most threads hold one of the tids */
	memset(hits, 0, sizeof(hits));
	for (size_t i = 0; i < n; i++) {
		if (threads[i].tid_from || mem_read(r, threads[i].thread_id, tcb, sizeof(tcb)))
			continue;
		for (size_t k = 0; k < TCB_SCAN / 4; k++)
			hits[k] += tcb[k] > 0 && is_tid(ns_tids, ntids, tcb[k]);
	}
	for (size_t k = 1; k < TCB_SCAN / 4; k++) {
		if (hits[k] > hits[best])
			best = k;
	}
	if (!hits[best])
		return;
	for (size_t i = 0; i < n; i++) {
		int32_t v = 0;

		if (threads[i].tid_from ||
		    mem_read(r, threads[i].thread_id + best * 4, &v, sizeof(v)) ||
		    !is_tid(ns_tids, ntids, v))
			continue;
		threads[i].ns_tid = v;
		threads[i].tid_from = PYTHREAD_TID_TCB;
	}
}
