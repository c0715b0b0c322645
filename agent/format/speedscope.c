// SPDX-License-Identifier: MIT
/* speedscope JSON: stacks grouped by thread (or process) into "sampled" profiles over one shared
 * frame list. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "profile/frame.h"
#include "format/json.h"
#include "util/hashmap.h"
#include "format/speedscope.h"

#define SPEEDSCOPE_SCHEMA "https://www.speedscope.app/file-format-schema.json"

struct ss_group {
	uint32_t skip; /* leading frames that name the group: 0, root, or root and thread */
	uint32_t root, thread;
	int64_t tid;
	uint64_t total;
	size_t nstacks, cap;
	const struct profile_stack **stacks;
};

static int cmp_groups(const void *a, const void *b, void *ctx)
{
	const struct ss_group *x = *(const struct ss_group *const *)a;
	const struct ss_group *y = *(const struct ss_group *const *)b;
	const struct profile *sort_profile = ctx;
	char ta[PROFILE_NAME_MAX + 32], tb[PROFILE_NAME_MAX + 32]; /* a root's whole text */
	int c;

	if (x->skip != y->skip)
		return x->skip < y->skip ? -1 : 1;
	if (x->skip) {
		frame__format(profile__frame_at(sort_profile, x->root), ta, sizeof(ta));
		frame__format(profile__frame_at(sort_profile, y->root), tb, sizeof(tb));
		c = strcmp(ta, tb);
		if (c)
			return c;
	}
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* How many leading frames name the group: a process frame and a thread frame below it. */
static uint32_t group_frames(const struct profile *p, const struct profile_stack *s,
			     int64_t *ret_tid)
{
	const struct frame *f;

	*ret_tid = 0;
	if (!s->n || profile__frame_at(p, s->ids[0])->kind != FRAME_PROCESS)
		return 0;
	if (s->n < 2)
		return 1;
	f = profile__frame_at(p, s->ids[1]);
	if (f->kind != FRAME_THREAD)
		return 1;
	*ret_tid = f->number;
	return 2;
}

/* The text of f (frame.h), malloc'ed; NULL if out of memory. */
static char *frame_text(const struct frame *f)
{
	size_t n = frame__format(f, NULL, 0);
	char *text = malloc(n + 1);

	if (text)
		frame__format(f, text, n + 1);
	return text;
}

/* Python frames as name, file and line; the others by their text. */
static int write_frame(FILE *out, const struct frame *f)
{
	char *text;
	int err;

	if (f->kind == FRAME_PYTHON) {
		fputs("{\"name\":", out);
		json__string(out, f->name);
		fputs(",\"file\":", out);
		err = json__string(out, f->file);
		fprintf(out, ",\"line\":%lld}", (long long)f->number);
		return err;
	}
	text = frame_text(f);
	if (!text)
		return -ENOMEM;
	fputs("{\"name\":", out);
	err = json__string(out, text);
	putc('}', out);
	free(text);
	return err;
}

int speedscope__write(const struct profile *p, const struct profile_meta *meta, FILE *out)
{
	struct ss_group **groups = NULL, *g;
	struct hashmap index;
	size_t ngroups = 0, groups_cap = 0, it = 0, nframes = 0, active = 0;
	int64_t *frame_idx = NULL;
	struct profile_stack *s;
	int err = 0;

	hashmap__init(&index);
	frame_idx = malloc((p->nframes ? p->nframes : 1) * sizeof(*frame_idx));
	if (!frame_idx)
		return -ENOMEM;
	for (size_t i = 0; i < p->nframes; i++)
		frame_idx[i] = -1;

	while (hashmap__next(&p->stacks, &it, NULL, (void **)&s)) {
		for (; s; s = s->next_same_hash) {
			struct hkey k;
			uint32_t skip;
			int64_t tid;

			if (!s->weight)
				continue;
			skip = group_frames(p, s, &tid);
			k.a = skip ? s->ids[0] + 1ULL : 0;
			k.b = skip > 1 ? s->ids[1] + 1ULL : 0;
			g = hashmap__get(&index, k);
			if (!g) {
				if (ngroups == groups_cap) {
					size_t cap = groups_cap ? groups_cap * 2 : 16;
					struct ss_group **bigger =
					    realloc(groups, cap * sizeof(*groups));

					if (!bigger) {
						err = -ENOMEM;
						goto out;
					}
					groups = bigger;
					groups_cap = cap;
				}
				g = calloc(1, sizeof(*g));
				if (!g) {
					err = -ENOMEM;
					goto out;
				}
				groups[ngroups++] = g;
				g->skip = skip;
				g->root = s->ids[0];
				g->thread = skip > 1 ? s->ids[1] : 0;
				g->tid = tid;
				err = hashmap__put(&index, k, g, NULL);
				if (err)
					goto out;
			}
			if (g->nstacks == g->cap) {
				size_t cap = g->cap ? g->cap * 2 : 64;
				const struct profile_stack **bigger =
				    realloc(g->stacks, cap * sizeof(*bigger));

				if (!bigger) {
					err = -ENOMEM;
					goto out;
				}
				g->stacks = bigger;
				g->cap = cap;
			}
			g->stacks[g->nstacks++] = s;
			g->total += s->weight;
		}
	}
	if (ngroups)
		qsort_r(groups, ngroups, sizeof(*groups), cmp_groups, (void *)p);
	for (size_t i = 0; i < ngroups; i++)
		if (groups[i]->total > groups[active]->total)
			active = i;

	/* Shared frames, numbered in order of first use. */
	fprintf(out,
		"{\"$schema\":\"%s\",\"exporter\":\"pyprof-agent\",\"name\":", SPEEDSCOPE_SCHEMA);
	if (meta->title) {
		json__string(out, meta->title);
	} else {
		char name[32];

		snprintf(name, sizeof(name), "%s profile", profile__kind_name(meta->kind));
		json__string(out, name);
	}
	fprintf(out, ",\"activeProfileIndex\":%zu,\n\"shared\":{\"frames\":[", active);
	for (size_t i = 0; i < ngroups; i++) {
		g = groups[i];
		for (size_t j = 0; j < g->nstacks; j++) {
			const struct profile_stack *st = g->stacks[j];
			uint32_t from = g->skip < st->n ? g->skip : st->n - 1;

			for (uint32_t d = from; d < st->n; d++) {
				if (frame_idx[st->ids[d]] >= 0)
					continue;
				frame_idx[st->ids[d]] = nframes;
				if (nframes++)
					putc(',', out);
				putc('\n', out);
				err = write_frame(out, profile__frame_at(p, st->ids[d]));
				if (err)
					goto out;
			}
		}
	}
	fputs("]},\n\"profiles\":[", out);
	for (size_t i = 0; i < ngroups; i++) {
		g = groups[i];
		fprintf(out, "%s\n{\"type\":\"sampled\",\"name\":", i ? "," : "");
		if (g->skip) {
			/* named by the text of its root, and of its thread */
			char *r = frame_text(profile__frame_at(p, g->root));
			char *t = g->skip == 2 ? frame_text(profile__frame_at(p, g->thread)) : NULL;
			char *name = r && (t || g->skip < 2)
					 ? malloc(strlen(r) + (t ? strlen(t) : 0) + 2)
					 : NULL;

			if (name && t)
				sprintf(name, "%s %s", r, t);
			else if (name)
				strcpy(name, r);
			free(r);
			free(t);
			if (!name) {
				err = -ENOMEM;
				goto out;
			}
			json__string(out, name);
			free(name);
		} else {
			json__string(out, "all stacks");
		}
		fprintf(out, ",\"unit\":\"%s\",\"startValue\":0,\"endValue\":%llu,\"samples\":[",
			meta->kind == PROFILE_CPU ? "none" : "microseconds",
			(unsigned long long)g->total);
		for (size_t j = 0; j < g->nstacks; j++) {
			const struct profile_stack *st = g->stacks[j];
			uint32_t from = g->skip < st->n ? g->skip : st->n - 1;

			fputs(j ? ",[" : "[", out);
			for (uint32_t d = from; d < st->n; d++)
				fprintf(out, d > from ? ",%lld" : "%lld",
					(long long)frame_idx[st->ids[d]]);
			putc(']', out);
		}
		fputs("],\"weights\":[", out);
		for (size_t j = 0; j < g->nstacks; j++)
			fprintf(out, j ? ",%llu" : "%llu",
				(unsigned long long)g->stacks[j]->weight);
		fputs("]}", out);
	}
	fputs("\n]}\n", out);
	if (ferror(out))
		err = -EIO;
out:
	for (size_t i = 0; i < ngroups; i++) {
		free(groups[i]->stacks);
		free(groups[i]);
	}
	free(groups);
	free(frame_idx);
	hashmap__free(&index);
	return err;
}
