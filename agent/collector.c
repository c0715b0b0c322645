// SPDX-License-Identifier: MIT
/* Sample -> folded stack. Frame names: "qualname (file:line)" for Python, "name_[k]" for the
 * kernel, "[...]" for markers, so a reader can tell each kind apart. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "collector.h"
#include "procfs.h"

#define MAX_STACK_IDS (PYPROF_MAX_FRAMES + PYPROF_MAX_KSTACK + 8)

const char *const collector_stat_names[COLL_STAT_MAX] = {
    [COLL_STAT_SAMPLES] = "samples",
    [COLL_STAT_MALFORMED] = "malformed_records",
    [COLL_STAT_UNKNOWN_PID] = "unknown_pid",
    [COLL_STAT_PARTIAL] = "partial_stacks",
    [COLL_STAT_TRUNCATED] = "truncated_stacks",
    [COLL_STAT_NO_TSTATE] = "no_thread_state",
    [COLL_STAT_UNKNOWN_FRAMES] = "unknown_frames",
};

struct proc_entry {
	struct pyproc *proc;
	struct symbolizer *sym;
	char comm[64];
	int64_t root_id; /* frame id of "COMM (PID)" */
};

struct collector {
	struct collector_opts opts;
	const struct kallsyms *ksyms;
	struct profile profile;
	struct hashmap procs; /* pid -> proc_entry */
	uint32_t *ids;	      /* scratch stack */
	uint64_t stats[COLL_STAT_MAX];
};

struct collector *collector__new(const struct collector_opts *opts, const struct kallsyms *ksyms)
{
	struct collector *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ids = calloc(MAX_STACK_IDS, sizeof(*c->ids));
	if (!c->ids) {
		free(c);
		return NULL;
	}
	c->opts = *opts;
	c->ksyms = ksyms;
	profile__init(&c->profile);
	hashmap__init(&c->procs);
	return c;
}

static void proc_entry__free(struct proc_entry *e)
{
	if (!e)
		return;
	symbolizer__free(e->sym);
	pyproc__free(e->proc);
	free(e);
}

int collector__add_process(struct collector *c, struct pyproc *p)
{
	struct proc_entry *e = calloc(1, sizeof(*e)), *old = NULL;
	struct hkey k = {(uint64_t)p->pid, 0};
	char root[128];
	int err;

	if (!e)
		return -ENOMEM;
	e->proc = p;
	e->sym = symbolizer__new(p->pid, &p->offsets, p->code_type_addr);
	if (!e->sym) {
		free(e);
		return -ENOMEM;
	}
	procfs__comm(p->pid, 0, e->comm, sizeof(e->comm));
	snprintf(root, sizeof(root), "%s (%d)", e->comm, p->pid);
	e->root_id = profile__frame(&c->profile, root);
	if (e->root_id < 0) {
		err = (int)e->root_id;
		goto fail;
	}
	err = hashmap__put(&c->procs, k, e, (void **)&old);
	if (err)
		goto fail;
	proc_entry__free(old);
	return 0;
fail:
	e->proc = NULL; /* the caller keeps p on failure */
	proc_entry__free(e);
	return err;
}

void collector__forget(struct collector *c, pid_t pid)
{
	struct hkey k = {(uint64_t)pid, 0};

	proc_entry__free(hashmap__del(&c->procs, k));
}

void collector__tick(struct collector *c)
{
	struct proc_entry *e;
	size_t it = 0;

	while (hashmap__next(&c->procs, &it, NULL, (void **)&e))
		symbolizer__tick(e->sym);
}

struct profile *collector__profile(struct collector *c)
{
	return &c->profile;
}

const uint64_t *collector__stats(const struct collector *c)
{
	return c->stats;
}

void collector__sym_stats(const struct collector *c, uint64_t *out)
{
	struct proc_entry *e;
	size_t it = 0;

	memset(out, 0, SYM_STAT_MAX * sizeof(*out));
	while (hashmap__next(&c->procs, &it, NULL, (void **)&e)) {
		const uint64_t *s = symbolizer__stats(e->sym);

		for (int i = 0; i < SYM_STAT_MAX; i++)
			out[i] += s[i];
	}
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
	profile__free(&c->profile);
	free(c->ids);
	free(c);
}

static int push(struct collector *c, uint32_t *n, int64_t id)
{
	if (id < 0)
		return (int)id;
	if (*n >= MAX_STACK_IDS)
		return -E2BIG;
	c->ids[(*n)++] = (uint32_t)id;
	return 0;
}

static int push_str(struct collector *c, uint32_t *n, const char *s)
{
	return push(c, n, profile__frame(&c->profile, s));
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

int collector__on_sample(void *ctx, const struct sample_event *ev, size_t size)
{
	struct collector *c = ctx;
	struct hkey k = {(uint64_t)ev->pid, 0};
	struct proc_entry *e = hashmap__get(&c->procs, k);
	uint32_t n = 0, nframes = ev->nframes;
	char buf[1536];
	int err = 0;

	if (nframes > PYPROF_MAX_FRAMES || ev->kstack_bytes > PYPROF_MAX_KSTACK * 8 ||
	    size < SAMPLE_EVENT_HEADER_SIZE + (size_t)nframes * sizeof(struct py_frame) +
			   (ev->kstack_bytes > 0 ? (size_t)ev->kstack_bytes : 0)) {
		c->stats[COLL_STAT_MALFORMED]++;
		return 0;
	}
	if (!e) {
		c->stats[COLL_STAT_UNKNOWN_PID]++;
		return 0;
	}
	err = push(c, &n, e->root_id);
	if (!err && c->opts.threads) {
		char comm[17];

		memcpy(comm, ev->comm, 16);
		comm[16] = '\0';
		snprintf(buf, sizeof(buf), "thread %u (%s)", ev->tid, comm);
		err = push_str(c, &n, buf);
	}
	if (!err && (ev->flags & SAMPLE_TRUNCATED)) {
		c->stats[COLL_STAT_TRUNCATED]++;
		err = push_str(c, &n, "[truncated]");
	}
	if (!err && (ev->flags & SAMPLE_ERROR)) {
		c->stats[COLL_STAT_PARTIAL]++;
		err = push_str(c, &n, error_marker(ev->error));
	}
	if (!err && (ev->flags & SAMPLE_NO_TSTATE)) {
		c->stats[COLL_STAT_NO_TSTATE]++;
		if (!(ev->flags & SAMPLE_ERROR))
			err = push_str(c, &n, "[no Python thread state]");
	}
	/* Python frames arrive innermost first; the profile wants the root first. */
	for (uint32_t i = nframes; !err && i-- > 0;) {
		struct frame_sym fs;

		if (symbolizer__resolve(e->sym, &ev->frames[i], &fs)) {
			c->stats[COLL_STAT_UNKNOWN_FRAMES]++;
			err = push_str(c, &n, "<unknown>");
			continue;
		}
		snprintf(buf, sizeof(buf), "%s (%s:%d)", fs.name, fs.filename, fs.line);
		err = push_str(c, &n, buf);
	}
	if (!err && c->opts.kernel && ev->kstack_bytes > 0) {
		const __u64 *kstack = sample_event__kstack(ev);
		int nk = ev->kstack_bytes / 8;

		if (nk > PYPROF_MAX_KSTACK)
			nk = PYPROF_MAX_KSTACK;
		for (int i = nk; !err && i-- > 0;) {
			const char *name =
			    c->ksyms ? kallsyms__name(c->ksyms, kstack[i]) : NULL;

			snprintf(buf, sizeof(buf), "%s_[k]", name ? name : "[unknown]");
			err = push_str(c, &n, buf);
		}
	}
	if (!err)
		err = profile__add(&c->profile, c->ids, n, ev->weight);
	if (err)
		return err;
	c->stats[COLL_STAT_SAMPLES]++;
	return 0;
}
