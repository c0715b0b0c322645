/* SPDX-License-Identifier: MIT */
/* A recording of a stopped CPython process, as committed under tests/fixtures/replay/: a text
 * header (where the walk starts, each thread's FS base, the stacks CPython itself reported)
 * followed by the 4 KiB pages that the walk and the symbolizer read, all gzipped. */
#ifndef PYPROF_REPLAY_RECORDING_H
#define PYPROF_REPLAY_RECORDING_H

#include <stddef.h>
#include <stdint.h>

#include "replay_mem.h"

#define RECORDING_MAX_LINE    8192
#define RECORDING_MAX_TASKS   256
#define RECORDING_MAX_FRAMES  4096
#define RECORDING_MAX_PAGES   65536
#define RECORDING_MAX_THREADS 64

struct rec_task {
	uint32_t tid;
	uint64_t fsbase; /* from the thread's registers when it was stopped */
};

struct rec_frame {
	char *name; /* co_qualname (3.11+) or co_name */
	char *file;
	int line;
};

/* A thread as the workload reported it (tests/replay/workloads/stacks.py). */
struct rec_thread {
	char role[32];
	uint64_t ident; /* threading.get_ident() */
	int gil_held;
	struct rec_frame *frames; /* innermost first */
	size_t nframes;
};

struct recording {
	char label[64];
	unsigned major, minor;
	char python[512];
	uint64_t interp_head_addr, runtime_addr, code_type;
	struct rec_task tasks[RECORDING_MAX_TASKS];
	size_t ntasks;
	struct rec_thread threads[RECORDING_MAX_THREADS];
	size_t nthreads;
	unsigned expect_tasks; /* the workload's "tasks N" */
	struct replay_mem mem;
};

/* Reads a recording; errors are described in err. */
int recording__load(const char *path, struct recording *ret, char *err, size_t errlen);
/* Adds the workload's expectation lines (tasks, thread, frame) to r. */
int recording__parse_expect(struct recording *r, const char *path, char *err, size_t errlen);
int recording__save(const struct recording *r, const char *path);
void recording__free(struct recording *r);

#endif /* PYPROF_REPLAY_RECORDING_H */
