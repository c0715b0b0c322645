// SPDX-License-Identifier: MIT
/* BPF skeleton lifecycle for the on-CPU sampler: open, configure, load, attach (each checked). */
#include <errno.h>
#include <stdarg.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bpf/bpfload.h"
#include "bpf/sampler.h"
#include "offcpu.skel.h"
#include "offcpu_tw.skel.h"
#include "oncpu.skel.h"
#include "os/privilege.h"
#include "os/procfs.h"
#include "util/clock.h"

const char *const pyprof_metric_names[METRIC_MAX] = {
#define PYPROF_METRIC_NAME(id, name, meaning) [METRIC_##id] = name,
    PYPROF_METRICS(PYPROF_METRIC_NAME)
#undef PYPROF_METRIC_NAME
};

struct sampler {
	struct oncpu_bpf *skel;
	struct bpf_program *oncpu_prog; /* the build of the on-CPU program that loaded */
	int oncpu_legacy;
	/* the off-CPU tracer: one of two objects (offcpu_tw holds the task-work way alone) */
	struct offcpu_bpf *off;
	struct offcpu_tw_bpf *off_tw;
	struct bpf_object *off_obj; /* the one loaded, NULL if off-CPU is off */
	struct offcpu_bpf__bss *off_bss;
	char off_desc[96];	   /* its way: how it attaches, keeps records, tells time */
	char off_unavailable[400]; /* why off-CPU is off although asked for */
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
	unsigned ntargets; /* entries of the targets map: without any, the perf events are off */
	uint64_t drained;  /* records of the current drain */
	uint64_t drain_deadline_ns; /* when the current drain stops, 0: when the ring is empty */
	uint64_t drains_cut;	    /* drains stopped by their budget, records left for the next */
	uint64_t drain_ns_total;    /* time spent in drains that found records (the callback's) */
	uint64_t records_total;	    /* records they handed to the callback */
};

/* Stops a bounded drain: libbpf consumes the record whose callback fails, then returns. */
#define DRAIN_BUDGET_SPENT (-EINTR)

static int ringbuf_cb(void *ctx, void *data, size_t size)
{
	struct sampler *s = ctx;
	int err = 0;

	if (size >= SAMPLE_EVENT_HEADER_SIZE)
		err = s->cb(s->ctx, data, size);
	s->drained++;
	if (!err && s->drain_deadline_ns && !(s->drained & 255) &&
	    clock__mono_ns() >= s->drain_deadline_ns)
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

/* Turns the CPU clocks on or off: with no target, no CPU is woken at the sampling rate for
 * nothing (the program would look each sample up and drop it). */
static void clocks_enable(struct sampler *s, int on)
{
	for (int cpu = 0; cpu < s->ncpus; cpu++) {
		if (s->perf_fds[cpu] >= 0)
			ioctl(s->perf_fds[cpu], on ? PERF_EVENT_IOC_ENABLE : PERF_EVENT_IOC_DISABLE,
			      0);
	}
}

/* A CPU-clock perf event at freq Hz on every online CPU, each running the program; enabled
 * while there are targets. */
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
		s->links[cpu] = bpf_program__attach_perf_event(s->oncpu_prog, s->perf_fds[cpu]);
		if (!s->links[cpu]) {
			err = -errno;
			snprintf(errbuf, errlen, "cannot attach the sampler on CPU %d: %s", cpu,
				 strerror(-err));
			detach_all(s);
			return err;
		}
	}
	s->freq_hz = freq;
	if (!s->ntargets)
		clocks_enable(s, 0);
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

/* ---- the off-CPU tracer's ways ---- */

/* The ways of the off-CPU tracer (bpf/offcpu.bpf.h), most preferred first. Each is tried by
 * loading and attaching it; the first the kernel takes is kept. */
struct offcpu_way {
	const char *name;	/* as status shows it, without the clock */
	const char *prog;	/* the sched_switch program */
	const char *resume;	/* its rseq_update twin; NULL: stack at switch-out (or task work) */
	unsigned task_work : 1; /* in offcpu_tw.bpf.c */
	unsigned storage : 1;	/* keeps blocked records in task storage */
	unsigned raw_tp : 1;
	unsigned legacy : 1; /* the build for kernels before 5.17 */
	unsigned clock : 1;  /* may time blocks by the run-queue clock */
};

#define TP_BTF_STORAGE .storage = 1, .clock = 1
#define RAW_TP_MAP     .raw_tp = 1, .clock = 1
#define LEGACY	       .legacy = 1
static const struct offcpu_way offcpu_ways[] = {
    {"tp_btf, task storage, task work", "pyprof_switch_tw", NULL, .task_work = 1, TP_BTF_STORAGE},
    {"tp_btf, task storage, rseq_update", "pyprof_switch_btf", "pyprof_resume_btf", TP_BTF_STORAGE},
    {"raw_tp, map by thread id, rseq_update", "pyprof_switch_raw", "pyprof_resume_raw", RAW_TP_MAP},
    {"tp_btf, map by thread id, rseq_update, bounded loops", "pyprof_switch_legacy",
     "pyprof_resume_legacy", LEGACY},
    {"tp_btf, task storage, stack at switch-out", "pyprof_switch_btf", NULL, TP_BTF_STORAGE},
    {"raw_tp, map by thread id, stack at switch-out", "pyprof_switch_raw", NULL, RAW_TP_MAP},
    {"tp_btf, map by thread id, stack at switch-out, bounded loops", "pyprof_switch_legacy", NULL,
     LEGACY},
};
#undef TP_BTF_STORAGE
#undef RAW_TP_MAP
#undef LEGACY

/* Both objects are built from one header: their global variables are laid out alike. */
_Static_assert(sizeof(struct offcpu_bpf__rodata) == sizeof(struct offcpu_tw_bpf__rodata),
	       "offcpu.bpf.c and offcpu_tw.bpf.c differ in their read-only globals");
_Static_assert(sizeof(struct offcpu_bpf__bss) == sizeof(struct offcpu_tw_bpf__bss),
	       "offcpu.bpf.c and offcpu_tw.bpf.c differ in their zeroed globals");

static int offcpu_way_allowed(const struct offcpu_way *w)
{
	unsigned forced = bpfload__forced();
	const char *only = bpfload__forced_offcpu_way();

	if (only)
		return !strcmp(only, w->name);
	if ((forced & BPFLOAD_FORCE_RAW_TP) && !w->raw_tp)
		return 0;
	if ((forced & BPFLOAD_NO_TASK_WORK) && w->task_work)
		return 0;
	if ((forced & BPFLOAD_FORCE_LEGACY) && !w->legacy)
		return 0;
	return 1;
}

static void sampler_note(const struct sampler_opts *opts, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sampler_note(const struct sampler_opts *opts, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!opts->note)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	opts->note(opts->note_ctx, line);
}

static void offcpu_destroy(struct sampler *s)
{
	offcpu_bpf__destroy(s->off);
	offcpu_tw_bpf__destroy(s->off_tw);
	s->off = NULL;
	s->off_tw = NULL;
	s->off_obj = NULL;
	s->off_bss = NULL;
}

/* Opens, configures, loads and attaches one way of the off-CPU tracer, sharing the on-CPU
 * object's targets, layouts, thread-state cache, counters and ring buffer (its scratch maps
 * stay its own: programs of the two may nest on one CPU). On failure nothing is left and
 * ret_reason says why. */
static int offcpu_try(struct sampler *s, const struct sampler_opts *opts,
		      const struct offcpu_way *w, int sched_clock, char *ret_reason, size_t len)
{
	static const char *const shared[] = {"targets", "layouts", "tstate_cache", "metrics",
					     "events"};
	struct offcpu_bpf__rodata *ro;
	struct bpf_program *prog;
	struct bpf_map *blocked;
	int err;

	bpfload__try_begin();
	if (w->task_work) {
		s->off_tw = offcpu_tw_bpf__open();
		s->off_obj = s->off_tw ? s->off_tw->obj : NULL;
		ro = s->off_tw ? (struct offcpu_bpf__rodata *)s->off_tw->rodata : NULL;
	} else {
		s->off = offcpu_bpf__open();
		s->off_obj = s->off ? s->off->obj : NULL;
		ro = s->off ? s->off->rodata : NULL;
	}
	if (!s->off_obj) {
		err = -errno;
		goto out;
	}
	for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) {
		err = bpf_map__reuse_fd(
		    bpf_object__find_map_by_name(s->off_obj, shared[i]),
		    bpf_map__fd(bpf_object__find_map_by_name(s->skel->obj, shared[i])));
		if (err)
			goto out;
	}
	bpf_object__for_each_program(prog, s->off_obj)
	{
		const char *name = bpf_program__name(prog);

		bpf_program__set_autoload(prog, !strcmp(name, w->prog) ||
						    (w->resume && !strcmp(name, w->resume)));
	}
	/* the map a way does not use is not created: the kernel may lack its type */
	bpf_map__set_autocreate(bpf_object__find_map_by_name(s->off_obj, "blocked_tasks"),
				w->storage);
	blocked = bpf_object__find_map_by_name(s->off_obj, "blocked_threads");
	if (w->storage)
		bpf_map__set_max_entries(blocked, 1); /* unused */
	ro->min_block_ns = opts->min_block_us * 1000;
	ro->capture_kernel_stack = opts->kernel_stacks ? 1 : 0;
	ro->code_checks = !opts->no_code_checks;
	ro->use_sched_clock = sched_clock;
	ro->stack_at_switch_out = !w->resume && !w->task_work;
	err = w->task_work ? offcpu_tw_bpf__load(s->off_tw) : offcpu_bpf__load(s->off);
	if (!err)
		err = w->task_work ? offcpu_tw_bpf__attach(s->off_tw) : offcpu_bpf__attach(s->off);
out:
	bpfload__try_end(err, ret_reason, len);
	if (err) {
		offcpu_destroy(s);
		return err;
	}
	s->off_bss = w->task_work ? (struct offcpu_bpf__bss *)s->off_tw->bss : s->off->bss;
	snprintf(s->off_desc, sizeof(s->off_desc), "%s%s", w->name,
		 sched_clock ? ", run-queue clock" : ", bpf_ktime_get_ns");
	return 0;
}

/* Loads the first way of the off-CPU tracer the kernel takes, each refusal noted in one line.
 * If none loads, off-CPU stays off and s->off_unavailable says why: the on-CPU sampler goes on
 * without it. */
static void offcpu_open(struct sampler *s, const struct sampler_opts *opts)
{
	int tsc = bpfload__sched_clock_is_global(), tried = 0;
	char reason[256] = "", first[256] = "";

	for (size_t i = 0; i < sizeof(offcpu_ways) / sizeof(offcpu_ways[0]); i++) {
		const struct offcpu_way *w = &offcpu_ways[i];

		if (!offcpu_way_allowed(w))
			continue;
		/* the run-queue clock is a plain load the verifier may refuse: then the same way
		 * with bpf_ktime_get_ns, before the next way */
		for (int clock = w->clock && tsc; clock >= 0; clock--) {
			if (!offcpu_try(s, opts, w, clock, reason, sizeof(reason)))
				return;
			if (!tried++)
				snprintf(first, sizeof(first), "%s", reason);
			sampler_note(opts, "off-CPU way \"%s%s\" refused by the kernel: %s",
				     w->name, clock ? ", run-queue clock" : "", reason);
		}
	}
	snprintf(s->off_unavailable, sizeof(s->off_unavailable),
		 tried ? "no way of the off-CPU tracer loads on Linux %s (the first refused: %s)"
		       : "no way of the off-CPU tracer is allowed by PYPROF_* overrides%s%s",
		 tried ? bpfload__kernel_release() : "", first);
}

const char *sampler__offcpu_attach_kind(const struct sampler *s)
{
	if (!s->off_obj)
		return NULL;
	return s->off_desc;
}

const char *sampler__offcpu_unavailable(const struct sampler *s)
{
	return s->off_unavailable[0] ? s->off_unavailable : NULL;
}

const char *sampler__oncpu_kind(const struct sampler *s)
{
	return s->oncpu_legacy ? "perf_event, bounded loops" : "perf_event, bpf_loop";
}

/* Opens, configures and loads the on-CPU sampler: its bpf_loop build, or its legacy build. */
static int oncpu_try(struct sampler *s, const struct sampler_opts *opts, int legacy,
		     char *ret_reason, size_t len)
{
	int err;

	bpfload__try_begin();
	s->skel = oncpu_bpf__open();
	if (!s->skel) {
		err = -errno;
		goto out;
	}
	s->skel->rodata->capture_kernel_stack = opts->kernel_stacks ? 1 : 0;
	s->skel->rodata->code_checks = !opts->no_code_checks;
	if (opts->ringbuf_mb) {
		err = bpf_map__set_max_entries(s->skel->maps.events, opts->ringbuf_mb << 20);
		if (err)
			goto out;
	}
	bpf_program__set_autoload(s->skel->progs.pyprof_oncpu, !legacy);
	bpf_program__set_autoload(s->skel->progs.pyprof_oncpu_legacy, legacy);
	err = oncpu_bpf__load(s->skel);
out:
	bpfload__try_end(err, ret_reason, len);
	if (err) {
		oncpu_bpf__destroy(s->skel);
		s->skel = NULL;
		return err;
	}
	s->oncpu_prog = legacy ? s->skel->progs.pyprof_oncpu_legacy : s->skel->progs.pyprof_oncpu;
	s->oncpu_legacy = legacy;
	return 0;
}

/* Loads the on-CPU sampler, falling back to its legacy build; errbuf says why neither loads. */
static int oncpu_open(struct sampler *s, const struct sampler_opts *opts, char *errbuf,
		      size_t errlen)
{
	char reason[256] = "", legacy_reason[256] = "", missing[64];
	int err = 0;

	if (!(bpfload__forced() & BPFLOAD_FORCE_LEGACY)) {
		err = oncpu_try(s, opts, 0, reason, sizeof(reason));
		if (!err)
			return 0;
		if (privilege__missing(PRIVILEGE_BPF, missing, sizeof(missing)))
			goto no_privilege;
	}
	err = oncpu_try(s, opts, 1, legacy_reason, sizeof(legacy_reason));
	if (!err) {
		if (reason[0])
			sampler_note(opts,
				     "on-CPU sampler's bpf_loop build refused by the kernel: %s; "
				     "using its bounded-loop build (Python stacks cut at %d "
				     "frames)",
				     reason, PYPROF_LEGACY_MAX_FRAMES);
		return 0;
	}
	if (privilege__missing(PRIVILEGE_BPF, missing, sizeof(missing)))
		goto no_privilege;
	snprintf(errbuf, errlen,
		 "Linux %s refused the on-CPU sampler: %s%s%s (the verifier's log is printed "
		 "with --verbose)",
		 bpfload__kernel_release(), reason[0] ? reason : legacy_reason,
		 reason[0] ? "; and its bounded-loop build: " : "", reason[0] ? legacy_reason : "");
	return err;
no_privilege:
	snprintf(errbuf, errlen, "cannot load the BPF sampler without %s (" PRIVILEGE_ADVICE ")",
		 missing);
	return -EPERM;
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
	err = oncpu_open(s, opts, errbuf, errlen);
	if (err)
		goto fail;
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
	if (opts->off_cpu)
		offcpu_open(s, opts);
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

	if (!s->off_bss || pid >= PYPROF_PID_BITS)
		return;
	word = &s->off_bss->target_pids[pid >> 6];
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
	struct py_target old;
	__u32 pid = p->pid;
	int slot, err, known;

	if (p->offsets.frame_size > 256)
		return -EINVAL;
	slot = layout_slot(s, &p->offsets);
	if (slot < 0)
		return slot;
	t.layout = slot;
	known =
	    !bpf_map__lookup_elem(s->skel->maps.targets, &pid, sizeof(pid), &old, sizeof(old), 0);
	err =
	    bpf_map__update_elem(s->skel->maps.targets, &pid, sizeof(pid), &t, sizeof(t), BPF_ANY);
	if (err)
		return err;
	set_target_bit(s, pid, 1);
	if (!known && !s->ntargets++)
		clocks_enable(s, 1);
	return 0;
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

	if (!s->off_obj)
		return;
	fd = bpf_map__fd(bpf_object__find_map_by_name(s->off_obj, "pending_sleeps"));
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
	if (!err && s->ntargets && !--s->ntargets)
		clocks_enable(s, 0);
	forget_pending(s, pid);
	return err;
}

int sampler__drain(struct sampler *s, uint64_t budget_ns)
{
	uint64_t start = clock__mono_ns();
	int err;

	s->drained = 0;
	s->drain_deadline_ns = budget_ns ? start + budget_ns : 0;
	err = ring_buffer__consume(s->rb);
	if (s->drained) { /* an empty drain costs no clock read more */
		s->drain_ns_total += clock__mono_ns() - start;
		s->records_total += s->drained;
	}
	if (err == DRAIN_BUDGET_SPENT) {
		s->drains_cut++;
		return (int)s->drained;
	}
	return err;
}

int sampler__fd(const struct sampler *s)
{
	return ring_buffer__epoll_fd(s->rb);
}

void sampler__drain_stats(const struct sampler *s, uint64_t *ret_ns, uint64_t *ret_records)
{
	*ret_ns = s->drain_ns_total;
	*ret_records = s->records_total;
}

uint64_t sampler__drains_cut(const struct sampler *s)
{
	return s->drains_cut;
}

unsigned sampler__ntargets(const struct sampler *s)
{
	return s->ntargets;
}

int sampler__metric(struct sampler *s, uint32_t id, uint64_t *ret)
{
	int n = s->ncpu_possible > 0 ? s->ncpu_possible : 1;
	__u64 vals[256], *v = n <= 256 ? vals : calloc(n, sizeof(*v));
	int err;

	*ret = 0;
	if (!v)
		return -ENOMEM;
	err = bpf_map__lookup_elem(s->skel->maps.metrics, &id, sizeof(id), v, n * sizeof(*v), 0);
	for (int c = 0; !err && c < n; c++)
		*ret += v[c];
	if (v != vals)
		free(v);
	return err;
}

int sampler__metrics(struct sampler *s, uint64_t *out)
{
	for (__u32 id = 0; id < METRIC_MAX; id++) {
		if (sampler__metric(s, id, &out[id]) == -ENOMEM)
			return -ENOMEM;
	}
	return 0;
}

void sampler__close(struct sampler *s)
{
	if (!s)
		return;
	ring_buffer__free(s->rb);
	offcpu_destroy(s);
	detach_all(s);
	free(s->online);
	free(s->links);
	free(s->perf_fds);
	oncpu_bpf__destroy(s->skel);
	free(s);
}
