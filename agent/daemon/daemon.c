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
#include "util/clock.h"
#include "profile/collector.h"
#include "os/container.h"
#include "daemon/control.h"
#include "daemon/daemon.h"
#include "daemon/discovery.h"
#include "os/kallsyms.h"
#include "util/log.h"
#include "daemon/netserver.h"
#include "daemon/window.h"
#include "format/folded.h"
#include "format/output.h"
#include "os/privilege.h"
#include "os/procfs.h"
#include "bpf/procwatch.h"
#include "python/pyproc.h"
#include "bpf/sampler.h"
#include "os/sdnotify.h"
#include "util/statlist.h"
#include "upload/uploader.h"
#include "util/version.h"

#define TICK_NS (100ULL * 1000 * 1000)
/* With nothing to sample and no snapshot asked for, the loop turns once a second: a host with
 * nothing to profile pays for little more than the rare rescan. A process that starts is found
 * at once all the same: its exec wakes the loop (see discover()). */
#define IDLE_TICK_NS (1000ULL * 1000 * 1000)
/* How long after the last record drained the loop stays at TICK_NS. A burst that starts while
 * it turns slowly waits at most IDLE_TICK_NS in the ring (sampling.ring_buffer_mb holds far
 * more than a second of samples). */
#define BUSY_AFTER_RECORDS_NS (3000ULL * 1000 * 1000)
/* Of a tick, at most this long goes to draining the ring buffer: the control socket, discovery
 * and window writes keep their turn under a flood of events. */
#define DRAIN_BUDGET_NS	 (50ULL * 1000 * 1000)
#define SYMBOL_PERIOD_NS (1000ULL * 1000 * 1000)
/* The /proc rescan is a safety net behind the exec and exit tracepoints: rare while they run,
 * the only way to find new processes where the kernel refused them. */
#define RESCAN_PERIOD_NS	   (60000ULL * 1000 * 1000)
#define RESCAN_PERIOD_NO_EVENTS_NS (5000ULL * 1000 * 1000)
#define MAX_SNAPSHOTS		   8
#define NS_PER_S		   1000000000ULL

/* A snapshot asked for over the control socket, served from the daemon's own sampler. */
struct snapshot_req {
	int active;
	uint64_t conn_id;
	pid_t pid;
	uint64_t deadline_ns;
	int own_target; /* the pid was added to the sampler for this request only */
	int mode;	/* enum profile_kind */
	struct collector *coll;
};

struct daemon {
	struct agent_config *cfg;
	const char *config_path;
	int epfd, sigfd, timerfd;
	int disc_timerfd;	  /* one-shot, at discovery__next_due: new processes examined */
	uint64_t disc_armed_ns;	  /* what disc_timerfd is set to; 0: disarmed */
	uint64_t tick_ns;	  /* the timer's period now: TICK_NS, or IDLE_TICK_NS */
	uint64_t last_records_ns; /* when a drain last found records */
	struct sampler *smp;
	struct procwatch *pw; /* NULL where the kernel refused it: rescans find processes */
	/* CPython 3.N minors newer than the known layouts, read with the 3.guessed_from[N] one
	 * (0: none): logged once, shown in status */
	unsigned char guessed_from[64];
	char pw_unavailable[512];
	struct discovery *disc;
	struct collector *coll;
	struct kallsyms ksyms;
	int have_ksyms;
	struct netserver *ctl, *http;
	struct uploader *up; /* NULL when upload.s3 is disabled */
	struct snapshot_req snaps[MAX_SNAPSHOTS];
	int stop;

	uint64_t start_mono_ns, start_wall_s;
	struct window win; /* the current window */
	uint64_t last_rescan_ns, last_symbol_tick_ns;

	/* figures for status and /metrics */
	uint64_t windows_written, window_write_errors, samples_in_windows, reloads, reload_errors,
	    snapshots_served, proc_events;
	char last_window[1024];
	uint64_t last_window_wall_s;
	uint64_t rate_mark_ns, rate_mark_samples;
	double samples_per_s;
	uint64_t watchdog_ns, last_watchdog_ns; /* systemd's WatchdogSec=, halved; 0: none */
};

static int sig_marker, timer_marker, disc_marker, proc_marker;

/* ---- windows ---- */

/* The profiles each window holds: cpu, and offcpu when off-CPU tracing is on. */
static unsigned window_kinds(const struct agent_config *cfg)
{
	return (1u << PROFILE_CPU) | (cfg->sampling.off_cpu.enabled ? 1u << PROFILE_OFFCPU : 0);
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

		if (!(window_kinds(d->cfg) & (1u << kind)))
			continue;
		meta.kind = (enum profile_kind)kind;
		collector__take_profile(d->coll, meta.kind, &prof);
		/* the spool first: a window written locally has always been spooled too */
		if (d->up) {
			char err_msg[512];

			if (uploader__spool(d->up, &prof, &meta, d->cfg->host.name,
					    d->cfg->window.seconds, err_msg, sizeof(err_msg)))
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

		if (r->active && r->pid == (pid_t)ev->pid)
			collector__on_sample(r->coll, ev, size);
	}
	return 0;
}

/* Whether there is anything to drain or serve: samples came in lately (a target that sleeps
 * sends none), or snapshots are asked for. */
static int busy(const struct daemon *d, uint64_t now)
{
	if (d->last_records_ns && now - d->last_records_ns < BUSY_AFTER_RECORDS_NS)
		return 1;
	for (int i = 0; i < MAX_SNAPSHOTS; i++) {
		if (d->snaps[i].active)
			return 1;
	}
	return 0;
}

/* Sets the loop's period (a no-op when it is already that). */
static void set_tick(struct daemon *d, uint64_t period_ns)
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
	set_tick(d, TICK_NS);
	return 0;
}

static int snapshot_uses(const struct daemon *d, pid_t pid)
{
	for (int i = 0; i < MAX_SNAPSHOTS; i++) {
		if (d->snaps[i].active && d->snaps[i].pid == pid)
			return 1;
	}
	return 0;
}

static void on_gone(void *ctx, pid_t pid)
{
	struct daemon *d = ctx;

	log_info("pid %d is gone or no longer selected; released", pid);
	if (!snapshot_uses(d, pid))
		sampler__remove_target(d->smp, pid);
	collector__forget(d->coll, pid);
}

static void on_proc_event(void *ctx, const struct pyprof_proc_event *ev)
{
	struct daemon *d = ctx;

	d->proc_events++;
	if (ev->kind == PYPROF_PROC_EXEC)
		discovery__on_exec(d->disc, (pid_t)ev->pid, clock__mono_ns());
	else if (ev->kind == PYPROF_PROC_EXIT)
		discovery__on_exit(d->disc, (pid_t)ev->pid, clock__mono_ns());
}

/* Runs what discovery has due and sets its timer to the next: an exec is examined at once and
 * retried within milliseconds, not at the loop's next tick. */
static void discover(struct daemon *d)
{
	struct itimerspec its = {0};
	uint64_t due;

	discovery__tick(d->disc, clock__mono_ns());
	due = discovery__next_due(d->disc);
	if (due == d->disc_armed_ns)
		return;
	its.it_value.tv_sec = due / NS_PER_S;
	its.it_value.tv_nsec = due % NS_PER_S;
	if (!timerfd_settime(d->disc_timerfd, TFD_TIMER_ABSTIME, &its, NULL))
		d->disc_armed_ns = due;
}

/* ---- status and metrics ---- */

/* The caches of what is read from targets, each with its budget (README, "Memory"). */
static void gather_caches(struct daemon *d, struct stat_list *l)
{
	const struct symcache *sc = collector__symcache(d->coll);
	const struct {
		const char *name;
		const struct lru *lru;
	} caches[] = {
	    {"code", symcache__codes(sc)},
	    {"source", symcache__sources(sc)},
	    {"elf", discovery__elf_cache(d->disc)},
	};
	const size_t n = sizeof(caches) / sizeof(caches[0]);

	for (size_t i = 0; i < n; i++) {
		const struct lru *c = caches[i].lru;

		char budget[64] = "";

		if (c->max_bytes != SIZE_MAX)
			snprintf(budget, sizeof(budget), ", %.1f of %.0f MiB", c->bytes / 1048576.0,
				 c->max_bytes / 1048576.0);
		statlist__info(l, "cache",
			       "%s: %zu entries (at most %zu)%s; %llu hits, %llu misses, %llu "
			       "evictions",
			       caches[i].name, c->n, c->max_n, budget,
			       (unsigned long long)c->stats[LRU_HITS],
			       (unsigned long long)c->stats[LRU_MISSES],
			       (unsigned long long)c->stats[LRU_EVICTIONS]);
	}
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < LRU_STAT_MAX; k++) {
			statlist__add(
			    l, "cache_events_total", STAT_COUNTER,
			    "Lookups in the caches of what is read from targets, and entries "
			    "evicted for their budget.",
			    "cache", caches[i].name, caches[i].lru->stats[k]);
			statlist__label2(l, "event", lru_stat_names[k]);
		}
	}
	for (size_t i = 0; i < n; i++)
		statlist__add(l, "cache_entries", STAT_GAUGE, "Entries held by each cache.",
			      "cache", caches[i].name, caches[i].lru->n);
	for (size_t i = 0; i < n; i++)
		statlist__add(l, "cache_bytes", STAT_GAUGE,
			      "Bytes held by each cache (the elf cache counts entries only).",
			      "cache", caches[i].name, caches[i].lru->bytes);
}

static void gather(struct daemon *d, struct stat_list *l)
{
	uint64_t bpf[METRIC_MAX], sym[SYM_STAT_MAX], now = clock__mono_ns();
	const uint64_t *cs = collector__stats(d->coll), *ds = discovery__stats(d->disc);
	uint64_t drain_ns = 0, records = 0;
	struct rusage ru;
	char *status = NULL;
	size_t len;
	long rss_kb = 0;

	if (sampler__metrics(d->smp, bpf))
		memset(bpf, 0, sizeof(bpf));
	collector__sym_stats(d->coll, sym);
	getrusage(RUSAGE_SELF, &ru);
	if (!procfs__read_file("/proc/self/status", 1 << 16, &status, &len)) {
		const char *p = strstr(status, "VmRSS:");

		if (p)
			rss_kb = strtol(p + 6, NULL, 10);
		free(status);
	}

	statlist__info(l, "version", "%s", PYPROF_VERSION);
	statlist__info(l, "config", "%s", d->config_path);
	statlist__info(l, "uptime", "%.0f s", (now - d->start_mono_ns) / 1e9);
	statlist__info(l, "sampling", "%u Hz on every CPU", sampler__frequency(d->smp));
	statlist__info(l, "targets", "%zu", discovery__ntargets(d->disc));
	statlist__info(l, "samples per second", "%.1f", d->samples_per_s);
	statlist__info(l, "window", "%u s, current since %llu (UTC seconds)",
		       d->cfg->window.seconds, (unsigned long long)d->win.slot_s);
	statlist__info(l, "last window written", "%s",
		       d->last_window[0] ? d->last_window : "none yet");
	statlist__info(l, "on-CPU", "%s", sampler__oncpu_kind(d->smp));
	for (unsigned m = 0; m < sizeof(d->guessed_from); m++) {
		if (d->guessed_from[m])
			statlist__info(
			    l, "CPython layout guessed",
			    "3.%u, newer than this agent knows, read with the 3.%u layout, "
			    "which checked out against its processes",
			    m, d->guessed_from[m]);
	}
	statlist__info(l, "process events", "%s",
		       d->pw ? procwatch__attach_kind(d->pw)
			     : "unavailable (rescans of /proc only)");
	if (sampler__offcpu_attach_kind(d->smp))
		statlist__info(l, "off-CPU", "%s", sampler__offcpu_attach_kind(d->smp));
	else if (sampler__offcpu_unavailable(d->smp))
		statlist__info(l, "off-CPU", "unavailable: %s",
			       sampler__offcpu_unavailable(d->smp));
	else
		statlist__info(l, "off-CPU", "disabled");
	/* a part the configuration asks for but the kernel refused: 1, with the reason */
	statlist__add(l, "part_unavailable", STAT_GAUGE,
		      "1 for a part of the agent that is asked for but the kernel refused.", "part",
		      "offcpu", sampler__offcpu_unavailable(d->smp) ? 1 : 0);
	statlist__label2(l, "reason",
			 sampler__offcpu_unavailable(d->smp) ? sampler__offcpu_unavailable(d->smp)
							     : "");
	statlist__add(l, "part_unavailable", STAT_GAUGE,
		      "1 for a part of the agent that is asked for but the kernel refused.", "part",
		      "process_events", d->pw ? 0 : 1);
	statlist__label2(l, "reason", d->pw ? "" : d->pw_unavailable);

	statlist__add(l, "uptime_seconds", STAT_GAUGE, "Seconds since the agent started.", NULL,
		      NULL, (now - d->start_mono_ns) / 1e9);
	statlist__add(l, "targets", STAT_GAUGE, "Processes being profiled.", NULL, NULL,
		      discovery__ntargets(d->disc));
	statlist__add(l, "sampling_frequency_hz", STAT_GAUGE, "On-CPU samples per second per CPU.",
		      NULL, NULL, sampler__frequency(d->smp));
	statlist__add(l, "samples_total", STAT_COUNTER, "Samples of target threads taken in BPF.",
		      NULL, NULL, bpf[METRIC_SAMPLES]);
	statlist__add(l, "ringbuf_drops_total", STAT_COUNTER,
		      "Samples lost because the ring buffer was full.", NULL, NULL,
		      bpf[METRIC_RINGBUF_FULL]);
	sampler__drain_stats(d->smp, &drain_ns, &records);
	statlist__info(l, "userspace per record",
		       "%.0f ns over %llu records (drain, naming, counting)",
		       records ? (double)drain_ns / records : 0.0, (unsigned long long)records);
	statlist__add(l, "records_drained_total", STAT_COUNTER,
		      "Sample records drained from the ring buffer by the daemon.", NULL, NULL,
		      records);
	statlist__add(l, "drain_seconds_total", STAT_COUNTER,
		      "Time the daemon spent draining, naming and counting those records.", NULL,
		      NULL, drain_ns / 1e9);
	statlist__add(
	    l, "ringbuf_drains_cut_total", STAT_COUNTER,
	    "Ticks whose 50 ms for draining the ring buffer ran out, records left for the "
	    "next.",
	    NULL, NULL, sampler__drains_cut(d->smp));
	for (int i = METRIC_NONE + 1; i < METRIC_MAX; i++) {
		if (i == METRIC_SAMPLES || i == METRIC_RINGBUF_FULL)
			continue;
		statlist__add(l, "sampler_events_total", STAT_COUNTER,
			      "BPF sampler outcomes and failures, by reason.", "reason",
			      pyprof_metric_names[i], bpf[i]);
	}
	for (int i = 0; i < COLL_STAT_MAX; i++)
		statlist__add(l, "collector_events_total", STAT_COUNTER,
			      "Samples turned into stacks, and their defects, by kind.", "kind",
			      collector_stat_names[i], cs[i]);
	for (int i = 0; i < SYM_STAT_MAX; i++)
		statlist__add(l, "symbolizer_events_total", STAT_COUNTER,
			      "Frame naming work and failures, by kind.", "kind", sym_stat_names[i],
			      sym[i]);
	gather_caches(d, l);
	for (int i = 0; i < DISC_STAT_MAX; i++)
		statlist__add(l, "discovery_events_total", STAT_COUNTER,
			      "Process discovery work and outcomes, by kind.", "kind",
			      discovery_stat_names[i], ds[i]);
	statlist__add(l, "process_events_lost_total", STAT_COUNTER,
		      "Exec and exit events lost (the /proc rescan catches up).", NULL, NULL,
		      d->pw ? procwatch__lost(d->pw) : 0);
	statlist__add(l, "windows_written_total", STAT_COUNTER, "Profile files written.", NULL,
		      NULL, d->windows_written);
	statlist__add(l, "window_write_errors_total", STAT_COUNTER,
		      "Profile files that could not be written.", NULL, NULL,
		      d->window_write_errors);
	statlist__add(l, "last_window_timestamp_seconds", STAT_GAUGE,
		      "Wall-clock time the last window was written.", NULL, NULL,
		      d->last_window_wall_s);
	statlist__add(l, "config_reloads_total", STAT_COUNTER, "Configuration reloads (SIGHUP).",
		      "result", "ok", d->reloads);
	statlist__add(l, "config_reloads_total", STAT_COUNTER, "Configuration reloads (SIGHUP).",
		      "result", "rejected", d->reload_errors);
	statlist__add(l, "snapshots_served_total", STAT_COUNTER,
		      "Snapshots served over the control socket.", NULL, NULL, d->snapshots_served);
	statlist__add(l, "control_clients_evicted_total", STAT_COUNTER,
		      "Idle control-socket clients closed to admit a new one.", NULL, NULL,
		      d->ctl ? netserver__evicted(d->ctl) : 0);
	statlist__add(l, "cpu_seconds_total", STAT_COUNTER, "CPU time used by the agent.", NULL,
		      NULL,
		      ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
			  (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	statlist__add(l, "resident_memory_bytes", STAT_GAUGE, "Resident memory of the agent.", NULL,
		      NULL, rss_kb * 1024.0);
	uploader__gather(d->up, l);
}

static void respond_text(struct netserver *s, uint64_t conn, const char *head,
			 void (*body)(struct daemon *, FILE *), struct daemon *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return;
	fputs(head, f);
	if (body)
		body(d, f);
	fclose(f);
	netserver__respond(s, conn, buf, len);
	free(buf);
}

/* One status line per target: "target: PID COMM[ in container ID (...)][, ns pid N]". */
static void status_target(void *ctx, pid_t pid)
{
	struct stat_list *l = ctx;
	char comm[64], where[192];

	procfs__comm(pid, 0, comm, sizeof(comm));
	statlist__info(l, "target", "%d %s%s", pid, comm,
		       container__describe(pid, where, sizeof(where)));
}

static void body_status(struct daemon *d, FILE *f)
{
	struct stat_list l;

	statlist__init(&l);
	gather(d, &l);
	discovery__each_target(d->disc, status_target, &l);
	statlist__render_status(&l, f);
	statlist__free(&l);
}

static void body_metrics(struct daemon *d, FILE *f)
{
	struct stat_list l;

	statlist__init(&l);
	gather(d, &l);
	statlist__render_prometheus(&l, f);
	statlist__free(&l);
}

/* ---- control requests ---- */

/* Answers conn with "error CODE: message" (control.h). */
static void answer_error(struct netserver *s, uint64_t conn, enum control_status status,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void answer_error(struct netserver *s, uint64_t conn, enum control_status status,
			 const char *fmt, ...)
{
	char message[400], line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	n = control__answer_line(line, sizeof(line), status, 0, message);
	if (n > 0)
		netserver__respond(s, conn, line, (size_t)n);
}

static void snapshot_start(struct daemon *d, uint64_t conn, const struct control_request *req)
{
	struct collector_opts co = {
	    .kinds = 1u << req->mode,
	    .rate_hz = sampler__frequency(d->smp),
	    .threads = req->threads,
	    .kernel = req->kernel,
	    .gil_only = req->gil_only,
	};
	struct snapshot_req *r = NULL;
	struct pyproc *p = NULL;
	char err_msg[256];
	int err;

	for (int i = 0; i < MAX_SNAPSHOTS && !r; i++) {
		if (!d->snaps[i].active)
			r = &d->snaps[i];
	}
	if (!r) {
		answer_error(d->ctl, conn, CONTROL_BUSY, "too many snapshots at once");
		return;
	}
	if (req->mode != PROFILE_CPU && sampler__offcpu_unavailable(d->smp)) {
		answer_error(d->ctl, conn, CONTROL_OFFCPU_UNAVAILABLE,
			     "off-CPU tracing is unavailable: %s",
			     sampler__offcpu_unavailable(d->smp));
		return;
	}
	if (req->mode != PROFILE_CPU && !sampler__offcpu_attach_kind(d->smp)) {
		answer_error(d->ctl, conn, CONTROL_OFFCPU_DISABLED,
			     "off-CPU tracing is disabled in this agent");
		return;
	}
	err = pyproc__open(req->pid, NULL, &p, err_msg, sizeof(err_msg));
	if (err) {
		answer_error(d->ctl, conn, control__status_of(err), "%s", err_msg);
		return;
	}
	memset(r, 0, sizeof(*r));
	r->coll = collector__new(&co, d->have_ksyms ? &d->ksyms : NULL);
	if (!r->coll) {
		answer_error(d->ctl, conn, CONTROL_FAILED, "out of memory");
		pyproc__free(p);
		return;
	}
	if (!collector__has_process(d->coll, req->pid) && !snapshot_uses(d, req->pid)) {
		err = sampler__add_target(d->smp, p);
		if (err) {
			answer_error(d->ctl, conn, CONTROL_FAILED, "cannot sample pid %d: %s",
				     req->pid, strerror(-err));
			collector__free(r->coll);
			pyproc__free(p);
			return;
		}
		r->own_target = 1;
	}
	if (collector__add_process(r->coll, p)) {
		answer_error(d->ctl, conn, CONTROL_FAILED, "out of memory");
		if (r->own_target)
			sampler__remove_target(d->smp, req->pid);
		pyproc__free(p);
		collector__free(r->coll);
		return;
	}
	r->active = 1;
	set_tick(d, TICK_NS); /* its deadline is kept to the busy loop's precision */
	r->mode = req->mode;
	r->conn_id = conn;
	r->pid = req->pid;
	r->deadline_ns = clock__mono_ns() + (uint64_t)req->duration_ms * 1000000ULL;
}

static void snapshot_finish(struct daemon *d, struct snapshot_req *r, int exited)
{
	struct profile *prof = collector__profile(r->coll, r->mode);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	r->active = 0;
	if (f) {
		char line[64];

		if (control__answer_line(line, sizeof(line), CONTROL_OK, exited, NULL) > 0)
			fputs(line, f);
		folded__write(prof, f);
		fclose(f);
		netserver__respond(d->ctl, r->conn_id, buf, len);
		free(buf);
	}
	if (r->own_target && !snapshot_uses(d, r->pid) && !collector__has_process(d->coll, r->pid))
		sampler__remove_target(d->smp, r->pid);
	collector__free(r->coll);
	r->coll = NULL;
	d->snapshots_served++;
}

static void on_control(void *ctx, struct netserver *s, uint64_t conn, const char *req, size_t len,
		       uid_t uid)
{
	struct daemon *d = ctx;
	struct control_request r;
	const char *why;
	int err;

	if (uid != 0) {
		/* the socket is 0600 already; this also refuses a peer that got the fd */
		answer_error(s, conn, CONTROL_DENIED, "permission denied (root only)");
		return;
	}
	err = control__parse(req, len, &r, &why);
	if (err) {
		if (err == -EPROTO)
			answer_error(s, conn, CONTROL_VERSION, "%s", why);
		else
			answer_error(s, conn, CONTROL_BAD_REQUEST, "bad request: %s", why);
		return;
	}
	switch (r.cmd) {
	case CONTROL_PING:
		netserver__respond(s, conn, "ok\n", 3);
		break;
	case CONTROL_STATUS:
		respond_text(s, conn, "ok\n", body_status, d);
		break;
	case CONTROL_SNAPSHOT:
		snapshot_start(d, conn, &r);
		break;
	}
}

static void on_http(void *ctx, struct netserver *s, uint64_t conn, const char *req, size_t len,
		    uid_t uid)
{
	struct daemon *d = ctx;
	static const char not_found[] = "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n"
					"Content-Length: 10\r\n\r\nnot found\n";

	if (len >= 13 && !strncmp(req, "GET /metrics", 12) && (req[12] == ' ' || req[12] == '?')) {
		char *body = NULL, *resp = NULL;
		size_t blen = 0, rlen = 0;
		FILE *f = open_memstream(&body, &blen);

		if (!f)
			return;
		body_metrics(d, f);
		fclose(f);
		f = open_memstream(&resp, &rlen);
		if (f) {
			fprintf(f,
				"HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
				"Content-Length: %zu\r\n\r\n",
				blen);
			fwrite(body, 1, blen, f);
			fclose(f);
			netserver__respond(s, conn, resp, rlen);
		}
		free(body);
		free(resp);
		return;
	}
	netserver__respond(s, conn, not_found, sizeof(not_found) - 1);
}

/* ---- servers ---- */

/* The socket's directory (the default's is /run/pyprof-agent, which systemd's RuntimeDirectory=
 * makes under the unit): made when missing; if that fails, listening says why. */
static void make_socket_dir(const char *socket_path)
{
	const char *slash = strrchr(socket_path, '/');
	char dir[PATH_MAX];

	if (!slash || slash == socket_path || (size_t)(slash - socket_path) >= sizeof(dir))
		return;
	memcpy(dir, socket_path, slash - socket_path);
	dir[slash - socket_path] = '\0';
	(void)mkdir(dir, 0750);
}

static int open_servers(struct daemon *d, const struct agent_config *cfg)
{
	char err_msg[256];
	int err;

	make_socket_dir(cfg->control.socket);
	err = netserver__listen_unix(cfg->control.socket, d->epfd, on_control, d, &d->ctl, err_msg,
				     sizeof(err_msg));
	if (err) {
		log_error("%s", err_msg);
		return err;
	}
	if (cfg->metrics.listen[0]) {
		err =
		    netserver__listen_tcp(cfg->metrics.listen_host, cfg->metrics.listen_port,
					  d->epfd, on_http, d, &d->http, err_msg, sizeof(err_msg));
		if (err) {
			log_error("%s", err_msg);
			return err;
		}
		log_info("serving metrics on http://%s/metrics", cfg->metrics.listen);
	}
	return 0;
}

static void close_servers(struct daemon *d)
{
	netserver__close(d->ctl);
	netserver__close(d->http);
	d->ctl = d->http = NULL;
	for (int i = 0; i < MAX_SNAPSHOTS; i++) {
		if (d->snaps[i].active) {
			d->snaps[i].active = 0;
			collector__free(d->snaps[i].coll);
		}
	}
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
	sampler__close(d->smp);
	d->smp = fresh;
	log_offcpu_state(d->smp);
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
	    cfg->sampling.ring_buffer_mb != old->sampling.ring_buffer_mb) {
		err = sampler_reopen(d, cfg, err_msg, sizeof(err_msg));
		if (err) {
			d->reload_errors++;
			log_error("reload rejected: %s; the running configuration is kept",
				  err_msg);
			config__free(cfg);
			return;
		}
	} else if (cfg->sampling.frequency_hz != sampler__frequency(d->smp)) {
		err = sampler__set_frequency(d->smp, cfg->sampling.frequency_hz, err_msg,
					     sizeof(err_msg));
		if (err) {
			d->reload_errors++;
			log_error("reload rejected: %s; the running configuration is kept",
				  err_msg);
			config__free(cfg);
			return;
		}
	}
	if (strcmp(cfg->control.socket, old->control.socket) ||
	    strcmp(cfg->metrics.listen, old->metrics.listen)) {
		close_servers(d);
		if (open_servers(d, cfg)) {
			log_warn(
			    "the new control socket or metrics endpoint failed; back to the old");
			close_servers(d);
			open_servers(d, old);
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

static void tick(struct daemon *d)
{
	uint64_t now = clock__mono_ns();

	if (sampler__drain(d->smp, DRAIN_BUDGET_NS) > 0)
		d->last_records_ns = now;
	/* exits do not wake the loop (an exec does): they are drained here */
	if (d->pw)
		procwatch__drain(d->pw);
	if (now - d->last_rescan_ns >= (d->pw ? RESCAN_PERIOD_NS : RESCAN_PERIOD_NO_EVENTS_NS)) {
		discovery__scan(d->disc, now);
		d->last_rescan_ns = now;
	}
	discover(d);
	if (now - d->last_symbol_tick_ns >= SYMBOL_PERIOD_NS) {
		uint64_t bpf[METRIC_MAX];

		/* a new epoch of name checks, idle or not: a name cached before a quiet spell is
		 * checked again at its first use after it */
		collector__tick(d->coll);
		for (int i = 0; i < MAX_SNAPSHOTS; i++) {
			if (d->snaps[i].active)
				collector__tick(d->snaps[i].coll);
		}
		if (!busy(d, now)) {
			d->samples_per_s = 0; /* nothing drained lately: no need to ask BPF */
			d->rate_mark_ns = 0;
		} else if (!sampler__metrics(d->smp, bpf)) {
			if (d->rate_mark_ns)
				d->samples_per_s = (bpf[METRIC_SAMPLES] - d->rate_mark_samples) *
						   1e9 / (now - d->rate_mark_ns);
			d->rate_mark_ns = now;
			d->rate_mark_samples = bpf[METRIC_SAMPLES];
		}
		d->last_symbol_tick_ns = now;
	}
	window_roll(d, 0, now);
	for (int i = 0; i < MAX_SNAPSHOTS; i++) {
		struct snapshot_req *r = &d->snaps[i];

		if (!r->active)
			continue;
		if (now >= r->deadline_ns)
			snapshot_finish(d, r, 0);
		else if (!procfs__alive(r->pid))
			snapshot_finish(d, r, 1);
	}
	netserver__tick(d->ctl, now);
	if (d->http)
		netserver__tick(d->http, now);
	if (d->watchdog_ns && now - d->last_watchdog_ns >= d->watchdog_ns) {
		sdnotify__send("WATCHDOG=1"); /* the loop turns: systemd's WatchdogSec= */
		d->last_watchdog_ns = now;
	}
	set_tick(d, busy(d, now) ? TICK_NS : IDLE_TICK_NS);
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
	d->have_ksyms = kallsyms__load(&d->ksyms) == 0;
	if (!d->have_ksyms)
		log_warn("kernel symbols unavailable: kernel frames will be [unknown]_[k]");
	d->coll = collector__new(&co, d->have_ksyms ? &d->ksyms : NULL);
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
	err = procwatch__open(on_proc_event, d, &d->pw, err_msg, sizeof(err_msg));
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
	if (open_servers(d, d->cfg))
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
	close_servers(d);
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
