// SPDX-License-Identifier: MIT
/* The daemon's figures for `agentctl status` and /metrics: gathered from every part, rendered
 * by util/statlist. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "daemon/state.h"
#include "os/container.h"
#include "os/procfs.h"
#include "util/clock.h"
#include "util/version.h"

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
	statlist__info(l, "sampling", "%u Hz on every CPU%s", sampler__frequency(d->smp),
		       sampler__ntargets(d->smp) ? "" : " (clocks off until there is a target)");
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
	if (d->pw)
		/* forks are reported only while a tree snapshot runs */
		statlist__info(l, "process events", "%s, fork events %s",
			       procwatch__attach_kind(d->pw),
			       procwatch__forks(d->pw) ? "on" : "off");
	else
		statlist__info(l, "process events", "unavailable (rescans of /proc only)");
	if (sampler__offcpu_attach_kind(d->smp))
		statlist__info(l, "off-CPU", "%s", sampler__offcpu_attach_kind(d->smp));
	else if (sampler__offcpu_unavailable(d->smp))
		statlist__info(l, "off-CPU", "unavailable: %s",
			       sampler__offcpu_unavailable(d->smp));
	else
		statlist__info(l, "off-CPU", "disabled");
	if (d->ksyms.loaded)
		statlist__info(
		    l, "kernel symbols",
		    "%zu loaded (reads of /proc/kallsyms: %u; dropped after %llu s unused)",
		    d->ksyms.n, d->ksyms.loads, (unsigned long long)(d->ksyms.keep_ns / NS_PER_S));
	else if (d->ksyms.failed)
		statlist__info(l, "kernel symbols", "not loaded (unreadable)");
	else
		statlist__info(l, "kernel symbols",
			       "not loaded (no kernel frame to name in the last %llu s; reads of "
			       "/proc/kallsyms: %u)",
			       (unsigned long long)(d->ksyms.keep_ns / NS_PER_S), d->ksyms.loads);
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

/* One status line per target: "target: PID COMM[ in container ID (...)][, ns pid N]". */
static void status_target(void *ctx, pid_t pid)
{
	struct stat_list *l = ctx;
	char comm[64], where[192];

	procfs__comm(pid, 0, comm, sizeof(comm));
	statlist__info(l, "target", "%d %s%s", pid, comm,
		       container__describe(pid, where, sizeof(where)));
}

void status__write(struct daemon *d, FILE *f)
{
	struct stat_list l;

	statlist__init(&l);
	gather(d, &l);
	discovery__each_target(d->disc, status_target, &l);
	statlist__render_status(&l, f);
	statlist__free(&l);
}

void status__write_metrics(struct daemon *d, FILE *f)
{
	struct stat_list l;

	statlist__init(&l);
	gather(d, &l);
	statlist__render_prometheus(&l, f);
	statlist__free(&l);
}
