// SPDX-License-Identifier: MIT
/* BPF skeleton lifecycle for the on-CPU sampler: open, configure, load, attach (each checked). */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bpfload.h"
#include "offcpu.skel.h"
#include "oncpu.skel.h"
#include "privilege.h"
#include "procfs.h"
#include "sampler.h"

const char *const pyprof_metric_names[METRIC_MAX] = {
    [METRIC_NONE] = "none",
    [METRIC_SAMPLES] = "samples",
    [METRIC_EVENTS_SENT] = "events_sent",
    [METRIC_RINGBUF_FULL] = "ringbuf_full",
    [METRIC_TARGET_INVALID] = "target_invalid",
    [METRIC_INTERP_READ_FAILED] = "interp_read_failed",
    [METRIC_TSTATE_NOT_FOUND] = "tstate_not_found",
    [METRIC_TSTATE_READ_FAILED] = "tstate_read_failed",
    [METRIC_TSTATE_CACHE_STALE] = "tstate_cache_stale",
    [METRIC_FRAME_READ_FAILED] = "frame_read_failed",
    [METRIC_FRAME_CYCLE] = "frame_cycle",
    [METRIC_STACK_TRUNCATED] = "stack_truncated",
    [METRIC_KSTACK_FAILED] = "kernel_stack_failed",
    [METRIC_SHIM_FRAMES_SKIPPED] = "shim_frames_skipped",
    [METRIC_EMPTY_STACK] = "empty_stack",
    [METRIC_OFFCPU_SWITCHES] = "offcpu_switches",
    [METRIC_OFFCPU_SHORT_BLOCKS] = "offcpu_short_blocks",
    [METRIC_OFFCPU_SHORT_NS] = "offcpu_short_ns",
    [METRIC_OFFCPU_EVENTS_SENT] = "offcpu_events_sent",
    [METRIC_OFFCPU_PENDING_FULL] = "offcpu_pending_full",
    [METRIC_OFFCPU_NO_RSEQ] = "offcpu_no_rseq",
    [METRIC_OFFCPU_GIL_WAITS] = "offcpu_gil_waits",
    [METRIC_OFFCPU_UNRECORDED] = "offcpu_unrecorded",
};

struct sampler {
	struct oncpu_bpf *skel;
	struct offcpu_bpf *off;
	int off_btf;
	char off_desc[80]; /* how the off-CPU tracer attaches, keeps its records, tells time */
	struct ring_buffer *rb;
	int *perf_fds;
	struct bpf_link **links;
	int ncpus;
	sampler_cb cb;
	void *ctx;
	struct py_offsets layouts[PYPROF_MAX_LAYOUTS];
	unsigned nlayouts;
	int ncpu_possible;
	unsigned char *online;
	unsigned freq_hz;
	uint64_t drained;	    /* records of the current drain */
	uint64_t drain_deadline_ns; /* when the current drain stops, 0: when the ring is empty */
	uint64_t drains_cut;	    /* drains stopped by their budget, records left for the next */
};

/* Stops a bounded drain: libbpf consumes the record whose callback fails, then returns. */
#define DRAIN_BUDGET_SPENT (-EINTR)

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int ringbuf_cb(void *ctx, void *data, size_t size)
{
	struct sampler *s = ctx;
	int err = 0;

	if (size >= SAMPLE_EVENT_HEADER_SIZE)
		err = s->cb(s->ctx, data, size);
	s->drained++;
	if (!err && s->drain_deadline_ns && !(s->drained & 255) &&
	    mono_ns() >= s->drain_deadline_ns)
		return DRAIN_BUDGET_SPENT;
	return err;
}

static void detach_all(struct sampler *s)
{
	for (int i = 0; i < s->ncpus; i++) {
		bpf_link__destroy(s->links ? s->links[i] : NULL);
		if (s->links)
			s->links[i] = NULL;
		if (s->perf_fds && s->perf_fds[i] >= 0) {
			close(s->perf_fds[i]);
			s->perf_fds[i] = -1;
		}
	}
}

static int open_perf_event(int cpu, unsigned freq);

/* A CPU-clock perf event at freq Hz on every online CPU, each running the program. */
static int attach_all(struct sampler *s, unsigned freq, char *errbuf, size_t errlen)
{
	int err;

	for (int cpu = 0; cpu < s->ncpus; cpu++) {
		if (!s->online[cpu])
			continue;
		s->perf_fds[cpu] = open_perf_event(cpu, freq);
		if (s->perf_fds[cpu] < 0) {
			err = -errno;
			snprintf(
			    errbuf, errlen, "cannot open a CPU-clock perf event on CPU %d: %s%s",
			    cpu, strerror(-err),
			    err == -EACCES || err == -EPERM ? " (CAP_PERFMON is missing)" : "");
			detach_all(s);
			return err;
		}
		s->links[cpu] =
		    bpf_program__attach_perf_event(s->skel->progs.pyprof_oncpu, s->perf_fds[cpu]);
		if (!s->links[cpu]) {
			err = -errno;
			snprintf(errbuf, errlen, "cannot attach the sampler on CPU %d: %s", cpu,
				 strerror(-err));
			detach_all(s);
			return err;
		}
	}
	s->freq_hz = freq;
	return 0;
}

int sampler__set_frequency(struct sampler *s, unsigned freq_hz, char *errbuf, size_t errlen)
{
	int err;

	if (freq_hz == s->freq_hz)
		return 0;
	detach_all(s);
	err = attach_all(s, freq_hz, errbuf, errlen);
	if (err) {
		char ignored[256];

		/* keep sampling at the old rate rather than not at all */
		attach_all(s, s->freq_hz, ignored, sizeof(ignored));
	}
	return err;
}

unsigned sampler__frequency(const struct sampler *s)
{
	return s->freq_hz;
}

static int open_perf_event(int cpu, unsigned freq)
{
	struct perf_event_attr attr = {
	    .type = PERF_TYPE_SOFTWARE,
	    .config = PERF_COUNT_SW_CPU_CLOCK,
	    .size = sizeof(attr),
	    .freq = 1,
	    .sample_freq = freq,
	};

	return syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

/* The off-CPU object shares the on-CPU one's targets, layouts, thread-state cache, counters and
 * ring buffer; its scratch maps stay its own (programs of the two may nest on one CPU). */
static int offcpu_open(struct sampler *s, const struct sampler_opts *opts, char *errbuf,
		       size_t errlen)
{
	struct {
		struct bpf_map *mine, *shared;
	} reuse[] = {
	    {s->off->maps.targets, s->skel->maps.targets},
	    {s->off->maps.layouts, s->skel->maps.layouts},
	    {s->off->maps.tstate_cache, s->skel->maps.tstate_cache},
	    {s->off->maps.metrics, s->skel->maps.metrics},
	    {s->off->maps.events, s->skel->maps.events},
	};
	int err;

	for (size_t i = 0; i < sizeof(reuse) / sizeof(reuse[0]); i++) {
		err = bpf_map__reuse_fd(reuse[i].mine, bpf_map__fd(reuse[i].shared));
		if (err) {
			snprintf(errbuf, errlen, "cannot share maps with the off-CPU tracer: %s",
				 strerror(-err));
			return err;
		}
	}
	s->off->rodata->min_block_ns = opts->min_block_us * 1000;
	s->off->rodata->capture_kernel_stack = opts->kernel_stacks ? 1 : 0;
	/* tp_btf keeps blocked records in task storage: without it, raw_tp and the tid-keyed map,
	 * so that no loaded program refers to a map the kernel cannot create */
	s->off_btf = bpfload__has_task_storage() && bpfload__has_btf_tracepoint("sched_switch");
	bpf_program__set_autoload(s->off->progs.pyprof_switch_btf, s->off_btf);
	bpf_program__set_autoload(s->off->progs.pyprof_switch_raw, !s->off_btf);
	if (s->off_btf)
		bpf_map__set_max_entries(s->off->maps.blocked_threads, 256); /* unused */
	else
		bpf_map__set_autocreate(s->off->maps.blocked_tasks, false);
	s->off->rodata->use_sched_clock = bpfload__sched_clock_is_global();
	/* task work needs tp_btf's trusted pointer to the thread switching in */
	s->off->rodata->use_task_work = s->off_btf && bpfload__has_task_work();
	snprintf(s->off_desc, sizeof(s->off_desc), "%s, %s, %s, %s",
		 s->off_btf ? "tp_btf" : "raw_tp", s->off_btf ? "task storage" : "map by thread id",
		 s->off->rodata->use_sched_clock ? "run-queue clock" : "bpf_ktime_get_ns",
		 s->off->rodata->use_task_work ? "task work" : "rseq_update");
	if (s->off->rodata->use_task_work) {
		bpf_program__set_autoload(s->off->progs.pyprof_resume_btf, false);
		bpf_program__set_autoload(s->off->progs.pyprof_resume_raw, false);
	} else {
		bpfload__choose(s->off->progs.pyprof_resume_btf, s->off->progs.pyprof_resume_raw,
				"rseq_update");
	}
	err = offcpu_bpf__load(s->off);
	if (err) {
		snprintf(errbuf, errlen,
			 "the kernel refused the off-CPU tracer: %s (the verifier's "
			 "log is printed with --verbose)",
			 strerror(-err));
		return err;
	}
	err = offcpu_bpf__attach(s->off);
	if (err) {
		snprintf(errbuf, errlen, "cannot attach the off-CPU tracer: %s", strerror(-err));
		return err;
	}
	return 0;
}

const char *sampler__offcpu_attach_kind(const struct sampler *s)
{
	if (!s->off)
		return NULL;
	return s->off_desc;
}

int sampler__open(const struct sampler_opts *opts, sampler_cb cb, void *ctx, struct sampler **ret,
		  char *errbuf, size_t errlen)
{
	struct sampler *s;
	int err, ncpus;
	unsigned char *online = NULL;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cb = cb;
	s->ctx = ctx;
	s->skel = oncpu_bpf__open();
	if (!s->skel) {
		err = -errno;
		snprintf(errbuf, errlen, "cannot open the BPF object: %s", strerror(-err));
		goto fail;
	}
	s->skel->rodata->capture_kernel_stack = opts->kernel_stacks ? 1 : 0;
	if (opts->ringbuf_mb) {
		err = bpf_map__set_max_entries(s->skel->maps.events, opts->ringbuf_mb << 20);
		if (err)
			goto fail_msg;
	}
	err = oncpu_bpf__load(s->skel);
	if (err) {
		char missing[64];

		if (privilege__missing(PRIVILEGE_BPF, missing, sizeof(missing))) {
			snprintf(errbuf, errlen,
				 "cannot load the BPF sampler without %s (" PRIVILEGE_ADVICE ")",
				 missing);
			err = -EPERM;
		} else {
			snprintf(errbuf, errlen,
				 "the kernel refused the BPF sampler: %s (the "
				 "verifier's log is printed with --verbose)",
				 strerror(-err));
		}
		goto fail;
	}
	err = procfs__online_cpus(&online, &ncpus);
	if (err) {
		snprintf(errbuf, errlen, "cannot read the online CPUs: %s", strerror(-err));
		goto fail;
	}
	s->online = online;
	online = NULL;
	s->perf_fds = calloc(ncpus, sizeof(int));
	s->links = calloc(ncpus, sizeof(*s->links));
	if (!s->perf_fds || !s->links) {
		err = -ENOMEM;
		goto fail_msg;
	}
	for (int cpu = 0; cpu < ncpus; cpu++)
		s->perf_fds[cpu] = -1;
	s->ncpus = ncpus; /* detach_all() may look at the arrays from here on */
	err = attach_all(s, opts->freq_hz, errbuf, errlen);
	if (err)
		goto fail;
	if (opts->off_cpu) {
		s->off = offcpu_bpf__open();
		err = s->off ? offcpu_open(s, opts, errbuf, errlen) : -errno;
		if (err && !s->off)
			snprintf(errbuf, errlen, "cannot open the off-CPU BPF object: %s",
				 strerror(-err));
		if (err)
			goto fail;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), ringbuf_cb, s, NULL);
	if (!s->rb) {
		err = -errno;
		goto fail_msg;
	}
	free(online);
	s->ncpu_possible = libbpf_num_possible_cpus();
	*ret = s;
	return 0;
fail_msg:
	snprintf(errbuf, errlen, "cannot set up the BPF sampler: %s", strerror(-err));
fail:
	free(online);
	sampler__close(s);
	return err;
}

/* Index of an identical layout already loaded, or a new slot. */
static int layout_slot(struct sampler *s, const struct py_offsets *off)
{
	unsigned i;
	int err;

	for (i = 0; i < s->nlayouts; i++) {
		if (!memcmp(&s->layouts[i], off, sizeof(*off)))
			return i;
	}
	if (s->nlayouts == PYPROF_MAX_LAYOUTS)
		return -ENOSPC;
	err =
	    bpf_map__update_elem(s->skel->maps.layouts, &i, sizeof(i), off, sizeof(*off), BPF_ANY);
	if (err)
		return err;
	s->layouts[s->nlayouts++] = *off;
	return i;
}

/* The off-CPU programs' filter bit of pid (see PYPROF_PID_BITS). */
static void set_target_bit(struct sampler *s, __u32 pid, int on)
{
	__u64 *word, bit = 1ULL << (pid & 63);

	if (!s->off || pid >= PYPROF_PID_BITS)
		return;
	word = &s->off->bss->target_pids[pid >> 6];
	if (on)
		__atomic_fetch_or(word, bit, __ATOMIC_RELEASE);
	else
		__atomic_fetch_and(word, ~bit, __ATOMIC_RELEASE);
}

int sampler__add_target(struct sampler *s, const struct pyproc *p)
{
	struct py_target t = {
	    .interp_head_addr = p->interp_head_addr,
	    .runtime_addr = p->runtime_addr,
	};
	__u32 pid = p->pid;
	int slot, err;

	if (p->offsets.frame_size > 256)
		return -EINVAL;
	slot = layout_slot(s, &p->offsets);
	if (slot < 0)
		return slot;
	t.layout = slot;
	err =
	    bpf_map__update_elem(s->skel->maps.targets, &pid, sizeof(pid), &t, sizeof(t), BPF_ANY);
	if (!err)
		set_target_bit(s, pid, 1);
	return err;
}

/* Deletes the pending sleeps of pid's threads, and of threads gone: once pid is no longer a
 * target, its threads' switches are not looked at, so neither a live thread's entry (kept
 * between blocks where task work takes the stacks) nor that of a thread that ends later would
 * go at its last switch-out. */
static void forget_pending(struct sampler *s, pid_t pid)
{
	char path[64];
	__u32 tid, next;
	int fd, more;

	if (!s->off)
		return;
	fd = bpf_map__fd(s->off->maps.pending_sleeps);
	for (more = !bpf_map_get_next_key(fd, NULL, &next); more;) {
		tid = next;
		more = !bpf_map_get_next_key(fd, &tid, &next);
		snprintf(path, sizeof(path), "/proc/%d/task/%u", (int)pid, tid);
		if (access(path, F_OK) == 0) {
			bpf_map_delete_elem(fd, &tid);
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%u", tid);
		if (access(path, F_OK) != 0 && errno == ENOENT)
			bpf_map_delete_elem(fd, &tid);
	}
}

int sampler__remove_target(struct sampler *s, pid_t pid)
{
	__u32 key = pid;
	int err;

	set_target_bit(s, pid, 0); /* first: a bit without an entry is harmless, not the reverse */
	err = bpf_map__delete_elem(s->skel->maps.targets, &key, sizeof(key), 0);
	forget_pending(s, pid);
	return err;
}

int sampler__drain(struct sampler *s, uint64_t budget_ns)
{
	int err;

	s->drained = 0;
	s->drain_deadline_ns = budget_ns ? mono_ns() + budget_ns : 0;
	err = ring_buffer__consume(s->rb);
	if (err == DRAIN_BUDGET_SPENT) {
		s->drains_cut++;
		return (int)s->drained;
	}
	return err;
}

uint64_t sampler__drains_cut(const struct sampler *s)
{
	return s->drains_cut;
}

int sampler__metrics(struct sampler *s, uint64_t *out)
{
	int n = s->ncpu_possible > 0 ? s->ncpu_possible : 1;
	__u64 *vals = calloc(n, sizeof(*vals));

	if (!vals)
		return -ENOMEM;
	for (__u32 id = 0; id < METRIC_MAX; id++) {
		out[id] = 0;
		if (bpf_map__lookup_elem(s->skel->maps.metrics, &id, sizeof(id), vals,
					 n * sizeof(*vals), 0))
			continue;
		for (int c = 0; c < n; c++)
			out[id] += vals[c];
	}
	free(vals);
	return 0;
}

void sampler__close(struct sampler *s)
{
	if (!s)
		return;
	ring_buffer__free(s->rb);
	offcpu_bpf__destroy(s->off);
	detach_all(s);
	free(s->online);
	free(s->links);
	free(s->perf_fds);
	oncpu_bpf__destroy(s->skel);
	free(s);
}
