/* SPDX-License-Identifier: MIT */
/* A process tree followed as it grows: a root and, when asked, every descendant, those forked
 * or executed later included. Fed the process events, it tells discovery which pids of the
 * tree to examine; discovery's select asks it which pids are of the tree. Shared by agentctl's
 * own sessions and the daemon's tree snapshots. */
#ifndef PYPROF_PROCTREE_H
#define PYPROF_PROCTREE_H

#include <stdint.h>
#include <sys/types.h>
#include "bpf/procwatch.h"
#include "daemon/discovery.h"
#include "util/hashmap.h"

/* The pids of a tree followed, at most: a bound on the set, far above real process trees.
 * Beyond it new processes are not followed, and counted. */
#define PROCTREE_MAX 65536

struct proctree {
	pid_t root;
	int subprocesses;    /* descendants too, else the root alone */
	int root_started;    /* the root may execute: its exec is followed from now on */
	struct hashmap pids; /* pid -> (void *)1: the root and its descendants, alive */
	uint64_t not_followed;
	pid_t first_not_followed;
};

/* The tree of root (with subprocesses, its live descendants, from /proc). root_pending: the
 * root is held before its exec (agentctl record) until proctree__root_started. */
void proctree__init(struct proctree *t, pid_t root, int subprocesses, int root_pending);
/* Whether pid belongs to the tree: discovery's select. */
int proctree__has(const struct proctree *t, pid_t pid);
/* The root may now execute: its exec, which may have come and gone already, is looked for at
 * once and for a while. */
void proctree__root_started(struct proctree *t, struct discovery *disc, uint64_t now_ns);
/* A process event: a fork within the tree adds the child (examined: a Python parent's copy
 * runs its interpreter), an exec in the tree is examined, an exit leaves it. */
void proctree__on_event(struct proctree *t, struct discovery *disc,
			const struct pyprof_proc_event *ev, uint64_t now_ns);
void proctree__free(struct proctree *t);

#endif
