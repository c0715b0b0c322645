// SPDX-License-Identifier: MIT
/* agentctl snapshot: describe the process, start the sampler on it, drain every 100 ms while
 * naming frames promptly (so a process that exits keeps its names), then write folded stacks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "collector.h"
#include "log.h"
#include "procfs.h"
#include "pyproc.h"
#include "sampler.h"
#include "snapshot.h"

#define DRAIN_INTERVAL_NS (100ULL * 1000 * 1000)
#define TICK_INTERVAL_NS  (1000ULL * 1000 * 1000)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000ULL, .tv_nsec = ns % 1000000000ULL};

	nanosleep(&ts, NULL); /* EINTR (Ctrl-C) simply ends the nap early */
}

static int exit_code_for(int err)
{
	switch (err) {
	case -ESRCH:
		return SNAP_NO_PROCESS;
	case -ENOEXEC:
		return SNAP_NOT_PYTHON;
	case -EPROTONOSUPPORT:
		return SNAP_UNSUPPORTED;
	case -EPERM:
	case -EACCES:
		return SNAP_NO_PRIVILEGE;
	default:
		return SNAP_FAILED;
	}
}

static void report_counters(struct sampler *s, struct collector *c)
{
	uint64_t bpf[METRIC_MAX], sym[SYM_STAT_MAX];
	const uint64_t *cs = collector__stats(c);
	char line[2048];
	size_t o = 0;

	if (sampler__metrics(s, bpf))
		memset(bpf, 0, sizeof(bpf));
	collector__sym_stats(c, sym);
	o += snprintf(line + o, sizeof(line) - o, "counters:");
	for (int i = METRIC_NONE + 1; i < METRIC_MAX && o < sizeof(line); i++) {
		if (bpf[i])
			o += snprintf(line + o, sizeof(line) - o, " %s=%llu",
				      pyprof_metric_names[i], (unsigned long long)bpf[i]);
	}
	for (int i = 0; i < COLL_STAT_MAX && o < sizeof(line); i++) {
		if (cs[i] && i != COLL_STAT_SAMPLES)
			o += snprintf(line + o, sizeof(line) - o, " %s=%llu",
				      collector_stat_names[i], (unsigned long long)cs[i]);
	}
	for (int i = SYM_STAT_UNREADABLE; i < SYM_STAT_MAX && o < sizeof(line); i++) {
		if (sym[i])
			o += snprintf(line + o, sizeof(line) - o, " %s=%llu", sym_stat_names[i],
				      (unsigned long long)sym[i]);
	}
	log_info("%s", line);
}

int snapshot__run(const struct snapshot_opts *opts, volatile sig_atomic_t *stop)
{
	struct sampler_opts so = {.freq_hz = opts->rate_hz, .kernel_stacks = opts->kernel};
	struct collector_opts co = {.threads = opts->threads, .kernel = opts->kernel};
	struct kallsyms ksyms = {0}, *kp = NULL;
	struct collector *coll = NULL;
	struct sampler *smp = NULL;
	struct pyproc *proc = NULL;
	char err_msg[512] = "", comm[64];
	uint64_t start, deadline, last_tick, elapsed;
	int err, code = SNAP_FAILED, exited = 0;
	FILE *out = stdout;

	err = pyproc__open(opts->pid, &proc, err_msg, sizeof(err_msg));
	if (err) {
		log_error("%s", err_msg);
		return exit_code_for(err);
	}
	procfs__comm(opts->pid, 0, comm, sizeof(comm));
	log_info("pid %d (%s): CPython %u.%u in %s, layout from %s", opts->pid, comm, proc->major,
		 proc->minor, proc->elf_path,
		 proc->layout_from_debug_offsets ? "its _Py_DebugOffsets" : "the built-in table");
	if (opts->kernel) {
		err = kallsyms__load(&ksyms);
		if (err)
			log_warn(
			    "kernel symbols unavailable (%s): kernel frames will be [unknown]_[k]",
			    strerror(-err));
		else
			kp = &ksyms;
	}
	coll = collector__new(&co, kp);
	if (!coll) {
		log_error("out of memory");
		goto out;
	}
	err = collector__add_process(coll, proc);
	if (err) {
		log_error("cannot track pid %d: %s", opts->pid, strerror(-err));
		goto out;
	}
	proc = NULL; /* owned by the collector now */
	err = sampler__open(&so, collector__on_sample, coll, &smp, err_msg, sizeof(err_msg));
	if (err) {
		log_error("%s", err_msg);
		code = exit_code_for(err);
		if (code != SNAP_NO_PRIVILEGE)
			code = SNAP_FAILED;
		goto out;
	}
	{
		struct pyproc *again = NULL;

		/* describe it again for the map: the collector owns the first description */
		err = pyproc__open(opts->pid, &again, err_msg, sizeof(err_msg));
		if (!err)
			err = sampler__add_target(smp, again);
		pyproc__free(again);
		if (err) {
			log_error("cannot start sampling pid %d: %s", opts->pid,
				  err_msg[0] ? err_msg : strerror(-err));
			code = exit_code_for(err);
			goto out;
		}
	}

	start = last_tick = now_ns();
	deadline = start + (uint64_t)(opts->duration_s * 1e9);
	while (!*stop) {
		uint64_t t = now_ns();

		if (t >= deadline)
			break;
		sleep_ns(deadline - t < DRAIN_INTERVAL_NS ? deadline - t : DRAIN_INTERVAL_NS);
		sampler__drain(smp);
		if (now_ns() - last_tick >= TICK_INTERVAL_NS) {
			collector__tick(coll);
			last_tick = now_ns();
		}
		if (procfs__exists(opts->pid)) {
			exited = 1;
			break;
		}
	}
	sampler__drain(smp);
	sampler__remove_target(smp, opts->pid);
	elapsed = now_ns() - start;

	if (opts->output) {
		out = fopen(opts->output, "w");
		if (!out) {
			log_error("cannot write %s: %s", opts->output, strerror(errno));
			goto out;
		}
	}
	err = profile__write_folded(collector__profile(coll), out);
	if (opts->output && fclose(out) && !err)
		err = -errno;
	if (err) {
		log_error("cannot write the profile: %s", strerror(-err));
		goto out;
	}
	if (exited)
		log_warn("pid %d exited after %.1f s; wrote the %llu samples collected until then",
			 opts->pid, elapsed / 1e9,
			 (unsigned long long)collector__stats(coll)[COLL_STAT_SAMPLES]);
	else if (*stop)
		log_info("interrupted after %.1f s; wrote the %llu samples collected",
			 elapsed / 1e9,
			 (unsigned long long)collector__stats(coll)[COLL_STAT_SAMPLES]);
	else
		log_info("%llu samples of pid %d in %.1f s",
			 (unsigned long long)collector__stats(coll)[COLL_STAT_SAMPLES], opts->pid,
			 elapsed / 1e9);
	report_counters(smp, coll);
	code = SNAP_OK;
out:
	sampler__close(smp);
	collector__free(coll);
	pyproc__free(proc);
	kallsyms__free(&ksyms);
	return code;
}
