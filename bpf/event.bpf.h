/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* The sample ring buffer and its per-CPU scratch record, shared by the samplers: a record is
 * built in place, then only its used part (header, frames, kernel stack) is copied out. */
#ifndef PYPROF_EVENT_BPF_H
#define PYPROF_EVENT_BPF_H

#include "pyprof_event.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

/* Per object, never shared: programs of different objects may nest on one CPU. Sized rather
 * than typed: clang 14 may leave the record's BTF a forward declaration (it is first met behind
 * a pointer in the walker's state), which libbpf cannot size. The key is sized too: a map with
 * a key type but no value type is refused by the kernel, and created again without BTF. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sample_event));
} sample_scratch SEC(".maps");

static __always_inline struct sample_event *event__scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sample_scratch, &zero);
}

/* The bounded number of frames of ev, and where its kernel stack goes. */
static __always_inline __u32 event__nframes(const struct sample_event *ev)
{
	__u32 n = ev->nframes;

	return n > PYPROF_MAX_FRAMES ? PYPROF_MAX_FRAMES : n;
}

/* Stacks sent lately, by their hash (pystack__capture), in a direct-mapped table: a slot holds
 * the last stack hashed to it. CPUs race on a slot harmlessly: the worst is a wake-up more. */
#define SEEN_STACKS_BITS 13
/* A new stack wakes userspace at most this often (see event__send). */
#define NEW_STACK_WAKE_NS (100ULL * 1000 * 1000)
__u64 seen_stacks[1 << SEEN_STACKS_BITS];
__u64 new_stack_wake_ns;

/* Whether stack (a hash, 0: no frames) was not among the stacks seen lately; it is from now. */
static __always_inline int event__new_stack(__u64 stack)
{
	__u64 *slot = &seen_stacks[stack >> (64 - SEEN_STACKS_BITS)];

	if (!stack || *slot == stack)
		return 0;
	*slot = stack;
	return 1;
}

/* Copies the used part of ev, whose frames hash to stack (0: none), to the ring buffer.
 * Userspace drains it on a timer and is not woken per sample. Two kinds of sample wake it: one
 * that finds the ring a quarter full (a burst, or a daemon on its slow timer), so the ring does
 * not fill between two drains; and one whose stack was not seen lately (at most every
 * NEW_STACK_WAKE_NS): its code objects may be new to userspace, which names them from the
 * process's memory, gone with the process. Returns 0, or -1 when the ring is full (counted
 * under full_metric). */
static __always_inline int event__send(struct sample_event *ev, __u64 stack, __u32 sent_metric,
				       __u32 full_metric)
{
	__u64 size = SAMPLE_EVENT_HEADER_SIZE + (__u64)event__nframes(ev) * sizeof(struct py_frame);
	__u64 wakeup = BPF_RB_NO_WAKEUP;

	if (event__new_stack(stack)) {
		__u64 now = bpf_ktime_get_ns();

		metric_inc(METRIC_NEW_STACKS);
		if (now >= new_stack_wake_ns) {
			new_stack_wake_ns = now + NEW_STACK_WAKE_NS;
			wakeup = BPF_RB_FORCE_WAKEUP;
		}
	}

	if (ev->kstack_bytes > 0) {
		__u32 kb = ev->kstack_bytes;

		size += kb < PYPROF_MAX_KSTACK * 8 ? kb : PYPROF_MAX_KSTACK * 8;
	}
	if (size > sizeof(*ev))
		size = sizeof(*ev); /* never: keeps the verifier's bound explicit */
	if ((bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + size) * 4 >=
	    bpf_ringbuf_query(&events, BPF_RB_RING_SIZE))
		wakeup = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, ev, size, wakeup)) {
		metric_inc(full_metric);
		return -1;
	}
	metric_inc(sent_metric);
	return 0;
}

#endif /* PYPROF_EVENT_BPF_H */
