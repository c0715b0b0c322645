/* SPDX-License-Identifier: MIT */
/* Deciding by loading: the BPF loaders try the ways a part can be built, most preferred first,
 * and keep the first that the kernel loads and attaches. This module holds what they share: the
 * capture of libbpf's messages during one try (so that a refusal is told in one line, the
 * verifier's whole log only at debug level), the environment overrides the tests use to force
 * a way on any kernel, and the one property that is read rather than tried (the clocksource). */
#ifndef PYPROF_BPFLOAD_H
#define PYPROF_BPFLOAD_H

#include <stddef.h>
#include <bpf/libbpf.h>

/* Starts capturing libbpf's messages: from here to bpfload__try_end they go to the logger at
 * debug level only. Not reentrant; loaders call it from one thread. */
void bpfload__try_begin(void);

/* Stops capturing. If err, ret_reason gets why in one line: the verifier's last meaningful line
 * when the verifier refused a program, else libbpf's first warning, else strerror(-err). */
void bpfload__try_end(int err, char *ret_reason, size_t len);

/* Environment overrides, for tests that exercise the fallbacks on any kernel:
 *   PYPROF_FORCE_RAW_TP=1   only raw_tp ways (off-CPU, process events);
 *   PYPROF_NO_TASK_WORK=1   no task-work way (off-CPU);
 *   PYPROF_FORCE_LEGACY=1   only the builds for kernels before 5.17 (bounded loops);
 *   PYPROF_OFFCPU_WAY=NAME  only the off-CPU way of that name (as `agentctl status` shows it,
 *                           without the clock). */
enum bpfload_force {
	BPFLOAD_FORCE_RAW_TP = 1 << 0,
	BPFLOAD_NO_TASK_WORK = 1 << 1,
	BPFLOAD_FORCE_LEGACY = 1 << 2,
};
unsigned bpfload__forced(void);
const char *bpfload__forced_offcpu_way(void);

/* 1 if the scheduler's clock (sched_clock, rq->clock) is one timebase on every CPU, so that a
 * time taken on one CPU may be subtracted from one taken on another; else 0. The kernel says
 * so by timing with the TSC: it leaves the TSC as the clocksource only while it finds it
 * synchronized, and marks sched_clock unstable when it stops trusting it. (Whether the
 * programs may read it is then decided by loading them.) */
int bpfload__sched_clock_is_global(void);

/* The running kernel's release (uname -r), for messages. */
const char *bpfload__kernel_release(void);

#endif
