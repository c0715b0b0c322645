/* SPDX-License-Identifier: MIT */
/* Turns drained samples into stacks of named frames and adds them to the profiles: the
 * process root frame, an optional thread frame, markers for truncated or failed walks, the
 * Python frames (root first), off-CPU state markers and kernel frames leafward.
 * Shared by snapshot and daemon. */
#ifndef PYPROF_COLLECTOR_H
#define PYPROF_COLLECTOR_H

#include <stdint.h>
#include <sys/types.h>
#include "os/kallsyms.h"
#include "profile/profile.h"
#include "python/pyproc.h"
#include "pyprof_event.h"
#include "python/symbolize.h"

struct collector_opts {
	unsigned kinds;	  /* profiles to fill: bits (1 << PROFILE_CPU), OFFCPU, WALL */
	unsigned rate_hz; /* on-CPU sampling rate: an on-CPU sample is 1/rate s of wall time */
	int threads;	  /* add "thread TID (name)" under the process root */
	int kernel;	  /* add kernel frames "name_[k]" to on-CPU stacks */
	int gil_only;	  /* keep only on-CPU samples of threads holding the GIL */
	int parents;	  /* add "[parent PPID]" under the process root (process trees) */
	/* reads the targets' memory (recorded memory in the replay tests); NULL: each process's
	 * own, with process_vm_readv */
	const struct mem_reader *reader;
};

enum collector_stat {
	COLL_STAT_SAMPLES,	    /* records added to the profiles */
	COLL_STAT_MALFORMED,	    /* records shorter than they claim: dropped, counted */
	COLL_STAT_UNKNOWN_PID,	    /* records of a process not (or no longer) described */
	COLL_STAT_PARTIAL,	    /* stacks whose walk failed half-way: kept with a marker */
	COLL_STAT_TRUNCATED,	    /* stacks deeper than the frame budget: kept with a marker */
	COLL_STAT_NO_TSTATE,	    /* samples of threads without a Python thread state */
	COLL_STAT_UNKNOWN_FRAMES,   /* frames that could not be named */
	COLL_STAT_GIL_DROPPED,	    /* on-CPU samples left out by gil_only: not holding the GIL */
	COLL_STAT_GIL_UNKNOWN,	    /* on-CPU samples whose GIL state is unknown (kept) */
	COLL_STAT_RUNNABLE_ORPHANS, /* runnable durations whose stack record was missing */
	/* Not defects: what a live view's header shows (agentctl top's GIL share). */
	COLL_STAT_ON_CPU,   /* on-CPU records of described processes, gil_only's drops included */
	COLL_STAT_GIL_HELD, /* those whose thread held the GIL */
	COLL_STAT_MAX,
};

extern const char *const collector_stat_names[COLL_STAT_MAX];

struct collector;

struct collector *collector__new(const struct collector_opts *opts, struct kallsyms *ksyms);
/* Takes ownership of p. */
int collector__add_process(struct collector *c, struct pyproc *p);
/* The process is gone: drop its caches. */
void collector__forget(struct collector *c, pid_t pid);
int collector__has_process(const struct collector *c, pid_t pid);
/* Calls fn with every process described. */
void collector__each_process(const struct collector *c,
			     void (*fn)(void *ctx, const struct pyproc *p), void *ctx);
/* sampler_cb: adds one drained record. */
int collector__on_sample(void *ctx, const struct sample_event *ev, size_t size);
/* Starts a new cache validation period (call every second or so). */
void collector__tick(struct collector *c);
struct profile *collector__profile(struct collector *c, enum profile_kind kind);
/* Moves a profile collected so far to *ret (to free with profile__free) and starts anew. */
void collector__take_profile(struct collector *c, enum profile_kind kind, struct profile *ret);
const uint64_t *collector__stats(const struct collector *c);
/* The symbolizer counters of every process, past and present, into out[SYM_STAT_MAX]. */
void collector__sym_stats(const struct collector *c, uint64_t *out);
/* The caches of its symbolizers, with their budget and counters. */
const struct symcache *collector__symcache(const struct collector *c);
void collector__free(struct collector *c);

#endif
