// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The off-CPU tracer's ways but task work (bpf/offcpu.bpf.h): one sched_switch program per way,
 * and the rseq_update programs that take the Python stack on the way back to user mode.
 * Userspace loads the switch program of one way (and its rseq_update twin, unless
 * stack_at_switch_out) and leaves the others out. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "offcpu.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* tp_btf, blocked records in task storage (5.17+: bpf_loop). */
SEC("tp_btf/sched_switch")
int BPF_PROG(pyprof_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	/* trusted pointers: plain loads, no helper call */
	on_switch(ctx, preempt, prev->tgid, next->tgid, next, next, OFF_STORAGE | OFF_TRUSTED);
	return 0;
}

/* raw_tp, blocked records in the map by thread id: no kernel stack of the wait. */
SEC("raw_tp/sched_switch")
int BPF_PROG(pyprof_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	/* raw_tp pointers are untrusted: read through helpers */
	on_switch(ctx, preempt, bpf_get_current_pid_tgid() >> 32, BPF_CORE_READ(next, tgid), next,
		  NULL, 0);
	return 0;
}

/* Kernels before 5.17 (5.10 is the floor): tp_btf, the map by thread id, bounded loops. */
SEC("tp_btf/sched_switch")
int BPF_PROG(pyprof_switch_legacy, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	on_switch(ctx, preempt, prev->tgid, next->tgid, next, next, OFF_TRUSTED | OFF_LEGACY);
	return 0;
}

/* rseq_update: the current thread (task) is on its way back to user mode after a switch. */
SEC("tp_btf/rseq_update")
int BPF_PROG(pyprof_resume_btf, struct task_struct *task)
{
	back_to_user(task->tgid, 0);
	return 0;
}

SEC("raw_tp/rseq_update")
int BPF_PROG(pyprof_resume_raw)
{
	back_to_user(bpf_get_current_pid_tgid() >> 32, 0);
	return 0;
}

SEC("tp_btf/rseq_update")
int BPF_PROG(pyprof_resume_legacy, struct task_struct *task)
{
	back_to_user(task->tgid, OFF_LEGACY);
	return 0;
}
