/* SPDX-License-Identifier: MIT */
/* What the BPF samplers and userspace exchange: map values, ring-buffer events, metric ids. */
#ifndef PYPROF_EVENT_H
#define PYPROF_EVENT_H

#ifndef __BPF__
#include <linux/types.h>
#endif

/* Python frames captured per sample, innermost first. Deeper stacks are marked truncated. */
#define PYPROF_MAX_FRAMES 1024
/* Frame-chain steps per sample: the frames kept plus shim/entry frames skipped on the way. */
#define PYPROF_MAX_WALK (PYPROF_MAX_FRAMES * 2)
/* The same budget where the kernel lacks bpf_loop (before 5.17), whose bounded loops the
 * verifier follows step by step (bpf/pystack.bpf.h). */
#define PYPROF_LEGACY_MAX_FRAMES 1024
/* Kernel return addresses kept per sample (perf's own default maximum). */
#define PYPROF_MAX_KSTACK 127
/* Thread states examined while looking for the sampled thread's. */
#define PYPROF_MAX_THREADS 4096
/* Interpreters examined (subinterpreters are rare). */
#define PYPROF_MAX_INTERPS 8
/* Offset tables loaded at once (one per distinct CPython layout on the host). */
#define PYPROF_MAX_LAYOUTS 32
/* Target pids as bits (PID_MAX_LIMIT on 64-bit is 2^22), for the programs that every context
 * switch and every system call on the host runs: one load decides, where a hash lookup costs
 * about 90 ns. Kept by userspace next to the targets map; a set bit only means "look there". */
#define PYPROF_PID_BITS	 (1u << 22)
#define PYPROF_PID_WORDS (PYPROF_PID_BITS / 64)

/* Map value describing one target process. */
struct py_target {
	__u64 interp_head_addr; /* address of the pointer to the first interpreter */
	__u64 interp_addr;  /* if non-zero, the main interpreter itself (when no head is known) */
	__u64 runtime_addr; /* &_PyRuntime, 0 if none (3.6) */
	__u64 gil_addr;	    /* the GIL's state, found and kept by BPF once the interpreter is up */
	__u32 layout;	    /* index into the offsets map */
	__u32 flags;
};

/* Per-thread cache of the thread state found by the list walk. */
struct py_tstate_cache {
	__u64 tstate;	/* 0: the thread has no thread state (as of retry_ns) */
	__u64 retry_ns; /* negative entries are retried after this time */
};

/* One Python frame as captured: enough for userspace to name it. */
struct py_frame {
	__u64 code;  /* PyCodeObject address (tags removed), and its check in the top bits */
	__u64 instr; /* f_lasti (3.6-3.10) or the instruction pointer (3.11+) */
};

/* A code object can be freed, and its memory taken by another, between the sample and its naming
 * in userspace (a module's body is freed as soon as its import ends). So the walker sends, in
 * the top PY_CODE_CHECK_BITS of each frame's code word, a hash of three pointers of the code
 * object as they were at sample time: co_filename, co_name and the one after it (co_qualname
 * from 3.11, co_lnotab or co_linetable before; see py_code_id_offset); userspace names the frame
 * only if the code object it reads has the same. 0: no check (not readable, a layout without
 * the three in a row, or an address above 2^48). */
#define PY_CODE_ADDR_BITS  48
#define PY_CODE_ADDR_MASK  ((1ULL << PY_CODE_ADDR_BITS) - 1)
#define PY_CODE_CHECK_BITS 16

static inline __u64 py_code_check(__u64 filename, __u64 name, __u64 third)
{
	__u64 h = (filename ^ (name * 0x9e3779b97f4a7c15ULL) ^ (third * 0xc2b2ae3d27d4eb4fULL)) *
		  0xff51afd7ed558ccdULL;

	h >>= 64 - PY_CODE_CHECK_BITS;
	return h ? h : 1;
}

enum sample_flags {
	SAMPLE_TRUNCATED = 1 << 0,  /* more frames than PYPROF_MAX_FRAMES */
	SAMPLE_ERROR = 1 << 1,	    /* the walk stopped on an error: see 'error' */
	SAMPLE_NO_TSTATE = 1 << 2,  /* no Python thread state for this thread */
	SAMPLE_GIL_HELD = 1 << 3,   /* the thread held the GIL when sampled */
	SAMPLE_GIL_KNOWN = 1 << 4,  /* SAMPLE_GIL_HELD is meaningful */
	SAMPLE_GIL_WAIT = 1 << 5,   /* off-CPU: the thread slept waiting for the GIL */
	SAMPLE_RUNNABLE = 1 << 6,   /* off-CPU: preempted, waiting for a CPU (else sleeping) */
	SAMPLE_STACK_ONLY = 1 << 7, /* off-CPU, thread without rseq: the stack at switch-out; its
				     * duration follows in a SAMPLE_OFF_CPU_DURATION record */
};

enum sample_kind {
	SAMPLE_ON_CPU = 1,
	SAMPLE_OFF_CPU = 2,	     /* weight: nanoseconds blocked (0 with SAMPLE_STACK_ONLY) */
	SAMPLE_OFF_CPU_DURATION = 3, /* header only: a runnable wait of tid that began at time_ns
				      * lasted weight ns (joins the SAMPLE_STACK_ONLY record) */
};

/* Ring-buffer record: a header, nframes frames, then kstack_bytes of kernel return addresses
 * (variable length: only what was captured is copied to the ring). */
struct sample_event {
	__u32 kind; /* enum sample_kind */
	__u32 pid;  /* tgid */
	__u32 tid;
	__u32 cpu;
	__u64 time_ns; /* bpf_ktime_get_ns() at the sample */
	__u64 weight;  /* on-CPU: 1 sample; off-CPU: blocked nanoseconds */
	__u64 tstate;
	__u32 flags; /* enum sample_flags */
	__u32 error; /* enum pyprof_metric of the failure, 0 if none */
	__u32 nframes;
	__s32 kstack_bytes; /* bytes of kernel stack after the frames, < 0 on error */
	__u32 state;	    /* off-CPU: task state at switch-out */
	__u32 pad;
	char comm[16];
	struct py_frame frames[PYPROF_MAX_FRAMES];
	__u64
	    kstack_room[PYPROF_MAX_KSTACK]; /* the kernel stack lands right after the last frame */
};

#define SAMPLE_EVENT_HEADER_SIZE ((unsigned long)&((struct sample_event *)0)->frames)

/* The kernel stack of a record, which follows its nframes frames. */
static inline const __u64 *sample_event__kstack(const struct sample_event *ev)
{
	return (const __u64 *)&ev->frames[ev->nframes];
}

enum pyprof_proc_event_kind {
	PYPROF_PROC_EXEC = 1, /* a process executed a new program */
	PYPROF_PROC_EXIT = 2, /* the last thread of a process exited */
	PYPROF_PROC_FORK = 3, /* a new process (not a thread), with its parent */
};

/* Ring-buffer record of the process-events program. */
struct pyprof_proc_event {
	__u32 kind; /* enum pyprof_proc_event_kind */
	__u32 pid;  /* tgid */
	__u64 time_ns;
	__u32 ppid; /* PYPROF_PROC_FORK: the parent's tgid; else 0 */
	__u32 pad;
};

/* Counters kept by the BPF programs in a per-CPU array: one list, X(ID, name, meaning), for
 * the enum BPF indexes and the names userspace shows (status, metrics, the counters: line). */
#define PYPROF_METRICS(X)                                                                          \
	X(NONE, "none", "")                                                                        \
	X(SAMPLES, "samples", "samples of target threads")                                         \
	X(EVENTS_SENT, "events_sent", "samples written to the ring buffer")                        \
	X(RINGBUF_FULL, "ringbuf_full", "samples lost: ring buffer full")                          \
	X(TARGET_INVALID, "target_invalid", "target map entry without a usable layout")            \
	X(INTERP_READ_FAILED, "interp_read_failed", "interpreter list unreadable")                 \
	X(TSTATE_NOT_FOUND, "tstate_not_found", "thread not in the interpreter's thread list")     \
	X(TSTATE_READ_FAILED, "tstate_read_failed", "a thread state could not be read")            \
	X(TSTATE_CACHE_STALE, "tstate_cache_stale",                                                \
	  "cached thread state no longer matched the thread")                                      \
	X(FRAME_READ_FAILED, "frame_read_failed", "a frame could not be read: stack cut there")    \
	X(FRAME_CYCLE, "frame_cycle", "the frame chain loops")                                     \
	X(STACK_TRUNCATED, "stack_truncated", "deeper than PYPROF_MAX_FRAMES")                     \
	X(KSTACK_FAILED, "kernel_stack_failed", "bpf_get_stack failed")                            \
	X(SHIM_FRAMES_SKIPPED, "shim_frames_skipped", "C-stack shim frames skipped (not errors)")  \
	X(EMPTY_STACK, "empty_stack", "thread state with no Python frame (idle thread)")           \
	X(OFFCPU_SWITCHES, "offcpu_switches", "target threads switched out")                       \
	X(OFFCPU_SHORT_BLOCKS, "offcpu_short_blocks",                                              \
	  "blocks shorter than min_block_us: counted, not recorded")                               \
	X(OFFCPU_SHORT_NS, "offcpu_short_ns", "their summed nanoseconds")                          \
	X(OFFCPU_EVENTS_SENT, "offcpu_events_sent", "off-CPU records written to the ring buffer")  \
	X(OFFCPU_PENDING_FULL, "offcpu_pending_full", "blocks lost: the pending map was full")     \
	X(OFFCPU_NO_RSEQ, "offcpu_no_rseq", "switch-outs of threads without rseq: walked at once") \
	X(OFFCPU_GIL_WAITS, "offcpu_gil_waits", "blocks waiting for the GIL")                      \
	X(OFFCPU_UNRECORDED, "offcpu_unrecorded",                                                  \
	  "blocks lost: no record kept, or no task work scheduled")                                \
	X(NEW_STACKS, "new_stacks", "samples whose stack was not seen lately: they wake the daemon")

enum pyprof_metric {
#define PYPROF_METRIC_ID(id, name, meaning) METRIC_##id,
	PYPROF_METRICS(PYPROF_METRIC_ID)
#undef PYPROF_METRIC_ID
	    METRIC_MAX,
};

#endif /* PYPROF_EVENT_H */
