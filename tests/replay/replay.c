// SPDX-License-Identifier: MIT
/* pyprof-replay: the BPF CPython walker (bpf/pystack.bpf.h) run without a kernel on recorded
 * memory, its stacks named by agent/python/symbolize.c and checked against what CPython itself
 * reported when the recording was made; and the recorder of such recordings
 * (tests/replay/README.md).
 *
 *   pyprof-replay check RECORDING...     replays each recording; one line per check, then
 *                                        "replay: N passed, N failed"
 *   pyprof-replay record --pid PID --expect FILE --label LABEL --out RECORDING
 *                                        stops PID, runs the same checks on its live memory,
 *                                        keeping every page read, continues it, saves */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <dirent.h>

#include "os/memread.h"
#include "python/pyoffsets.h"
#include "python/pyproc.h"
#include "recording.h"
#include "python/symbolize.h"
#include "profile/collector.h"
#include "python/uwalk.h"

/* What pyproc.c reads from the start of _PyRuntime for the 3.13+ _Py_DebugOffsets. */
#define DEBUG_OFFSETS_READ 4096
/* Real frame of the sleeper thread that the hostile cases damage (0 is the innermost). */
#define HOSTILE_FRAME 2
/* Below any mapping of a normal process, as tests/workloads/hostile.py's. */
#define UNMAPPED_ADDR 0xdead0000ULL
/* Steps of the raw frame chain followed to place the damage. */
#define CHAIN_MAX 4096

struct replay {
	struct recording *r;
	struct py_offsets off;
	struct py_target target;
	unsigned passed, failed;
	struct sample_event ev[2]; /* modern, legacy */
	uint64_t sleeper_tstate;   /* where the hostile cases do their damage */
};

static void report(struct replay *x, const char *what, const char *build, const char *fmt, ...)
{
	char why[1024] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
	}
	if (fmt) {
		x->failed++;
		printf("FAIL %s %s %s: %s\n", x->r->label, what, build, why);
	} else {
		x->passed++;
		printf("ok   %s %s %s\n", x->r->label, what, build);
	}
}

/* The layout of the recorded interpreter as agent/python/pyproc.c's load_layout() finds it,
 * computed by today's agent/python/pyoffsets.c: a recording tests the tables, not a copy of them.
 */
static int replay__layout(struct recording *r, struct py_offsets *ret)
{
	const struct py_offsets *table = pyoffsets__table(r->major, r->minor);

	if (r->runtime_addr && (r->major > 3 || (r->major == 3 && r->minor >= 13))) {
		static unsigned char buf[DEBUG_OFFSETS_READ];

		if (!replay_mem__read(&r->mem, r->runtime_addr, buf, sizeof(buf)) &&
		    !pyoffsets__from_debug_offsets(buf, sizeof(buf), ret))
			return 0;
	}
	if (!table)
		return -EPROTONOSUPPORT;
	*ret = *table;
	return 0;
}

static uint64_t peek_u64(struct replay *x, uint64_t addr)
{
	uint64_t v = 0;

	if (replay_mem__read(&x->r->mem, addr, &v, sizeof(v)))
		return 0;
	return v;
}

/* Raw frame chain of tstate, innermost first, and which are shims the walker skips. */
static size_t chain_of(struct replay *x, uint64_t tstate, uint64_t *addrs, int *shim, size_t max)
{
	const struct py_offsets *o = &x->off;
	uint64_t f = peek_u64(x, tstate + o->tstate_frame);
	size_t n = 0;

	if (o->frame_kind == PY_FRAME_CFRAME && f)
		f = peek_u64(x, f + o->cframe_current_frame);
	while (f && n < max) {
		uint8_t owner = 0;

		addrs[n] = f;
		shim[n] = 0;
		if (o->frame_owner != PYOFF_NONE && o->frame_owner_cstack != PYOFF_NONE &&
		    !replay_mem__read(&x->r->mem, f + o->frame_owner, &owner, 1))
			shim[n] = owner >= (uint8_t)o->frame_owner_cstack;
		n++;
		f = peek_u64(x, f + o->frame_previous);
	}
	return n;
}

/* Addresses of the real frames (those the walker keeps), innermost first. */
static size_t real_frames(struct replay *x, uint64_t tstate, uint64_t *ret, size_t max)
{
	static uint64_t addrs[CHAIN_MAX];
	static int shim[CHAIN_MAX];
	size_t n = chain_of(x, tstate, addrs, shim, CHAIN_MAX), m = 0;

	for (size_t i = 0; i < n && m < max; i++) {
		if (!shim[i])
			ret[m++] = addrs[i];
	}
	return m;
}

static uint64_t code_of(struct replay *x, uint64_t frame)
{
	return peek_u64(x, frame + x->off.frame_code) & x->off.frame_code_mask;
}

static int sample_eq(const struct sample_event *a, const struct sample_event *b)
{
	return a->flags == b->flags && a->error == b->error && a->nframes == b->nframes &&
	       a->tstate == b->tstate && a->nframes <= PYPROF_MAX_FRAMES &&
	       !memcmp(a->frames, b->frames, a->nframes * sizeof(a->frames[0]));
}

/* What a sample must show. */
struct expect {
	const struct rec_thread *thread; /* its stack, innermost first */
	uint32_t flags;			 /* of SAMPLE_TRUNCATED, _ERROR, _NO_TSTATE */
	uint32_t error;
	size_t nframes;	     /* frames kept */
	size_t nframes_max;  /* > nframes: any count in [nframes, nframes_max] */
	size_t check_frames; /* frames compared with the thread's stack */
	const int *unknown;  /* frames that must be "<unknown>" (NULL: none) */
	int gil;	     /* -1: not checked */
	int whole;	     /* the thread's whole stack, cut at the build's frame budget */
};

#define FLAG_MASK (SAMPLE_TRUNCATED | SAMPLE_ERROR | SAMPLE_NO_TSTATE)

/* Checks sample ev against e, naming its frames with a fresh symbolizer; NULL or why not. */
static const char *verify(struct replay *x, const struct sample_event *ev, const struct expect *e,
			  char *why, size_t len)
{
	struct mem_reader rd = {.read = replay_mem__reader, .ctx = &x->r->mem};
	struct symbolizer *s;
	const char *bad = NULL;

	if ((ev->flags & FLAG_MASK) != e->flags || ev->error != e->error) {
		snprintf(why, len, "flags %#x error %u, expected flags %#x error %u",
			 ev->flags & FLAG_MASK, ev->error, e->flags, e->error);
		return why;
	}
	if (ev->nframes < e->nframes || ev->nframes > e->nframes_max) {
		snprintf(why, len, "%u frames, expected %zu", ev->nframes, e->nframes);
		return why;
	}
	if (e->gil >= 0 && x->off.gil_kind != PY_GIL_NONE && !(ev->flags & SAMPLE_GIL_KNOWN)) {
		snprintf(why, len, "GIL state unknown");
		return why;
	}
	if (e->gil >= 0 && (ev->flags & SAMPLE_GIL_KNOWN) &&
	    !!(ev->flags & SAMPLE_GIL_HELD) != e->gil) {
		snprintf(why, len, "GIL %s, expected %s",
			 ev->flags & SAMPLE_GIL_HELD ? "held" : "released",
			 e->gil ? "held" : "released");
		return why;
	}
	s = symbolizer__new_reader(&rd, &x->off, x->r->code_type, NULL);
	if (!s) {
		snprintf(why, len, "no memory");
		return why;
	}
	for (size_t i = 0; i < e->check_frames && i < ev->nframes && !bad; i++) {
		const struct rec_frame *want = &e->thread->frames[i];
		struct frame_sym got;

		symbolizer__resolve(s, &ev->frames[i], &got);
		if (e->unknown && e->unknown[i]) {
			if (got.known || strcmp(got.name, "<unknown>"))
				bad = "named";
			else
				continue;
		} else if (!got.known || strcmp(got.name, want->name) ||
			   strcmp(got.filename, want->file) || got.line != want->line) {
			bad = "differs";
		}
		if (bad)
			snprintf(why, len, "frame %zu %s: %s (%s:%d), expected %s (%s:%d)", i, bad,
				 got.name, got.filename, got.line,
				 e->unknown && e->unknown[i] ? "<unknown>" : want->name, want->file,
				 want->line);
	}
	symbolizer__free(s);
	return bad ? why : NULL;
}

/* Samples the thread in both builds, each twice (the second from the thread-state cache), and
 * checks each sample against e and the builds against each other. */
static void sample_both(struct replay *x, const char *what, uint32_t tid, uint64_t fsbase,
			const struct expect *e)
{
	static const char *const builds[2] = {"bpf_loop", "legacy"};
	struct mem_reader rd = {.read = replay_mem__reader, .ctx = &x->r->mem};
	static struct sample_event warm;
	char why[1024];

	for (int legacy = 0; legacy < 2; legacy++) {
		size_t budget = legacy ? PYPROF_LEGACY_MAX_FRAMES : PYPROF_MAX_FRAMES, len;
		struct sample_event *ev = &x->ev[legacy];
		const char *err = NULL;
		struct expect eb = *e;

		if (e->whole && e->thread->nframes > budget) {
			eb.nframes = eb.nframes_max = eb.check_frames = budget;
			eb.flags |= SAMPLE_TRUNCATED;
		}

		if (uwalk__sample(&rd, &x->off, &x->target, tid, fsbase, legacy, 1, ev, &len,
				  NULL) ||
		    uwalk__sample(&rd, &x->off, &x->target, tid, fsbase, legacy, 0, &warm, &len,
				  NULL))
			err = "no record sent";
		else if (e->flags & SAMPLE_NO_TSTATE ? !(warm.flags & SAMPLE_NO_TSTATE)
						     : !sample_eq(ev, &warm))
			err = "the sample from the thread-state cache differs";
		else if (legacy && PYPROF_LEGACY_MAX_FRAMES == PYPROF_MAX_FRAMES &&
			 !sample_eq(ev, &x->ev[0]))
			err = "differs from the bpf_loop build";
		else
			err = verify(x, ev, &eb, why, sizeof(why));
		if (err)
			report(x, what, builds[legacy], "%s", err);
		else
			report(x, what, builds[legacy], NULL);
	}
}

static const struct rec_task *task_of(const struct recording *r, uint64_t ident)
{
	for (size_t i = 0; i < r->ntasks; i++) {
		if (r->tasks[i].fsbase == ident)
			return &r->tasks[i];
	}
	return NULL;
}

static void check_thread(struct replay *x, const struct rec_thread *t)
{
	const struct rec_task *task = task_of(x->r, t->ident);
	struct expect e = {.thread = t, .gil = t->gil_held, .whole = 1};

	if (!task) {
		report(x, t->role, "-", "no task has FS base %#" PRIx64 " (its get_ident())",
		       t->ident);
		return;
	}
	e.nframes = e.nframes_max = e.check_frames = t->nframes;
	sample_both(x, t->role, task->tid, task->fsbase, &e);
}

/* ---- the hostile cases: the sleeper's memory damaged as tests/workloads/hostile.py does ---- */

enum hostile {
	H_CYCLE_SELF,	  /* frame k's previous is itself */
	H_CYCLE_TWO,	  /* frame k's previous is frame k-1 */
	H_UNMAPPED_FRAME, /* frame k's previous is unmapped */
	H_NOT_CODE,	  /* frame k's code is not a code object (the frame itself) */
	H_UNMAPPED_CODE,  /* frame k's code is unmapped */
	H_HUGE_NAME,	  /* frame k's co_name claims 2**40 characters */
	H_BAD_STR_KIND,	  /* frame k's co_filename has an invalid kind */
	H_HUGE_LINETABLE, /* frame k's line table claims 2**40 bytes */
	H_TSTATE_GONE,	  /* the page of the thread state is not readable */
	H_INTERP_GONE,	  /* the page of the interpreter head is not readable */
	H_NO_SUCH_THREAD, /* a thread whose FS base is in no thread state */
	H_MAX,
};

static const char *const hostile_names[H_MAX] = {
    [H_CYCLE_SELF] = "hostile:cycle_self",	   [H_CYCLE_TWO] = "hostile:cycle_two",
    [H_UNMAPPED_FRAME] = "hostile:unmapped_frame", [H_NOT_CODE] = "hostile:not_code",
    [H_UNMAPPED_CODE] = "hostile:unmapped_code",   [H_HUGE_NAME] = "hostile:huge_name",
    [H_BAD_STR_KIND] = "hostile:bad_str_kind",	   [H_HUGE_LINETABLE] = "hostile:huge_linetable",
    [H_TSTATE_GONE] = "hostile:tstate_unreadable", [H_INTERP_GONE] = "hostile:interp_unreadable",
    [H_NO_SUCH_THREAD] = "hostile:unknown_thread",
};

/* Marks the frames whose code object refers to object obj at one of the fields. */
static void mark_users(struct replay *x, const uint64_t *frames, size_t n, uint64_t obj,
		       const uint32_t *fields, int nfields, int *unknown)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t code = code_of(x, frames[i]);

		for (int f = 0; f < nfields; f++) {
			if (fields[f] != PYOFF_NONE && code && peek_u64(x, code + fields[f]) == obj)
				unknown[i] = 1;
		}
	}
}

static void check_hostile(struct replay *x, const struct rec_thread *t, enum hostile h)
{
	const struct py_offsets *o = &x->off;
	const struct rec_task *task = task_of(x->r, t->ident);
	static uint64_t frames[PYPROF_MAX_FRAMES];
	static int unknown[PYPROF_MAX_FRAMES];
	struct expect e = {.thread = t, .gil = -1, .unknown = unknown};
	struct replay_page *hidden = NULL;
	uint64_t at = 0, val = 0, old = 0, fsbase, tstate, k;
	size_t n, width = 8;
	const char *what = hostile_names[h];

	if (!task || !x->sleeper_tstate) {
		report(x, what, "-", "the sleeper was not sampled");
		return;
	}
	fsbase = task->fsbase;
	tstate = x->sleeper_tstate;
	n = real_frames(x, tstate, frames, PYPROF_MAX_FRAMES);
	if (n != t->nframes || n <= HOSTILE_FRAME) {
		report(x, what, "-", "%zu real frames in the chain, %zu reported", n, t->nframes);
		return;
	}
	k = frames[HOSTILE_FRAME];
	memset(unknown, 0, sizeof(unknown));
	e.nframes = e.nframes_max = e.check_frames = n;
	switch (h) {
	case H_CYCLE_SELF:
	case H_CYCLE_TWO:
	case H_UNMAPPED_FRAME:
		at = k + o->frame_previous;
		val = h == H_CYCLE_SELF	 ? k
		      : h == H_CYCLE_TWO ? frames[HOSTILE_FRAME - 1]
					 : UNMAPPED_ADDR;
		e.flags = SAMPLE_ERROR;
		e.error = h == H_UNMAPPED_FRAME ? METRIC_FRAME_READ_FAILED : METRIC_FRAME_CYCLE;
		/* the frames before the damage are kept; a frame whose caller is unreadable too */
		e.nframes = e.check_frames = HOSTILE_FRAME + (h == H_UNMAPPED_FRAME);
		e.nframes_max = e.nframes;
		if (h == H_CYCLE_TWO) {
			/* found within a few rounds of the loop, at the latest */
			e.check_frames = HOSTILE_FRAME + 1;
			e.nframes_max = HOSTILE_FRAME + 16;
		}
		break;
	case H_NOT_CODE:
	case H_UNMAPPED_CODE:
		at = k + o->frame_code;
		val = h == H_NOT_CODE ? k : UNMAPPED_ADDR;
		unknown[HOSTILE_FRAME] = 1;
		break;
	case H_HUGE_NAME: {
		uint32_t fields[] = {o->code_name, o->code_qualname};

		val = peek_u64(x, code_of(x, k) + o->code_name);
		at = val + o->unicode_length;
		mark_users(x, frames, n, val, fields, 2, unknown);
		val = 1ULL << 40;
		break;
	}
	case H_BAD_STR_KIND: {
		uint32_t fields[] = {o->code_name, o->code_qualname, o->code_filename};
		uint64_t str = peek_u64(x, code_of(x, k) + o->code_filename);
		uint32_t state = 0;

		at = str + o->unicode_state;
		width = 4;
		replay_mem__read(&x->r->mem, at, &state, sizeof(state));
		val = (state & ~(7u << 2)) | (3u << 2);
		mark_users(x, frames, n, str, fields, 3, unknown);
		break;
	}
	case H_HUGE_LINETABLE: {
		uint32_t fields[] = {o->code_linetable};

		val = peek_u64(x, code_of(x, k) + o->code_linetable);
		at = val + o->bytes_size;
		mark_users(x, frames, n, val, fields, 1, unknown);
		val = 1ULL << 40;
		break;
	}
	case H_TSTATE_GONE:
	case H_INTERP_GONE:
		hidden = replay_mem__page(&x->r->mem,
					  h == H_TSTATE_GONE ? tstate : x->r->interp_head_addr);
		e.flags = SAMPLE_NO_TSTATE | SAMPLE_ERROR;
		e.error =
		    h == H_TSTATE_GONE ? METRIC_TSTATE_READ_FAILED : METRIC_INTERP_READ_FAILED;
		e.nframes = e.nframes_max = e.check_frames = 0;
		break;
	case H_NO_SUCH_THREAD:
		fsbase = UNMAPPED_ADDR; /* no thread's pthread_self() */
		e.flags = SAMPLE_NO_TSTATE;
		e.error = METRIC_TSTATE_NOT_FOUND;
		e.nframes = e.nframes_max = e.check_frames = 0;
		break;
	default:
		return;
	}
	if (at && replay_mem__poke(&x->r->mem, at, &val, width, &old)) {
		report(x, what, "-", "%#" PRIx64 " is not in the recording", at);
		return;
	}
	if ((h == H_TSTATE_GONE || h == H_INTERP_GONE) && !hidden) {
		report(x, what, "-", "the page to hide is not in the recording");
		return;
	}
	if (hidden)
		hidden->hidden = 1;
	sample_both(x, what, task->tid, fsbase, &e);
	if (hidden)
		hidden->hidden = 0;
	if (at)
		replay_mem__poke(&x->r->mem, at, &old, width, NULL);
}

/* ---- the collector on the recorded sample stream ---- */

#define FAKE_PID 4242 /* the collector is told this pid; nothing on the host is read for it */

/* The only stack of profile kind of c, or NULL (and why) when it has another number of them. */
static const struct profile_stack *only_stack(struct collector *c, enum profile_kind kind,
					      const char **why)
{
	struct profile *p = collector__profile(c, kind);
	struct profile_stack *st = NULL;
	size_t it = 0;

	if (p->nstacks != 1) {
		*why = "not one stack";
		return NULL;
	}
	hashmap__next(&p->stacks, &it, NULL, (void **)&st);
	return st;
}

/* Whether stack st of profile p is the process root, the thread's Python frames outermost
 * first, then (off-CPU) marker: what CPython reported, through the collector. */
static const char *stack_is(const struct profile *p, const struct profile_stack *st,
			    const struct rec_thread *t, const char *marker, char *why, size_t len)
{
	uint32_t n = (uint32_t)t->nframes + 1 + (marker ? 1 : 0);
	const struct frame *f;

	if (st->n < n) {
		snprintf(why, len, "%u frames, expected at least %u", st->n, n);
		return why;
	}
	f = profile__frame_at(p, st->ids[0]);
	if (f->kind != FRAME_PROCESS || f->number != FAKE_PID) {
		snprintf(why, len, "root %s is not the process", f->name);
		return why;
	}
	for (size_t i = 0; i < t->nframes; i++) {
		const struct rec_frame *want = &t->frames[t->nframes - 1 - i];

		f = profile__frame_at(p, st->ids[1 + i]);
		if (f->kind != FRAME_PYTHON || strcmp(f->name, want->name) ||
		    strcmp(f->file, want->file) || f->number != want->line) {
			snprintf(why, len, "frame %zu %s (%s:%lld), expected %s (%s:%d)", i,
				 f->name, f->file ? f->file : "", (long long)f->number, want->name,
				 want->file, want->line);
			return why;
		}
	}
	if (marker) {
		f = profile__frame_at(p, st->ids[t->nframes + 1]);
		if (f->kind != FRAME_MARKER || strcmp(f->name, marker)) {
			snprintf(why, len, "%s after the Python frames, expected %s", f->name,
				 marker);
			return why;
		}
	}
	return NULL;
}

/* The collector fed the thread's recorded sample (x->ev[0], from check_thread): a repeat is
 * summed into the same stack (the memo), names are CPython's, a process forgotten (exited) is
 * counted and not added, an off-CPU sleep carries its marker and microseconds, and a runnable
 * wait joins its duration record (an orphan duration is counted). */
static void check_collector(struct replay *x, const struct rec_thread *t)
{
	struct mem_reader rd = {.read = replay_mem__reader, .ctx = &x->r->mem};
	struct collector_opts co = {
	    .kinds = (1u << PROFILE_CPU) | (1u << PROFILE_OFFCPU), .rate_hz = 99, .reader = &rd};
	static struct sample_event ev, dur;
	const struct profile_stack *st;
	const uint64_t *cs;
	struct collector *c = collector__new(&co, NULL);
	struct pyproc *p = calloc(1, sizeof(*p));
	const char *bad = NULL;
	char why[1024];

	if (!c || !p) {
		report(x, "collector", "-", "no memory");
		free(p);
		collector__free(c);
		return;
	}
	*p = (struct pyproc){.pid = FAKE_PID,
			     .major = x->r->major,
			     .minor = x->r->minor,
			     .code_type_addr = x->r->code_type,
			     .offsets = x->off};
	if (collector__add_process(c, p)) {
		report(x, "collector", "-", "the process was not added");
		pyproc__free(p);
		collector__free(c);
		return;
	}
	ev = x->ev[0];
	ev.kind = SAMPLE_ON_CPU;
	ev.pid = FAKE_PID;
	ev.weight = 1;
	ev.kstack_bytes = 0;
	ev.flags &= ~SAMPLE_TRUNCATED;
	for (int i = 0; i < 3 && !bad; i++) {
		if (collector__on_sample(c, &ev, sizeof(ev)))
			bad = "a sample was refused";
	}
	cs = collector__stats(c);
	if (!bad && !(st = only_stack(c, PROFILE_CPU, &bad)))
		;
	else if (!bad && (st->weight != 3 || collector__profile(c, PROFILE_CPU)->total != 3))
		bad = "three samples of one stack are not one stack of weight 3";
	else if (!bad)
		bad = stack_is(collector__profile(c, PROFILE_CPU), st, t, NULL, why, sizeof(why));
	report(x, "collector:on-cpu", "-", bad ? "%s" : NULL, bad);
	/* off-CPU: a sleep of 5 ms, then a runnable wait of 3 ms and its duration */
	bad = NULL;
	ev.kind = SAMPLE_OFF_CPU;
	ev.weight = 5000000;
	collector__on_sample(c, &ev, sizeof(ev));
	ev.flags |= SAMPLE_RUNNABLE | SAMPLE_STACK_ONLY;
	ev.weight = 0;
	ev.time_ns = 777;
	collector__on_sample(c, &ev, sizeof(ev));
	dur = (struct sample_event){.kind = SAMPLE_OFF_CPU_DURATION,
				    .pid = FAKE_PID,
				    .tid = ev.tid,
				    .time_ns = 777,
				    .weight = 3000000};
	collector__on_sample(c, &dur, SAMPLE_EVENT_HEADER_SIZE);
	collector__on_sample(c, &dur, SAMPLE_EVENT_HEADER_SIZE); /* joined already: an orphan */
	if (collector__profile(c, PROFILE_OFFCPU)->nstacks != 2 ||
	    collector__profile(c, PROFILE_OFFCPU)->total != 8000)
		bad = "off-CPU: not two stacks of 5000 and 3000 us";
	else if (cs[COLL_STAT_RUNNABLE_ORPHANS] != 1)
		bad = "the second duration was not counted an orphan";
	report(x, "collector:off-cpu", "-", bad ? "%s" : NULL, bad);
	/* exited: forgotten, its late samples counted, not added */
	collector__forget(c, FAKE_PID);
	ev.kind = SAMPLE_ON_CPU;
	ev.flags &= ~(SAMPLE_RUNNABLE | SAMPLE_STACK_ONLY);
	ev.weight = 1;
	collector__on_sample(c, &ev, sizeof(ev));
	report(x, "collector:exited", "-",
	       cs[COLL_STAT_UNKNOWN_PID] == 1 && collector__profile(c, PROFILE_CPU)->total == 3
		   ? NULL
		   : "a sample of a forgotten process: unknown_pid %llu, total %llu",
	       (unsigned long long)cs[COLL_STAT_UNKNOWN_PID],
	       (unsigned long long)collector__profile(c, PROFILE_CPU)->total);
	collector__free(c);
}

/* Every check of one recording (its memory live or replayed). */
static void replay__run(struct replay *x)
{
	struct recording *r = x->r;
	const struct rec_thread *sleeper = NULL;

	if (replay__layout(r, &x->off)) {
		report(x, "layout", "-", "no layout for CPython %u.%u", r->major, r->minor);
		return;
	}
	x->target = (struct py_target){
	    .interp_head_addr = r->interp_head_addr,
	    .runtime_addr = r->runtime_addr,
	};
	for (size_t i = 0; i < r->nthreads; i++) {
		if (!strcmp(r->threads[i].role, "sleeper"))
			sleeper = &r->threads[i];
		else
			check_thread(x, &r->threads[i]);
	}
	if (!sleeper) {
		report(x, "sleeper", "-", "no sleeper thread in the recording");
		return;
	}
	check_thread(x, sleeper);
	check_collector(x, sleeper);
	x->sleeper_tstate = x->ev[0].tstate;
	for (int h = 0; h < H_MAX; h++)
		check_hostile(x, sleeper, h);
}

static int cmd_check(int argc, char **argv)
{
	unsigned passed = 0, failed = 0;
	char err[512];

	for (int i = 0; i < argc; i++) {
		static struct recording r;
		static struct replay x;

		if (recording__load(argv[i], &r, err, sizeof(err))) {
			printf("FAIL %s: %s\n", argv[i], err);
			failed++;
			continue;
		}
		memset(&x, 0, sizeof(x));
		x.r = &r;
		replay__run(&x);
		passed += x.passed;
		failed += x.failed;
		recording__free(&r);
	}
	printf("replay: %u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}

/* ---- recording ---- */

/* Stops every thread of pid with ptrace (seize, interrupt) and keeps each one's FS base. */
static int stop_all(pid_t pid, struct recording *r)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((d = readdir(dir)) && !err) {
		struct user_regs_struct regs;
		pid_t tid = (pid_t)strtol(d->d_name, NULL, 10);
		int st;

		if (tid <= 0)
			continue;
		if (r->ntasks >= RECORDING_MAX_TASKS) {
			err = -E2BIG;
			break;
		}
		if (ptrace(PTRACE_SEIZE, tid, 0, 0) || ptrace(PTRACE_INTERRUPT, tid, 0, 0) ||
		    waitpid(tid, &st, __WALL) != tid || ptrace(PTRACE_GETREGS, tid, 0, &regs)) {
			err = -errno;
			fprintf(stderr, "record: thread %d: %s\n", tid, strerror(errno));
		}
		r->tasks[r->ntasks++] = (struct rec_task){(uint32_t)tid, regs.fs_base};
	}
	closedir(dir);
	return err;
}

static void continue_all(struct recording *r)
{
	for (size_t i = 0; i < r->ntasks; i++)
		ptrace(PTRACE_DETACH, r->tasks[i].tid, 0, 0);
}

static int cmd_record(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"pid", required_argument, NULL, 'p'},
	    {"expect", required_argument, NULL, 'e'},
	    {"label", required_argument, NULL, 'l'},
	    {"out", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	static struct recording r;
	static struct replay x;
	const char *expect = NULL, *out = NULL, *label = NULL;
	struct pyproc *p = NULL;
	char err[512];
	pid_t pid = 0;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'p')
			pid = (pid_t)strtol(optarg, NULL, 10);
		else if (c == 'e')
			expect = optarg;
		else if (c == 'l')
			label = optarg;
		else if (c == 'o')
			out = optarg;
		else
			return 2;
	}
	if (pid <= 0 || !expect || !out || !label) {
		fprintf(stderr, "usage: pyprof-replay record --pid PID --expect FILE --label LABEL "
				"--out RECORDING\n");
		return 2;
	}
	if (recording__parse_expect(&r, expect, err, sizeof(err)) ||
	    pyproc__open(pid, NULL, &p, err, sizeof(err))) {
		fprintf(stderr, "record: %s\n", err);
		goto out;
	}
	snprintf(r.label, sizeof(r.label), "%s", label);
	snprintf(r.python, sizeof(r.python), "%s", p->elf_path);
	r.major = p->major;
	r.minor = p->minor;
	r.interp_head_addr = p->interp_head_addr;
	r.runtime_addr = p->runtime_addr;
	r.code_type = p->code_type_addr;
	r.mem.pid = pid;
	if (stop_all(pid, &r)) {
		continue_all(&r);
		goto out;
	}
	x.r = &r;
	replay__run(&x);
	continue_all(&r);
	r.mem.pid = 0;
	if (r.ntasks != r.expect_tasks) {
		fprintf(stderr, "record: %zu threads, the workload reported %u\n", r.ntasks,
			r.expect_tasks);
		goto out;
	}
	if (recording__save(&r, out)) {
		fprintf(stderr, "record: cannot write %s\n", out);
		goto out;
	}
	printf("record: %s: %zu pages, %u checks passed, %u failed\n", out, r.mem.n, x.passed,
	       x.failed);
	/* saved all the same: the recording shows what is wrong, until the agent is fixed */
	rc = x.failed ? 1 : 0;
out:
	pyproc__free(p);
	recording__free(&r);
	return rc;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "check"))
		return cmd_check(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "record"))
		return cmd_record(argc - 1, argv + 1);
	fprintf(stderr, "usage: pyprof-replay check RECORDING...\n"
			"       pyprof-replay record --pid PID --expect FILE --label LABEL "
			"--out RECORDING\n");
	return 2;
}
