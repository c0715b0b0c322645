// SPDX-License-Identifier: MIT
/* Function-level comparison of two profiles, for `agentctl diff` and its CI gate. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "profile/diff.h"
#include "profile/frame.h"

#define DIFF_EPSILON 0.005 /* percentage points below which a change is not reported */

struct diff_acc {
	uint64_t self[2], total[2];
	uint64_t stamp; /* the last stack that counted this function's total */
};

struct diff_builder {
	struct diff *d;
	struct diff_acc *acc;
	size_t cap;
	uint64_t stamp;
};

/* The function of a frame, without its line: "qualname (file)" for Python, its text otherwise. */
static size_t function_name(const struct frame *f, char *buf, size_t size)
{
	int n;

	if (f->kind != FRAME_PYTHON)
		return frame__format(f, buf, size);
	n = snprintf(buf, size, "%s (%s)", f->name, f->file);
	return n < 0 ? 0 : (size_t)n;
}

static int64_t function_of(struct diff_builder *b, const struct frame *f)
{
	char small[1200], *buf = small;
	size_t need;
	int64_t id;

	if (f->kind == FRAME_PROCESS || f->kind == FRAME_THREAD || f->kind == FRAME_CONTAINER)
		return -ENOENT;
	need = function_name(f, small, sizeof(small));
	if (need >= sizeof(small)) {
		buf = malloc(need + 1);
		if (!buf)
			return -ENOMEM;
		function_name(f, buf, need + 1);
	}
	id = strtab__intern(&b->d->names, buf);
	if (buf != small)
		free(buf);
	if (id < 0)
		return id;
	if ((size_t)id >= b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		struct diff_acc *bigger = realloc(b->acc, cap * sizeof(*bigger));

		if (!bigger)
			return -ENOMEM;
		memset(bigger + b->cap, 0, (cap - b->cap) * sizeof(*bigger));
		b->acc = bigger;
		b->cap = cap;
	}
	return id;
}

static int add_profile(struct diff_builder *b, const struct profile *p, int which)
{
	int64_t *fn = malloc((p->nframes ? p->nframes : 1) * sizeof(*fn));
	struct profile_stack *s;
	size_t it = 0;

	if (!fn)
		return -ENOMEM;
	/* the function of each frame, found where the frame is first met: INT64_MIN before, then
	 * its id or -ENOENT for frames left out */
	for (size_t i = 0; i < p->nframes; i++)
		fn[i] = INT64_MIN;
	while (hashmap__next(&p->stacks, &it, NULL, (void **)&s)) {
		for (; s; s = s->next_same_hash) {
			if (!s->weight)
				continue;
			b->stamp++;
			for (uint32_t d = 0; d < s->n; d++) {
				int64_t f = fn[s->ids[d]];

				if (f == INT64_MIN) {
					f = function_of(b, &p->frames[s->ids[d]]);
					if (f < 0 && f != -ENOENT) {
						free(fn);
						return (int)f;
					}
					fn[s->ids[d]] = f;
				}
				if (f < 0)
					continue;
				if (b->acc[f].stamp != b->stamp) {
					b->acc[f].stamp = b->stamp;
					b->acc[f].total[which] += s->weight;
				}
				if (d == s->n - 1)
					b->acc[f].self[which] += s->weight;
			}
		}
	}
	free(fn);
	return 0;
}

int diff__compute(const struct profile *base, const struct profile *new, struct diff *ret)
{
	struct diff_builder b = {.d = ret};
	int err;

	memset(ret, 0, sizeof(*ret));
	strtab__init(&ret->names);
	if (!base->total || !new->total)
		return -ENODATA;
	ret->base_weight = base->total;
	ret->new_weight = new->total;
	err = add_profile(&b, base, 0);
	if (!err)
		err = add_profile(&b, new, 1);
	if (err)
		goto out;
	ret->n = ret->names.n;
	ret->fns = calloc(ret->n ? ret->n : 1, sizeof(*ret->fns));
	if (!ret->fns) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ret->n; i++) {
		struct diff_function *f = &ret->fns[i];

		f->name = strtab__str(&ret->names, i);
		f->base_self = 100.0 * b.acc[i].self[0] / base->total;
		f->base_total = 100.0 * b.acc[i].total[0] / base->total;
		f->new_self = 100.0 * b.acc[i].self[1] / new->total;
		f->new_total = 100.0 * b.acc[i].total[1] / new->total;
	}
out:
	free(b.acc);
	return err;
}

void diff__free(struct diff *d)
{
	if (!d)
		return;
	free(d->fns);
	strtab__free(&d->names);
	memset(d, 0, sizeof(*d));
}

const struct diff_function *diff__max_growth(const struct diff *d)
{
	const struct diff_function *best = NULL;

	for (size_t i = 0; i < d->n; i++) {
		const struct diff_function *f = &d->fns[i];

		if (f->new_total - f->base_total <= 0)
			continue;
		if (!best || f->new_total - f->base_total > best->new_total - best->base_total)
			best = f;
	}
	return best;
}

static double key_of(const struct diff_function *f, enum diff_order order)
{
	switch (order) {
	case DIFF_TOTAL_GREW:
		return f->new_total - f->base_total;
	case DIFF_TOTAL_SHRANK:
		return f->base_total - f->new_total;
	case DIFF_SELF_GREW:
		return f->new_self - f->base_self;
	default:
		return f->base_self - f->new_self;
	}
}

static int cmp_fns(const void *a, const void *b, void *ctx)
{
	const struct diff_function *x = *(const struct diff_function *const *)a;
	const struct diff_function *y = *(const struct diff_function *const *)b;
	enum diff_order order = *(const enum diff_order *)ctx;
	double kx = key_of(x, order), ky = key_of(y, order);

	if (kx != ky)
		return kx > ky ? -1 : 1;
	return strcmp(x->name, y->name);
}

size_t diff__rank(const struct diff *d, enum diff_order order, size_t top,
		  const struct diff_function **sorted)
{
	size_t shown = 0;

	for (size_t i = 0; i < d->n; i++)
		sorted[i] = &d->fns[i];
	qsort_r(sorted, d->n, sizeof(*sorted), cmp_fns, &order);
	while (shown < d->n && shown < top && key_of(sorted[shown], order) >= DIFF_EPSILON)
		shown++;
	return shown;
}

static void write_section(const struct diff *d, const struct diff_function **sorted,
			  enum diff_order order, size_t top, FILE *out)
{
	static const char *const titles[] = {
	    [DIFF_TOTAL_GREW] = "Total share grew the most",
	    [DIFF_TOTAL_SHRANK] = "Total share shrank the most",
	    [DIFF_SELF_GREW] = "Self share grew the most",
	    [DIFF_SELF_SHRANK] = "Self share shrank the most",
	};
	size_t shown = diff__rank(d, order, top, sorted);

	fprintf(out, "\n%s:\n", titles[order]);
	fprintf(out, "  %9s %9s  %18s  %18s  %s\n", "total", "self", "total base -> new",
		"self base -> new", "function");
	for (size_t i = 0; i < shown; i++) {
		const struct diff_function *f = sorted[i];

		fprintf(out, "  %+7.2fpp %+7.2fpp  %6.2f%% -> %6.2f%%  %6.2f%% -> %6.2f%%  %s\n",
			f->new_total - f->base_total, f->new_self - f->base_self, f->base_total,
			f->new_total, f->base_self, f->new_self, f->name);
	}
	if (!shown)
		fputs("  (none)\n", out);
}

int diff__write_text(const struct diff *d, size_t top, FILE *out)
{
	const struct diff_function **sorted = calloc(d->n ? d->n : 1, sizeof(*sorted));

	if (!sorted)
		return -ENOMEM;
	fprintf(out,
		"base: %llu, new: %llu (weights). Shares are percent of each profile's total;\n"
		"a function is 'qualname (file)' for Python, lines aggregated; changes in\n"
		"percentage points (pp). total: anywhere in the stack; self: the leaf.\n",
		(unsigned long long)d->base_weight, (unsigned long long)d->new_weight);
	for (enum diff_order order = DIFF_TOTAL_GREW; order <= DIFF_SELF_SHRANK; order++)
		write_section(d, sorted, order, top, out);
	free(sorted);
	return ferror(out) ? -EIO : 0;
}
