/* SPDX-License-Identifier: MIT */
/* A profile: distinct stacks (root first, frames as interned strings) with summed weights,
 * and its folded-text rendering. */
#ifndef PYPROF_PROFILE_H
#define PYPROF_PROFILE_H

#include <stdint.h>
#include <stdio.h>
#include "util/hashmap.h"

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

/* What a profile's weights mean. */
enum profile_kind {
	PROFILE_CPU = 0, /* weights are samples, one every 1/rate_hz s of CPU time */
	PROFILE_OFFCPU,	 /* weights are microseconds off-CPU */
	PROFILE_WALL,	 /* weights are microseconds of wall-clock time */
	PROFILE_KIND_MAX,
};

/* What a profile's weights mean and when it was taken. */
struct profile_meta {
	enum profile_kind kind;
	unsigned rate_hz;	  /* sampling frequency; 0: unknown */
	uint64_t start_ns;	  /* wall-clock start, ns since the Unix epoch; 0: unknown */
	uint64_t duration_ns;	  /* 0: unknown */
	const char *container_id; /* labels every sample in pprof when set (NULL: none) */
	const char *title;	  /* flame graph and speedscope title (NULL: from kind) */
};

/* "cpu", "offcpu", "wall" -> kind; -EINVAL if unknown. */
int profile__parse_kind(const char *name, enum profile_kind *ret_kind);
const char *profile__kind_name(enum profile_kind kind);

#endif
