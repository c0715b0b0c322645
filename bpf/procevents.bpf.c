// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Process events for discovery: every exec (a new program may be a Python interpreter), the
 * end of every process (its last thread exited) and, when asked, every new process (a fork: a
 * forked Python worker runs its parent's interpreter without an exec). tp_btf programs, with
 * raw_tp twins that userspace loads instead where the kernel lacks BTF-typed tracepoints. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "pyprof_event.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} proc_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} proc_events_lost SEC(".maps");

/* An exec wakes the daemon, for a new process to be examined within milliseconds; an exit waits
 * for its next tick. The wakeup is forced: the kernel's own choice (flags 0) wakes only when
 * the consumer has read everything before the record, which an unread exit prevents. */
static __always_inline void emit(__u32 kind, __u32 pid, __u32 ppid, __u64 wakeup)
{
	struct pyprof_proc_event ev = {
	    .kind = kind, .pid = pid, .time_ns = bpf_ktime_get_ns(), .ppid = ppid};
	__u32 zero = 0;

	if (bpf_ringbuf_output(&proc_events, &ev, sizeof(ev), wakeup)) {
		__u64 *lost = bpf_map_lookup_elem(&proc_events_lost, &zero);

		if (lost)
			(*lost)++;
	}
}

static __always_inline void on_exec(struct task_struct *p)
{
	emit(PYPROF_PROC_EXEC, BPF_CORE_READ(p, tgid), 0, BPF_RB_FORCE_WAKEUP);
}

static __always_inline void on_exit(struct task_struct *p)
{
	/* do_exit decrements signal->live before the tracepoint: 0 means the last thread */
	if (BPF_CORE_READ(p, signal, live.counter) == 0)
		emit(PYPROF_PROC_EXIT, BPF_CORE_READ(p, tgid), 0, BPF_RB_NO_WAKEUP);
}

/* A new thread shares its parent's tgid; a new process is its own thread group. Woken at once,
 * like an exec: a forked worker starts working right away. Attached by userspace only while a
 * reader follows a process tree (agentctl record and --subprocesses, a daemon's tree
 * snapshot): a host forks far more often than it executes, and a detached program costs the
 * forks nothing. */
static __always_inline void on_fork(struct task_struct *parent, struct task_struct *child)
{
	__u32 tgid = BPF_CORE_READ(child, tgid);

	if (tgid == BPF_CORE_READ(child, pid))
		emit(PYPROF_PROC_FORK, tgid, BPF_CORE_READ(parent, tgid), BPF_RB_FORCE_WAKEUP);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(pyprof_exec_btf, struct task_struct *p)
{
	on_exec(p);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(pyprof_exit_btf, struct task_struct *p)
{
	on_exit(p);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(pyprof_exec_raw, struct task_struct *p)
{
	on_exec(p);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(pyprof_exit_raw, struct task_struct *p)
{
	on_exit(p);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(pyprof_fork_btf, struct task_struct *parent, struct task_struct *child)
{
	on_fork(parent, child);
	return 0;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(pyprof_fork_raw, struct task_struct *parent, struct task_struct *child)
{
	on_fork(parent, child);
	return 0;
}
