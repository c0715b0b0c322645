/* SPDX-License-Identifier: MIT */
/* The CPython walker of bpf/pystack.bpf.h, compiled for userspace over a replay_mem: one call is
 * one on-CPU sample of a thread, as bpf/oncpu.bpf.c takes it, read back as userspace would. */
#ifndef PYPROF_REPLAY_WALK_H
#define PYPROF_REPLAY_WALK_H

#include <stddef.h>
#include <stdint.h>

#include "py_offsets.h"
#include "pyprof_event.h"
#include "replay_mem.h"

/* Samples thread (tid, fsbase) of target t in memory m with layout off, in the modern (bpf_loop)
 * or legacy (bounded loops over global step functions) build. With fresh, every map starts
 * empty; else the thread-state cache of the previous call is kept. *ret gets the record sent to
 * the ring buffer (ret_len bytes of it), ret_metrics the counters (METRIC_MAX of them).
 * Returns 0, or -EIO if no record was sent. */
int walk__sample(struct replay_mem *m, const struct py_offsets *off, const struct py_target *t,
		 uint32_t tid, uint64_t fsbase, int legacy, int fresh, struct sample_event *ret,
		 size_t *ret_len, uint64_t *ret_metrics);

#endif /* PYPROF_REPLAY_WALK_H */
