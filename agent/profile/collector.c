// SPDX-License-Identifier: MIT
/* Sample -> stack of frames (frame.h), each built from what the sample and the symbolizer say:
 * the process, thread and container it ran in, markers, Python frames and kernel frames. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "profile/collector.h"
#include "os/container.h"
#include "os/procfs.h"
#include "util/clock.h"

#define MAX_STACK (PYPROF_MAX_FRAMES + PYPROF_MAX_KSTACK + 8)
#define NS_PER_US 1000

const char *const collector_stat_names[COLL_STAT_MAX] = {
    [COLL_STAT_SAMPLES] = "samples",
    [COLL_STAT_MALFORMED] = "malformed_records",
    [COLL_STAT_UNKNOWN_PID] = "unknown_pid",
    [COLL_STAT_PARTIAL] = "partial_stacks",
    [COLL_STAT_TRUNCATED] = "truncated_stacks",
    [COLL_STAT_NO_TSTATE] = "no_thread_state",
    [COLL_STAT_UNKNOWN_FRAMES] = "unknown_frames",
    [COLL_STAT_GIL_DROPPED] = "gil_not_held_dropped",
    [COLL_STAT_GIL_UNKNOWN] = "gil_state_unknown",
    [COLL_STAT_RUNNABLE_ORPHANS] = "runnable_orphans",
    [COLL_STAT_ON_CPU] = "on_cpu_samples",
    [COLL_STAT_GIL_HELD] = "gil_held_samples",
};

struct proc_entry {
	struct pyproc *proc;
	struct symbolizer *sym;
	char comm[64];	 /* of the root frame, with the pid */
	char parent[32]; /* "[parent PPID]", read when the process was added */
	/* For a process in a container or its own pid namespace, frames under the root (and the
	 * thread frame): its container (a pprof label), markers "[pod UID]" and "[ns pid N]". */
	struct {
		enum frame_kind kind;
		char name[96];
	} where[3];
	uint32_t nwhere;
	struct hashmap runnable; /* tid -> the stack record of its current preemption */
};

/* One stack's frames, built once per record and added to each profile. Their strings are
 * copied into buf: a symbolizer's names last only until its next call. */
struct stack_frames {
	char *buf;
	size_t used, cap;
	struct {
		enum frame_kind kind;
		uint32_t name, file; /* offsets in buf; file UINT32_MAX: none */
		int64_t number;
	} f[MAX_STACK];
	uint32_t n;
	uint32_t ids[MAX_STACK];
};

/* Samples repeat: a hot loop's stack arrives hundreds of times a window, and naming and
 * interning its every frame was most of the agent's CPU time. What build_stack reads of a
 * sample is kept, as words, with the profile stacks the sample went to, so a repeat costs a
 * hash of its words. Its words include each frame's code check, so a replaced code object
 * is a new key. Emptied whenever a stack could be named differently (a process added or
 * forgotten; the symbolizer's per-second check for a layout without code checks), when a
 * profile is taken (its stacks go with it), and when it holds MEMO_MAX_BYTES. */
#define MEMO_MAX_BYTES (4u << 20)
#define MEMO_KEY_WORDS (3 + 2 + 2 * PYPROF_MAX_FRAMES + PYPROF_MAX_KSTACK)

struct memo {
	struct memo *next_same_hash;
	struct profile_stack *stacks[PROFILE_KIND_MAX];
	uint64_t unknown_frames; /* the counter build_stack bumped, bumped again at each repeat */
	uint32_t nwords;
	uint64_t key[];
};

struct collector {
	struct collector_opts opts;
	struct kallsyms *ksyms;
	struct profile profiles[PROFILE_KIND_MAX];
	struct hashmap procs; /* pid -> proc_entry */
	struct stack_frames st;
	uint64_t stats[COLL_STAT_MAX];
	struct hashmap memo; /* hash of the key words -> chain of memo */
	size_t memo_bytes;
	int memo_unchecked; /* it holds a frame without its code check */
	uint64_t memo_key[MEMO_KEY_WORDS];
	struct symcache *symcache; /* the budget of every process's symbolizer */
};

static void memo_clear(struct collector *c)
{
	struct memo *m, *next;
	size_t it = 0;

	while (hashmap__next(&c->memo, &it, NULL, (void **)&m)) {
		for (; m; m = next) {
			next = m->next_same_hash;
			free(m);
		}
	}
	hashmap__free(&c->memo);
	hashmap__init(&c->memo);
	c->memo_bytes = 0;
	c->memo_unchecked = 0;
}

struct collector *collector__new(const struct collector_opts *opts, struct kallsyms *ksyms)
{
	struct collector *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->opts = *opts;
	if (!c->opts.kinds)
		c->opts.kinds = 1u << PROFILE_CPU;
	if (!c->opts.rate_hz)
		c->opts.rate_hz = 99;
	c->ksyms = ksyms;
	for (int k = 0; k < PROFILE_KIND_MAX; k++)
		profile__init(&c->profiles[k]);
	hashmap__init(&c->procs);
	hashmap__init(&c->memo);
	c->symcache = symcache__new(SYMCACHE_CODE_BYTES, SYMCACHE_SOURCE_BYTES);
	if (!c->symcache) {
		free(c);
		return NULL;
	}
	return c;
}

/* Frees every value of m, then m. */
static void free_all(struct hashmap *m)
{
	size_t it = 0;
	void *v;

	while (hashmap__next(m, &it, NULL, &v))
		free(v);
	hashmap__free(m);
}

static void proc_entry__free(struct proc_entry *e)
{
	if (!e)
		return;
	free_all(&e->runnable);
	symbolizer__free(e->sym);
	pyproc__free(e->proc);
	free(e);
}

/* The container, pod and in-namespace pid of the process, read once: a process does not
 * change container, and a pid namespace is fixed at fork. */
static void describe_where(struct proc_entry *e)
{
	struct container_info ci;

	if (container__read(e->proc->pid, &ci))
		return;
	if (ci.id[0]) {
		e->where[e->nwhere].kind = FRAME_CONTAINER;
		snprintf(e->where[e->nwhere++].name, sizeof(e->where[0].name), "%s", ci.id);
	}
	if (ci.pod_uid[0]) {
		e->where[e->nwhere].kind = FRAME_MARKER;
		snprintf(e->where[e->nwhere++].name, sizeof(e->where[0].name), "[pod %s]",
			 ci.pod_uid);
	}
	if (ci.ns_pid) {
		e->where[e->nwhere].kind = FRAME_MARKER;
		snprintf(e->where[e->nwhere++].name, sizeof(e->where[0].name), "[ns pid %d]",
			 ci.ns_pid);
	}
}

int collector__add_process(struct collector *c, struct pyproc *p)
{
	struct proc_entry *e = calloc(1, sizeof(*e)), *old = NULL;
	struct hkey k = {(uint64_t)p->pid, 0};
	int err;

	if (!e)
		return -ENOMEM;
	hashmap__init(&e->runnable);
	e->proc = p;
	e->sym = c->opts.reader
		     ? symbolizer__new_reader(c->opts.reader, &p->offsets, p->code_type_addr,
					      c->symcache)
		     : symbolizer__new(p->pid, &p->offsets, p->code_type_addr, c->symcache);
	if (!e->sym) {
		free(e);
		return -ENOMEM;
	}
	procfs__comm(p->pid, 0, e->comm, sizeof(e->comm));
	if (c->opts.parents) {
		struct procfs_stat st;

		if (procfs__stat(p->pid, &st))
			st.ppid = 0; /* gone already: its samples are not named anyway */
		snprintf(e->parent, sizeof(e->parent), "[parent %d]", (int)st.ppid);
	}
	describe_where(e);
	err = hashmap__put(&c->procs, k, e, (void **)&old);
	if (err) {
		e->proc = NULL; /* the caller keeps p on failure */
		proc_entry__free(e);
		return err;
	}
	proc_entry__free(old);
	memo_clear(c);
	return 0;
}

void collector__forget(struct collector *c, pid_t pid)
{
	struct hkey k = {(uint64_t)pid, 0};

	proc_entry__free(hashmap__del(&c->procs, k));
	memo_clear(c);
}

int collector__has_process(const struct collector *c, pid_t pid)
{
	struct hkey k = {(uint64_t)pid, 0};

	return hashmap__get(&c->procs, k) != NULL;
}

void collector__each_process(const struct collector *c,
			     void (*fn)(void *ctx, const struct pyproc *p), void *ctx)
{
	struct proc_entry *e;
	size_t it = 0;

	while (hashmap__next(&c->procs, &it, NULL, (void **)&e))
		fn(ctx, e->proc);
}

void collector__tick(struct collector *c)
{
	struct proc_entry *e;
	size_t it = 0;
	int unchecked = 0;

	while (hashmap__next(&c->procs, &it, NULL, (void **)&e)) {
		symbolizer__tick(e->sym);
		unchecked |= py_code_id_offset(&e->proc->offsets) == PYOFF_NONE;
	}
	symcache__tick(c->symcache, clock__mono_ns() / CLOCK_NS_PER_S);
	/* A memo key holds each frame's code check (see py_code_check): a code object freed and
	 * replaced at its address gives a new key, never the old names. Without checks (a layout
	 * without them, sampling.code_checks off, a check BPF could not read), the symbolizer's
	 * per-second revalidation is what notices, and the memo must ask it again. */
	if (unchecked || c->memo_unchecked)
		memo_clear(c);
}

struct profile *collector__profile(struct collector *c, enum profile_kind kind)
{
	return &c->profiles[kind];
}

void collector__take_profile(struct collector *c, enum profile_kind kind, struct profile *ret)
{
	*ret = c->profiles[kind];
	profile__init(&c->profiles[kind]);
	memo_clear(c);
}

const uint64_t *collector__stats(const struct collector *c)
{
	return c->stats;
}

void collector__sym_stats(const struct collector *c, uint64_t *out)
{
	memcpy(out, symcache__stats(c->symcache), SYM_STAT_MAX * sizeof(*out));
}

const struct symcache *collector__symcache(const struct collector *c)
{
	return c->symcache;
}

void collector__free(struct collector *c)
{
	struct proc_entry *e;
	size_t it = 0;

	if (!c)
		return;
	while (hashmap__next(&c->procs, &it, NULL, (void **)&e))
		proc_entry__free(e);
	hashmap__free(&c->procs);
	symcache__free(c->symcache); /* after every symbolizer */
	memo_clear(c);
	hashmap__free(&c->memo);
	for (int k = 0; k < PROFILE_KIND_MAX; k++)
		profile__free(&c->profiles[k]);
	free(c->st.buf);
	free(c);
}

/* Copies s into the stack's buffer; *ret_off gets its offset. */
static int copy_str(struct stack_frames *st, const char *s, uint32_t *ret_off)
{
	size_t len = strlen(s) + 1;

	if (st->used + len > st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 65536;
		char *nb;

		while (cap < st->used + len)
			cap *= 2;
		if (cap > UINT32_MAX)
			return -E2BIG;
		nb = realloc(st->buf, cap);
		if (!nb)
			return -ENOMEM;
		st->buf = nb;
		st->cap = cap;
	}
	memcpy(st->buf + st->used, s, len);
	*ret_off = (uint32_t)st->used;
	st->used += len;
	return 0;
}

/* Appends a frame (file: NULL but for Python) to the stack being built. */
static int push(struct collector *c, enum frame_kind kind, const char *name, const char *file,
		int64_t number)
{
	struct stack_frames *st = &c->st;
	int err;

	if (st->n >= MAX_STACK)
		return -E2BIG;
	st->f[st->n].kind = kind;
	st->f[st->n].number = number;
	st->f[st->n].file = UINT32_MAX;
	err = copy_str(st, name, &st->f[st->n].name);
	if (!err && file)
		err = copy_str(st, file, &st->f[st->n].file);
	if (!err)
		st->n++;
	return err;
}

static int push_marker(struct collector *c, const char *text)
{
	return push(c, FRAME_MARKER, text, NULL, 0);
}

/* Adds the stack built in c->st to profile kind with weight; *ret (if given) gets the
 * profile's stack, NULL when kind is not collected. */
static int add_to(struct collector *c, enum profile_kind kind, uint64_t weight,
		  struct profile_stack **ret)
{
	struct profile *p = &c->profiles[kind];
	const struct stack_frames *st = &c->st;

	if (ret)
		*ret = NULL;
	if (!(c->opts.kinds & (1u << kind)))
		return 0;
	for (uint32_t i = 0; i < st->n; i++) {
		const struct frame f = {
		    .kind = st->f[i].kind,
		    .name = st->buf + st->f[i].name,
		    .file = st->f[i].file == UINT32_MAX ? NULL : st->buf + st->f[i].file,
		    .number = st->f[i].number,
		};
		int64_t id = profile__intern_frame(p, &f);

		if (id < 0)
			return (int)id;
		c->st.ids[i] = (uint32_t)id;
	}
	return profile__add_stack(p, c->st.ids, c->st.n, weight, ret);
}

static const char *error_marker(uint32_t error)
{
	switch (error) {
	case METRIC_FRAME_READ_FAILED:
		return "[partial: frame read failed]";
	case METRIC_FRAME_CYCLE:
		return "[partial: frame cycle]";
	case METRIC_TSTATE_READ_FAILED:
		return "[error: thread state unreadable]";
	case METRIC_INTERP_READ_FAILED:
		return "[error: interpreter unreadable]";
	case METRIC_TARGET_INVALID:
		return "[error: no layout]";
	default:
		return "[partial: unknown error]";
	}
}

/* The agent's own frames at the leaf of a stack taken from a tracepoint (the BPF program and
 * the tracing glue that called it): not where the thread was. */
static int is_tracing_frame(const char *name)
{
	return name && (!strncmp(name, "bpf_", 4) || !strncmp(name, "__bpf_", 6) ||
			!strncmp(name, "__traceiter_", 12) || !strncmp(name, "trace_", 6));
}

static int push_kernel(struct collector *c, const struct sample_event *ev)
{
	const __u64 *kstack = sample_event__kstack(ev);
	int nk = ev->kstack_bytes > 0 ? ev->kstack_bytes / 8 : 0, leaf = 0, err = 0;

	if (nk > PYPROF_MAX_KSTACK)
		nk = PYPROF_MAX_KSTACK;
	if (c->ksyms && ev->kind != SAMPLE_ON_CPU) {
		/* a stack taken at the switch itself: what is leafward of __schedule is the
		 * tracepoint and this agent's program, not where the thread waits */
		for (int i = 0; i < nk; i++) {
			const char *name = kallsyms__name(c->ksyms, kstack[i]);

			if (name && !strcmp(name, "__schedule")) {
				leaf = i + 1;
				break;
			}
		}
	}
	while (c->ksyms && leaf < nk && is_tracing_frame(kallsyms__name(c->ksyms, kstack[leaf])))
		leaf++;
	for (int i = nk; !err && i-- > leaf;) {
		const char *name = c->ksyms ? kallsyms__name(c->ksyms, kstack[i]) : NULL;

		err = push(c, FRAME_KERNEL, name ? name : "[unknown]", NULL, 0);
	}
	return err;
}

/* The counters of incomplete stacks, by the record's flags. */
static void count_incomplete(struct collector *c, const struct sample_event *ev)
{
	if (ev->flags & SAMPLE_TRUNCATED)
		c->stats[COLL_STAT_TRUNCATED]++;
	if (ev->flags & SAMPLE_ERROR)
		c->stats[COLL_STAT_PARTIAL]++;
	if (ev->flags & SAMPLE_NO_TSTATE)
		c->stats[COLL_STAT_NO_TSTATE]++;
}

/* Builds the stack of a record in c->st: root, thread, container frames, markers, Python
 * frames, then for off-CPU records the state, and the kernel frames where wanted. */
static int build_stack(struct collector *c, struct proc_entry *e, const struct sample_event *ev)
{
	uint32_t nframes = ev->nframes;
	int off_cpu = ev->kind != SAMPLE_ON_CPU, err;

	count_incomplete(c, ev);

	c->st.n = 0;
	c->st.used = 0;
	err = push(c, FRAME_PROCESS, e->comm, NULL, e->proc->pid);
	if (!err && e->parent[0])
		err = push_marker(c, e->parent);
	if (!err && c->opts.threads) {
		char comm[17];

		memcpy(comm, ev->comm, 16);
		comm[16] = '\0';
		procfs__sanitize_comm(comm); /* the thread's own name, as the process's */
		err = push(c, FRAME_THREAD, comm, NULL, ev->tid);
	}
	for (uint32_t i = 0; !err && i < e->nwhere; i++)
		err = push(c, e->where[i].kind, e->where[i].name, NULL, 0);
	if (!err && (ev->flags & SAMPLE_TRUNCATED))
		err = push_marker(c, "[truncated]");
	if (!err && (ev->flags & SAMPLE_ERROR))
		err = push_marker(c, error_marker(ev->error));
	if (!err && (ev->flags & SAMPLE_NO_TSTATE) && !(ev->flags & SAMPLE_ERROR))
		err = push_marker(c, "[no Python thread state]");
	/* Python frames arrive innermost first; the profile wants the root first. */
	for (uint32_t i = nframes; !err && i-- > 0;) {
		struct frame_sym fs;

		if (symbolizer__resolve(e->sym, &ev->frames[i], &fs)) {
			c->stats[COLL_STAT_UNKNOWN_FRAMES]++;
			err = push_marker(c, "<unknown>");
			continue;
		}
		err = push(c, FRAME_PYTHON, fs.name, fs.filename, fs.line);
	}
	if (!err && off_cpu) {
		if (ev->flags & SAMPLE_GIL_WAIT)
			err = push_marker(c, "[waiting for GIL]");
		else
			err = push_marker(c, ev->flags & SAMPLE_RUNNABLE ? "[runnable]"
									 : "[sleeping]");
	}
	/* off-CPU stacks always carry their kernel reason; on-CPU ones when asked */
	if (!err && (off_cpu || c->opts.kernel))
		err = push_kernel(c, ev);
	return err;
}

/* Writes into c->memo_key what build_stack reads of a record; returns its words. */
static uint32_t memo_key(struct collector *c, const struct sample_event *ev)
{
	const uint32_t flags =
	    SAMPLE_TRUNCATED | SAMPLE_ERROR | SAMPLE_NO_TSTATE | SAMPLE_RUNNABLE | SAMPLE_GIL_WAIT;
	uint64_t *k = c->memo_key, off_cpu = ev->kind != SAMPLE_ON_CPU;
	uint32_t n = 0, nk = 0;

	if ((off_cpu || c->opts.kernel) && ev->kstack_bytes > 0)
		nk = (uint32_t)ev->kstack_bytes / 8;
	k[n++] = ev->pid | (c->opts.threads ? (uint64_t)ev->tid << 32 : 0);
	k[n++] = (ev->flags & flags) | (uint64_t)ev->error << 32;
	k[n++] = ev->nframes | (uint64_t)nk << 32 | off_cpu << 63;
	if (c->opts.threads) {
		memcpy(&k[n], ev->comm, sizeof(ev->comm));
		n += sizeof(ev->comm) / 8;
	}
	memcpy(&k[n], ev->frames, ev->nframes * sizeof(struct py_frame));
	n += ev->nframes * 2;
	memcpy(&k[n], sample_event__kstack(ev), nk * 8);
	return n + nk;
}

/* Adds the stack of record ev with weight to profile kind, and with wall_weight to the wall
 * profile, through the memo. */
static int add_stack(struct collector *c, struct proc_entry *e, const struct sample_event *ev,
		     enum profile_kind kind, uint64_t weight, uint64_t wall_weight)
{
	uint32_t nw = memo_key(c, ev);
	struct hkey k = {hash__words(c->memo_key, nw, 0), nw};
	struct memo *head = hashmap__get(&c->memo, k), *m;
	uint64_t unknown;
	size_t size;
	int err;

	for (m = head; m; m = m->next_same_hash) {
		if (m->nwords != nw || memcmp(m->key, c->memo_key, nw * 8))
			continue;
		count_incomplete(c, ev);
		c->stats[COLL_STAT_UNKNOWN_FRAMES] += m->unknown_frames;
		if (m->stacks[kind])
			profile__add_weight(&c->profiles[kind], m->stacks[kind], weight);
		if (m->stacks[PROFILE_WALL])
			profile__add_weight(&c->profiles[PROFILE_WALL], m->stacks[PROFILE_WALL],
					    wall_weight);
		return 0;
	}
	unknown = c->stats[COLL_STAT_UNKNOWN_FRAMES];
	size = sizeof(*m) + nw * 8;
	if (c->memo_bytes + size > MEMO_MAX_BYTES) {
		memo_clear(c);
		head = NULL;
	}
	m = calloc(1, size);
	if (!m)
		return -ENOMEM;
	err = build_stack(c, e, ev);
	if (!err)
		err = add_to(c, kind, weight, &m->stacks[kind]);
	if (!err)
		err = add_to(c, PROFILE_WALL, wall_weight, &m->stacks[PROFILE_WALL]);
	m->unknown_frames = c->stats[COLL_STAT_UNKNOWN_FRAMES] - unknown;
	for (uint32_t i = 0; i < ev->nframes && !c->memo_unchecked; i++) {
		/* a frame without its code check: only the per-second revalidation can tell */
		if (ev->frames[i].code && !(ev->frames[i].code >> PY_CODE_ADDR_BITS))
			c->memo_unchecked = 1;
	}
	m->nwords = nw;
	memcpy(m->key, c->memo_key, nw * 8);
	m->next_same_hash = head;
	if (err || hashmap__put(&c->memo, k, m, NULL)) {
		free(m); /* the record counted or not as before; only not remembered */
		return err;
	}
	c->memo_bytes += size;
	return 0;
}

static size_t record_size(const struct sample_event *ev)
{
	return SAMPLE_EVENT_HEADER_SIZE + (size_t)ev->nframes * sizeof(struct py_frame) +
	       (ev->kstack_bytes > 0 ? (size_t)ev->kstack_bytes : 0);
}

/* A runnable wait ended: its stack record (kept at preemption) gets the duration. */
static int on_runnable_duration(struct collector *c, struct proc_entry *e,
				const struct sample_event *dur)
{
	struct hkey k = {dur->tid, 0};
	struct sample_event *stack = hashmap__del(&e->runnable, k);
	int err;

	if (!stack || stack->time_ns != dur->time_ns) {
		c->stats[COLL_STAT_RUNNABLE_ORPHANS]++;
		free(stack);
		return 0;
	}
	err = add_stack(c, e, stack, PROFILE_OFFCPU, dur->weight / NS_PER_US,
			dur->weight / NS_PER_US);
	free(stack);
	if (!err)
		c->stats[COLL_STAT_SAMPLES]++;
	return err;
}

int collector__on_sample(void *ctx, const struct sample_event *ev, size_t size)
{
	struct collector *c = ctx;
	struct hkey k = {(uint64_t)ev->pid, 0};
	struct proc_entry *e = hashmap__get(&c->procs, k);
	int err;

	if (ev->nframes > PYPROF_MAX_FRAMES || ev->kstack_bytes > PYPROF_MAX_KSTACK * 8 ||
	    size < record_size(ev)) {
		c->stats[COLL_STAT_MALFORMED]++;
		return 0;
	}
	if (!e) {
		c->stats[COLL_STAT_UNKNOWN_PID]++;
		return 0;
	}
	switch (ev->kind) {
	case SAMPLE_ON_CPU:
		c->stats[COLL_STAT_ON_CPU]++;
		if ((ev->flags & SAMPLE_GIL_KNOWN) && (ev->flags & SAMPLE_GIL_HELD))
			c->stats[COLL_STAT_GIL_HELD]++;
		if (!(ev->flags & SAMPLE_GIL_KNOWN)) {
			c->stats[COLL_STAT_GIL_UNKNOWN]++;
		} else if (c->opts.gil_only && !(ev->flags & SAMPLE_GIL_HELD)) {
			c->stats[COLL_STAT_GIL_DROPPED]++;
			return 0;
		}
		err = add_stack(c, e, ev, PROFILE_CPU, ev->weight,
				ev->weight * 1000000ULL / c->opts.rate_hz);
		break;
	case SAMPLE_OFF_CPU:
		if (ev->flags & SAMPLE_STACK_ONLY) {
			/* kept until its duration arrives (or the next preemption replaces it) */
			struct hkey tk = {ev->tid, 0};
			struct sample_event *copy = malloc(record_size(ev));
			void *old = NULL;

			if (!copy)
				return -ENOMEM;
			memcpy(copy, ev, record_size(ev));
			err = hashmap__put(&e->runnable, tk, copy, &old);
			free(old);
			if (err)
				free(copy);
			return err;
		}
		err = add_stack(c, e, ev, PROFILE_OFFCPU, ev->weight / NS_PER_US,
				ev->weight / NS_PER_US);
		break;
	case SAMPLE_OFF_CPU_DURATION:
		return on_runnable_duration(c, e, ev);
	default:
		c->stats[COLL_STAT_MALFORMED]++;
		return 0;
	}
	if (err)
		return err;
	c->stats[COLL_STAT_SAMPLES]++;
	return 0;
}
