// SPDX-License-Identifier: MIT
/* Function table of `agentctl top`: interval and cumulative own/total weights per function and
 * per line, as py-spy's console viewer keeps them, from whole profiles instead of samples. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "profile/topview.h"

struct tv_counts {
	uint64_t own_now, total_now, own_all, total_all;
	uint64_t stamp; /* the last stack that counted this entry's total */
	uint32_t fn;	/* in the table of lines: the entry of its function */
};

/* Entries are the frames interned in keys (ids 0, 1, ...): a function is its frame with the
 * line set to 0, a line its frame as it is. */
struct tv_table {
	struct profile keys;
	struct tv_counts *c;
	size_t cap;
};

struct topview {
	int kernel;
	struct tv_table fns, lines;
	uint64_t stamp, weight_now, weight_all;
	size_t threads_now;
	struct topview_row *rows;
	size_t rows_cap;
};

static void table_init(struct tv_table *t)
{
	profile__init(&t->keys);
	t->c = NULL;
	t->cap = 0;
}

static void table_free(struct tv_table *t)
{
	profile__free(&t->keys);
	free(t->c);
}

/* The entry of frame f, created zeroed on first sight; or -ENOMEM. */
static int64_t table_entry(struct tv_table *t, const struct frame *f)
{
	int64_t id = profile__intern_frame(&t->keys, f);

	if (id < 0)
		return id;
	if ((size_t)id >= t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct tv_counts *bigger = realloc(t->c, cap * sizeof(*bigger));

		if (!bigger)
			return -ENOMEM;
		memset(bigger + t->cap, 0, (cap - t->cap) * sizeof(*bigger));
		t->c = bigger;
		t->cap = cap;
	}
	return id;
}

struct topview *topview__new(int kernel)
{
	struct topview *tv = calloc(1, sizeof(*tv));

	if (!tv)
		return NULL;
	tv->kernel = kernel;
	table_init(&tv->fns);
	table_init(&tv->lines);
	return tv;
}

void topview__free(struct topview *tv)
{
	if (!tv)
		return;
	table_free(&tv->fns);
	table_free(&tv->lines);
	free(tv->rows);
	free(tv);
}

void topview__reset(struct topview *tv)
{
	table_free(&tv->fns);
	table_free(&tv->lines);
	table_init(&tv->fns);
	table_init(&tv->lines);
	tv->weight_now = tv->weight_all = 0;
	tv->threads_now = 0;
}

static int is_function(const struct topview *tv, enum frame_kind kind)
{
	switch (kind) {
	case FRAME_PYTHON:
	case FRAME_NATIVE:
		return 1;
	case FRAME_KERNEL:
		return tv->kernel;
	default:
		return 0; /* process, thread, container, markers; and kinds added later */
	}
}

/* The entries of frame f in both tables (*ret_line's function is *ret_fn), -ENOENT for frames
 * that are not functions, or -ENOMEM. */
static int entries_of(struct topview *tv, const struct frame *f, int64_t *ret_fn, int64_t *ret_line)
{
	struct frame fn = *f;
	int64_t a, b;

	if (!is_function(tv, f->kind))
		return -ENOENT;
	if (fn.kind == FRAME_PYTHON)
		fn.number = 0;
	a = table_entry(&tv->fns, &fn);
	if (a < 0)
		return (int)a;
	b = table_entry(&tv->lines, f);
	if (b < 0)
		return (int)b;
	tv->lines.c[b].fn = (uint32_t)a;
	*ret_fn = a;
	*ret_line = b;
	return 0;
}

static void count_total(struct tv_counts *c, uint64_t stamp, uint64_t w)
{
	if (c->stamp == stamp)
		return; /* recursion: once per stack */
	c->stamp = stamp;
	c->total_now += w;
	c->total_all += w;
}

static void count_own(struct tv_counts *c, uint64_t w)
{
	c->own_now += w;
	c->own_all += w;
}

static void clear_now(struct tv_table *t)
{
	for (size_t i = 0; i < t->keys.nframes; i++)
		t->c[i].own_now = t->c[i].total_now = 0;
}

#define UNSEEN INT64_MIN

int topview__add(struct topview *tv, const struct profile *p)
{
	size_t nf = p->nframes ? p->nframes : 1, it = 0;
	int64_t *fn = malloc(nf * sizeof(*fn)), *line = malloc(nf * sizeof(*line));
	unsigned char *thread_seen = calloc(nf, 1);
	struct profile_stack *s;
	int err = 0;

	if (!fn || !line || !thread_seen) {
		err = -ENOMEM;
		goto out;
	}
	clear_now(&tv->fns);
	clear_now(&tv->lines);
	tv->weight_now = 0;
	tv->threads_now = 0;
	/* the entries of each of p's frames, looked up where the frame is first met */
	for (size_t i = 0; i < p->nframes; i++)
		fn[i] = UNSEEN;
	while (hashmap__next(&p->stacks, &it, NULL, (void **)&s)) {
		for (; s; s = s->next_same_hash) {
			int64_t own_fn = -1, own_line = -1;

			if (!s->weight)
				continue;
			tv->stamp++;
			for (uint32_t d = 0; d < s->n; d++) {
				uint32_t id = s->ids[d];
				const struct frame *f = &p->frames[id];

				if (f->kind == FRAME_THREAD && !thread_seen[id]) {
					thread_seen[id] = 1;
					tv->threads_now++;
				}
				if (fn[id] == UNSEEN) {
					err = entries_of(tv, f, &fn[id], &line[id]);
					if (err == -ENOENT)
						fn[id] = line[id] = -1;
					else if (err)
						goto out;
					err = 0;
				}
				if (fn[id] < 0)
					continue;
				count_total(&tv->fns.c[fn[id]], tv->stamp, s->weight);
				count_total(&tv->lines.c[line[id]], tv->stamp, s->weight);
				own_fn = fn[id];
				own_line = line[id];
			}
			/* own: the innermost function (markers and left-out kernel frames may be
			 * leafward of it) */
			if (own_fn >= 0) {
				count_own(&tv->fns.c[own_fn], s->weight);
				count_own(&tv->lines.c[own_line], s->weight);
			}
			tv->weight_now += s->weight;
			tv->weight_all += s->weight;
		}
	}
out:
	free(fn);
	free(line);
	free(thread_seen);
	return err;
}

static uint64_t value_of(const struct topview_row *r, enum topview_key key)
{
	switch (key) {
	case TOPVIEW_OWN_NOW:
		return r->own_now;
	case TOPVIEW_TOTAL_NOW:
		return r->total_now;
	case TOPVIEW_OWN_ALL:
		return r->own_all;
	default:
		return r->total_all;
	}
}

struct sort_ctx {
	enum topview_key key;
	int reverse;
};

static int cmp_rows(const void *a, const void *b, void *ctx)
{
	const struct topview_row *x = a, *y = b;
	const struct sort_ctx *sc = ctx;
	uint64_t vx = value_of(x, sc->key), vy = value_of(y, sc->key);
	int c;

	if (vx != vy)
		return (vx > vy ? -1 : 1) * (sc->reverse ? -1 : 1);
	/* equal totals: callers (less own) first; equal owns: more total first */
	vx = value_of(x, sc->key ^ 1);
	vy = value_of(y, sc->key ^ 1);
	if (vx != vy)
		return (vx < vy ? -1 : 1) * (sc->key & 1 ? 1 : -1);
	c = strcmp(x->name, y->name);
	if (!c)
		c = strcmp(x->file ? x->file : "", y->file ? y->file : "");
	if (!c && x->line != y->line)
		c = x->line < y->line ? -1 : 1;
	return c;
}

/* Whether line entry a has more own weight than b, else more total. */
static int hotter(const struct tv_counts *a, const struct tv_counts *b)
{
	return a->own_all != b->own_all ? a->own_all > b->own_all : a->total_all > b->total_all;
}

int topview__rows(struct topview *tv, enum topview_key key, int reverse, int by_line,
		  const struct topview_row **ret_rows, size_t *ret_n)
{
	const struct tv_table *t = by_line ? &tv->lines : &tv->fns;
	size_t n = t->keys.nframes;
	uint32_t *hot = NULL;
	struct sort_ctx sc = {key, reverse};

	if (n > tv->rows_cap) {
		struct topview_row *bigger = realloc(tv->rows, n * sizeof(*bigger));

		if (!bigger)
			return -ENOMEM;
		tv->rows = bigger;
		tv->rows_cap = n;
	}
	if (!by_line && n) {
		/* each function's hottest line */
		hot = malloc(n * sizeof(*hot));
		if (!hot)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++)
			hot[i] = UINT32_MAX;
		for (uint32_t l = 0; l < tv->lines.keys.nframes; l++) {
			uint32_t f = tv->lines.c[l].fn;

			if (hot[f] == UINT32_MAX || hotter(&tv->lines.c[l], &tv->lines.c[hot[f]]))
				hot[f] = l;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct frame *f = &t->keys.frames[i];
		const struct tv_counts *c = &t->c[i];
		struct topview_row *r = &tv->rows[i];

		r->kind = f->kind;
		r->name = f->name;
		r->file = f->kind == FRAME_PYTHON ? f->file : NULL;
		r->line = -1;
		if (f->kind == FRAME_PYTHON)
			r->line = by_line || hot[i] == UINT32_MAX
				      ? f->number
				      : tv->lines.keys.frames[hot[i]].number;
		r->own_now = c->own_now;
		r->total_now = c->total_now;
		r->own_all = c->own_all;
		r->total_all = c->total_all;
	}
	free(hot);
	if (n) /* rows is NULL before the first function */
		qsort_r(tv->rows, n, sizeof(*tv->rows), cmp_rows, &sc);
	*ret_rows = tv->rows;
	*ret_n = n;
	return 0;
}

uint64_t topview__weight_now(const struct topview *tv)
{
	return tv->weight_now;
}

uint64_t topview__weight_all(const struct topview *tv)
{
	return tv->weight_all;
}

size_t topview__threads_now(const struct topview *tv)
{
	return tv->threads_now;
}
