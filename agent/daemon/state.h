/* SPDX-License-Identifier: MIT */
/* The daemon's state, shared by its parts: the loop (daemon.c), what it serves (serve.c) and its
 * figures (status.c). Private to agent/daemon/. */
#ifndef PYPROF_DAEMON_STATE_H
#define PYPROF_DAEMON_STATE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "bpf/procwatch.h"
#include "bpf/sampler.h"
#include "config/config.h"
#include "daemon/discovery.h"
#include "daemon/netserver.h"
#include "daemon/proctree.h"
#include "daemon/window.h"
#include "os/kallsyms.h"
#include "profile/collector.h"
#include "upload/uploader.h"
#include "util/statlist.h"

/* The loop's period while there is work (daemon.c) */
#define TICK_NS (100ULL * 1000 * 1000)
/* How long the kernel symbols are kept without a kernel frame to name. */
#define KSYMS_IDLE_NS (60ULL * 1000 * 1000 * 1000)
#define MAX_SNAPSHOTS 8
#define NS_PER_S      1000000000ULL

/* A snapshot asked for over the control socket, served from the daemon's own sampler: of a
 * process, or of a process tree (its own tree of pids and discovery, fed the daemon's process
 * events, which include forks while any tree snapshot runs). */
struct snapshot_req {
	int active;
	struct daemon *d;
	uint64_t conn_id;
	pid_t pid; /* the process, or the root of the tree */
	uint64_t deadline_ns;
	int mode; /* enum profile_kind */
	int tree;
	struct proctree procs;
	struct discovery *disc; /* finds the processes of procs as they come and go */
	struct collector *coll; /* has every process sampled for this snapshot */
	char why[256];		/* why a process could not be sampled */
};

struct daemon {
	struct agent_config *cfg;
	const char *config_path;
	int epfd, sigfd, timerfd;
	int disc_timerfd;	  /* one-shot, at discovery__next_due: new processes examined */
	uint64_t disc_armed_ns;	  /* what disc_timerfd is set to; 0: disarmed */
	uint64_t tick_ns;	  /* the timer's period now (daemon.c, loop_period) */
	uint64_t last_records_ns; /* when a drain last found records */
	uint64_t fresh_until_ns;  /* until then the loop turns at TICK_NS (daemon.c, FRESH_NS) */
	struct sampler *smp;
	struct procwatch *pw; /* NULL where the kernel refused it: rescans find processes */
	/* CPython 3.N minors newer than the known layouts, read with the 3.guessed_from[N] one
	 * (0: none): logged once, shown in status */
	unsigned char guessed_from[64];
	char pw_unavailable[512];
	struct discovery *disc;
	struct collector *coll;
	struct kallsyms ksyms; /* lazy: loaded at the first kernel frame named */
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

/* daemon.c: sets the loop's period (TICK_NS while busy) */
void daemon_set_tick(struct daemon *d, uint64_t period_ns);

/* serve.c: listens on control.socket and metrics.listen; closes them (and drops snapshots in
 * flight) */
int serve__open(struct daemon *d, const struct agent_config *cfg);
void serve__close(struct daemon *d);
/* Whether an active snapshot samples pid. */
int serve__snapshot_uses(const struct daemon *d, pid_t pid);
/* Answers a snapshot with what it collected (exited: the process ended before its end). */
void serve__snapshot_finish(struct daemon *d, struct snapshot_req *r, int exited);
/* The snapshots' share of the loop: a process event for their trees, ... */
void serve__on_proc_event(struct daemon *d, const struct pyprof_proc_event *ev, uint64_t now_ns);
/* ... their discoveries' work due by now (returns the earliest next due, 0: none), ... */
uint64_t serve__discover(struct daemon *d, uint64_t now_ns);
/* ... and their ends: a deadline passed, or every process of one gone. */
void serve__snapshots_tick(struct daemon *d, uint64_t now_ns);
/* Active tree snapshots (fork events are reported while there is one). */
int serve__tree_snapshots(const struct daemon *d);

/* status.c: the figures, as `agentctl status` text or Prometheus text */
void status__write(struct daemon *d, FILE *f);
void status__write_metrics(struct daemon *d, FILE *f);

#endif
