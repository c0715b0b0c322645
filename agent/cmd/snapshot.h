/* SPDX-License-Identifier: MIT */
/* One-process profiling for a fixed duration: `agentctl snapshot`. */
#ifndef PYPROF_SNAPSHOT_H
#define PYPROF_SNAPSHOT_H

#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>
#include "cmd/session.h"
#include "format/output.h"

struct snapshot_opts {
	pid_t pid;
	double duration_s;
	unsigned rate_hz;
	int threads;
	int kernel;
	const char *output;	   /* NULL: stdout */
	enum output_format format; /* default (0): folded */
	enum profile_kind mode;	   /* cpu (default), offcpu or wall */
	int gil_only;		   /* on-CPU samples of threads holding the GIL only */
	uint64_t min_block_us;	   /* off-CPU: shorter blocks are only counted */
	int subprocesses;	   /* and every CPython descendant, as it appears */
};

/* The session's options for opts (pid, duration and output are snapshot's own). */
struct session_opts snapshot__session_opts(const struct snapshot_opts *opts);

/* Writes the profile of kind that session s collected to path (NULL or "-": standard output),
 * in format. Returns 0 or -errno, logged. */
int snapshot__write(struct session *s, enum profile_kind kind, const char *path,
		    enum output_format format, uint64_t start_wall_ns, uint64_t duration_ns);

/* Runs the snapshot; stops early when *stop becomes non-zero. Returns an exit code. */
int snapshot__run(const struct snapshot_opts *opts, volatile sig_atomic_t *stop);

/* Writes prof to path (NULL or "-": standard output) in format. Returns 0 or -errno, logged. */
int snapshot__write_profile(const struct profile *prof, const struct profile_meta *meta,
			    const char *path, enum output_format format);

/* Asks the daemon listening on socket_path to take the snapshot (with opts->subprocesses, of
 * the process tree) with its own sampler (at its configured rate). Returns an exit code, or -1
 * when no daemon answers there or it cannot serve this (the caller then runs the snapshot
 * itself). */
int snapshot__via_agent(const struct snapshot_opts *opts, const char *socket_path);
/* Whether the outcome of a request to the daemon (control__call's err and ans) means "no
 * daemon, or one that cannot serve this": the client then samples by itself (said in the log
 * when the agent is older). */
int snapshot__agent_unable(int err, const struct control_request *req,
			   const struct control_answer *ans, const char *socket_path);
/* Asks the daemon for the snapshot req and reads its folded answer into ret (its to free when
 * 0 is returned with ans->status CONTROL_OK); asks again while the answer is "not CPython" of a
 * process younger than SESSION_SETTLE_MS (its interpreter may not be mapped yet). Returns
 * control__call's error, or -EBADMSG when the answer is not a profile (errbuf says why). */
int snapshot__agent_profile(const char *socket_path, const struct control_request *req,
			    int timeout_s, struct profile *ret, struct control_answer *ans,
			    char *errbuf, size_t errlen);
/* The same on a connection already sent its request (control__send): reads the answer. */
int snapshot__read_agent_profile(int fd, int timeout_s, struct profile *ret,
				 struct control_answer *ans, char *errbuf, size_t errlen);

#endif
