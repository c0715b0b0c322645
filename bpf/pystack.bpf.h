/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* The CPython stack walker shared by the BPF samplers: finds the thread state of a thread by its
 * FS base in the interpreter's thread list (so threads without the GIL are found too) and walks
 * its frame chain, innermost first, into a sample_event. Every read of target memory is bounded
 * and every failure is counted.
 *
 * Each program that walks comes in two builds of the same code, chosen by a constant argument
 * `legacy` that the compiler folds away: the modern one loops with bpf_loop (5.17+) and reads
 * the current task through its trusted BTF pointer (5.11+); the legacy one, for older kernels
 * (5.10), loops with bounded loops (5.3+) over fewer steps (PYPROF_LEGACY_*) and reads the task
 * through helpers. Userspace loads the modern one and falls back to the legacy one only when the
 * kernel refuses it. */
#ifndef PYPROF_PYSTACK_BPF_H
#define PYPROF_PYSTACK_BPF_H

#include "pyprof_event.h"
#include "py_offsets.h"

/* Bounded loops are verified step by step: smaller budgets keep the verifier within its limits
 * on old kernels. Deeper stacks are marked truncated, as with PYPROF_MAX_FRAMES. */
#define PYPROF_LEGACY_MAX_WALK	  (PYPROF_LEGACY_MAX_FRAMES * 2)
#define PYPROF_LEGACY_MAX_THREADS 1024

/* How long a found thread state is trusted before the thread list is walked again (a thread that
 * deletes and recreates its thread state keeps its tid), and how long a thread without one is
 * left alone before it is looked up again, unless the thread list's head moves first (a new
 * thread state goes at the head: an interpreter starting has its main thread sampled before
 * its thread state exists, and its start-up must not wait out the negative entry). */
#define TSTATE_REVALIDATE_NS (1000ULL * 1000 * 1000)
#define TSTATE_NEGATIVE_NS   (250ULL * 1000 * 1000)

/* Bytes of one frame read in a single copy; larger layouts are refused by userspace. */
#define FRAME_READ_MAX 256
/* From 3.11, frames live one after another on the interpreter's data stack, callers below
 * callees: one copy of the page a frame is on usually holds its callers too. x86_64 pages. */
#define FRAME_WINDOW 4096

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct py_target);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PYPROF_MAX_LAYOUTS);
	__type(key, __u32);
	__type(value, struct py_offsets);
} layouts SEC(".maps");

struct tstate_cache_entry {
	__u64 tstate;	 /* 0: none found */
	__u64 expire_ns; /* walk the list again after this */
	__u64 head;	 /* the first interpreter's thread-list head before the walk */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct tstate_cache_entry);
} tstate_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, METRIC_MAX);
	__type(key, __u32);
	__type(value, __u64);
} metrics SEC(".maps");

/* Per-CPU scratch of a walk. The window's bookkeeping lives here rather than in the walk's
 * context on the stack, so the verifier does not track it value by value (it would follow
 * every combination through the loop and give up). */
struct frame_buf {
	__u64 win_base; /* user address of data[0]; win_len bytes valid */
	__u32 win_len;
	__u32 windows;	     /* 1: frames may share a window (3.11+ data stack) */
	__u32 window_misses; /* windows that held only the frame they were read for */
	__u32 win_frames;    /* frames found in the current window */
	__u8 data[FRAME_WINDOW + FRAME_READ_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct frame_buf);
} frame_bufs SEC(".maps");

static __always_inline void metric_add(__u32 id, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&metrics, &id);

	if (v)
		*v += n;
}

static __always_inline void metric_inc(__u32 id)
{
	metric_add(id, 1);
}

/* the sample record the walker fills, and its ring buffer (uses metric_inc) */
#include "event.bpf.h"

static __always_inline int read_u64(__u64 addr, __u64 *ret)
{
	return bpf_probe_read_user(ret, sizeof(*ret), (const void *)addr);
}

/* ---- finding the thread state ---- */

struct find_ctx {
	__u64 tstate; /* cursor in the thread list */
	__u64 found;
	__u64 want; /* the thread's FS base == tstate->thread_id */
	__u32 off_next;
	__u32 off_thread_id;
	__u32 error;
};

static long find_thread_cb(__u32 i, void *data)
{
	struct find_ctx *c = data;
	__u64 id = 0, next = 0;

	if (!c->tstate)
		return 1;
	if (read_u64(c->tstate + c->off_thread_id, &id)) {
		c->error = METRIC_TSTATE_READ_FAILED;
		return 1;
	}
	if (id == c->want) {
		c->found = c->tstate;
		return 1;
	}
	if (read_u64(c->tstate + c->off_next, &next)) {
		c->error = METRIC_TSTATE_READ_FAILED;
		return 1;
	}
	if (next == c->tstate) {
		c->error = METRIC_TSTATE_READ_FAILED;
		return 1;
	}
	c->tstate = next;
	return 0;
}

/* The legacy build's loops call global functions, which the verifier checks once, apart from
 * their callers (5.6+), instead of following a callback's body through every step: the state
 * they advance lives in per-CPU scratch (a global function takes only scalars before 5.19). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct find_ctx);
} legacy_find SEC(".maps");

/* One step of the thread-list walk in legacy_find's state; non-zero: stop. No arguments: the
 * compiler may leave an unused one unset, which the verifier refuses. */
__noinline int pystack__legacy_find_step(void)
{
	__u32 zero = 0;
	struct find_ctx *c = bpf_map_lookup_elem(&legacy_find, &zero);

	if (!c)
		return 1;
	return (int)find_thread_cb(0, c);
}

/* The whole thread-list walk in legacy_find's state. A global function of its own, so that each
 * step's early stop forks only a return here, not the rest of the caller's program (which the
 * verifier before 5.17 would follow once per step). */
__noinline int pystack__legacy_find(void)
{
	for (__u32 j = 0; j < PYPROF_LEGACY_MAX_THREADS; j++) {
		if (pystack__legacy_find_step())
			break;
	}
	return 0;
}

/* The head of the first interpreter's thread list, 0 if unreadable. */
static __always_inline __u64 pystack__threads_head(const struct py_target *t,
						   const struct py_offsets *off)
{
	__u64 interp = t->interp_addr, head = 0;

	if (!interp && read_u64(t->interp_head_addr, &interp))
		return 0;
	if (!interp || read_u64(interp + off->interp_threads_head, &head))
		return 0;
	return head;
}

/* Walks every interpreter's thread list for the thread state whose thread_id is fsbase.
 * Returns the address, 0 if none; *ret_error gets the failure reason. */
static __always_inline __u64 pystack__find_tstate(const struct py_target *t,
						  const struct py_offsets *off, __u64 fsbase,
						  __u32 *ret_error, const int legacy)
{
	struct find_ctx c = {
	    .want = fsbase,
	    .off_next = off->tstate_next,
	    .off_thread_id = off->tstate_thread_id,
	};
	__u64 interp = t->interp_addr;

	if (!interp && read_u64(t->interp_head_addr, &interp)) {
		*ret_error = METRIC_INTERP_READ_FAILED;
		return 0;
	}
	for (int i = 0; i < PYPROF_MAX_INTERPS && interp; i++) {
		if (read_u64(interp + off->interp_threads_head, &c.tstate)) {
			*ret_error = METRIC_INTERP_READ_FAILED;
			return 0;
		}
		if (legacy) {
			__u32 zero = 0;
			struct find_ctx *lc = bpf_map_lookup_elem(&legacy_find, &zero);

			if (!lc) {
				*ret_error = METRIC_TSTATE_READ_FAILED;
				return 0;
			}
			*lc = c;
			pystack__legacy_find();
			c = *lc;
		} else {
			bpf_loop(PYPROF_MAX_THREADS, find_thread_cb, &c, 0);
		}
		if (c.found)
			return c.found;
		if (c.error) {
			*ret_error = c.error;
			return 0;
		}
		if (t->interp_addr || off->interp_next == PYOFF_NONE)
			break;
		if (read_u64(interp + off->interp_next, &interp))
			break;
	}
	*ret_error = METRIC_TSTATE_NOT_FOUND;
	return 0;
}

/* The cached thread state of tid if still valid, else a fresh walk (cached either way). */
static __always_inline __u64 pystack__tstate(const struct py_target *t,
					     const struct py_offsets *off, __u32 tid, __u64 fsbase,
					     __u64 now, __u32 *ret_error, const int legacy)
{
	struct tstate_cache_entry *e = bpf_map_lookup_elem(&tstate_cache, &tid);
	struct tstate_cache_entry fresh = {};

	if (e && now < e->expire_ns) {
		__u64 id = 0;

		if (!e->tstate && pystack__threads_head(t, off) == e->head) {
			*ret_error = METRIC_TSTATE_NOT_FOUND;
			return 0;
		}
		if (!e->tstate)
			goto find; /* a thread state was added since */
		if (!read_u64(e->tstate + off->tstate_thread_id, &id) && id == fsbase)
			return e->tstate;
		metric_inc(METRIC_TSTATE_CACHE_STALE);
	}
find:
	/* the head before the walk: a thread state added during it moves the head after it */
	fresh.head = pystack__threads_head(t, off);
	fresh.tstate = pystack__find_tstate(t, off, fsbase, ret_error, legacy);
	fresh.expire_ns = now + (fresh.tstate ? TSTATE_REVALIDATE_NS : TSTATE_NEGATIVE_NS);
	bpf_map_update_elem(&tstate_cache, &tid, &fresh, BPF_ANY);
	return fresh.tstate;
}

/* ---- walking the frames ---- */

struct walk_ctx {
	__u64 frame;	/* next frame to read, 0 at the end */
	__u64 tortoise; /* Brent's cycle detection: a frame seen before, compared with each next */
	__u32 power;	/* ... moved to the current frame after power steps, power doubling */
	__u32 lam;
	__u32 n; /* frames stored */
	__u32 error;
	__u32 skipped;
	__u32 size; /* bytes of a frame to read */
	__u32 off_previous;
	__u32 off_code;
	__u32 off_instr;
	__u32 off_owner;
	__u32 owner_cstack;
	__u32 instr_is_int;
	__u32 truncated;
	__u32 max_frames; /* frames kept at most: PYPROF_MAX_FRAMES, or fewer in the legacy build */
	__u32 off_code_id; /* py_code_id_offset: PYOFF_NONE, no check */
	__u64 code_mask;
	__u64 last_code; /* the previous frame's code word, its check included */
	__u64 hash;	 /* of the code words stored */
	struct sample_event *ev;
};

/* A frame's offset at in the window, masked so that the compiler cannot drop the mask: it
 * knows at < FRAME_WINDOW from frame_load, older verifiers (5.10) do not. */
static __always_inline __u32 window_offset(__u32 at)
{
	barrier_var(at);
	return at & (FRAME_WINDOW - 1);
}

static __always_inline int frame_field(struct frame_buf *b, __u32 at, __u32 off, __u64 *ret)
{
	if (off > FRAME_READ_MAX - sizeof(__u64))
		return -1;
	*ret = *(__u64 *)(b->data + window_offset(at) + off);
	return 0;
}

/* Makes the frame at addr (size bytes) readable in b; returns its offset in b->data, or -1.
 * A frame inside the last window costs no copy. Else, on a data stack (3.11+), the frame's page
 * up to the frame's end is copied: it holds the callers below it, and the thread has used all of
 * it, so the copy never faults (a window reaching below the page may fall off the start of the
 * stack's chunk, and a failed copy costs as much as a dozen good ones). Otherwise the frame alone
 * is copied. */
static __always_inline int frame_load(struct frame_buf *b, __u64 addr, __u32 size)
{
	__u64 base, len;

	if (b->win_len && addr >= b->win_base && addr + size <= b->win_base + b->win_len &&
	    addr - b->win_base < FRAME_WINDOW) {
		b->win_frames++;
		return (int)(addr - b->win_base);
	}
	if (b->win_len > size && b->win_frames < 2 && ++b->window_misses >= 2)
		b->windows = 0; /* frames are not on one data stack here (generators) */
	b->win_frames = 1;
	if (b->windows) {
		base = addr & ~(__u64)(FRAME_WINDOW - 1);
		len = addr + size - base;
		if (len <= sizeof(b->data) &&
		    !bpf_probe_read_user(b->data, len, (const void *)base)) {
			b->win_base = base;
			b->win_len = len;
			return (int)(addr - base);
		}
	}
	if (bpf_probe_read_user(b->data, size, (const void *)addr))
		return -1;
	b->win_base = addr;
	b->win_len = size;
	return 0;
}

/* Set by userspace before load: 0 sends frames without their code check (sampling.code_checks),
 * saving one read per distinct code object of a stack. */
const volatile __u32 code_checks = 1;

/* The code word of a frame: the code object's address with its check (see py_code_check) in
 * the top bits, the check from the three pointers at off_id (py_code_id_offset); no check if
 * they cannot be read. last is the previous frame's code word of this sample: a recursion
 * reads its code object once. A global function, verified once: a branch inlined into the
 * walk's step multiplies the states the verifier explores in every program that walks (a
 * second of load time each). */
__noinline __u64 pystack__code_word(__u64 code, __u64 off_id, __u64 last)
{
	__u64 id[3];

	if (code > PY_CODE_ADDR_MASK || off_id == PYOFF_NONE)
		return code;
	if ((last & PY_CODE_ADDR_MASK) == code)
		return last;
	if (bpf_probe_read_user(id, sizeof(id), (const void *)(code + off_id)))
		return code;
	return code | py_code_check(id[0], id[1], id[2]) << PY_CODE_ADDR_BITS;
}

/* One step of the frame walk: reads frame c->frame, stores it in ev, moves to its caller.
 * Returns non-zero to stop. */
static __always_inline long walk_frame(struct walk_ctx *c, struct sample_event *ev)
{
	__u32 zero = 0, size = c->size;
	struct frame_buf *b;
	__u64 code = 0, instr = 0, prev = 0;
	int at;

	if (!c->frame)
		return 1;
	b = bpf_map_lookup_elem(&frame_bufs, &zero);
	if (!b)
		return 1;
	if (size > FRAME_READ_MAX)
		size = FRAME_READ_MAX;
	at = frame_load(b, c->frame, size);
	if (at < 0 || frame_field(b, at, c->off_previous, &prev) ||
	    frame_field(b, at, c->off_code, &code) || frame_field(b, at, c->off_instr, &instr)) {
		c->error = METRIC_FRAME_READ_FAILED;
		return 1;
	}
	/* a chain that loops (target memory is hostile) is found within twice its length */
	if (prev && (prev == c->frame || prev == c->tortoise)) {
		c->error = METRIC_FRAME_CYCLE;
		return 1;
	}
	if (++c->lam >= c->power) {
		c->tortoise = prev;
		c->power <<= 1;
		c->lam = 0;
	}
	c->frame = prev;

	if (c->owner_cstack != PYOFF_NONE && c->off_owner < FRAME_READ_MAX &&
	    b->data[window_offset(at) + (c->off_owner & (FRAME_READ_MAX - 1))] >=
		(__u8)c->owner_cstack) {
		c->skipped++; /* a shim frame the C stack owns: no depth budget spent */
		return 0;
	}
	if (c->n >= c->max_frames || c->n >= PYPROF_MAX_FRAMES) {
		c->truncated = 1; /* a real frame beyond the budget */
		return 1;
	}
	code &= c->code_mask;
	if (c->instr_is_int)
		instr = (__u64)(__s64)(__s32)instr;
	code = pystack__code_word(code, c->off_code_id, c->last_code);
	c->last_code = code;
	c->hash = (c->hash ^ code) * 0x9e3779b97f4a7c15ULL;
	if (ev) {
		__u32 n = c->n & (PYPROF_MAX_FRAMES - 1);

		ev->frames[n].code = code;
		ev->frames[n].instr = instr;
	}
	c->n++;
	return 0;
}

static long walk_frame_cb(__u32 i, void *data)
{
	struct walk_ctx *c = data;

	return walk_frame(c, c->ev);
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walk_ctx);
} legacy_walk SEC(".maps");

/* One step of the frame walk in legacy_walk's state, into this CPU's sample record. */
__noinline int pystack__legacy_walk_step(void)
{
	__u32 zero = 0;
	struct walk_ctx *c = bpf_map_lookup_elem(&legacy_walk, &zero);
	struct sample_event *ev = event__scratch();

	if (!c || !ev)
		return 1;
	return (int)walk_frame(c, ev);
}

/* The whole frame walk in legacy_walk's state (see pystack__legacy_find). */
__noinline int pystack__legacy_walk(void)
{
	for (__u32 i = 0; i < PYPROF_LEGACY_MAX_WALK; i++) {
		if (pystack__legacy_walk_step())
			break;
	}
	return 0;
}

/* ---- the GIL ---- */

/* Where the GIL's state (struct _gil_runtime_state) of target t lives, 0 if not known yet (the
 * interpreter is not up). Kept in the target's map entry once found: it never moves. */
static __always_inline __u64 pystack__gil_addr(struct py_target *t, const struct py_offsets *off)
{
	__u64 gil = t->gil_addr, interp = t->interp_addr;

	if (gil || off->gil_holder < 8)
		return gil;
	if (off->gil_kind == PY_GIL_RUNTIME && t->runtime_addr) {
		gil = t->runtime_addr + off->gil_holder - 8;
	} else if (off->gil_kind == PY_GIL_INTERP_PTR) {
		if (!interp && read_u64(t->interp_head_addr, &interp))
			return 0;
		if (!interp || read_u64(interp + off->gil_ptr, &gil))
			return 0;
	}
	t->gil_addr = gil;
	return gil;
}

/* Sets SAMPLE_GIL_KNOWN, and SAMPLE_GIL_HELD if the GIL is locked by tstate. */
static __always_inline void pystack__gil_held(struct sample_event *ev, struct py_target *t,
					      const struct py_offsets *off)
{
	__u64 gil = pystack__gil_addr(t, off), holder = 0;
	__u32 locked_rel;
	__s32 locked = 0;

	if (!gil || !ev->tstate || off->gil_locked < off->gil_holder)
		return;
	/* both offsets are from the same base; the state starts 8 bytes before last_holder */
	locked_rel = off->gil_locked - off->gil_holder + 8;
	if (locked_rel > 64 || read_u64(gil + 8, &holder) ||
	    bpf_probe_read_user(&locked, sizeof(locked), (const void *)(gil + locked_rel)))
		return;
	ev->flags |= SAMPLE_GIL_KNOWN;
	if (locked && holder == ev->tstate)
		ev->flags |= SAMPLE_GIL_HELD;
}

/* Fills ev's tstate, frames, nframes, flags and error for the thread (tid, fsbase) of target t.
 * Always leaves ev in a state worth emitting: partial stacks carry SAMPLE_ERROR. Returns a
 * non-zero hash of the frames' code words, 0 when there is none (see event__send). */
static __always_inline __u64 pystack__capture(struct sample_event *ev, struct py_target *t,
					      __u32 tid, __u64 fsbase, __u64 now, int want_gil,
					      const int legacy)
{
	const struct py_offsets *off;
	struct walk_ctx c = {};
	__u32 layout = t->layout, error = 0;
	__u64 tstate, frame = 0, cframe = 0;

	ev->nframes = 0;
	ev->tstate = 0;
	off = bpf_map_lookup_elem(&layouts, &layout);
	if (!off || !off->frame_kind) {
		ev->flags |= SAMPLE_ERROR;
		ev->error = METRIC_TARGET_INVALID;
		metric_inc(METRIC_TARGET_INVALID);
		return 0;
	}
	tstate = pystack__tstate(t, off, tid, fsbase, now, &error, legacy);
	if (!tstate) {
		ev->flags |= SAMPLE_NO_TSTATE;
		if (error != METRIC_TSTATE_NOT_FOUND)
			ev->flags |= SAMPLE_ERROR;
		ev->error = error;
		metric_inc(error);
		return 0;
	}
	ev->tstate = tstate;
	if (want_gil)
		pystack__gil_held(ev, t, off);

	if (off->frame_kind == PY_FRAME_CFRAME) {
		if (read_u64(tstate + off->tstate_frame, &cframe) ||
		    (cframe && read_u64(cframe + off->cframe_current_frame, &frame)))
			error = METRIC_TSTATE_READ_FAILED;
	} else if (read_u64(tstate + off->tstate_frame, &frame)) {
		error = METRIC_TSTATE_READ_FAILED;
	}
	if (error) {
		ev->flags |= SAMPLE_ERROR;
		ev->error = error;
		metric_inc(error);
		return 0;
	}

	c.frame = frame;
	c.tortoise = frame;
	c.power = 1;
	c.size = off->frame_size;
	c.off_previous = off->frame_previous;
	c.off_code = off->frame_code;
	c.off_instr = off->frame_instr;
	c.off_owner = off->frame_owner;
	c.owner_cstack = off->frame_owner_cstack;
	c.instr_is_int = off->frame_kind == PY_FRAME_OBJECT;
	{
		__u32 zero = 0;
		struct frame_buf *b = bpf_map_lookup_elem(&frame_bufs, &zero);

		if (b) {
			b->win_len = 0;
			b->window_misses = 0;
			b->win_frames = 0;
			b->windows = off->frame_kind != PY_FRAME_OBJECT;
		}
	}
	c.code_mask = off->frame_code_mask;
	c.off_code_id = code_checks ? py_code_id_offset(off) : PYOFF_NONE;
	c.ev = ev;
	if (legacy) {
		__u32 zero = 0;
		struct walk_ctx *lc = bpf_map_lookup_elem(&legacy_walk, &zero);

		c.max_frames = PYPROF_LEGACY_MAX_FRAMES;
		c.ev = NULL; /* the step finds the record itself: scratch holds no pointers */
		if (!lc) {
			c.error = METRIC_FRAME_READ_FAILED;
		} else {
			*lc = c;
			pystack__legacy_walk();
			c = *lc;
		}
	} else {
		c.max_frames = PYPROF_MAX_FRAMES;
		bpf_loop(PYPROF_MAX_WALK, walk_frame_cb, &c, 0);
	}

	ev->nframes = c.n;
	if (c.skipped)
		metric_add(METRIC_SHIM_FRAMES_SKIPPED, c.skipped);
	if (c.error) {
		ev->flags |= SAMPLE_ERROR;
		ev->error = c.error;
		metric_inc(c.error);
	} else if (c.truncated || c.frame) {
		/* more real frames than the budget, or the walk's step budget ran out */
		ev->flags |= SAMPLE_TRUNCATED;
		metric_inc(METRIC_STACK_TRUNCATED);
	} else if (!c.n) {
		metric_inc(METRIC_EMPTY_STACK);
	}
	return c.n ? c.hash | 1 : 0;
}

/* The FS base of the current task: what pthread_self() returns in it, on x86_64. */
static __always_inline __u64 pystack__current_fsbase(const int legacy)
{
	if (legacy) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();

		return BPF_CORE_READ(task, thread.fsbase);
	}
	return bpf_get_current_task_btf()->thread.fsbase;
}

#endif /* PYPROF_PYSTACK_BPF_H */
