/* SPDX-License-Identifier: MIT */
/* A profile: distinct stacks (root first, arrays of frame ids) with summed weights, over a table
 * of interned frames (frame.h: kind, name, file, number). Its text forms are the writers'. */
#ifndef PYPROF_PROFILE_H
#define PYPROF_PROFILE_H

#include <stdint.h>
#include <stdio.h>
#include "profile/frame.h"
#include "util/hashmap.h"

/* A frame's name and file are each kept to this many bytes, the NUL included. */
#define PROFILE_NAME_MAX 1024

struct profile_stack {
	struct profile_stack *next_same_hash;
	uint64_t weight;
	uint32_t n;
	uint32_t ids[];
};

struct profile {
	struct strtab strs;   /* the names and files of the frames */
	struct frame *frames; /* by frame id; names and files point into strs */
	uint32_t *frame_next; /* older frame of the same hash, 1-based (0: none) */
	size_t nframes, frames_cap;
	struct hashmap frame_index; /* frame hash -> 1 + the newest frame id with it */
	struct hashmap stacks;	    /* stack hash -> chain of profile_stack */
	size_t nstacks;
	uint64_t total;
};

void profile__init(struct profile *p);
void profile__free(struct profile *p);

/* The id of frame f, interned on first sight (its strings copied), or -ENOMEM (-E2BIG past
 * 2^32 - 1 frames). Equal fields give equal ids. In names and files, the characters folded text
 * reserves (';', line breaks) become '?' and what passes PROFILE_NAME_MAX - 1 bytes is cut; a
 * file is kept for Python frames only, a number for Python, process and thread frames only. */
int64_t profile__intern_frame(struct profile *p, const struct frame *f);
int64_t profile__frame_python(struct profile *p, const char *qualname, const char *file,
			      int64_t line);
int64_t profile__frame_kernel(struct profile *p, const char *symbol);
/* text is the whole marker, "[truncated]" or "<unknown>" (frame.h) */
int64_t profile__frame_marker(struct profile *p, const char *text);
int64_t profile__frame_native(struct profile *p, const char *name);
int64_t profile__frame_process(struct profile *p, const char *comm, int64_t pid);
int64_t profile__frame_thread(struct profile *p, int64_t tid, const char *name);
int64_t profile__frame_container(struct profile *p, const char *id);
/* The frame a text names at depth (0: the root), read by frame__parse: for the readers of files
 * that carry frames as text. */
int64_t profile__frame_text(struct profile *p, const char *text, uint32_t depth);

/* The frame of an id (NULL if none): valid until the next frame is interned; its strings until p
 * is freed. */
static inline const struct frame *profile__frame_at(const struct profile *p, uint32_t id)
{
	return id < p->nframes ? &p->frames[id] : NULL;
}

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

/* Which stacks to keep: each field given (not NULL or "") must be found in the stack's frame
 * of that kind (comm: the process frame's name; thread: the thread frame's name; container: the
 * container ID), as a substring. */
struct profile_filter {
	const char *comm, *thread, *container;
};

/* Whether f keeps nothing out. */
int profile_filter__empty(const struct profile_filter *f);
/* Adds the stacks of src that f keeps to dst (initialised; frames interned anew). Returns 0 or
 * -ENOMEM. */
int profile__filter(const struct profile *src, const struct profile_filter *f, struct profile *dst);

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
