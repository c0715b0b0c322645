// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The off-CPU tracer's task-work way (bpf/offcpu.bpf.h): the switch-in of a long block schedules
 * a BPF task work on the thread, which takes its Python stack on its way back to user mode, so
 * that no program runs at every return to user mode. Its kfuncs are unstable (their prototype
 * and the verifier's rules for them changed within 6.18.y and again in 7.x), so they live in this
 * object alone: a kernel that refuses them refuses only this way. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define OFFCPU_TASK_WORK 1
struct pending;
static __always_inline int offcpu__schedule_work(struct task_struct *task, struct pending *p);

#include "offcpu.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

extern int bpf_task_work_schedule_resume_impl(
    struct task_struct *task, struct bpf_task_work *tw, void *map__map,
    int (*callback)(struct bpf_map *map, void *key, void *value), void *aux__prog) __ksym;
extern void bpf_preempt_disable(void) __ksym;
extern void bpf_preempt_enable(void) __ksym;

/* The task work of a long block: runs in the thread's context on its way back to user mode.
 * Task work may be preempted, and the scratch records are per CPU: the whole of it runs with
 * preemption off, which also keeps the switch-in of this thread from adding to p meanwhile. */
static int pending_work(struct bpf_map *map, void *key, void *value)
{
	struct pending *p = value;
	__u64 id;

	bpf_preempt_disable();
	id = bpf_get_current_pid_tgid();
	if ((__u32)id == *(__u32 *)key && p->blocked_ns)
		send_pending(id >> 32, (__u32)id, p, OFF_TASK_WORK);
	p->blocked_ns = 0;
	p->flags = 0;
	bpf_preempt_enable();
	return 0;
}

static __always_inline int offcpu__schedule_work(struct task_struct *task, struct pending *p)
{
	return bpf_task_work_schedule_resume_impl(task, &p->work, &pending_sleeps, pending_work,
						  NULL);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(pyprof_switch_tw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	on_switch(ctx, preempt, prev->tgid, next->tgid, next, next,
		  OFF_STORAGE | OFF_TRUSTED | OFF_TASK_WORK);
	return 0;
}
