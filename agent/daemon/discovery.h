/* SPDX-License-Identifier: MIT */
/* Which processes to profile: finds CPython processes (at start, on exec events, and on a
 * periodic /proc rescan as a safety net), applies the target selection of the config, and
 * reports targets as they appear and disappear. */
#ifndef PYPROF_DISCOVERY_H
#define PYPROF_DISCOVERY_H

#include <stdint.h>
#include <sys/types.h>
#include "config/config.h"
#include "python/pyproc.h"

/* targets.cmdline_regex sees the first 4 KiB of a command line: a process chooses its own
 * arguments, and a regex over megabytes of them costs the daemon, at every exec. */
#define DISCOVERY_CMDLINE_MAX 4096

struct discovery_ops {
	/* A new target; the callee takes ownership of p. Returns 0 or -errno (then the pid is
	 * looked at again on the next rescan). */
	int (*on_target)(void *ctx, struct pyproc *p);
	/* A target is gone (exited, or no longer selected): stop sampling it. */
	void (*on_gone)(void *ctx, pid_t pid);
	/* Whether pid may become a target, asked before anything else is read of it; NULL: the
	 * config's targets.* decide (asked of CPython processes only). */
	int (*select)(void *ctx, pid_t pid);
	void *ctx;
};

enum discovery_stat {
	DISC_STAT_SCANS,	     /* full /proc rescans */
	DISC_STAT_EXAMINED,	     /* processes examined */
	DISC_STAT_TARGETS_ADDED,     /* targets reported */
	DISC_STAT_TARGETS_GONE,	     /* targets removed */
	DISC_STAT_NOT_PYTHON,	     /* examined, not CPython */
	DISC_STAT_NOT_SELECTED,	     /* CPython, but not selected by targets.* */
	DISC_STAT_UNSUPPORTED,	     /* CPython of a version without a layout */
	DISC_STAT_ERRORS,	     /* examination failed (permission, vanished, ...) */
	DISC_STAT_RETRIES_UNCHANGED, /* a new process's retry skipped: nothing mapped since */
	DISC_STAT_MAX,
};

extern const char *const discovery_stat_names[DISC_STAT_MAX];

struct discovery;

/* cfg may be NULL when ops->select decides. */
struct discovery *discovery__new(const struct agent_config *cfg, const struct discovery_ops *ops);
/* A new config (SIGHUP): targets no longer selected are reported gone, and every process is
 * examined again on the next rescan. */
void discovery__set_config(struct discovery *d, const struct agent_config *cfg);
/* Examines every process in /proc not examined yet. */
void discovery__scan(struct discovery *d, uint64_t now_ns);
/* A process executed a program (or was forked): it is due for examination now, and again for a
 * while (its interpreter library may not be mapped yet). */
void discovery__on_exec(struct discovery *d, pid_t pid, uint64_t now_ns);
/* A process ended: it is reported gone after the grace period, so samples still in flight
 * are named. */
void discovery__on_exit(struct discovery *d, pid_t pid, uint64_t now_ns);
/* Runs the examinations and removals due by now_ns; returns at once when none is. */
void discovery__tick(struct discovery *d, uint64_t now_ns);
/* When discovery__tick next has something to do (CLOCK_MONOTONIC ns), 0 when nothing is
 * pending: the caller's timer, so that a new process is examined within milliseconds. */
uint64_t discovery__next_due(const struct discovery *d);
size_t discovery__ntargets(const struct discovery *d);
/* Calls fn for every current target pid. */
void discovery__each_target(const struct discovery *d, void (*fn)(void *ctx, pid_t pid), void *ctx);
const uint64_t *discovery__stats(const struct discovery *d);
size_t discovery__tracked(const struct discovery *d);
/* The cache of ELF facts, with its budget and counters. */
const struct lru *discovery__elf_cache(const struct discovery *d);
void discovery__free(struct discovery *d);

/* The grace period between a target's exit and its release. */
#define DISCOVERY_GRACE_NS (2000ULL * 1000 * 1000)

#endif
