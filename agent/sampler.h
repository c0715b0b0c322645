/* SPDX-License-Identifier: MIT */
/* The on-CPU sampler: loads the BPF program, opens a CPU-clock perf event per online CPU,
 * keeps the target map, drains the ring buffer and reads the BPF error counters. */
#ifndef PYPROF_SAMPLER_H
#define PYPROF_SAMPLER_H

#include <stdint.h>
#include <sys/types.h>
#include "pyprof_event.h"
#include "pyproc.h"

struct sampler_opts {
	unsigned freq_hz;    /* samples per second per CPU */
	int kernel_stacks;   /* capture kernel stacks */
	unsigned ringbuf_mb; /* ring buffer size (power of two MiB) */
};

/* Called for each sample drained; size is the record's size (header + nframes frames). */
typedef int (*sampler_cb)(void *ctx, const struct sample_event *ev, size_t size);

struct sampler;

/* Errors: -EPERM/-EACCES (missing CAP_BPF/CAP_PERFMON), others with a sentence in errbuf. */
int sampler__open(const struct sampler_opts *opts, sampler_cb cb, void *ctx, struct sampler **ret,
		  char *errbuf, size_t errlen);
int sampler__add_target(struct sampler *s, const struct pyproc *p);
int sampler__remove_target(struct sampler *s, pid_t pid);
/* Drains what the ring buffer holds now; returns the number of records or -errno. */
int sampler__drain(struct sampler *s);
/* Sums the per-CPU BPF counters into out[METRIC_MAX]. */
int sampler__metrics(struct sampler *s, uint64_t *out);
void sampler__close(struct sampler *s);

extern const char *const pyprof_metric_names[METRIC_MAX];

#endif
