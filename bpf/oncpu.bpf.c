// SPDX-License-Identifier: GPL-2.0 OR MIT
/* On-CPU sampler: a perf_event program on a software CPU clock. For a thread of a target process
 * it captures the Python stack (pystack.bpf.h), whether it holds the GIL, and the kernel stack.
 * Two builds of one program: pyprof_oncpu, and pyprof_oncpu_legacy for kernels that refuse it
 * (before 5.17: no bpf_loop); userspace loads the first that the kernel accepts. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "pystack.bpf.h"
#include "event.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Set by userspace before load. */
const volatile __u32 capture_kernel_stack = 1;

/* Whether the sample interrupted user mode (x86: CPL 3 in CS). CS is read where the UAPI
 * pt_regs that the context starts with has it, word 17, not through vmlinux.h: there it is a
 * 16-bit field of a union from 6.9 (FRED) and a whole word before, a change of size that CO-RE
 * cannot make to a context load (5.10 and 6.1 refuse the program), and the context allows only
 * whole words of it anyway. */
static __always_inline int interrupted_user_mode(struct bpf_perf_event_data *ctx)
{
	return (((const volatile __u64 *)ctx)[17] & 3) == 3;
}

static __always_inline int oncpu(struct bpf_perf_event_data *ctx, const int legacy)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32, tid = (__u32)id;
	struct sample_event *ev;
	struct py_target *t;
	__u64 stack;

	/* an idle CPU's tick (the idle task is pid 0) costs no lookup */
	if (!pid)
		return 0;
	t = bpf_map_lookup_elem(&targets, &pid);
	if (!t)
		return 0;
	ev = event__scratch();
	if (!ev)
		return 0;
	metric_inc(METRIC_SAMPLES);

	ev->kind = SAMPLE_ON_CPU;
	ev->pid = pid;
	ev->tid = tid;
	ev->cpu = bpf_get_smp_processor_id();
	ev->time_ns = bpf_ktime_get_ns();
	ev->weight = 1;
	ev->flags = 0;
	ev->error = 0;
	ev->state = 0;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));

	stack =
	    pystack__capture(ev, t, tid, pystack__current_fsbase(legacy), ev->time_ns, 1, legacy);

	ev->kstack_bytes = 0;
	/* interrupted in user mode, the kernel stack is empty: asking for it would cost a tenth of
	 * the sample for nothing */
	if (capture_kernel_stack && !interrupted_user_mode(ctx)) {
		/* written right after the last frame, so only the used part is sent */
		ev->kstack_bytes =
		    bpf_get_stack(ctx, &ev->frames[event__nframes(ev)], PYPROF_MAX_KSTACK * 8, 0);
		if (ev->kstack_bytes < 0)
			metric_inc(METRIC_KSTACK_FAILED);
	}
	event__send(ev, stack, METRIC_EVENTS_SENT, METRIC_RINGBUF_FULL);
	return 0;
}

SEC("perf_event")
int pyprof_oncpu(struct bpf_perf_event_data *ctx)
{
	return oncpu(ctx, 0);
}

SEC("perf_event")
int pyprof_oncpu_legacy(struct bpf_perf_event_data *ctx)
{
	return oncpu(ctx, 1);
}
