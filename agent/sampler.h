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
	unsigned freq_hz;      /* samples per second per CPU */
	int kernel_stacks;     /* capture kernel stacks */
	unsigned ringbuf_mb;   /* ring buffer size (power of two MiB) */
	int off_cpu;	       /* also trace where target threads block (bpf/offcpu.bpf.c) */
	uint64_t min_block_us; /* off-CPU: shorter blocks are only counted */
};

/* Called for each sample drained; size is the record's size (header + nframes frames). */
typedef int (*sampler_cb)(void *ctx, const struct sample_event *ev, size_t size);

struct sampler;

/* Errors: -EPERM/-EACCES (missing CAP_BPF/CAP_PERFMON), others with a sentence in errbuf. */
int sampler__open(const struct sampler_opts *opts, sampler_cb cb, void *ctx, struct sampler **ret,
		  char *errbuf, size_t errlen);
int sampler__add_target(struct sampler *s, const struct pyproc *p);
int sampler__remove_target(struct sampler *s, pid_t pid);
/* Re-opens the perf events at a new frequency (targets and counters stay). On failure the
 * old frequency is kept. */
int sampler__set_frequency(struct sampler *s, unsigned freq_hz, char *errbuf, size_t errlen);
unsigned sampler__frequency(const struct sampler *s);
/* How the off-CPU programs are attached, where they keep blocked records and which clock times
 * the blocks ("tp_btf, task storage, run-queue clock"); NULL when off-CPU is off. */
const char *sampler__offcpu_attach_kind(const struct sampler *s);
/* Drains what the ring buffer holds now, or stops after about budget_ns (0: no limit) so a
 * flood of events cannot starve the caller's other work; what is left waits for the next
 * drain (and if the ring fills, BPF counts the drops). Returns the records drained, or -errno. */
int sampler__drain(struct sampler *s, uint64_t budget_ns);
/* Drains stopped by their budget. */
uint64_t sampler__drains_cut(const struct sampler *s);
/* Sums the per-CPU BPF counters into out[METRIC_MAX]. */
int sampler__metrics(struct sampler *s, uint64_t *out);
void sampler__close(struct sampler *s);

extern const char *const pyprof_metric_names[METRIC_MAX];

#endif
