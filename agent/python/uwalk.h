/* SPDX-License-Identifier: MIT */
/* The CPython walker of bpf/pystack.bpf.h, compiled for userspace over a struct mem_reader: one
 * call is one on-CPU sample of a thread, as bpf/oncpu.bpf.c takes it, read back as userspace
 * would. `agentctl dump` runs it on a live process (process_vm_readv), tests/replay on recorded
 * memory: the project has one walker, and this is it without a kernel.
 *
 * Its maps are process-wide tables: not for concurrent use from several threads. */
#ifndef PYPROF_UWALK_H
#define PYPROF_UWALK_H

#include <stddef.h>
#include <stdint.h>

#include "os/memread.h"
#include "py_offsets.h"
#include "pyprof_event.h"

/* Samples thread (tid, fsbase) of target t, reading its memory through r, with layout off, in
 * the modern (bpf_loop) or legacy (bounded loops over global step functions) build. fsbase is
 * what the thread's pthread_self() returns: the walker finds the thread state whose thread_id it
 * is. With fresh, every map starts empty; else the thread-state cache of earlier calls is kept
 * (and what uwalk__cache_tstate put there). *ret gets the record sent to the ring buffer (ret_len
 * bytes of it), ret_metrics (may be NULL) the counters (METRIC_MAX of them). Returns 0, or -EIO
 * if no record was sent, -ENOMEM. */
int uwalk__sample(const struct mem_reader *r, const struct py_offsets *off,
		  const struct py_target *t, uint32_t tid, uint64_t fsbase, int legacy, int fresh,
		  struct sample_event *ret, size_t *ret_len, uint64_t *ret_metrics);

/* Empties every map (thread-state cache included): before the threads of another process. */
void uwalk__reset(void);

/* Puts tstate in the walker's thread-state cache as tid's, as its own list walk would: the next
 * non-fresh sample of tid checks it with one read (its thread_id is the fsbase given) instead of
 * walking the thread list. For a caller that has just read the list itself. */
int uwalk__cache_tstate(uint32_t tid, uint64_t tstate);

/* Where the GIL's state (struct _gil_runtime_state, off->gil_size bytes) of t lives, as the
 * walker finds it; 0 if unknown (3.6, or the interpreter is not up). */
uint64_t uwalk__gil_addr(const struct mem_reader *r, const struct py_offsets *off,
			 const struct py_target *t);

#endif /* PYPROF_UWALK_H */
