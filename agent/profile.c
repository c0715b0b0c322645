// SPDX-License-Identifier: MIT
/* Stack aggregation and folded output (Brendan Gregg's format: one line per distinct stack). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "profile.h"

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

struct folded_line {
	char *text;
	uint64_t weight;
};

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(((const struct folded_line *)a)->text, ((const struct folded_line *)b)->text);
}

static char *render_stack(const struct profile *p, const struct profile_stack *s)
{
	size_t len = 1, o = 0;
	char *out;

	for (uint32_t i = 0; i < s->n; i++)
		len += strlen(strtab__str(&p->strs, s->ids[i])) + 1;
	out = malloc(len);
	if (!out)
		return NULL;
	for (uint32_t i = 0; i < s->n; i++) {
		const char *f = strtab__str(&p->strs, s->ids[i]);
		size_t fl = strlen(f);

		if (i)
			out[o++] = ';';
		memcpy(out + o, f, fl);
		o += fl;
	}
	out[o] = '\0';
	return out;
}

int profile__write_folded(const struct profile *p, FILE *out)
{
	struct folded_line *lines = calloc(p->nstacks ? p->nstacks : 1, sizeof(*lines));
	struct profile_stack *s;
	size_t it = 0, n = 0;
	int err = 0;

	if (!lines)
		return -ENOMEM;
	while (hashmap__next(&p->stacks, &it, NULL, (void **)&s)) {
		for (; s; s = s->next_same_hash) {
			if (!s->weight)
				continue;
			lines[n].text = render_stack(p, s);
			lines[n].weight = s->weight;
			if (!lines[n].text) {
				err = -ENOMEM;
				goto out;
			}
			n++;
		}
	}
	qsort(lines, n, sizeof(*lines), cmp_lines);
	for (size_t i = 0; i < n; i++) {
		if (fprintf(out, "%s %llu\n", lines[i].text, (unsigned long long)lines[i].weight) <
		    0) {
			err = -EIO;
			break;
		}
	}
	if (!err && fflush(out))
		err = -errno;
out:
	for (size_t i = 0; i < n; i++)
		free(lines[i].text);
	free(lines);
	return err;
}
