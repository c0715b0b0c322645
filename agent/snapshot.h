/* SPDX-License-Identifier: MIT */
/* One-process profiling for a fixed duration: `agentctl snapshot`. */
#ifndef PYPROF_SNAPSHOT_H
#define PYPROF_SNAPSHOT_H

#include <signal.h>
#include <stdio.h>
#include <sys/types.h>

struct snapshot_opts {
	pid_t pid;
	double duration_s;
	unsigned rate_hz;
	int threads;
	int kernel;
	const char *output; /* NULL: stdout */
};

/* Exit codes of agentctl snapshot, documented in README. */
enum snapshot_exit {
	SNAP_OK = 0,
	SNAP_FAILED = 1,
	SNAP_USAGE = 2,
	SNAP_NO_PROCESS = 3,
	SNAP_NOT_PYTHON = 4,
	SNAP_UNSUPPORTED = 5,
	SNAP_NO_PRIVILEGE = 6,
};

/* Runs the snapshot; stops early when *stop becomes non-zero. Returns an exit code. */
int snapshot__run(const struct snapshot_opts *opts, volatile sig_atomic_t *stop);

#endif
