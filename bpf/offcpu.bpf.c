// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Off-CPU tracer: where target threads wait, and for how long.
 *
 * On the scheduler switch, a target thread switching out records when and how it blocked
 * (per thread: in its task-local storage, or in a map by thread id; never per CPU, which would
 * lose or amplify time when the thread wakes on another CPU). When it switches back in, the
 * blocked time is known:
 *  - shorter than min_block_ns: only counted (count and nanoseconds);
 *  - longer: the kernel stack where it waited is taken then (bpf_get_task_stack; the task is not
 *    running yet), and the Python stack on the thread's way back to user mode, in its own
 *    context, before any Python code ran again: by a task work the switch-in schedules on the
 *    thread (6.18+), else at the rseq_update tracepoint, which the kernel fires on that way
 *    back for every thread that registered rseq (glibc does, for every thread, since 2.35).
 *    So no stack is ever walked for the many short blocks, and untraced processes pay two bit
 *    tests per switch (and per return to user mode where rseq_update is used): no system-call
 *    hook, which would slow down every system call on the host. A short block costs a target
 *    two clock reads and two record lookups, so both are the cheapest the kernel allows
 *    (switch_clock, blocked__get).
 * Under rseq_update, a thread without rseq (musl, or glibc told not to) has its Python stack
 * walked at every switch-out instead, sent ahead and joined in userspace with a duration record
 * when the block proves long enough (counted as offcpu_no_rseq).
 * A thread sleeping on a futex inside the GIL's state is marked as waiting for the GIL; a
 * preempted thread (waiting for a CPU) as runnable. */
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
/* Time blocks by the scheduler's own clock of the run queue (rq->clock), which __schedule has
 * just updated, rather than bpf_ktime_get_ns (75 ns a call in a VM, twice per switch). Set only
 * where sched_clock is one timebase on every CPU (userspace checks the clocksource is the TSC);
 * used for durations only, never as an event's time. */
const volatile __u32 use_sched_clock = 0;
/* Where the kernel has bpf_task_work (6.18+, with tp_btf): the Python stack of a long block is
 * taken by a task work that its switch-in schedules on the thread, which runs on the thread's
 * way back to user mode. Then no program runs at every return to user mode (rseq_update), and
 * threads without rseq need no walk at each switch-out. */
const volatile __u32 use_task_work = 0;

#ifndef PYPROF_VMLINUX_HAS_TASK_WORK
/* Built on a kernel before 6.18: the type as its uapi header declares it (the kernel finds it by
 * name in the program's BTF). */
struct bpf_task_work {
	__u64 __opaque;
} __attribute__((aligned(8)));
#endif

/* Weak: on kernels without them, libbpf leaves the calls unresolved in branches the verifier
 * proves dead (use_task_work is 0 there). */
extern int bpf_task_work_schedule_resume_impl(
    struct task_struct *task, struct bpf_task_work *tw, void *map__map,
    int (*callback)(struct bpf_map *map, void *key, void *value), void *aux__prog) __ksym __weak;
extern void bpf_preempt_disable(void) __ksym __weak;
extern void bpf_preempt_enable(void) __ksym __weak;

#define SYS_FUTEX    202 /* x86_64 */
#define TASK_RUNNING 0
#define TASK_DEAD    0x80

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

static __always_inline void set_pending_bit(__u32 tid, int on)
{
	__u64 *word = &pending_tids[(tid >> 6) & (PYPROF_PID_WORDS - 1)], bit = 1ULL << (tid & 63);

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

/* Keyed by tid: for raw_tp, whose next task is not a trusted pointer, and kernels without task
 * storage (userspace shrinks it to nothing otherwise). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct blocked);
} blocked_threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct blocked);
} blocked_tasks SEC(".maps");

/* The blocked record of thread tid, created if asked: in task-local storage, found from task by
 * a pointer walk rather than by hashing tid, where the attach type gives the thread as a
 * trusted pointer (tp_btf, which userspace chooses only where the kernel has task storage);
 * else (task NULL) in the map by tid. */
static __always_inline struct blocked *blocked__get(struct task_struct *task, __u32 tid,
						    bool create)
{
	struct blocked zero = {}, *b;

	if (task)
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
 * or bpf_ktime_get_ns. */
static __always_inline __u64 switch_clock(struct task_struct *cur)
{
	struct task_struct___grp *t = (void *)cur;
	struct cfs_rq___grp *cfs;
	__u64 clock;

	if (use_sched_clock && bpf_core_field_exists(t->se.cfs_rq) &&
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
	struct bpf_task_work work;
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

/* t is trusted (bpf_get_current_task_btf): plain loads, no helper calls. */
static __always_inline __u32 task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return t->__state;
	return (__u32)((struct task_struct___pre514 *)t)->state;
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
static __always_inline void forget_thread(__u32 tid)
{
	bpf_map_delete_elem(&pending_sleeps, &tid);
	set_pending_bit(tid, 0);
	bpf_map_delete_elem(&blocked_threads, &tid);
	bpf_map_delete_elem(&tstate_cache, &tid);
}

/* Whether task (trusted) registered rseq: then the kernel calls rseq_update on its way back to
 * user mode after every switch, and its Python stack can wait until then. */
static __always_inline int has_rseq(struct task_struct *task)
{
	if (!bpf_core_field_exists(task->rseq))
		return 0;
	return task->rseq != NULL;
}

/* A thread without rseq: nothing runs in its context before its Python code does, so its
 * stack is walked and sent now. Returns 0 if sent. */
static __always_inline int send_stack_now(void *ctx, struct task_struct *task, __u32 pid, __u32 tid,
					  struct blocked *b)
{
	struct py_target *t = bpf_map_lookup_elem(&targets, &pid);
	struct sample_event *ev = event__scratch();

	metric_inc(METRIC_OFFCPU_NO_RSEQ);
	if (!t || !ev)
		return -1;
	b->event_ns = bpf_ktime_get_ns();
	event_begin(ev, pid, tid, b->event_ns);
	ev->flags = b->flags | SAMPLE_STACK_ONLY;
	ev->state = b->state;
	pystack__capture(ev, t, tid, task->thread.fsbase, b->event_ns, 0);
	if (capture_kernel_stack) {
		ev->kstack_bytes =
		    bpf_get_stack(ctx, &ev->frames[event__nframes(ev)], PYPROF_MAX_KSTACK * 8, 0);
		if (ev->kstack_bytes < 0)
			metric_inc(METRIC_KSTACK_FAILED);
	}
	return event__send(ev, METRIC_OFFCPU_EVENTS_SENT, METRIC_RINGBUF_FULL);
}

/* The current task (prev, trusted), a thread of a target, switches out; stored says whether
 * its blocked record may be kept in task storage (the switch-in must find it the same way). */
static __always_inline void switch_out(void *ctx, struct task_struct *task, bool stored,
				       bool preempt, __u64 now)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32, tid = (__u32)id;
	struct blocked fresh = {.start_ns = now}, *b;
	struct pt_regs *regs;

	metric_inc(METRIC_OFFCPU_SWITCHES);
	fresh.state = preempt ? TASK_RUNNING : task_state(task);
	if (fresh.state & TASK_DEAD) {
		forget_thread(tid);
		return;
	}
	if (fresh.state == TASK_RUNNING) {
		fresh.flags = SAMPLE_RUNNABLE;
	} else {
		regs = (struct pt_regs *)bpf_task_pt_regs(task);
		if (regs && waits_for_gil(pid, regs->orig_ax, regs->di))
			fresh.flags = SAMPLE_GIL_WAIT;
	}
	if (!use_task_work && !has_rseq(task) && !send_stack_now(ctx, task, pid, tid, &fresh))
		fresh.flags |= BLOCKED_STACK_SENT;
	b = blocked__get(stored ? task : NULL, tid, true);
	if (b)
		*b = fresh;
	else /* task storage busy on this CPU, out of memory, or the map full */
		metric_inc(METRIC_OFFCPU_UNRECORDED);
}

/* Sends pending block p of the current thread tid of process pid, with its Python stack. */
static __always_inline void send_pending(__u32 pid, __u32 tid, struct pending *p)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct py_target *t = bpf_map_lookup_elem(&targets, &pid);
	struct sample_event *ev = event__scratch();
	__u32 kb;

	if (!t || !ev)
		return;
	event_begin(ev, pid, tid, p->start_ns);
	ev->weight = p->blocked_ns;
	ev->state = p->state;
	ev->flags = p->flags & (SAMPLE_GIL_WAIT | SAMPLE_RUNNABLE);
	pystack__capture(ev, t, tid, task->thread.fsbase, bpf_ktime_get_ns(), 0);
	kb = p->kstack_bytes > 0 ? p->kstack_bytes : 0;
	kb &= 0x3f8; /* whole addresses, at most PYPROF_MAX_KSTACK (127) of them */
	if (kb && !bpf_probe_read_kernel(&ev->frames[event__nframes(ev)], kb, p->kstack))
		ev->kstack_bytes = kb;
	event__send(ev, METRIC_OFFCPU_EVENTS_SENT, METRIC_RINGBUF_FULL);
}

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
		send_pending(id >> 32, (__u32)id, p);
	p->blocked_ns = 0;
	p->flags = 0;
	bpf_preempt_enable();
	return 0;
}

/* next, a thread of process pid, switches in; trusted is next as a trusted pointer (tp_btf),
 * or NULL (raw_tp: no task storage, no kernel stack). */
static __always_inline void switch_in(struct task_struct *next, struct task_struct *trusted,
				      __u32 pid, __u64 now)
{
	__u32 tid = trusted ? trusted->pid : BPF_CORE_READ(next, pid), zero = 0;
	struct pending *p, *fresh;
	struct blocked *b;
	__u64 delta;

	b = blocked__get(trusted, tid, false);
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
		event__send(ev, METRIC_OFFCPU_EVENTS_SENT, METRIC_RINGBUF_FULL);
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
		if (!use_task_work || !trusted) {
			set_pending_bit(tid, 1);
		} else if (bpf_task_work_schedule_resume_impl(trusted, &p->work, &pending_sleeps,
							      pending_work, NULL)) {
			metric_inc(METRIC_OFFCPU_UNRECORDED);
			return;
		}
	}
	p->blocked_ns += delta;
	p->state = b->state;
	p->flags |= b->flags & (SAMPLE_RUNNABLE | SAMPLE_GIL_WAIT);
	p->kstack_bytes = 0;
	if (capture_kernel_stack && trusted) {
		/* where it waited: the task is not running yet, its kernel stack is as it left it
		 */
		p->kstack_bytes = bpf_get_task_stack(trusted, p->kstack, sizeof(p->kstack), 0);
		if (p->kstack_bytes < 0)
			metric_inc(METRIC_KSTACK_FAILED);
	}
}

/* The current thread is on its way back to user mode after a switch: send its pending block,
 * if any, with the Python stack it blocked in (no Python code has run since). */
static __always_inline void back_to_user(__u32 pid)
{
	struct pending *p;
	__u32 tid;

	if (!is_target_pid(pid))
		return;
	tid = (__u32)bpf_get_current_pid_tgid();
	if (!pid_bit(pending_tids, tid))
		return;
	p = bpf_map_lookup_elem(&pending_sleeps, &tid);
	if (p)
		send_pending(pid, tid, p);
	bpf_map_delete_elem(&pending_sleeps, &tid);
	set_pending_bit(tid, 0);
}

/* Every switch on the host runs this: two bit tests decide, before the clock is read. The
 * callers pass the pids as cheaply as their attach type allows, and next as a trusted pointer
 * where they have one. */
static __always_inline void on_switch(void *ctx, bool preempt, __u32 prev_pid, __u32 next_pid,
				      struct task_struct *next, struct task_struct *trusted_next)
{
	int out = is_target_pid(prev_pid), in = is_target_pid(next_pid);
	struct task_struct *cur;
	__u64 now;

	if (!out && !in)
		return;
	cur = bpf_get_current_task_btf();
	now = switch_clock(cur);
	if (out)
		switch_out(ctx, cur, trusted_next != NULL, preempt, now);
	if (in)
		switch_in(next, trusted_next, next_pid, now);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(pyprof_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	/* trusted pointers: plain loads, no helper call */
	on_switch(ctx, preempt, prev->tgid, next->tgid, next, next);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(pyprof_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	/* raw_tp pointers are untrusted: read through helpers */
	on_switch(ctx, preempt, bpf_get_current_pid_tgid() >> 32, BPF_CORE_READ(next, tgid), next,
		  NULL);
	return 0;
}

/* rseq_update: the current thread (task) is on its way back to user mode after a switch. */
SEC("tp_btf/rseq_update")
int BPF_PROG(pyprof_resume_btf, struct task_struct *task)
{
	back_to_user(task->tgid);
	return 0;
}

SEC("raw_tp/rseq_update")
int BPF_PROG(pyprof_resume_raw)
{
	back_to_user(bpf_get_current_pid_tgid() >> 32);
	return 0;
}
