// SPDX-License-Identifier: MIT
/* A local profiling session. The sampler and the collector as the daemon has them; the process
 * events program tells of every exec, fork and exit; the tree (daemon/proctree.h, as the
 * daemon's tree snapshots have it) says which of them are ours; discovery examines each new one
 * of ours (again for a while after an exec, until its interpreter is mapped) and reports it as a
 * target or gone. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bpf/procwatch.h"
#include "cmd/session.h"
#include "daemon/discovery.h"
#include "daemon/proctree.h"
#include "os/privilege.h"
#include "os/procfs.h"
#include "python/pyproc.h"
#include "util/clock.h"
#include "util/log.h"

#define DRAIN_INTERVAL_NS (100ULL * 1000 * 1000)
#define TICK_INTERVAL_NS  (1000ULL * 1000 * 1000)

struct session {
	struct session_opts opts;
	struct sampler *smp;
	struct collector *coll;
	struct procwatch *pw;
	struct discovery *disc;
	struct kallsyms ksyms;
	struct proctree tree; /* the root, and with subprocesses its descendants */
	size_t seen;	      /* targets since open */
	uint64_t last_tick;
};

const unsigned char snapshot_exit_of_status[CONTROL_STATUS_MAX] = {
    [CONTROL_OK] = SNAP_OK,
    [CONTROL_BAD_REQUEST] = SNAP_FAILED,
    [CONTROL_VERSION] = SNAP_FAILED,
    [CONTROL_DENIED] = SNAP_NO_PRIVILEGE,
    [CONTROL_BUSY] = SNAP_FAILED,
    [CONTROL_NO_PROCESS] = SNAP_NO_PROCESS,
    [CONTROL_NOT_PYTHON] = SNAP_NOT_PYTHON,
    [CONTROL_UNSUPPORTED] = SNAP_UNSUPPORTED,
    [CONTROL_NO_PRIVILEGE] = SNAP_NO_PRIVILEGE,
    [CONTROL_OFFCPU_DISABLED] = SNAP_FAILED,		   /* served locally instead */
    [CONTROL_OFFCPU_UNAVAILABLE] = SNAP_NO_KERNEL_SUPPORT, /* loading here would be refused too */
    [CONTROL_FAILED] = SNAP_FAILED,
};

static void describe_target(const struct pyproc *p)
{
	char comm[64];

	procfs__comm(p->pid, 0, comm, sizeof(comm));
	log_info("pid %d (%s): CPython %u.%u in %s, layout from %s", p->pid, comm, p->major,
		 p->minor, p->elf_path,
		 p->layout_from_debug_offsets ? "its _Py_DebugOffsets" : "the built-in table");
	if (p->layout_guessed_from)
		log_warn("CPython %u.%u is newer than this agent knows: read with the 3.%u layout, "
			 "which checked out against the process",
			 p->major, p->minor, p->layout_guessed_from);
}

static int on_target(void *ctx, struct pyproc *p)
{
	struct session *s = ctx;
	int err;

	if (collector__has_process(s->coll, p->pid))
		collector__forget(s->coll, p->pid); /* it executed another interpreter */
	err = sampler__add_target(s->smp, p);
	if (err) {
		log_warn("cannot start sampling pid %d: %s", p->pid, strerror(-err));
		return err;
	}
	describe_target(p);
	err = collector__add_process(s->coll, p);
	if (err) {
		sampler__remove_target(s->smp, p->pid);
		log_warn("cannot track pid %d: %s", p->pid, strerror(-err));
		return err;
	}
	s->seen++;
	return 0;
}

/* The process is gone, after discovery's grace period (samples still in flight are named):
 * the collector keeps what it named, its caches go. */
static void on_gone(void *ctx, pid_t pid)
{
	struct session *s = ctx;

	sampler__remove_target(s->smp, pid);
	collector__forget(s->coll, pid);
}

/* discovery's selection: the root, and with subprocesses every descendant. */
static int select_pid(void *ctx, pid_t pid)
{
	struct session *s = ctx;

	return proctree__has(&s->tree, pid);
}

static void on_proc_event(void *ctx, const struct pyprof_proc_event *ev)
{
	struct session *s = ctx;
	uint64_t before = s->tree.not_followed;

	proctree__on_event(&s->tree, s->disc, ev, clock__mono_ns());
	if (!before && s->tree.not_followed)
		log_warn("more than %d processes in the tree: pid %d and later ones are not "
			 "followed",
			 PROCTREE_MAX, s->tree.first_not_followed);
}

int session__exit_code(int err)
{
	return snapshot_exit_of_status[control__status_of(err)];
}

int session__open_process(pid_t pid, struct pyproc **ret, char *errbuf, size_t errlen)
{
	int err;

	for (;;) {
		int64_t age;

		err = pyproc__open(pid, NULL, ret, errbuf, errlen);
		if (err != -ENOEXEC)
			return err;
		age = procfs__age_ms(pid);
		if (age < 0 || age >= SESSION_SETTLE_MS)
			return err;
		clock__sleep_ns(50ULL * 1000 * 1000);
	}
}

/* Whether the root can be profiled, before anything is loaded: the errors of snapshot --pid.
 * With subprocesses, a root that is not CPython is fine: its descendants may be. */
static int check_root(const struct session_opts *o)
{
	struct pyproc *p = NULL;
	char err_msg[512] = "", missing[64];
	/* a tree's root is looked at once: if it executes an interpreter later, its exec event
	 * says so, and waiting for it to settle would only delay the descendants' sampling */
	int err = o->subprocesses ? pyproc__open(o->pid, NULL, &p, err_msg, sizeof(err_msg))
				  : session__open_process(o->pid, &p, err_msg, sizeof(err_msg));

	pyproc__free(p);
	if (!err)
		return SNAP_OK;
	if (err == -ENOEXEC && o->subprocesses) {
		log_info("%s; following its descendants", err_msg);
		return SNAP_OK;
	}
	/* without CAP_SYS_PTRACE the kernel shows a process's /proc files only to its own user,
	 * holding every capability it holds; without CAP_DAC_READ_SEARCH, not its files in
	 * directories closed to ours: a refusal then is for want of them */
	if ((err == -EACCES || err == -EPERM) &&
	    privilege__missing(PRIVILEGE_PTRACE | PRIVILEGE_FILES, missing, sizeof(missing)))
		log_error("%s (needs %s)", err_msg, missing);
	else
		log_error("%s", err_msg);
	return session__exit_code(err);
}

int session__open(const struct session_opts *opts, struct session **ret)
{
	struct sampler_opts so = {
	    .freq_hz = opts->rate_hz,
	    /* off-CPU stacks always carry their kernel reason */
	    .kernel_stacks = opts->kernel || opts->mode != PROFILE_CPU,
	    .off_cpu = opts->mode != PROFILE_CPU,
	    .min_block_us = opts->min_block_us,
	    .note = log__info_line,
	};
	struct collector_opts co = {
	    .kinds = 1u << opts->mode,
	    .rate_hz = opts->rate_hz,
	    .threads = opts->threads,
	    .kernel = opts->kernel,
	    .gil_only = opts->gil_only,
	    .parents = opts->subprocesses,
	};
	struct discovery_ops ops = {
	    .on_target = on_target, .on_gone = on_gone, .select = select_pid};
	char err_msg[512] = "";
	struct session *s;
	int err, code = SNAP_FAILED;

	if (!opts->root_pending) {
		code = check_root(opts);
		if (code)
			return code;
		code = SNAP_FAILED;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		log_error("out of memory");
		return SNAP_FAILED;
	}
	s->opts = *opts;
	/* the descendants now alive; later ones come by their fork events */
	proctree__init(&s->tree, opts->pid, opts->subprocesses, opts->root_pending);
	ops.ctx = s;
	if (so.kernel_stacks) {
		err = kallsyms__load(&s->ksyms);
		if (err)
			log_warn(
			    "kernel symbols unavailable (%s): kernel frames will be [unknown]_[k]",
			    strerror(-err));
	}
	s->coll = collector__new(&co, s->ksyms.n ? &s->ksyms : NULL);
	s->disc = discovery__new(NULL, &ops);
	if (!s->coll || !s->disc) {
		log_error("out of memory");
		goto fail;
	}
	err = sampler__open(&so, collector__on_sample, s->coll, &s->smp, err_msg, sizeof(err_msg));
	if (err) {
		log_error("%s", err_msg);
		code = err == -EPERM ? SNAP_NO_PRIVILEGE : SNAP_FAILED;
		goto fail;
	}
	log_debug("on-CPU sampler: %s", sampler__oncpu_kind(s->smp));
	if (so.off_cpu && !sampler__offcpu_attach_kind(s->smp)) {
		log_error("--mode %s needs the off-CPU tracer: %s", profile__kind_name(opts->mode),
			  sampler__offcpu_unavailable(s->smp));
		code = SNAP_NO_KERNEL_SUPPORT;
		goto fail;
	}
	if (sampler__offcpu_attach_kind(s->smp))
		log_info("off-CPU tracer: %s", sampler__offcpu_attach_kind(s->smp));
	/* a process tree is followed by its events; one process needs only its exit */
	if (opts->subprocesses || opts->root_pending) {
		err = procwatch__open(on_proc_event, s, opts->subprocesses, &s->pw, err_msg,
				      sizeof(err_msg));
		if (err) {
			log_error("cannot follow new processes: %s", err_msg);
			goto fail;
		}
	}
	discovery__scan(s->disc, clock__mono_ns());
	if (!opts->root_pending && !opts->subprocesses && !discovery__ntargets(s->disc)) {
		log_error("pid %d: exited before sampling began", opts->pid);
		code = SNAP_NO_PROCESS;
		goto fail;
	}
	s->last_tick = clock__mono_ns();
	*ret = s;
	return SNAP_OK;
fail:
	session__close(s);
	return code;
}

void session__root_started(struct session *s)
{
	/* its exec may have come and gone before this: look now, and for a while */
	proctree__root_started(&s->tree, s->disc, clock__mono_ns());
}

void session__poll(struct session *s, uint64_t timeout_ns)
{
	struct pollfd fds[2] = {{.fd = sampler__fd(s->smp), .events = POLLIN}};
	uint64_t now = clock__mono_ns(), due = discovery__next_due(s->disc);
	nfds_t n = 1;

	if (timeout_ns > DRAIN_INTERVAL_NS)
		timeout_ns = DRAIN_INTERVAL_NS;
	if (due && due - now < timeout_ns)
		timeout_ns = due > now ? due - now : 0;
	if (s->pw) {
		fds[1] = (struct pollfd){.fd = procwatch__fd(s->pw), .events = POLLIN};
		n = 2;
	}
	poll(fds, n, (int)((timeout_ns + 999999) / 1000000)); /* EINTR: a signal, handled above */
	/* samples first: an exit in the same batch must not see its process's last samples
	 * unnamed */
	sampler__drain(s->smp, 0);
	if (s->pw)
		procwatch__drain(s->pw);
	now = clock__mono_ns();
	discovery__tick(s->disc, now);
	if (!s->pw && discovery__ntargets(s->disc) && !procfs__alive(s->opts.pid))
		discovery__on_exit(s->disc, s->opts.pid, now); /* no events: asked of /proc */
	if (now - s->last_tick >= TICK_INTERVAL_NS) {
		collector__tick(s->coll);
		s->last_tick = now;
	}
}

size_t session__ntargets(const struct session *s)
{
	return discovery__ntargets(s->disc);
}

size_t session__targets_seen(const struct session *s)
{
	return s->seen;
}

struct collector *session__collector(struct session *s)
{
	return s->coll;
}

struct sampler *session__sampler(struct session *s)
{
	return s->smp;
}

void session__report(struct session *s)
{
	uint64_t bpf[METRIC_MAX], sym[SYM_STAT_MAX], drain_ns, records;
	const uint64_t *cs = collector__stats(s->coll);
	char line[2048];
	size_t o = 0;

	sampler__drain_stats(s->smp, &drain_ns, &records);
	log_info("userspace: %.0f ns per record over %llu records (drain, naming, counting)",
		 records ? (double)drain_ns / records : 0.0, (unsigned long long)records);
	if (sampler__metrics(s->smp, bpf))
		memset(bpf, 0, sizeof(bpf));
	collector__sym_stats(s->coll, sym);
	o += snprintf(line + o, sizeof(line) - o, "counters:");
	for (int i = METRIC_NONE + 1; i < METRIC_MAX && o < sizeof(line); i++) {
		if (bpf[i])
			o += snprintf(line + o, sizeof(line) - o, " %s=%llu",
				      pyprof_metric_names[i], (unsigned long long)bpf[i]);
	}
	for (int i = 0; i < COLL_STAT_MAX && o < sizeof(line); i++) {
		/* counts of what was sampled, not of what went wrong */
		if (cs[i] && i != COLL_STAT_SAMPLES && i != COLL_STAT_ON_CPU &&
		    i != COLL_STAT_GIL_HELD)
			o += snprintf(line + o, sizeof(line) - o, " %s=%llu",
				      collector_stat_names[i], (unsigned long long)cs[i]);
	}
	for (int i = SYM_STAT_UNREADABLE; i < SYM_STAT_MAX && o < sizeof(line); i++) {
		if (sym[i])
			o += snprintf(line + o, sizeof(line) - o, " %s=%llu", sym_stat_names[i],
				      (unsigned long long)sym[i]);
	}
	if (s->pw && procwatch__lost(s->pw) && o < sizeof(line))
		o += snprintf(line + o, sizeof(line) - o, " process_events_lost=%llu",
			      (unsigned long long)procwatch__lost(s->pw));
	if (s->tree.not_followed && o < sizeof(line))
		o += snprintf(line + o, sizeof(line) - o, " processes_not_followed=%llu",
			      (unsigned long long)s->tree.not_followed);
	log_info("%s", line);
}

void session__close(struct session *s)
{
	if (!s)
		return;
	discovery__free(s->disc);
	procwatch__close(s->pw);
	sampler__close(s->smp);
	collector__free(s->coll);
	proctree__free(&s->tree);
	kallsyms__free(&s->ksyms);
	free(s);
}
