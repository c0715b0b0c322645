// SPDX-License-Identifier: MIT
/* Target discovery. Every pid seen is remembered with its start time (so a reused pid is a new
 * process) and a state; non-Python processes are not examined twice, and ELF files are parsed
 * once thanks to the pyproc cache. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/discovery.h"
#include "os/container.h"
#include "os/procfs.h"
#include "util/hashmap.h"

/* A process is examined as soon as its exec event is drained, then again after 2, 4, 8 ... ms
 * (at most 500 ms apart) until its interpreter library is mapped, for about 1.5 s (a library
 * dlopen'ed by an embedding program, such as uWSGI's Python plugin, is found in that time): a
 * short-lived worker is a target within milliseconds of its start. A retry reads the maps again
 * only if the process's address space grew or shrank since the last read (its vsize in
 * /proc/PID/stat, which the retry reads anyway): a program that is not Python, once its loader
 * is done, costs a small read per retry, ten retries in all, and retries of processes started
 * about the same time share a wake-up. (A retry every 100 ms, each reading the maps, cost 6.9%
 * of a core at 20 new 3-second programs a second; this, 1.9%.) */
#define EXEC_RETRY_FIRST_NS (2ULL * 1000 * 1000)
#define EXEC_RETRY_MAX_NS   (500ULL * 1000 * 1000)
#define EXEC_GIVE_UP_NS	    (1500ULL * 1000 * 1000)

const char *const discovery_stat_names[DISC_STAT_MAX] = {
    [DISC_STAT_SCANS] = "scans",
    [DISC_STAT_EXAMINED] = "examined",
    [DISC_STAT_TARGETS_ADDED] = "targets_added",
    [DISC_STAT_TARGETS_GONE] = "targets_gone",
    [DISC_STAT_NOT_PYTHON] = "not_python",
    [DISC_STAT_NOT_SELECTED] = "not_selected",
    [DISC_STAT_UNSUPPORTED] = "unsupported_version",
    [DISC_STAT_ERRORS] = "errors",
    [DISC_STAT_RETRIES_UNCHANGED] = "retries_unchanged",
};

enum proc_state {
	PS_PENDING,  /* exec seen: examine at retry_ns until give_up_ns */
	PS_REJECTED, /* examined: not a target */
	PS_TARGET,   /* reported to on_target */
	PS_EXITING,  /* target exited: report gone at retry_ns */
};

struct proc_rec {
	uint64_t starttime; /* /proc/PID/stat field 22: tells a reused pid apart */
	enum proc_state state;
	uint64_t retry_ns;
	uint64_t give_up_ns;
	uint64_t retry_gap_ns; /* PS_PENDING: the next retry's delay, doubled at each try */
	uint64_t vsize;	       /* PS_PENDING: vsize when the maps were last read; 0: not yet */
	uint32_t seen_scan;    /* last scan that saw it alive */
};

struct discovery {
	const struct agent_config *cfg;
	struct discovery_ops ops;
	struct pyproc_cache *cache;
	struct hashmap procs; /* pid -> proc_rec */
	uint32_t scan_gen;
	size_t ntargets;
	uint64_t next_due_ns; /* earliest retry_ns of a pending or exiting process; 0: none */
	uint64_t stats[DISC_STAT_MAX];
};

struct discovery *discovery__new(const struct agent_config *cfg, const struct discovery_ops *ops)
{
	struct discovery *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->cache = pyproc__cache_new();
	if (!d->cache) {
		free(d);
		return NULL;
	}
	d->cfg = cfg;
	d->ops = *ops;
	hashmap__init(&d->procs);
	return d;
}

static struct hkey pid_key(pid_t pid)
{
	return (struct hkey){(uint64_t)pid, 0};
}

static void report_gone(struct discovery *d, pid_t pid, struct proc_rec *r)
{
	if (r->state == PS_TARGET || r->state == PS_EXITING) {
		d->ntargets--;
		d->stats[DISC_STAT_TARGETS_GONE]++;
		d->ops.on_gone(d->ops.ctx, pid);
	}
}

void discovery__free(struct discovery *d)
{
	size_t it = 0;
	void *v;

	if (!d)
		return;
	while (hashmap__next(&d->procs, &it, NULL, &v))
		free(v);
	hashmap__free(&d->procs);
	pyproc__cache_free(d->cache);
	free(d);
}

/* Whether targets.* selects pid (only asked about CPython processes). */
static int selected(const struct agent_config *cfg, pid_t pid)
{
	char cmdline[DISCOVERY_CMDLINE_MAX + 1];
	int hit = 0;

	if (cfg->targets.all_python)
		return 1;
	for (size_t i = 0; i < cfg->targets.n_pids; i++) {
		if (cfg->targets.pids[i] == pid)
			return 1;
	}
	if (cfg->targets.n_container_ids) {
		struct container_info ci;

		if (!container__read(pid, &ci)) {
			for (size_t i = 0; i < cfg->targets.n_container_ids; i++) {
				if (container__id_matches(ci.id, cfg->targets.container_ids[i]))
					return 1;
			}
		}
	}
	if (!cfg->targets.n_cmdline_regex)
		return 0;
	if (procfs__cmdline(pid, cmdline, sizeof(cmdline)) < 0)
		return 0;
	for (size_t i = 0; i < cfg->targets.n_cmdline_regex && !hit; i++)
		hit = !regexec(&cfg->targets.cmdline_regex[i].re, cmdline, 0, NULL, 0);
	return hit;
}

/* Notes that something is due at when_ns (see discovery__next_due). */
static void due(struct discovery *d, uint64_t when_ns)
{
	if (!d->next_due_ns || when_ns < d->next_due_ns)
		d->next_due_ns = when_ns;
}

/* A new process found not (yet) Python: tries again later, with a doubled gap, until give_up_ns.
 * Returns 0 once it is time to give up. */
static int retry_later(struct discovery *d, struct proc_rec *r, uint64_t now_ns)
{
	uint64_t grid = r->retry_gap_ns / 2;

	if (r->state != PS_PENDING || now_ns >= r->give_up_ns)
		return 0;
	/* on a grid of half the gap: the retries of processes started about the same time share
	 * one wake-up of the loop */
	r->retry_ns = (now_ns + r->retry_gap_ns + grid - 1) / grid * grid;
	r->retry_gap_ns =
	    r->retry_gap_ns * 2 < EXEC_RETRY_MAX_NS ? r->retry_gap_ns * 2 : EXEC_RETRY_MAX_NS;
	due(d, r->retry_ns);
	return 1;
}

/* Examines pid; updates its record. Returns 1 if it became a target. */
static int examine(struct discovery *d, pid_t pid, struct proc_rec *r, uint64_t now_ns)
{
	struct pyproc *p = NULL;
	char err_msg[256];
	int err;

	d->stats[DISC_STAT_EXAMINED]++;
	if (d->ops.select && !d->ops.select(d->ops.ctx, pid)) {
		d->stats[DISC_STAT_NOT_SELECTED]++;
		r->state = PS_REJECTED;
		return 0;
	}
	err = pyproc__open(pid, d->cache, &p, err_msg, sizeof(err_msg));
	if (err == -ENOEXEC && retry_later(d, r, now_ns))
		return 0; /* libpython may not be mapped yet */
	if (err) {
		r->state = PS_REJECTED;
		if (err == -ENOEXEC)
			d->stats[DISC_STAT_NOT_PYTHON]++;
		else if (err == -EPROTONOSUPPORT)
			d->stats[DISC_STAT_UNSUPPORTED]++;
		else
			d->stats[DISC_STAT_ERRORS]++;
		return 0;
	}
	if (!d->ops.select && !selected(d->cfg, pid)) {
		d->stats[DISC_STAT_NOT_SELECTED]++;
		r->state = PS_REJECTED;
		pyproc__free(p);
		return 0;
	}
	if (d->ops.on_target(d->ops.ctx, p)) {
		d->stats[DISC_STAT_ERRORS]++;
		hashmap__del(&d->procs, pid_key(pid)); /* forget it: the next rescan retries */
		free(r);
		return 0;
	}
	r->state = PS_TARGET;
	d->ntargets++;
	d->stats[DISC_STAT_TARGETS_ADDED]++;
	return 1;
}

static struct proc_rec *record(struct discovery *d, pid_t pid, uint64_t starttime)
{
	struct proc_rec *r = hashmap__get(&d->procs, pid_key(pid));

	if (r && r->starttime == starttime)
		return r;
	if (r) {
		/* the pid was reused by a new process: the old one is gone */
		report_gone(d, pid, r);
		memset(r, 0, sizeof(*r));
	} else {
		r = calloc(1, sizeof(*r));
		if (!r || hashmap__put(&d->procs, pid_key(pid), r, NULL)) {
			free(r);
			return NULL;
		}
	}
	r->starttime = starttime;
	r->state = PS_REJECTED;
	return r;
}

void discovery__scan(struct discovery *d, uint64_t now_ns)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	struct proc_rec *r;
	struct hkey k;
	size_t it = 0;

	if (!dir)
		return;
	d->scan_gen++;
	d->stats[DISC_STAT_SCANS]++;
	while ((de = readdir(dir))) {
		uint64_t start;
		pid_t pid;
		int fresh;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)atoi(de->d_name);
		start = procfs__starttime(pid);
		if (!start)
			continue;
		r = hashmap__get(&d->procs, pid_key(pid));
		fresh = !r || r->starttime != start;
		r = record(d, pid, start);
		if (!r)
			continue;
		r->seen_scan = d->scan_gen;
		if (fresh)
			examine(d, pid, r, now_ns);
	}
	closedir(dir);
	/* processes no scan sees any more are gone (exit events can be lost) */
	while (hashmap__next(&d->procs, &it, &k, (void **)&r)) {
		if (r->seen_scan == d->scan_gen || r->state == PS_PENDING || r->state == PS_EXITING)
			continue;
		if (r->state == PS_TARGET) {
			r->state = PS_EXITING;
			r->retry_ns = now_ns + DISCOVERY_GRACE_NS;
			due(d, r->retry_ns);
			continue;
		}
		hashmap__del(&d->procs, k);
		free(r);
		it = 0; /* deletion shifts entries: restart (rare, and bounded by the table) */
	}
}

void discovery__on_exec(struct discovery *d, pid_t pid, uint64_t now_ns)
{
	uint64_t start = procfs__starttime(pid);
	struct proc_rec *r;

	if (!start)
		return;
	r = hashmap__get(&d->procs, pid_key(pid));
	if (r && r->starttime == start && (r->state == PS_TARGET || r->state == PS_EXITING)) {
		/* a target executed another program: drop it and look again */
		report_gone(d, pid, r);
	}
	r = record(d, pid, start);
	if (!r)
		return;
	r->state = PS_PENDING;
	r->retry_ns = now_ns;
	r->retry_gap_ns = EXEC_RETRY_FIRST_NS;
	r->vsize = 0; /* the new program's maps are read at its first examination */
	r->give_up_ns = now_ns + EXEC_GIVE_UP_NS;
	r->seen_scan = d->scan_gen;
	due(d, r->retry_ns);
}

void discovery__on_exit(struct discovery *d, pid_t pid, uint64_t now_ns)
{
	struct proc_rec *r = hashmap__get(&d->procs, pid_key(pid));

	if (!r)
		return;
	if (r->state == PS_TARGET) {
		r->state = PS_EXITING;
		r->retry_ns = now_ns + DISCOVERY_GRACE_NS;
		due(d, r->retry_ns);
		return;
	}
	if (r->state != PS_EXITING) {
		hashmap__del(&d->procs, pid_key(pid));
		free(r);
	}
}

void discovery__tick(struct discovery *d, uint64_t now_ns)
{
	struct proc_rec *r;
	struct hkey k;
	size_t it = 0;

	if (!d->next_due_ns || now_ns < d->next_due_ns)
		return;
	d->next_due_ns = 0; /* found again below; examine() may add to it */
	while (hashmap__next(&d->procs, &it, &k, (void **)&r)) {
		pid_t pid = (pid_t)k.a;

		if (r->state == PS_PENDING && now_ns >= r->retry_ns) {
			struct procfs_stat st;

			if (procfs__stat(pid, &st) || st.starttime != r->starttime) {
				hashmap__del(&d->procs, k);
				free(r);
				it = 0;
				continue;
			}
			if (r->vsize && st.vsize == r->vsize) {
				/* nothing mapped since the maps were read: still not Python */
				d->stats[DISC_STAT_RETRIES_UNCHANGED]++;
				if (!retry_later(d, r, now_ns)) {
					d->stats[DISC_STAT_NOT_PYTHON]++;
					r->state = PS_REJECTED;
				}
				continue;
			}
			r->vsize = st.vsize;
			if (examine(d, pid, r, now_ns) == 0 && !hashmap__get(&d->procs, k))
				it = 0; /* examine() dropped the record */
		} else if (r->state == PS_EXITING && now_ns >= r->retry_ns) {
			report_gone(d, pid, r);
			hashmap__del(&d->procs, k);
			free(r);
			it = 0;
		} else if (r->state == PS_PENDING || r->state == PS_EXITING) {
			due(d, r->retry_ns);
		}
	}
}

uint64_t discovery__next_due(const struct discovery *d)
{
	return d->next_due_ns;
}

void discovery__set_config(struct discovery *d, const struct agent_config *cfg)
{
	struct proc_rec *r;
	struct hkey k;
	size_t it = 0;

	d->cfg = cfg;
	/* targets no longer selected go; every process is examined again on the next scan */
	while (hashmap__next(&d->procs, &it, &k, (void **)&r)) {
		if (r->state == PS_TARGET && selected(cfg, (pid_t)k.a))
			continue;
		if (r->state == PS_EXITING)
			continue;
		report_gone(d, (pid_t)k.a, r);
		hashmap__del(&d->procs, k);
		free(r);
		it = 0;
	}
}

size_t discovery__ntargets(const struct discovery *d)
{
	return d->ntargets;
}

void discovery__each_target(const struct discovery *d, void (*fn)(void *ctx, pid_t pid), void *ctx)
{
	struct proc_rec *r;
	struct hkey k;
	size_t it = 0;

	while (hashmap__next(&d->procs, &it, &k, (void **)&r)) {
		if (r->state == PS_TARGET || r->state == PS_EXITING)
			fn(ctx, (pid_t)k.a);
	}
}

const uint64_t *discovery__stats(const struct discovery *d)
{
	return d->stats;
}

const struct lru *discovery__elf_cache(const struct discovery *d)
{
	return pyproc__cache_lru(d->cache);
}

size_t discovery__tracked(const struct discovery *d)
{
	return d->procs.n;
}
