/* SPDX-License-Identifier: MIT */
/* A profile: distinct stacks (root first, frames as interned strings) with summed weights,
 * and its folded-text rendering. */
#ifndef PYPROF_PROFILE_H
#define PYPROF_PROFILE_H

#include <stdint.h>
#include <stdio.h>
#include "hashmap.h"

struct profile_stack {
	struct profile_stack *next_same_hash;
	uint64_t weight;
	uint32_t n;
	uint32_t ids[];
};

struct profile {
	struct strtab strs;
	struct hashmap stacks; /* stack hash -> chain of profile_stack */
	size_t nstacks;
	uint64_t total;
};

void profile__init(struct profile *p);
void profile__free(struct profile *p);
/* Id of a frame name; characters the folded format reserves (';', newlines) are replaced. */
int64_t profile__frame(struct profile *p, const char *name);
/* Adds weight to the stack of frame ids ids[0] (root) .. ids[n-1] (leaf). */
int profile__add(struct profile *p, const uint32_t *ids, uint32_t n, uint64_t weight);
/* The same, and *ret gets the stack: valid, for profile__add_weight, until p is freed. */
int profile__add_stack(struct profile *p, const uint32_t *ids, uint32_t n, uint64_t weight,
		       struct profile_stack **ret);

static inline void profile__add_weight(struct profile *p, struct profile_stack *s, uint64_t w)
{
	s->weight += w;
	p->total += w;
}
/* Writes "root;...;leaf weight" lines, sorted so equal profiles give equal files. */
int profile__write_folded(const struct profile *p, FILE *out);

#endif
