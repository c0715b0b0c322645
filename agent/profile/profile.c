// SPDX-License-Identifier: MIT
/* Stack aggregation and folded output (Brendan Gregg's format: one line per distinct stack). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "profile/profile.h"

void profile__init(struct profile *p)
{
	memset(p, 0, sizeof(*p));
	strtab__init(&p->strs);
	hashmap__init(&p->stacks);
}

void profile__free(struct profile *p)
{
	struct profile_stack *s;
	size_t it = 0;

	while (hashmap__next(&p->stacks, &it, NULL, (void **)&s)) {
		while (s) {
			struct profile_stack *next = s->next_same_hash;

			free(s);
			s = next;
		}
	}
	hashmap__free(&p->stacks);
	strtab__free(&p->strs);
}

int64_t profile__frame(struct profile *p, const char *name)
{
	char buf[1024];
	size_t i;

	for (i = 0; name[i] && i < sizeof(buf) - 1; i++) {
		char c = name[i];

		buf[i] = (c == ';' || c == '\n' || c == '\r') ? '?' : c;
	}
	buf[i] = '\0';
	return strtab__intern(&p->strs, buf);
}

int profile__add_stack(struct profile *p, const uint32_t *ids, uint32_t n, uint64_t weight,
		       struct profile_stack **ret)
{
	struct hkey k = {hash__bytes(ids, n * sizeof(*ids), 0), n};
	struct profile_stack *head = hashmap__get(&p->stacks, k), *s;
	int err;

	for (s = head; s; s = s->next_same_hash) {
		if (s->n == n && !memcmp(s->ids, ids, n * sizeof(*ids)))
			goto found;
	}
	s = malloc(sizeof(*s) + n * sizeof(*ids));
	if (!s)
		return -ENOMEM;
	s->next_same_hash = head;
	s->weight = 0;
	s->n = n;
	memcpy(s->ids, ids, n * sizeof(*ids));
	err = hashmap__put(&p->stacks, k, s, NULL);
	if (err) {
		free(s);
		return err;
	}
	p->nstacks++;
found:
	profile__add_weight(p, s, weight);
	if (ret)
		*ret = s;
	return 0;
}

int profile__add(struct profile *p, const uint32_t *ids, uint32_t n, uint64_t weight)
{
	return profile__add_stack(p, ids, n, weight, NULL);
}

/* The byte at position *at of stack s's folded text ("f0;f1;...;fn"), moving *at on: frame
 * names are walked in place, never joined into a string. */
struct text_pos {
	uint32_t frame;
	const char *c; /* in the current frame's name, NULL before the first read */
};

static int next_char(const struct profile *p, const struct profile_stack *s, struct text_pos *at)
{
	if (at->frame >= s->n)
		return 0;
	if (!at->c)
		at->c = strtab__str(&p->strs, s->ids[at->frame]);
	if (*at->c)
		return (unsigned char)*at->c++;
	at->c = NULL;
	return ++at->frame < s->n ? ';' : 0;
}

/* Orders stacks as strcmp orders their folded lines. */
static int cmp_stacks(const void *a, const void *b, void *ctx)
{
	const struct profile_stack *x = *(const struct profile_stack *const *)a;
	const struct profile_stack *y = *(const struct profile_stack *const *)b;
	struct text_pos px = {0}, py = {0};
	int cx, cy;

	do {
		cx = next_char(ctx, x, &px);
		cy = next_char(ctx, y, &py);
	} while (cx == cy && cx);
	return cx - cy;
}

/* Lines sorted (equal profiles give equal files) without building them: a window of deep
 * stacks as text is tens of megabytes the agent would hold for a moment every window. */
int profile__write_folded(const struct profile *p, FILE *out)
{
	struct profile_stack **sorted = calloc(p->nstacks ? p->nstacks : 1, sizeof(*sorted));
	struct profile_stack *s;
	size_t it = 0, n = 0;
	int err = 0;

	if (!sorted)
		return -ENOMEM;
	while (hashmap__next(&p->stacks, &it, NULL, (void **)&s)) {
		for (; s; s = s->next_same_hash) {
			if (s->weight && n < p->nstacks)
				sorted[n++] = s;
		}
	}
	qsort_r(sorted, n, sizeof(*sorted), cmp_stacks, (void *)p);
	for (size_t i = 0; i < n && !err; i++) {
		s = sorted[i];
		for (uint32_t f = 0; f < s->n && !err; f++) {
			if ((f && fputc(';', out) == EOF) ||
			    fputs(strtab__str(&p->strs, s->ids[f]), out) == EOF)
				err = -EIO;
		}
		if (!err && fprintf(out, " %llu\n", (unsigned long long)s->weight) < 0)
			err = -EIO;
	}
	if (!err && fflush(out))
		err = -errno;
	free(sorted);
	return err;
}

static const char *const kind_names[PROFILE_KIND_MAX] = {
    [PROFILE_CPU] = "cpu",
    [PROFILE_OFFCPU] = "offcpu",
    [PROFILE_WALL] = "wall",
};

int profile__parse_kind(const char *name, enum profile_kind *ret_kind)
{
	for (int i = 0; i < PROFILE_KIND_MAX; i++) {
		if (!strcmp(name, kind_names[i])) {
			*ret_kind = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *profile__kind_name(enum profile_kind kind)
{
	return kind < PROFILE_KIND_MAX ? kind_names[kind] : "unknown";
}
