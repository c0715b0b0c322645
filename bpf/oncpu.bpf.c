// SPDX-License-Identifier: GPL-2.0 OR MIT
/* On-CPU sampler: a perf_event program on a software CPU clock. For a thread of a target process
 * it captures the Python stack (pystack.bpf.h) and the kernel stack into the ring buffer. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "pystack.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Set by userspace before load. */
const volatile __u32 capture_kernel_stack = 1;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sample_event);
} sample_scratch SEC(".maps");

SEC("perf_event")
int pyprof_oncpu(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32, tid = (__u32)id, zero = 0, n;
	struct py_target *t;
	struct sample_event *ev;
	__u64 size;

	t = bpf_map_lookup_elem(&targets, &pid);
	if (!t)
		return 0;
	ev = bpf_map_lookup_elem(&sample_scratch, &zero);
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

	pystack__capture(ev, t, tid, pystack__current_fsbase(), ev->time_ns);

	n = ev->nframes;
	if (n > PYPROF_MAX_FRAMES)
		n = PYPROF_MAX_FRAMES;
	ev->kstack_bytes = 0;
	if (capture_kernel_stack) {
		/* written right after the last frame, so only the used part is sent */
		ev->kstack_bytes = bpf_get_stack(ctx, &ev->frames[n], PYPROF_MAX_KSTACK * 8, 0);
		if (ev->kstack_bytes < 0)
			metric_inc(METRIC_KSTACK_FAILED);
	}
	size = SAMPLE_EVENT_HEADER_SIZE + (__u64)n * sizeof(struct py_frame);
	if (ev->kstack_bytes > 0) {
		__u32 kb = ev->kstack_bytes;

		size += kb < PYPROF_MAX_KSTACK * 8 ? kb : PYPROF_MAX_KSTACK * 8;
	}
	if (size > sizeof(*ev))
		size = sizeof(*ev); /* never: keeps the verifier's bound explicit */
	/* No wakeup: userspace drains the ring on a timer, so sampling never wakes it per event. */
	if (bpf_ringbuf_output(&events, ev, size, BPF_RB_NO_WAKEUP))
		metric_inc(METRIC_RINGBUF_FULL);
	else
		metric_inc(METRIC_EVENTS_SENT);
	return 0;
}
