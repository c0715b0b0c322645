/* SPDX-License-Identifier: MIT */
/* Feature probes shared by the BPF loaders: which attach type, map types and clock the kernel
 * offers. The environment variable PYPROF_FORCE_RAW_TP=1 makes every probe answer "no", so that
 * the tests exercise the most portable way on any kernel; PYPROF_NO_TASK_WORK=1 only the task
 * work one, for the way of kernels 5.11 to 6.17. */
#ifndef PYPROF_BPFLOAD_H
#define PYPROF_BPFLOAD_H

#include <bpf/libbpf.h>

/* 1 if the kernel's BTF describes tracepoint tp (so tp_btf/tp works), else 0. */
int bpfload__has_btf_tracepoint(const char *tp);

/* 1 if the kernel has task-local storage maps (5.11+), else 0. */
int bpfload__has_task_storage(void);

/* 1 if the kernel has the kfuncs to schedule BPF task work and to keep it from being preempted
 * (bpf_task_work_schedule_resume_impl, bpf_preempt_disable: 6.18+), else 0. */
int bpfload__has_task_work(void);

/* 1 if the scheduler's clock (sched_clock, rq->clock) is one timebase on every CPU, so that a
 * time taken on one CPU may be subtracted from one taken on another; else 0. The kernel says
 * so by timing with the TSC: it leaves the TSC as the clocksource only while it finds it
 * synchronized, and marks sched_clock unstable when it stops trusting it. */
int bpfload__sched_clock_is_global(void);

/* Keeps exactly one of two programs doing the same job: the tp_btf one where the kernel can
 * attach it, else the raw_tp one. Call between open and load. Returns 1 if tp_btf was chosen. */
int bpfload__choose(struct bpf_program *btf_prog, struct bpf_program *raw_prog, const char *tp);

#endif
