/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Off-CPU tracer: where target threads wait, and for how long. Its code, built into two objects:
 * offcpu.bpf.c (every way but one) and offcpu_tw.bpf.c (the task-work way, whose unstable kfuncs
 * must not be able to fail the other ways' object).
 *
 * On the scheduler switch, a target thread switching out records when and how it blocked
 * (per thread: in its task-local storage, or in a map by thread id; never per CPU, which would
 * lose or amplify time when the thread wakes on another CPU). When it switches back in, the
 * blocked time is known:
 *  - shorter than min_block_ns: only counted (count and nanoseconds);
 *  - longer: the kernel stack where it waited is taken then (bpf_get_task_stack; the task is not
 *    running yet), and the Python stack on the thread's way back to user mode, in its own
 *    context, before any Python code ran again: by a task work the switch-in schedules on the
 *    thread (where the kernel accepts it), else at the rseq_update tracepoint, which the kernel
 *    fires on that way back for every thread that registered rseq (glibc does, for every
 *    thread, since 2.35).
 *    So no stack is ever walked for the many short blocks, and untraced processes pay two bit
 *    tests per switch (and per return to user mode where rseq_update is used): no system-call
 *    hook, which would slow down every system call on the host. A short block costs a target
 *    two clock reads and two record lookups, so both are the cheapest the kernel allows
 *    (switch_clock, blocked__get).
 * Under rseq_update, a thread without rseq (musl, or glibc told not to) has its Python stack
 * walked at every switch-out instead, sent ahead and joined in userspace with a duration record
 * when the block proves long enough (counted as offcpu_no_rseq). Where neither task work nor
 * rseq_update loads, every target thread is treated so (stack_at_switch_out).
 * A thread sleeping on a futex inside the GIL's state is marked as waiting for the GIL; a
 * preempted thread (waiting for a CPU) as runnable.
 *
 * The programs differ by constant flags (OFF_*) that the compiler folds away; userspace loads
 * the first way the kernel accepts (agent/bpf/sampler.c). */
#ifndef PYPROF_OFFCPU_BPF_H
#define PYPROF_OFFCPU_BPF_H

#include "pystack.bpf.h"
#include "event.bpf.h"

/* How a program of the tracer is built. */
#define OFF_STORAGE (1u << 0) /* blocked records in task storage (5.11+, tp_btf) */
#define OFF_TRUSTED (1u << 1) /* tp_btf: next is a trusted pointer (kernel stack of the wait) */
#define OFF_LEGACY                                                                                 \
	(1u << 2)		/* before 5.17: bounded loops, helpers instead of trusted loads,   \
				 * no BPF atomics (5.12) nor bpf_task_pt_regs (5.15) */
#define OFF_TASK_WORK (1u << 3) /* the Python stack by task work (offcpu_tw.bpf.c) */

/* Set by userspace before load. */
const volatile __u64 min_block_ns = 1000000;
const volatile __u32 capture_kernel_stack = 1;
/* Time blocks by the scheduler's own clock of the run queue (rq->clock), which __schedule has
 * just updated, rather than bpf_ktime_get_ns (75 ns a call in a VM, twice per switch). Set only
 * where sched_clock is one timebase on every CPU (userspace checks the clocksource is the TSC);
 * used for durations only, never as an event's time. */
const volatile __u32 use_sched_clock = 0;
/* No program runs on the way back to user mode (neither task work nor rseq_update loads): every
 * target thread has its Python stack walked at switch-out, as a thread without rseq does. */
const volatile __u32 stack_at_switch_out = 0;

#define SYS_FUTEX    202 /* x86_64 */
#define TASK_RUNNING 0
#define TASK_DEAD    0x80
/* x86_64: the kernel stack of a task is THREAD_SIZE (16 KiB without KASAN), its user registers
 * at the top (task_pt_regs), for kernels without bpf_task_pt_regs. */
#define X86_THREAD_SIZE (16u * 1024)

/* Bit pid of the target processes (see PYPROF_PID_BITS), written by userspace; bit tid of the
 * threads with a pending block, so that their many returns to user mode without one cost no
 * hash lookup. A set bit only means "look in the map". */
__u64 target_pids[PYPROF_PID_WORDS];
__u64 pending_tids[PYPROF_PID_WORDS];

static __always_inline int pid_bit(const __u64 *bits, __u32 id)
{
	return (bits[(id >> 6) & (PYPROF_PID_WORDS - 1)] >> (id & 63)) & 1;
}

static __always_inline int is_target_pid(__u32 pid)
{
	return pid_bit(target_pids, pid);
}

/* Legacy builds keep no pending bits (no BPF atomics before 5.12): they look in the map. */
static __always_inline void set_pending_bit(__u32 tid, int on, const __u32 how)
{
	__u64 *word = &pending_tids[(tid >> 6) & (PYPROF_PID_WORDS - 1)], bit = 1ULL << (tid & 63);

	if (how & OFF_LEGACY)
		return;
	if (on)
		__sync_fetch_and_or(word, bit);
	else
		__sync_fetch_and_and(word, ~bit);
}

/* A target thread that switched out, until it switches back in. */
struct blocked {
	__u64 start_ns; /* the switch clock (see switch_clock); 0: not blocked */
	__u64 event_ns; /* BLOCKED_STACK_SENT: the time of the stack record sent */
	__u32 state;
	__u32 flags; /* SAMPLE_RUNNABLE, SAMPLE_GIL_WAIT, BLOCKED_STACK_SENT */
};

/* The Python stack went out at switch-out (a thread without rseq): at switch-in only the
 * duration follows, to be joined in userspace. */
#define BLOCKED_STACK_SENT (1u << 31)

/* Keyed by tid: for ways without task storage (userspace shrinks it to nothing otherwise). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct blocked);
} blocked_threads SEC(".maps");

/* Not created where the kernel refuses it (userspace turns it off with the ways that use it). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct blocked);
} blocked_tasks SEC(".maps");

/* The blocked record of thread tid, created if asked: in task-local storage, found from task by
 * a pointer walk rather than by hashing tid (OFF_STORAGE: task is tp_btf's trusted pointer),
 * else in the map by tid. */
static __always_inline struct blocked *blocked__get(struct task_struct *task, __u32 tid,
						    bool create, const __u32 how)
{
	struct blocked zero = {}, *b;

	if (how & OFF_STORAGE)
		return bpf_task_storage_get(&blocked_tasks, task, 0,
					    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	b = bpf_map_lookup_elem(&blocked_threads, &tid);
	if (b || !create)
		return b;
	/* an update in place afterwards: an update allocates and swaps an element */
	bpf_map_update_elem(&blocked_threads, &tid, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&blocked_threads, &tid);
}

struct cfs_rq___grp {
	struct rq *rq;
} __attribute__((preserve_access_index));

struct sched_entity___grp {
	struct cfs_rq___grp *cfs_rq;
} __attribute__((preserve_access_index));

struct task_struct___grp {
	struct sched_entity___grp se;
} __attribute__((preserve_access_index));

/* Now, for timing a block: the run queue's clock of this CPU, reached from the current task
 * (trusted; its cfs_rq is this CPU's, group scheduling's back pointer leads to the run queue),
 * or bpf_ktime_get_ns (legacy builds, whose current task is not a trusted pointer). */
static __always_inline __u64 switch_clock(struct task_struct *cur, const __u32 how)
{
	struct task_struct___grp *t = (void *)cur;
	struct cfs_rq___grp *cfs;
	__u64 clock;

	if (!(how & OFF_LEGACY) && use_sched_clock && bpf_core_field_exists(t->se.cfs_rq) &&
	    bpf_core_field_exists(struct cfs_rq___grp, rq)) {
		/* plain loads: a fault reads as 0 */
		cfs = t->se.cfs_rq;
		clock = cfs ? cfs->rq->clock : 0;
		if (clock)
			return clock;
	}
	return bpf_ktime_get_ns();
}

/* A long block waiting for its Python stack, from switch-in to the return to user mode. With
 * task work, a thread's entry stays (blocked_ns 0 between blocks) until the thread ends. */
struct pending {
	__u64 blocked_ns; /* summed: a system call may block several times; 0: none pending */
	__u64 start_ns;
	__u32 state;
	__u32 flags;
	__s32 kstack_bytes;
	__u32 pad;
	__u64 kstack[PYPROF_MAX_KSTACK];
#ifdef OFFCPU_TASK_WORK
	struct bpf_task_work work;
#endif
};

/* As many bytes, without the task work a per-CPU map cannot hold. */
struct pending_blank {
	__u8 bytes[sizeof(struct pending)];
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
	__type(value, struct pending_blank);
} pending_zero SEC(".maps");

struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

/* The state of t: plain loads where t is trusted, reads through helpers in legacy builds. */
static __always_inline __u32 task_state(struct task_struct *t, const __u32 how)
{
	if (how & OFF_LEGACY) {
		if (bpf_core_field_exists(t->__state))
			return BPF_CORE_READ(t, __state);
		return (__u32)BPF_CORE_READ((struct task_struct___pre514 *)t, state);
	}
	if (bpf_core_field_exists(t->__state))
		return t->__state;
	return (__u32)((struct task_struct___pre514 *)t)->state;
}

/* The system call number and first argument of task (current, in a system call), from its
 * user registers: bpf_task_pt_regs, or the top of its kernel stack in legacy builds. */
static __always_inline int task_syscall(struct task_struct *task, __u64 *ret_nr, __u64 *ret_arg0,
					const __u32 how)
{
	struct pt_regs *regs;

	if (how & OFF_LEGACY) {
		__u64 stack = (__u64)BPF_CORE_READ(task, stack);

		if (!stack)
			return -1;
		regs = (struct pt_regs *)(stack + X86_THREAD_SIZE) - 1;
		if (bpf_probe_read_kernel(ret_nr, sizeof(*ret_nr), &regs->orig_ax) ||
		    bpf_probe_read_kernel(ret_arg0, sizeof(*ret_arg0), &regs->di))
			return -1;
		return 0;
	}
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs)
		return -1;
	*ret_nr = regs->orig_ax;
	*ret_arg0 = regs->di;
	return 0;
}

/* Whether the current thread of process pid, blocking in syscall nr on futex uaddr, waits for
 * the GIL. */
static __always_inline int waits_for_gil(__u32 pid, __u64 nr, __u64 uaddr)
{
	const struct py_offsets *off;
	struct py_target *t;
	__u32 layout;
	__u64 gil;

	if (nr != SYS_FUTEX)
		return 0;
	t = bpf_map_lookup_elem(&targets, &pid);
	if (!t)
		return 0;
	layout = t->layout;
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

/* A thread's last switch-out: its records go with it (a thread dying inside exit_group never
 * returns from that system call to collect its pending sleep). */
static __always_inline void forget_thread(__u32 tid, const __u32 how)
{
	bpf_map_delete_elem(&pending_sleeps, &tid);
	set_pending_bit(tid, 0, how);
	bpf_map_delete_elem(&blocked_threads, &tid);
	bpf_map_delete_elem(&tstate_cache, &tid);
}

/* 6.19+ keeps a task's rseq registration in a struct (task->rseq.usrptr). */
struct rseq_data___new {
	void *usrptr;
} __attribute__((preserve_access_index));

struct task_struct___rseq_new {
	struct rseq_data___new rseq;
} __attribute__((preserve_access_index));

/* Whether task (current) registered rseq: then the kernel calls rseq_update on its way back to
 * user mode after a switch, and its Python stack can wait until then. A kernel whose task
 * keeps it in neither layout reads as "no rseq": the stack is taken at once. */
static __always_inline int has_rseq(struct task_struct *task, const __u32 how)
{
	struct task_struct___rseq_new *t = (void *)task;

	if (bpf_core_field_exists(task->rseq)) {
		if (how & OFF_LEGACY)
			return BPF_CORE_READ(task, rseq) != NULL;
		return task->rseq != NULL;
	}
	if (bpf_core_field_exists(t->rseq.usrptr)) {
		if (how & OFF_LEGACY)
			return BPF_CORE_READ(t, rseq.usrptr) != NULL;
		return t->rseq.usrptr != NULL;
	}
	return 0;
}

/* A thread whose stack cannot wait for its way back to user mode: it is walked and sent now.
 * Returns 0 if sent. */
static __always_inline int send_stack_now(void *ctx, __u32 pid, __u32 tid, struct blocked *b,
					  const __u32 how)
{
	struct py_target *t = bpf_map_lookup_elem(&targets, &pid);
	struct sample_event *ev = event__scratch();
	const int legacy = (how & OFF_LEGACY) != 0;
	__u64 stack;

	metric_inc(METRIC_OFFCPU_NO_RSEQ);
	if (!t || !ev)
		return -1;
	b->event_ns = bpf_ktime_get_ns();
	event_begin(ev, pid, tid, b->event_ns);
	ev->flags = b->flags | SAMPLE_STACK_ONLY;
	ev->state = b->state;
	stack =
	    pystack__capture(ev, t, tid, pystack__current_fsbase(legacy), b->event_ns, 0, legacy);
	if (capture_kernel_stack) {
		ev->kstack_bytes =
		    bpf_get_stack(ctx, &ev->frames[event__nframes(ev)], PYPROF_MAX_KSTACK * 8, 0);
		if (ev->kstack_bytes < 0)
			metric_inc(METRIC_KSTACK_FAILED);
	}
	return event__send(ev, stack, METRIC_OFFCPU_EVENTS_SENT, METRIC_RINGBUF_FULL);
}

/* The current task (prev; trusted unless legacy), a thread of a target, switches out. */
static __always_inline void switch_out(void *ctx, struct task_struct *task, bool preempt, __u64 now,
				       const __u32 how)
{
	__u64 id = bpf_get_current_pid_tgid(), nr = 0, arg0 = 0;
	__u32 pid = id >> 32, tid = (__u32)id;
	struct blocked fresh = {.start_ns = now}, *b;

	metric_inc(METRIC_OFFCPU_SWITCHES);
	fresh.state = preempt ? TASK_RUNNING : task_state(task, how);
	if (fresh.state & TASK_DEAD) {
		forget_thread(tid, how);
		return;
	}
	if (fresh.state == TASK_RUNNING) {
		fresh.flags = SAMPLE_RUNNABLE;
	} else if (!task_syscall(task, &nr, &arg0, how) && waits_for_gil(pid, nr, arg0)) {
		fresh.flags = SAMPLE_GIL_WAIT;
	}
	if (!(how & OFF_TASK_WORK) && (stack_at_switch_out || !has_rseq(task, how)) &&
	    !send_stack_now(ctx, pid, tid, &fresh, how))
		fresh.flags |= BLOCKED_STACK_SENT;
	b = blocked__get(task, tid, true, how);
	if (b)
		*b = fresh;
	else /* task storage busy on this CPU, out of memory, or the map full */
		metric_inc(METRIC_OFFCPU_UNRECORDED);
}

/* Sends pending block p of the current thread tid of process pid, with its Python stack. */
static __always_inline void send_pending(__u32 pid, __u32 tid, struct pending *p, const __u32 how)
{
	struct py_target *t = bpf_map_lookup_elem(&targets, &pid);
	struct sample_event *ev = event__scratch();
	const int legacy = (how & OFF_LEGACY) != 0;
	__u64 stack;
	__u32 kb;

	if (!t || !ev)
		return;
	event_begin(ev, pid, tid, p->start_ns);
	ev->weight = p->blocked_ns;
	ev->state = p->state;
	ev->flags = p->flags & (SAMPLE_GIL_WAIT | SAMPLE_RUNNABLE);
	stack = pystack__capture(ev, t, tid, pystack__current_fsbase(legacy), bpf_ktime_get_ns(), 0,
				 legacy);
	kb = p->kstack_bytes > 0 ? p->kstack_bytes : 0;
	kb &= 0x3f8; /* whole addresses, at most PYPROF_MAX_KSTACK (127) of them */
	if (kb && !bpf_probe_read_kernel(&ev->frames[event__nframes(ev)], kb, p->kstack))
		ev->kstack_bytes = kb;
	event__send(ev, stack, METRIC_OFFCPU_EVENTS_SENT, METRIC_RINGBUF_FULL);
}

/* next, a thread of process pid, switches in; trusted is next as a trusted pointer (tp_btf),
 * or NULL (raw_tp: no task storage, no kernel stack). */
static __always_inline void switch_in(struct task_struct *next, struct task_struct *trusted,
				      __u32 pid, __u64 now, const __u32 how)
{
	__u32 tid = trusted ? trusted->pid : BPF_CORE_READ(next, pid), zero = 0;
	struct pending *p, *fresh;
	struct blocked *b;
	__u64 delta;

	b = blocked__get(trusted, tid, false, how);
	if (!b || !b->start_ns)
		return;
	delta = now > b->start_ns ? now - b->start_ns : 0;
	b->start_ns = 0;
	if (delta < min_block_ns) {
		metric_inc(METRIC_OFFCPU_SHORT_BLOCKS);
		metric_add(METRIC_OFFCPU_SHORT_NS, delta);
		return;
	}
	if (b->flags & SAMPLE_GIL_WAIT)
		metric_inc(METRIC_OFFCPU_GIL_WAITS);
	if (b->flags & BLOCKED_STACK_SENT) {
		struct sample_event *ev = event__scratch();

		if (!ev)
			return;
		/* header only: joins the stack sent at switch-out */
		event_begin(ev, pid, tid, b->event_ns);
		ev->kind = SAMPLE_OFF_CPU_DURATION;
		ev->weight = delta;
		ev->flags = b->flags & (SAMPLE_RUNNABLE | SAMPLE_GIL_WAIT);
		event__send(ev, 0, METRIC_OFFCPU_EVENTS_SENT, METRIC_RINGBUF_FULL);
		return;
	}
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
	}
	if (!p->blocked_ns) { /* the first block since the thread last ran Python code */
		p->start_ns = bpf_ktime_get_ns() - delta; /* an event's time: CLOCK_MONOTONIC */
		p->flags = 0;
#ifdef OFFCPU_TASK_WORK
		if (offcpu__schedule_work(trusted, p)) {
			metric_inc(METRIC_OFFCPU_UNRECORDED);
			return;
		}
#else
		set_pending_bit(tid, 1, how);
#endif
	}
	p->blocked_ns += delta;
	p->state = b->state;
	p->flags |= b->flags & (SAMPLE_RUNNABLE | SAMPLE_GIL_WAIT);
	p->kstack_bytes = 0;
	if (capture_kernel_stack && (how & OFF_TRUSTED)) {
		/* where it waited: the task is not running yet, its kernel stack is as it left it
		 */
		p->kstack_bytes = bpf_get_task_stack(trusted, p->kstack, sizeof(p->kstack), 0);
		if (p->kstack_bytes < 0)
			metric_inc(METRIC_KSTACK_FAILED);
	}
}

/* The current thread is on its way back to user mode after a switch: send its pending block,
 * if any, with the Python stack it blocked in (no Python code has run since). */
static __always_inline void back_to_user(__u32 pid, const __u32 how)
{
	struct pending *p;
	__u32 tid;

	if (!is_target_pid(pid))
		return;
	tid = (__u32)bpf_get_current_pid_tgid();
	if (!(how & OFF_LEGACY) && !pid_bit(pending_tids, tid))
		return;
	p = bpf_map_lookup_elem(&pending_sleeps, &tid);
	if (!p)
		return;
	send_pending(pid, tid, p, how);
	bpf_map_delete_elem(&pending_sleeps, &tid);
	set_pending_bit(tid, 0, how);
}

/* Every switch on the host runs this: two bit tests decide, before the clock is read. The
 * callers pass the pids as cheaply as their attach type allows, and next as a trusted pointer
 * where they have one. */
static __always_inline void on_switch(void *ctx, bool preempt, __u32 prev_pid, __u32 next_pid,
				      struct task_struct *next, struct task_struct *trusted_next,
				      const __u32 how)
{
	int out = is_target_pid(prev_pid), in = is_target_pid(next_pid);
	struct task_struct *cur;
	__u64 now;

	if (!out && !in)
		return;
	if (how & OFF_LEGACY)
		cur = (struct task_struct *)bpf_get_current_task();
	else
		cur = bpf_get_current_task_btf();
	now = switch_clock(cur, how);
	if (out)
		switch_out(ctx, cur, preempt, now, how);
	if (in)
		switch_in(next, trusted_next, next_pid, now, how);
}

#endif /* PYPROF_OFFCPU_BPF_H */
