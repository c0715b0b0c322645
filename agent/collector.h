/* SPDX-License-Identifier: MIT */
/* Turns drained samples into stacks of named frames and adds them to a profile: the process
 * root frame, an optional thread frame, markers for truncated or failed walks, the Python
 * frames (root first) and, optionally, kernel frames leafward. Shared by snapshot and daemon. */
#ifndef PYPROF_COLLECTOR_H
#define PYPROF_COLLECTOR_H

#include <stdint.h>
#include <sys/types.h>
#include "kallsyms.h"
#include "profile.h"
#include "pyproc.h"
#include "pyprof_event.h"
#include "symbolize.h"

struct collector_opts {
	int threads; /* add "thread TID (name)" under the process root */
	int kernel;  /* add kernel frames "name_[k]" leafward */
};

enum collector_stat {
	COLL_STAT_SAMPLES,	  /* samples added to the profile */
	COLL_STAT_MALFORMED,	  /* records shorter than they claim: dropped, counted */
	COLL_STAT_UNKNOWN_PID,	  /* samples of a process not (or no longer) described */
	COLL_STAT_PARTIAL,	  /* samples whose walk failed half-way: kept with a marker */
	COLL_STAT_TRUNCATED,	  /* samples deeper than the frame budget: kept with a marker */
	COLL_STAT_NO_TSTATE,	  /* samples of threads without a Python thread state */
	COLL_STAT_UNKNOWN_FRAMES, /* frames that could not be named */
	COLL_STAT_MAX,
};

extern const char *const collector_stat_names[COLL_STAT_MAX];

struct collector;

struct collector *collector__new(const struct collector_opts *opts, const struct kallsyms *ksyms);
/* Takes ownership of p. */
int collector__add_process(struct collector *c, struct pyproc *p);
/* The process exited: its cache stays for samples still in flight until collector__forget. */
void collector__forget(struct collector *c, pid_t pid);
/* sampler_cb: adds one drained sample. */
int collector__on_sample(void *ctx, const struct sample_event *ev, size_t size);
/* Starts a new cache validation period (call every second or so). */
void collector__tick(struct collector *c);
struct profile *collector__profile(struct collector *c);
const uint64_t *collector__stats(const struct collector *c);
/* Sums the symbolizer counters of every process into out[SYM_STAT_MAX]. */
void collector__sym_stats(const struct collector *c, uint64_t *out);
void collector__free(struct collector *c);

#endif
