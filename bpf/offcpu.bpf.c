// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Off-CPU tracer: where target threads wait, and for how long.
 *
 * On the scheduler switch, a target thread switching out records when and how it blocked
 * (per thread, in a shared map: a per-CPU one would lose or amplify time when the thread wakes
 * on another CPU). When it switches back in, the blocked time is known:
 *  - shorter than min_block_ns: only counted (count and nanoseconds);
 *  - a sleep inside a system call: the kernel stack where it slept is taken then
 *    (bpf_get_task_stack; the task is not running), and the Python stack when the system call
 *    returns (sys_exit, in the thread's own context, before any Python code ran again), so no
 *    stack is ever walked for the many short blocks;
 *  - a preemption (runnable, waiting for a CPU): the Python stack was taken at switch-out, and
 *    a small duration record completes it.
 * A thread sleeping on a futex inside the GIL's state is marked as waiting for the GIL. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "pystack.bpf.h"
#include "event.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Set by userspace before load. */
const volatile __u64 min_block_ns = 1000000;
const volatile __u32 capture_kernel_stack = 1;

#define SYS_FUTEX    202 /* x86_64 */
#define TASK_RUNNING 0

/* A target thread that switched out, until it switches back in. */
struct blocked {
	__u64 start_ns;
	__u64 user_ip; /* user registers at the block: the same at sys_exit means the thread */
	__u64 user_sp; /* has not run any user code in between */
	__s64 syscall_nr;
	__u32 state;
	__u32 flags; /* SAMPLE_RUNNABLE, SAMPLE_GIL_WAIT */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct blocked);
} blocked_threads SEC(".maps");

/* A long sleep waiting for its Python stack, from switch-in to the system call's return. */
struct pending {
	__u64 blocked_ns; /* summed: a system call may sleep several times */
	__u64 start_ns;
	__u64 user_ip;
	__u64 user_sp;
	__s64 syscall_nr;
	__u32 state;
	__u32 flags;
	__s32 kstack_bytes;
	__u32 pad;
	__u64 kstack[PYPROF_MAX_KSTACK];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct pending);
} pending_sleeps SEC(".maps");

/* A zeroed value to insert pending entries from (too big for the BPF stack); never written. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pending);
} pending_zero SEC(".maps");

struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline __u32 task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return (__u32)BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

/* Whether the current thread, blocking in syscall nr on futex uaddr, waits for the GIL. */
static __always_inline int waits_for_gil(struct py_target *t, __s64 nr, __u64 uaddr)
{
	const struct py_offsets *off;
	__u32 layout = t->layout;
	__u64 gil;

	if (nr != SYS_FUTEX)
		return 0;
	off = bpf_map_lookup_elem(&layouts, &layout);
	if (!off || off->gil_size == PYOFF_NONE)
		return 0;
	gil = pystack__gil_addr(t, off);
	return gil && uaddr >= gil && uaddr < gil + off->gil_size;
}

static __always_inline void event_begin(struct sample_event *ev, __u32 pid, __u32 tid, __u64 now)
{
	ev->kind = SAMPLE_OFF_CPU;
	ev->pid = pid;
	ev->tid = tid;
	ev->cpu = bpf_get_smp_processor_id();
	ev->time_ns = now;
	ev->weight = 0;
	ev->flags = 0;
	ev->error = 0;
	ev->nframes = 0;
	ev->tstate = 0;
	ev->kstack_bytes = 0;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
}

/* The current task (prev) switches out. */
static __always_inline void switch_out(void *ctx, bool preempt, __u64 now)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32, tid = (__u32)id;
	struct blocked b = {.start_ns = now};
	struct sample_event *ev;
	struct pt_regs *regs;
	struct py_target *t;

	t = bpf_map_lookup_elem(&targets, &pid);
	if (!t)
		return;
	metric_inc(METRIC_OFFCPU_SWITCHES);
	b.state = preempt ? TASK_RUNNING : task_state(task);
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	b.user_ip = BPF_CORE_READ(regs, ip);
	b.user_sp = BPF_CORE_READ(regs, sp);
	b.syscall_nr = (__s64)BPF_CORE_READ(regs, orig_ax);
	if (b.state == TASK_RUNNING) {
		/* preempted: it resumes in user code, so its Python stack is taken now */
		b.flags = SAMPLE_RUNNABLE;
		ev = event__scratch();
		if (ev) {
			event_begin(ev, pid, tid, now);
			ev->flags = SAMPLE_RUNNABLE | SAMPLE_STACK_ONLY;
			ev->state = b.state;
			pystack__capture(ev, t, tid, BPF_CORE_READ(task, thread.fsbase), now, 0);
			if (capture_kernel_stack) {
				ev->kstack_bytes = bpf_get_stack(
				    ctx, &ev->frames[event__nframes(ev)], PYPROF_MAX_KSTACK * 8, 0);
				if (ev->kstack_bytes < 0)
					metric_inc(METRIC_KSTACK_FAILED);
			}
			event__send(ev, METRIC_OFFCPU_EVENTS_SENT, METRIC_RINGBUF_FULL);
		}
	} else if (waits_for_gil(t, b.syscall_nr, BPF_CORE_READ(regs, di))) {
		b.flags = SAMPLE_GIL_WAIT;
	}
	bpf_map_update_elem(&blocked_threads, &tid, &b, BPF_ANY);
}

/* next switches in; stack_task is next as a trusted pointer (tp_btf), or NULL (raw_tp). */
static __always_inline void switch_in(struct task_struct *next, struct task_struct *stack_task,
				      __u64 now)
{
	__u32 tid = BPF_CORE_READ(next, pid), zero = 0;
	struct pending *p, *fresh;
	struct blocked *b;
	__u64 delta;

	b = bpf_map_lookup_elem(&blocked_threads, &tid);
	if (!b || !b->start_ns)
		return;
	delta = now > b->start_ns ? now - b->start_ns : 0;
	b->start_ns = 0;
	if (delta < min_block_ns) {
		metric_inc(METRIC_OFFCPU_SHORT_BLOCKS);
		metric_add(METRIC_OFFCPU_SHORT_NS, delta);
		return;
	}
	if (b->flags & SAMPLE_RUNNABLE) {
		struct sample_event *ev = event__scratch();

		if (!ev)
			return;
		/* header only: joins the stack sent at switch-out */
		event_begin(ev, BPF_CORE_READ(next, tgid), tid, now - delta);
		ev->kind = SAMPLE_OFF_CPU_DURATION;
		ev->weight = delta;
		ev->flags = SAMPLE_RUNNABLE;
		event__send(ev, METRIC_OFFCPU_EVENTS_SENT, METRIC_RINGBUF_FULL);
		return;
	}
	if (b->flags & SAMPLE_GIL_WAIT)
		metric_inc(METRIC_OFFCPU_GIL_WAITS);
	p = bpf_map_lookup_elem(&pending_sleeps, &tid);
	if (!p) {
		fresh = bpf_map_lookup_elem(&pending_zero, &zero);
		if (!fresh)
			return;
		bpf_map_update_elem(&pending_sleeps, &tid, fresh, BPF_NOEXIST);
		p = bpf_map_lookup_elem(&pending_sleeps, &tid);
		if (!p) {
			metric_inc(METRIC_OFFCPU_PENDING_FULL);
			return;
		}
		p->start_ns = now - delta;
	}
	p->blocked_ns += delta;
	p->user_ip = b->user_ip;
	p->user_sp = b->user_sp;
	p->syscall_nr = b->syscall_nr;
	p->state = b->state;
	p->flags |= b->flags;
	p->kstack_bytes = 0;
	if (capture_kernel_stack && stack_task) {
		/* where it slept: the task is not running yet, its kernel stack is as it left it */
		p->kstack_bytes = bpf_get_task_stack(stack_task, p->kstack, sizeof(p->kstack), 0);
		if (p->kstack_bytes < 0)
			metric_inc(METRIC_KSTACK_FAILED);
	}
}

/* The current thread returns from a system call: send its pending sleep, if any. */
static __always_inline void syscall_return(void)
{
	struct task_struct *task;
	__u64 id = bpf_get_current_pid_tgid(), now;
	__u32 pid = id >> 32, tid = (__u32)id;
	struct sample_event *ev;
	struct py_target *t;
	struct pending *p;
	struct pt_regs *regs;
	__u32 kb;

	p = bpf_map_lookup_elem(&pending_sleeps, &tid);
	if (!p)
		return;
	t = bpf_map_lookup_elem(&targets, &pid);
	ev = event__scratch();
	if (!t || !ev) {
		bpf_map_delete_elem(&pending_sleeps, &tid);
		return;
	}
	now = bpf_ktime_get_ns();
	task = bpf_get_current_task_btf();
	event_begin(ev, pid, tid, p->start_ns);
	ev->weight = p->blocked_ns;
	ev->state = p->state;
	ev->flags = p->flags & SAMPLE_GIL_WAIT;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (BPF_CORE_READ(regs, ip) == p->user_ip && BPF_CORE_READ(regs, sp) == p->user_sp &&
	    (__s64)BPF_CORE_READ(regs, orig_ax) == p->syscall_nr) {
		/* the system call it slept in: no Python code ran since, the stack is as it was */
		pystack__capture(ev, t, tid, BPF_CORE_READ(task, thread.fsbase), now, 0);
	} else {
		ev->flags |= SAMPLE_NO_PYSTACK;
		metric_inc(METRIC_OFFCPU_OUTSIDE_SYSCALL);
	}
	kb = p->kstack_bytes > 0 ? p->kstack_bytes : 0;
	kb &= 0x3f8; /* whole addresses, at most PYPROF_MAX_KSTACK (127) of them */
	if (kb && !bpf_probe_read_kernel(&ev->frames[event__nframes(ev)], kb, p->kstack))
		ev->kstack_bytes = kb;
	bpf_map_delete_elem(&pending_sleeps, &tid);
	event__send(ev, METRIC_OFFCPU_EVENTS_SENT, METRIC_RINGBUF_FULL);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(pyprof_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();

	switch_out(ctx, preempt, now);
	switch_in(next, next, now);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(pyprof_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();

	switch_out(ctx, preempt, now);
	switch_in(next, NULL, now); /* raw_tp pointers are untrusted: no kernel stack of next */
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(pyprof_sysexit_btf)
{
	syscall_return();
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(pyprof_sysexit_raw)
{
	syscall_return();
	return 0;
}
