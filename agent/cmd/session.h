/* SPDX-License-Identifier: MIT */
/* A local profiling session: agentctl's own BPF programs on one process, or on a process and
 * every descendant that runs CPython, those that start later included (forked workers,
 * multiprocessing, subprocess, an exec of another interpreter). Shared by snapshot, record and
 * top; what is collected is read from its collector. */
#ifndef PYPROF_SESSION_H
#define PYPROF_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "bpf/sampler.h"
#include "daemon/control.h"
#include "profile/collector.h"

/* Exit codes of agentctl snapshot (and of record and top before their command runs),
 * documented in README. */
enum snapshot_exit {
	SNAP_OK = 0,
	SNAP_FAILED = 1,
	SNAP_USAGE = 2,
	SNAP_NO_PROCESS = 3,
	SNAP_NOT_PYTHON = 4,
	SNAP_UNSUPPORTED = 5,
	SNAP_NO_PRIVILEGE = 6,
	SNAP_NO_KERNEL_SUPPORT = 7, /* the kernel refused every way of what --mode needs */
};

/* The exit code for each answer of the daemon, and (through control__status_of) for each
 * error of the local path: one cause, one code. */
extern const unsigned char snapshot_exit_of_status[CONTROL_STATUS_MAX];

/* A process started a moment ago may not have mapped its interpreter library yet: while it is
 * younger than this, "not a CPython process" is asked again. */
#define SESSION_SETTLE_MS 3000

/* The exit code for an error of pyproc__open or the sampler: -ESRCH is SNAP_NO_PROCESS,
 * -ENOEXEC SNAP_NOT_PYTHON, ... */
int session__exit_code(int err);
/* pyproc__open, giving a process that started a moment ago (younger than SESSION_SETTLE_MS)
 * time to map its interpreter. */
int session__open_process(pid_t pid, struct pyproc **ret, char *errbuf, size_t errlen);

struct session_opts {
	pid_t pid;	  /* the process, or the root of the tree */
	int subprocesses; /* also every CPython descendant, as it appears */
	/* The root is not CPython yet (record: a child about to execute the command); it is
	 * examined when it executes, and need not ever be CPython. */
	int root_pending;
	unsigned rate_hz;
	enum profile_kind mode;
	int threads;
	int kernel;
	int gil_only;
	uint64_t min_block_us;
};

struct session;

/* Loads the programs and, unless root_pending, starts sampling the root (which must then be a
 * CPython process; with subprocesses, a process whose descendants are). Logs why it cannot;
 * returns 0 or an exit code of agentctl snapshot (enum snapshot_exit). */
int session__open(const struct session_opts *opts, struct session **ret);
/* The root has been made and may now execute (root_pending): from here on its exec and the
 * processes it makes are followed. */
void session__root_started(struct session *s);
/* Waits at most timeout_ns for samples and process events and handles them: drains the
 * samples (naming them while their processes live), follows new and ended processes. */
void session__poll(struct session *s, uint64_t timeout_ns);
/* Processes sampled now. */
size_t session__ntargets(const struct session *s);
/* Processes sampled at some point since open. */
size_t session__targets_seen(const struct session *s);
struct collector *session__collector(struct session *s);
struct sampler *session__sampler(struct session *s);
/* Logs the closing counters (every non-zero failure counter by name) and the userspace cost
 * per record. */
void session__report(struct session *s);
void session__close(struct session *s);

#endif
