// SPDX-License-Identifier: MIT
/* The daemon's event loop: one thread, one epoll. A 100 ms timer drains the ring buffers
 * (the BPF programs never wake us), runs discovery and closes windows on wall-clock
 * boundaries; signals arrive through a signalfd; the control socket and the metrics endpoint
 * are non-blocking servers on the same loop. */
#include <errno.h>
#include <malloc.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "bpf/procwatch.h"
#include "bpf/sampler.h"
#include "daemon/daemon.h"
#include "daemon/discovery.h"
#include "daemon/netserver.h"
#include "daemon/state.h"
#include "daemon/window.h"
#include "format/output.h"
#include "os/container.h"
#include "os/kallsyms.h"
#include "os/privilege.h"
#include "os/procfs.h"
#include "os/sdnotify.h"
#include "profile/collector.h"
#include "python/pyproc.h"
#include "upload/uploader.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/statlist.h"
#include "util/version.h"

/* With nothing to sample, no snapshot asked for and no client connected, the loop sleeps until
 * its next deadline (the window's end, the rescan, systemd's watchdog), at most this long: a
 * host with nothing to profile pays for little more than the rare rescan. A process that starts
 * is found at once all the same (its exec wakes the loop, see discover()), and samples that
 * come while it sleeps wake it when they fill a quarter of the ring (bpf/event.bpf.h). */
#define IDLE_TICK_NS (5000ULL * 1000 * 1000)
/* While a client is connected, at most this long: its idle timeout is checked on ticks. */
#define CLIENT_TICK_NS (1000ULL * 1000 * 1000)
/* How long after the last record drained the loop counts as busy (below). */
#define BUSY_AFTER_RECORDS_NS (3000ULL * 1000 * 1000)
/* While samples flow and their naming needs nothing that might not last, the loop drains at
 * most this often: every stack of them was named before from the cache, and a burst wakes the
 * loop at once by filling a quarter of the ring (bpf/event.bpf.h). A busy host pays a wake-up a
 * second, not ten. */
#define STEADY_TICK_NS (1000ULL * 1000 * 1000)
/* How long the loop drains at TICK_NS after a drain read a code object from a target (new code
 * is named from the process's memory, which goes with the process), a drain was cut short by
 * its budget, or a target was added (all its code is new). */
#define FRESH_NS (3000ULL * 1000 * 1000)
/* Of a tick, at most this long goes to draining the ring buffer: the control socket, discovery
 * and window writes keep their turn under a flood of events. */
#define DRAIN_BUDGET_NS	 (50ULL * 1000 * 1000)
#define SYMBOL_PERIOD_NS (1000ULL * 1000 * 1000)
/* The /proc rescan is a safety net behind the exec and exit tracepoints: rare while they run,
 * the only way to find new processes where the kernel refused them. */
#define RESCAN_PERIOD_NS	   (60000ULL * 1000 * 1000)
#define RESCAN_PERIOD_NO_EVENTS_NS (5000ULL * 1000 * 1000)
static int sig_marker, timer_marker, disc_marker, proc_marker, ring_marker;

/* ---- windows ---- */

/* The profiles each window holds: cpu, and offcpu when off-CPU tracing is on. */
static unsigned window_kinds(const struct agent_config *cfg)
{
	return (1u << PROFILE_CPU) | (cfg->sampling.off_cpu.enabled ? 1u << PROFILE_OFFCPU : 0);
}

/* The profile as folded text in memory (NULL when it cannot be rendered). */
static char *render_folded(const struct profile *p, const struct profile_meta *meta, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	int err;

	if (!f)
		return NULL;
	err = output__write(p, meta, OUTPUT_FOLDED, f);
	if (fclose(f) || err) {
		free(text);
		return NULL;
	}
	return text;
}

/* Writes the current window [its start, upto_wall_ns): each profile in every configured format. */
static void window_write(struct daemon *d, uint64_t upto_wall_ns)
{
	struct profile_meta meta = {
	    .rate_hz = sampler__frequency(d->smp),
	    .start_ns = d->win.from_ns,
	    .duration_ns = upto_wall_ns > d->win.from_ns ? upto_wall_ns - d->win.from_ns : 0,
	};
	char stamp[32], path[1024];
	/* named by the window's own start: the slot boundary for whole windows; a window cut by
	 * a reload or a restart does not overwrite the one before it in the same slot */
	time_t t = (time_t)(d->win.from_ns / NS_PER_S);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (mkdir(d->cfg->output.directory, 0755) && errno != EEXIST)
		log_warn("cannot create %s: %s; trying to write there anyway",
			 d->cfg->output.directory, strerror(errno));
	for (int kind = 0; kind < PROFILE_KIND_MAX; kind++) {
		struct profile prof;
		size_t folded_len = 0;
		char *folded;

		if (!(window_kinds(d->cfg) & (1u << kind)))
			continue;
		meta.kind = (enum profile_kind)kind;
		collector__take_profile(d->coll, meta.kind, &prof);
		/* folded text, rendered once for the spool and the local .folded file */
		folded = d->up || (d->cfg->output.formats & CONFIG_FORMAT_FOLDED)
			     ? render_folded(&prof, &meta, &folded_len)
			     : NULL;
		/* the spool first: a window written locally has always been spooled too */
		if (d->up) {
			char err_msg[512];

			if (!folded)
				log_error("cannot render the %s window; it will not be uploaded",
					  profile__kind_name(meta.kind));
			else if (uploader__spool(d->up, folded, folded_len, &meta,
						 d->cfg->host.name, d->cfg->window.seconds, err_msg,
						 sizeof(err_msg)))
				log_error("%s; this %s window will not be uploaded", err_msg,
					  profile__kind_name(meta.kind));
		}
		for (int f = 0; f < OUTPUT_FORMAT_MAX; f++) {
			int err;

			if (!(d->cfg->output.formats & (1u << f)))
				continue;
			snprintf(path, sizeof(path), "%s/%s_%s_%s%s", d->cfg->output.directory,
				 d->cfg->host.name, stamp, profile__kind_name(meta.kind),
				 output__extension((enum output_format)f));
			if (f == OUTPUT_FOLDED && folded)
				err = output__write_text_path(folded, folded_len, path);
			else
				err = output__write_path(&prof, &meta, (enum output_format)f, path);
			if (err) {
				d->window_write_errors++;
				log_error(
				    "cannot write window %s: %s; this window's %s output is lost",
				    path, strerror(-err),
				    output__format_name((enum output_format)f));
				continue;
			}
			d->windows_written++;
			snprintf(d->last_window, sizeof(d->last_window), "%s", path);
			d->last_window_wall_s = upto_wall_ns / NS_PER_S;
		}
		free(folded);
		if (kind == PROFILE_CPU)
			d->samples_in_windows += prof.total;
		log_debug("window %s %s: total %llu, %zu stacks", stamp,
			  profile__kind_name(meta.kind), (unsigned long long)prof.total,
			  prof.nstacks);
		profile__free(&prof);
	}
	/* the window's tables are gone: give their pages back rather than keep the peak */
	malloc_trim(0);
}

/* Writes the current window and starts the next if it is over (sample_mono: the time of a
 * sample, or 0 from the timer). */
static void window_roll(struct daemon *d, uint64_t sample_mono, uint64_t now_mono)
{
	if (!window__over(&d->win, sample_mono, now_mono))
		return;
	window_write(d, window__end_wall(&d->win));
	window__next(&d->win, clock__wall_ns(), clock__mono_ns());
}

/* ---- samples, targets ---- */

static int on_sample(void *ctx, const struct sample_event *ev, size_t size)
{
	struct daemon *d = ctx;

	window_roll(d, ev->time_ns, clock__mono_ns());
	if (collector__has_process(d->coll, ev->pid))
		collector__on_sample(d->coll, ev, size);
	for (int i = 0; i < MAX_SNAPSHOTS; i++) {
		struct snapshot_req *r = &d->snaps[i];

		if (r->active && collector__has_process(r->coll, (pid_t)ev->pid))
			collector__on_sample(r->coll, ev, size);
	}
	return 0;
}

static int snapshots_active(const struct daemon *d)
{
	for (int i = 0; i < MAX_SNAPSHOTS; i++) {
		if (d->snaps[i].active)
			return 1;
	}
	return 0;
}

/* Whether there is anything to drain or serve: samples came in lately (a target that sleeps
 * sends none), or snapshots are asked for. */
static int busy(const struct daemon *d, uint64_t now)
{
	if (d->last_records_ns && now - d->last_records_ns < BUSY_AFTER_RECORDS_NS)
		return 1;
	return snapshots_active(d);
}

/* Whether the loop must turn at TICK_NS: a snapshot's end is kept to it, and new code is named
 * while its process still lives (see FRESH_NS). */
static int urgent(const struct daemon *d, uint64_t now)
{
	return now < d->fresh_until_ns || snapshots_active(d);
}

/* Sets the loop's period (a no-op when it is already that). */
void daemon_set_tick(struct daemon *d, uint64_t period_ns)
{
	struct itimerspec its = {
	    .it_interval = {period_ns / NS_PER_S, period_ns % NS_PER_S},
	    .it_value = {period_ns / NS_PER_S, period_ns % NS_PER_S},
	};

	if (d->tick_ns == period_ns || timerfd_settime(d->timerfd, 0, &its, NULL))
		return;
	d->tick_ns = period_ns;
}

static int on_target(void *ctx, struct pyproc *p)
{
	struct daemon *d = ctx;
	pid_t pid = p->pid;
	char comm[64], where[192];
	int err;

	err = sampler__add_target(d->smp, p);
	if (err) {
		log_warn("cannot sample pid %d: %s; will retry at the next rescan", pid,
			 strerror(-err));
		pyproc__free(p);
		return err;
	}
	procfs__comm(pid, 0, comm, sizeof(comm));
	log_info("profiling pid %d (%s): CPython %u.%u%s", pid, comm, p->major, p->minor,
		 container__describe(pid, where, sizeof(where)));
	if (p->layout_guessed_from && !d->guessed_from[p->minor & 63]) {
		d->guessed_from[p->minor & 63] = (unsigned char)p->layout_guessed_from;
		log_warn(
		    "CPython %u.%u is newer than this agent knows: its processes are read with "
		    "the 3.%u layout, which checked out against pid %d",
		    p->major, p->minor, p->layout_guessed_from, pid);
	}
	err = collector__add_process(d->coll, p);
	if (err) {
		sampler__remove_target(d->smp, pid);
		pyproc__free(p);
		return err;
	}
	d->last_records_ns = clock__mono_ns(); /* samples to drain from now on */
	d->fresh_until_ns = d->last_records_ns + FRESH_NS;
	daemon_set_tick(d, TICK_NS);
	return 0;
}

static void on_gone(void *ctx, pid_t pid)
{
	struct daemon *d = ctx;

	log_info("pid %d is gone or no longer selected; released", pid);
	if (!serve__snapshot_uses(d, pid))
		sampler__remove_target(d->smp, pid);
	collector__forget(d->coll, pid);
}

static void on_proc_event(void *ctx, const struct pyprof_proc_event *ev)
{
	struct daemon *d = ctx;

	uint64_t now = clock__mono_ns();

	d->proc_events++;
	/* forks, reported while a tree snapshot runs, are the snapshots' only */
	if (ev->kind == PYPROF_PROC_EXEC)
		discovery__on_exec(d->disc, (pid_t)ev->pid, now);
	else if (ev->kind == PYPROF_PROC_EXIT)
		discovery__on_exit(d->disc, (pid_t)ev->pid, now);
	serve__on_proc_event(d, ev, now);
}

/* Runs what discovery has due and sets its timer to the next: an exec is examined at once and
 * retried within milliseconds, not at the loop's next tick. */
static void discover(struct daemon *d)
{
	struct itimerspec its = {0};
	uint64_t now = clock__mono_ns(), due, snaps_due;

	discovery__tick(d->disc, now);
	due = discovery__next_due(d->disc);
	snaps_due = serve__discover(d, now); /* the processes of tree snapshots */
	if (snaps_due && (!due || snaps_due < due))
		due = snaps_due;
	if (due == d->disc_armed_ns)
		return;
	its.it_value.tv_sec = due / NS_PER_S;
	its.it_value.tv_nsec = due % NS_PER_S;
	if (!timerfd_settime(d->disc_timerfd, TFD_TIMER_ABSTIME, &its, NULL))
		d->disc_armed_ns = due;
}

/* Said once when the sampler is (re)opened: which off-CPU way runs, or why none does. */
static void log_offcpu_state(const struct sampler *smp)
{
	if (sampler__offcpu_attach_kind(smp))
		log_info("off-CPU tracer: %s", sampler__offcpu_attach_kind(smp));
	else if (sampler__offcpu_unavailable(smp))
		log_warn("off-CPU profiling is off: %s; on-CPU profiling goes on",
			 sampler__offcpu_unavailable(smp));
}

static struct sampler_opts sampler_opts_for(const struct agent_config *cfg)
{
	return (struct sampler_opts){
	    .freq_hz = cfg->sampling.frequency_hz,
	    .kernel_stacks = 1, /* off-CPU stacks, and snapshots asked with --kernel */
	    .off_cpu = cfg->sampling.off_cpu.enabled,
	    .min_block_us = cfg->sampling.off_cpu.min_block_us,
	    .ringbuf_mb = cfg->sampling.ring_buffer_mb,
	    .no_code_checks = !cfg->sampling.code_checks,
	    .note = log__info_line,
	};
}

/* ---- reload ---- */

static void readd_target(void *ctx, const struct pyproc *p)
{
	struct sampler *smp = ctx;

	if (sampler__add_target(smp, p))
		log_warn("pid %d could not be sampled again after the reload", p->pid);
}

/* A new sampler for a changed off-CPU setting; the old one keeps running if it fails. */
/* A sample that finds the ring a quarter full wakes the loop (bpf/event.bpf.h), so a burst is
 * drained before the ring fills, whatever the timer's period. */
static int watch_ring(struct daemon *d)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &ring_marker};

	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, sampler__fd(d->smp), &ev)) {
		log_error("cannot watch the sample ring: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int sampler_reopen(struct daemon *d, const struct agent_config *cfg, char *errbuf,
			  size_t errlen)
{
	struct sampler_opts so = sampler_opts_for(cfg);
	struct sampler *fresh = NULL;
	int err;

	err = sampler__open(&so, on_sample, d, &fresh, errbuf, errlen);
	if (err)
		return err;
	sampler__drain(d->smp, 0);
	collector__each_process(d->coll, readd_target, fresh);
	/* and what snapshots sample that the windows do not */
	for (int i = 0; i < MAX_SNAPSHOTS; i++) {
		if (d->snaps[i].active)
			collector__each_process(d->snaps[i].coll, readd_target, fresh);
	}
	sampler__close(d->smp); /* its ring leaves the epoll set as it closes */
	d->smp = fresh;
	log_offcpu_state(d->smp);
	watch_ring(d); /* on failure (logged) the timer still drains it */
	return 0;
}

static void reload(struct daemon *d)
{
	struct agent_config *cfg = NULL, *old = d->cfg;
	char err_msg[512];
	int err;

	err = config__load(d->config_path, &cfg, err_msg, sizeof(err_msg));
	if (err) {
		d->reload_errors++;
		log_error("reload rejected: %s; the running configuration is kept", err_msg);
		return;
	}
	if (cfg->sampling.off_cpu.enabled != old->sampling.off_cpu.enabled ||
	    cfg->sampling.off_cpu.min_block_us != old->sampling.off_cpu.min_block_us ||
	    cfg->sampling.ring_buffer_mb != old->sampling.ring_buffer_mb ||
	    cfg->sampling.code_checks != old->sampling.code_checks)
		err = sampler_reopen(d, cfg, err_msg, sizeof(err_msg));
	else if (cfg->sampling.frequency_hz != sampler__frequency(d->smp))
		err = sampler__set_frequency(d->smp, cfg->sampling.frequency_hz, err_msg,
					     sizeof(err_msg));
	if (err) {
		d->reload_errors++;
		log_error("reload rejected: %s; the running configuration is kept", err_msg);
		config__free(cfg);
		return;
	}
	if (strcmp(cfg->control.socket, old->control.socket) ||
	    strcmp(cfg->metrics.listen, old->metrics.listen)) {
		serve__close(d);
		if (serve__open(d, cfg)) {
			log_warn(
			    "the new control socket or metrics endpoint failed; back to the old");
			serve__close(d);
			serve__open(d, old);
		}
	}
	log__set_level(cfg->log.level);
	if (uploader__apply(&d->up, cfg, err_msg, sizeof(err_msg)))
		log_error("upload settings not applied: %s; uploads go on with the previous ones",
			  err_msg);
	/* the current window is closed early, so each file has one configuration */
	window_write(d, clock__wall_ns());
	d->cfg = cfg;
	window__begin(&d->win, cfg->window.seconds, clock__wall_ns(), clock__wall_ns(),
		      clock__mono_ns());
	discovery__set_config(d->disc, cfg);
	discovery__scan(d->disc, clock__mono_ns());
	config__free(old);
	d->reloads++;
	log_info("configuration reloaded from %s: %u Hz, %u s windows", d->config_path,
		 cfg->sampling.frequency_hz, cfg->window.seconds);
}

/* ---- the loop ---- */

/* The loop's period: TICK_NS while urgent; else until the first deadline, within [TICK_NS,
 * STEADY_TICK_NS] while busy and [TICK_NS, IDLE_TICK_NS] (CLIENT_TICK_NS with a client) when
 * not. */
static uint64_t loop_period(const struct daemon *d, uint64_t now)
{
	uint64_t rescan =
	    d->last_rescan_ns + (d->pw ? RESCAN_PERIOD_NS : RESCAN_PERIOD_NO_EVENTS_NS);
	uint64_t deadlines[] = {d->win.end_mono + WINDOW_SLACK_NS, rescan,
				d->watchdog_ns ? d->last_watchdog_ns + d->watchdog_ns : UINT64_MAX};
	uint64_t period = IDLE_TICK_NS;

	if (urgent(d, now))
		return TICK_NS;
	if (netserver__nconns(d->ctl) || (d->http && netserver__nconns(d->http)))
		period = CLIENT_TICK_NS;
	if (busy(d, now))
		period = STEADY_TICK_NS;

	for (size_t i = 0; i < sizeof(deadlines) / sizeof(deadlines[0]); i++) {
		if (deadlines[i] > now && deadlines[i] - now < period)
			period = deadlines[i] - now;
	}
	/* whole milliseconds, so that the timer is not set again at every turn for nothing */
	period = period / 1000000 * 1000000;
	return period < TICK_NS ? TICK_NS : period;
}

/* Starts a new epoch of name checks once a second, idle or not, and before a drain: a name
 * cached before a quiet spell is checked again at its first use after it. */
static void name_epoch(struct daemon *d, uint64_t now)
{
	uint64_t samples;

	if (now - d->last_symbol_tick_ns < SYMBOL_PERIOD_NS)
		return;
	collector__tick(d->coll);
	for (int i = 0; i < MAX_SNAPSHOTS; i++) {
		if (d->snaps[i].active)
			collector__tick(d->snaps[i].coll);
	}
	if (!busy(d, now)) {
		d->samples_per_s = 0; /* nothing drained lately: no need to ask BPF */
		d->rate_mark_ns = 0;
	} else if (!sampler__metric(d->smp, METRIC_SAMPLES, &samples)) {
		if (d->rate_mark_ns)
			d->samples_per_s =
			    (samples - d->rate_mark_samples) * 1e9 / (now - d->rate_mark_ns);
		d->rate_mark_ns = now;
		d->rate_mark_samples = samples;
	}
	d->last_symbol_tick_ns = now;
}

/* Code objects read from the targets' memory so far: new code, or an address that now holds
 * another code object (not the checks of cached names, which a known stack also pays). */
static uint64_t code_reads(const struct daemon *d)
{
	uint64_t st[SYM_STAT_MAX];

	collector__sym_stats(d->coll, st);
	return st[SYM_STAT_CODE_READS] + st[SYM_STAT_REUSED_ADDRESS];
}

/* Drains the sample ring (from the timer, or woken by a filling ring). */
static void drain(struct daemon *d, uint64_t now)
{
	uint64_t cut = sampler__drains_cut(d->smp), reads = code_reads(d);

	name_epoch(d, now);
	if (sampler__drain(d->smp, DRAIN_BUDGET_NS) <= 0)
		return;
	d->last_records_ns = now;
	if (sampler__drains_cut(d->smp) != cut || code_reads(d) != reads)
		d->fresh_until_ns = now + FRESH_NS;
	daemon_set_tick(d, loop_period(d, now));
}

static void tick(struct daemon *d)
{
	uint64_t now = clock__mono_ns();

	drain(d, now);
	/* exits do not wake the loop (an exec does): they are drained here */
	if (d->pw)
		procwatch__drain(d->pw);
	if (now - d->last_rescan_ns >= (d->pw ? RESCAN_PERIOD_NS : RESCAN_PERIOD_NO_EVENTS_NS)) {
		discovery__scan(d->disc, now);
		d->last_rescan_ns = now;
	}
	discover(d);
	kallsyms__drop_unused(&d->ksyms, now);
	window_roll(d, 0, now);
	serve__snapshots_tick(d, now);
	netserver__tick(d->ctl, now);
	if (d->http)
		netserver__tick(d->http, now);
	if (d->watchdog_ns && now - d->last_watchdog_ns >= d->watchdog_ns) {
		sdnotify__send("WATCHDOG=1"); /* the loop turns: systemd's WatchdogSec= */
		d->last_watchdog_ns = now;
	}
	daemon_set_tick(d, loop_period(d, now));
}

static int setup_loop(struct daemon *d)
{
	struct itimerspec its = {.it_interval = {0, TICK_NS}, .it_value = {0, TICK_NS}};
	struct epoll_event ev = {.events = EPOLLIN};
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d->disc_timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->epfd < 0 || d->sigfd < 0 || d->timerfd < 0 || d->disc_timerfd < 0)
		return -errno;
	if (timerfd_settime(d->timerfd, 0, &its, NULL))
		return -errno;
	d->tick_ns = TICK_NS;
	ev.data.ptr = &sig_marker;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->sigfd, &ev))
		return -errno;
	ev.data.ptr = &timer_marker;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->timerfd, &ev))
		return -errno;
	ev.data.ptr = &disc_marker;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->disc_timerfd, &ev))
		return -errno;
	return 0;
}

/* READY=1 to systemd (Type=notify), after start-up and after each reload, accepted or not. */
static void notify_ready(struct daemon *d)
{
	char status[128];

	snprintf(status, sizeof(status), "profiling %zu processes, %u s windows",
		 discovery__ntargets(d->disc), d->cfg->window.seconds);
	sdnotify__ready(status);
}

static void on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("SIGHUP: reloading %s", d->config_path);
			sdnotify__reloading();
			reload(d);
			notify_ready(d);
		} else {
			log_info("%s: writing the current window, then exiting",
				 si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			sdnotify__stopping();
			d->stop = 1;
		}
	}
}

static int start(struct daemon *d)
{
	struct sampler_opts so = sampler_opts_for(d->cfg);
	struct collector_opts co = {
	    .kinds = (1u << PROFILE_CPU) | (1u << PROFILE_OFFCPU),
	    .rate_hz = d->cfg->sampling.frequency_hz,
	};
	struct discovery_ops ops = {.on_target = on_target, .on_gone = on_gone, .ctx = d};
	char err_msg[512], missing[96];
	int err;

	/* every process on the host is a possible target: without CAP_SYS_PTRACE the agent
	 * would run and profile none of them, so it is refused like a missing BPF capability */
	if (privilege__missing(PRIVILEGE_BPF | PRIVILEGE_PTRACE, missing, sizeof(missing))) {
		log_error("cannot start without %s (" PRIVILEGE_ADVICE ")", missing);
		return 6;
	}
	err = setup_loop(d);
	if (err) {
		log_error("cannot set up the event loop: %s", strerror(-err));
		return 1;
	}
	/* the kernel's symbols are read when a kernel frame is first named, and dropped after
	 * KSYMS_IDLE_NS (or longer, if they were needed again soon after a drop) without one: an
	 * idle host does not keep them */
	kallsyms__init_lazy(&d->ksyms, KSYMS_IDLE_NS);
	d->coll = collector__new(&co, &d->ksyms);
	d->disc = discovery__new(d->cfg, &ops);
	if (!d->coll || !d->disc) {
		log_error("out of memory");
		return 1;
	}
	err = sampler__open(&so, on_sample, d, &d->smp, err_msg, sizeof(err_msg));
	if (err) {
		log_error("%s", err_msg);
		return err == -EPERM ? 6 : 1;
	}
	log_info("on-CPU sampler: %s", sampler__oncpu_kind(d->smp));
	log_offcpu_state(d->smp);
	if (watch_ring(d))
		return 1;
	err = procwatch__open(on_proc_event, d, 0, &d->pw, err_msg, sizeof(err_msg));
	if (err) {
		/* optional: new processes are then found by the /proc rescans */
		snprintf(d->pw_unavailable, sizeof(d->pw_unavailable), "%s", err_msg);
		log_warn("%s; new processes are found by rescanning /proc every %u s instead",
			 err_msg, (unsigned)(RESCAN_PERIOD_NO_EVENTS_NS / NS_PER_S));
	} else {
		/* an exec wakes the loop (BPF forces a wakeup for it) */
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &proc_marker};

		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, procwatch__fd(d->pw), &ev)) {
			log_error("cannot watch the process events: %s", strerror(errno));
			return 1;
		}
	}
	if (serve__open(d, d->cfg))
		return 1;
	err = uploader__apply(&d->up, d->cfg, err_msg, sizeof(err_msg));
	if (err) {
		log_error("%s", err_msg);
		return err == -EINVAL ? 2 : 1;
	}
	d->start_mono_ns = clock__mono_ns();
	d->start_wall_s = clock__wall_ns() / NS_PER_S;
	window__begin(&d->win, d->cfg->window.seconds, clock__wall_ns(), clock__wall_ns(),
		      d->start_mono_ns);
	discovery__scan(d->disc, d->start_mono_ns);
	d->last_rescan_ns = d->last_symbol_tick_ns = d->start_mono_ns;
	log_info("pyprof-agent %s: %u Hz, %u s windows to %s, %zu targets, control socket %s",
		 PYPROF_VERSION, d->cfg->sampling.frequency_hz, d->cfg->window.seconds,
		 d->cfg->output.directory, discovery__ntargets(d->disc), d->cfg->control.socket);
	/* loading the BPF objects parsed the kernel's BTF twice, the first scan read the ELF
	 * symbols of every interpreter: megabytes freed, kept by malloc until given back */
	malloc_trim(0);
	return 0;
}

static void teardown(struct daemon *d)
{
	uploader__free(d->up, 0);
	serve__close(d);
	procwatch__close(d->pw);
	sampler__close(d->smp);
	discovery__free(d->disc);
	collector__free(d->coll);
	kallsyms__free(&d->ksyms);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->timerfd >= 0)
		close(d->timerfd);
	if (d->disc_timerfd >= 0)
		close(d->disc_timerfd);
	if (d->epfd >= 0)
		close(d->epfd);
	config__free(d->cfg);
}

int daemon__run(struct agent_config *cfg, const char *config_path)
{
	struct daemon d = {.cfg = cfg,
			   .config_path = config_path,
			   .epfd = -1,
			   .sigfd = -1,
			   .timerfd = -1,
			   .disc_timerfd = -1};
	int code;

	code = start(&d);
	if (!code) {
		notify_ready(&d);
		d.watchdog_ns = sdnotify__watchdog_usec() * 1000 / 2;
	}
	while (!code && !d.stop) {
		struct epoll_event evs[32];
		int n = epoll_wait(d.epfd, evs, 32, -1);

		if (n < 0 && errno != EINTR) {
			log_error("epoll_wait: %s", strerror(errno));
			code = 1;
			break;
		}
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			uint64_t expirations;

			if (p == &sig_marker) {
				on_signal(&d);
			} else if (p == &timer_marker) {
				if (read(d.timerfd, &expirations, sizeof(expirations)) < 0)
					continue;
				tick(&d);
			} else if (p == &disc_marker) {
				if (read(d.disc_timerfd, &expirations, sizeof(expirations)) < 0)
					continue;
				d.disc_armed_ns = 0; /* one-shot: it fired */
				discover(&d);
			} else if (p == &ring_marker) {
				drain(&d, clock__mono_ns());
			} else if (p == &proc_marker) {
				procwatch__drain(d.pw);
				discover(&d);
			} else if (!(d.ctl && netserver__handle(d.ctl, p, evs[i].events,
								clock__mono_ns()))) {
				if (d.http)
					netserver__handle(d.http, p, evs[i].events,
							  clock__mono_ns());
			}
		}
	}
	if (!code) {
		sampler__drain(d.smp, 0);
		window_write(&d, clock__wall_ns());
		/* the final window is spooled; it goes now if the store answers in time */
		uploader__free(d.up, UPLOADER_EXIT_FLUSH_MS);
		d.up = NULL;
		log_info("stopped; last window: %s", d.last_window[0] ? d.last_window : "none");
	}
	teardown(&d);
	return code;
}
