/* SPDX-License-Identifier: MIT */
/* The on-CPU sampler: loads the BPF program, opens a CPU-clock perf event per online CPU,
 * keeps the target map, drains the ring buffer and reads the BPF error counters. */
#ifndef PYPROF_SAMPLER_H
#define PYPROF_SAMPLER_H

#include <stdint.h>
#include <sys/types.h>
#include "pyprof_event.h"
#include "python/pyproc.h"

struct sampler_opts {
	unsigned freq_hz;      /* samples per second per CPU */
	int kernel_stacks;     /* capture kernel stacks */
	unsigned ringbuf_mb;   /* ring buffer size (power of two MiB) */
	int off_cpu;	       /* also trace where target threads block (bpf/offcpu.bpf.c) */
	uint64_t min_block_us; /* off-CPU: shorter blocks are only counted */
	int no_code_checks;    /* frames without their code check (py_code_check) */
	/* Told one line for each way the kernel refused before one loaded (a fallback), so the
	 * caller can log it; may be NULL. */
	void (*note)(void *note_ctx, const char *line);
	void *note_ctx;
};

/* Called for each sample drained; size is the record's size (header + nframes frames). */
typedef int (*sampler_cb)(void *ctx, const struct sample_event *ev, size_t size);

struct sampler;

/* Loads the on-CPU sampler (its bpf_loop build, else its bounded-loop build) and, if asked, the
 * first way of the off-CPU tracer that the kernel takes. Fails only when the on-CPU sampler
 * cannot run: with no off-CPU way, it succeeds and sampler__offcpu_unavailable() says why.
 * Errors: -EPERM/-EACCES (missing CAP_BPF/CAP_PERFMON), others with a sentence in errbuf that
 * names the kernel release and what it refused. */
int sampler__open(const struct sampler_opts *opts, sampler_cb cb, void *ctx, struct sampler **ret,
		  char *errbuf, size_t errlen);
int sampler__add_target(struct sampler *s, const struct pyproc *p);
int sampler__remove_target(struct sampler *s, pid_t pid);
/* Re-opens the perf events at a new frequency (targets and counters stay). On failure the
 * old frequency is kept. */
int sampler__set_frequency(struct sampler *s, unsigned freq_hz, char *errbuf, size_t errlen);
unsigned sampler__frequency(const struct sampler *s);
/* The off-CPU tracer's way: how it attaches, where it keeps blocked records, how it takes the
 * Python stack of a long block, which clock times the blocks ("tp_btf, task storage,
 * rseq_update, run-queue clock"); NULL when off-CPU is off. */
const char *sampler__offcpu_attach_kind(const struct sampler *s);
/* Why off-CPU is off although it was asked for (no way loaded), else NULL. */
const char *sampler__offcpu_unavailable(const struct sampler *s);
/* The on-CPU sampler's build: "perf_event, bpf_loop" or "perf_event, bounded loops". */
const char *sampler__oncpu_kind(const struct sampler *s);
/* Drains what the ring buffer holds now, or stops after about budget_ns (0: no limit) so a
 * flood of events cannot starve the caller's other work; what is left waits for the next
 * drain (and if the ring fills, BPF counts the drops). Returns the records drained, or -errno. */
int sampler__drain(struct sampler *s, uint64_t budget_ns);
/* A descriptor that polls readable when a sample asks for a drain (the ring is a quarter full):
 * for the caller's event loop, besides its timer. */
int sampler__fd(const struct sampler *s);
/* Drains stopped by their budget. */
uint64_t sampler__drains_cut(const struct sampler *s);
/* The userspace cost of the records: nanoseconds spent draining them (the callback, which names
 * and counts them, included) and how many there were, since open. */
void sampler__drain_stats(const struct sampler *s, uint64_t *ret_ns, uint64_t *ret_records);
/* Processes in the targets map. The CPU clocks run only while there is one. */
unsigned sampler__ntargets(const struct sampler *s);
/* Sums the per-CPU BPF counters into out[METRIC_MAX]. */
int sampler__metrics(struct sampler *s, uint64_t *out);
/* Sums one of them (enum metric) into *ret: one system call, where all of them take METRIC_MAX. */
int sampler__metric(struct sampler *s, uint32_t id, uint64_t *ret);
void sampler__close(struct sampler *s);

extern const char *const pyprof_metric_names[METRIC_MAX];

#endif
