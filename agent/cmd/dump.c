// SPDX-License-Identifier: MIT
/* agentctl dump: every thread's Python stack now, read with the project's one walker
 * (python/uwalk.c, bpf/pystack.bpf.h built for userspace) through process_vm_readv, so the
 * process is never stopped. Each thread's state comes from /proc: "waiting for the GIL" exactly
 * when it is blocked in a futex inside the interpreter's GIL state. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include "bpf/sampler.h"
#include "cmd/dump.h"
#include "cmd/session.h"
#include "format/json.h"
#include "os/memread.h"
#include "os/procfs.h"
#include "os/proctask.h"
#include "python/pyproc.h"
#include "python/pythreads.h"
#include "python/symbolize.h"
#include "python/uwalk.h"
#include "util/clock.h"
#include "util/log.h"

/* Kernel threads of one process looked at (each has its /proc files read). */
#define DUMP_MAX_TASKS 4096

struct dump_frame {
	char *name, *file;
	int line;
};

struct dump_thread {
	pid_t tid;    /* host tid, 0 if not known */
	pid_t ns_tid; /* as the process sees it */
	int python;   /* has a thread state */
	uint64_t thread_id;
	enum pythread_tid_from tid_from;
	struct proctask task; /* state 0: not read (tid unknown, or the thread is gone) */
	int gil;	      /* 1 holds it, 0 not, -1 unknown */
	int gil_wait;	      /* blocked on a futex inside the GIL's state */
	uint32_t flags, error;
	struct dump_frame *frames;
	size_t nframes;
};

struct dump_proc {
	pid_t pid, parent;
	char cmdline[1024];
	struct pyproc *py;
	struct dump_thread *threads;
	size_t nthreads;
	int exited;	  /* gone while it was read */
	int more_threads; /* more than the bounds */
	uint64_t metrics[METRIC_MAX];
	uint64_t read_start_ns,
	    read_end_ns; /* CLOCK_MONOTONIC: first and last read of its threads */
};

static pid_t parent_of(pid_t pid)
{
	char path[64], *text, *p;
	size_t len;
	int ppid = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (procfs__read_file(path, 4096, &text, &len))
		return 0;
	p = strrchr(text, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		ppid = 0;
	free(text);
	return ppid;
}

static const char *state_text(const struct dump_thread *t)
{
	switch (t->task.state) {
	case 0:
		return "unknown";
	case 'R':
		return "running";
	case 'S':
		return t->gil_wait ? "waiting for the GIL" : "sleeping";
	case 'D':
		return t->gil_wait ? "waiting for the GIL" : "sleeping (uninterruptible)";
	case 'T':
	case 't':
		return "stopped";
	case 'Z':
	case 'X':
		return "exited";
	default:
		return "idle";
	}
}

static int cmp_thread(const void *a, const void *b)
{
	const struct dump_thread *x = a, *y = b;

	/* Python threads first, then by tid; unknown tids last */
	if (x->python != y->python)
		return y->python - x->python;
	if (!x->tid != !y->tid)
		return !x->tid - !y->tid;
	return (x->tid > y->tid) - (x->tid < y->tid);
}

static void proc_free(struct dump_proc *d)
{
	for (size_t i = 0; i < d->nthreads; i++) {
		for (size_t k = 0; k < d->threads[i].nframes; k++) {
			free(d->threads[i].frames[k].name);
			free(d->threads[i].frames[k].file);
		}
		free(d->threads[i].frames);
	}
	free(d->threads);
	pyproc__free(d->py);
	memset(d, 0, sizeof(*d));
}

/* Names the frames of sample ev into t (copies: the symbolizer's strings are its cache's). */
static int name_frames(struct symbolizer *s, const struct sample_event *ev, struct dump_thread *t)
{
	size_t n = ev->nframes > PYPROF_MAX_FRAMES ? PYPROF_MAX_FRAMES : ev->nframes;

	t->frames = calloc(n ? n : 1, sizeof(*t->frames));
	if (!t->frames)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct frame_sym sym;

		symbolizer__resolve(s, &ev->frames[i], &sym);
		t->frames[i].name = strdup(sym.known && sym.name ? sym.name : "<unknown>");
		t->frames[i].file = strdup(sym.known && sym.filename ? sym.filename : "");
		t->frames[i].line = sym.known ? sym.line : 0;
		if (!t->frames[i].name || !t->frames[i].file)
			return -ENOMEM;
		t->nframes = i + 1;
	}
	return 0;
}

/* Reads every thread of d->py's process: its thread states through the walker, its tasks
 * through /proc. */
static int read_threads(struct dump_proc *d)
{
	static struct pythread pys[PYPROF_MAX_THREADS];
	static pid_t tids[DUMP_MAX_TASKS], ns_tids[DUMP_MAX_TASKS];
	static struct proctask tasks[DUMP_MAX_TASKS];
	static struct sample_event ev;
	struct mem_reader rd = memread__for_pid(d->pid);
	const struct py_offsets *off = &d->py->offsets;
	struct py_target target = {.interp_head_addr = d->py->interp_head_addr,
				   .runtime_addr = d->py->runtime_addr};
	struct symbolizer *sym = NULL;
	size_t npy = 0, ntids = 0, ntasks = 0;
	uint64_t gil, start = clock__mono_ns();
	int more = 0, err;

	err = pythreads__list(&rd, d->py, pys, PYPROF_MAX_THREADS, &npy, &d->more_threads);
	if (err)
		return err;
	err = proctask__list(d->pid, tids, DUMP_MAX_TASKS, &ntids, &more);
	if (err)
		return err;
	d->more_threads |= more;
	for (size_t i = 0; i < ntids; i++) {
		if (!proctask__read(d->pid, tids[i], &tasks[ntasks])) {
			ns_tids[ntasks] = tasks[ntasks].ns_tid;
			ntasks++;
		}
	}
	pythreads__match_tids(&rd, off, pys, npy, ns_tids, ntasks);
	gil = uwalk__gil_addr(&rd, off, &target);

	d->threads = calloc(npy + ntasks + 1, sizeof(*d->threads));
	sym = symbolizer__new(d->pid, off, d->py->code_type_addr, NULL);
	if (!d->threads || !sym) {
		symbolizer__free(sym);
		return -ENOMEM;
	}
	uwalk__reset();
	for (size_t i = 0; i < npy; i++) {
		struct dump_thread *t = &d->threads[d->nthreads++];
		/* the walker's cache key: the tid, or one no thread has */
		uint32_t key = 0x80000000u | (uint32_t)i;
		size_t len;

		t->python = 1;
		t->thread_id = pys[i].thread_id;
		t->ns_tid = pys[i].ns_tid;
		t->tid_from = pys[i].tid_from;
		t->gil = -1;
		for (size_t k = 0; k < ntasks && t->ns_tid; k++) {
			if (tasks[k].ns_tid == t->ns_tid && tasks[k].state) {
				t->tid = tasks[k].tid;
				t->task = tasks[k];
				tasks[k].state = 0; /* claimed */
				break;
			}
		}
		if (t->tid) {
			key = (uint32_t)t->tid;
			/* its state again, right before its stack: both of about one moment */
			if (proctask__read(d->pid, t->tid, &t->task))
				t->task.state = 0;
		}
		/* the walker finds the thread state by its thread_id (the fsbase given); told where
		 * it is, it checks that with one read instead of walking the list again */
		uwalk__cache_tstate(key, pys[i].tstate);
		err =
		    uwalk__sample(&rd, off, &target, key, pys[i].thread_id, 0, 0, &ev, &len, NULL);
		if (err) {
			t->flags = SAMPLE_ERROR;
			continue;
		}
		t->flags = ev.flags;
		t->error = ev.error;
		if (ev.error < METRIC_MAX)
			d->metrics[ev.error] += ev.error != METRIC_NONE;
		if (ev.flags & SAMPLE_TRUNCATED)
			d->metrics[METRIC_STACK_TRUNCATED]++;
		if (ev.flags & SAMPLE_GIL_KNOWN)
			t->gil = !!(ev.flags & SAMPLE_GIL_HELD);
		if (t->task.state && t->task.syscall_nr == SYS_futex && gil && off->gil_size &&
		    off->gil_size != PYOFF_NONE && t->task.syscall_arg >= gil &&
		    t->task.syscall_arg < gil + off->gil_size)
			t->gil_wait = 1;
		if (name_frames(sym, &ev, t)) {
			symbolizer__free(sym);
			return -ENOMEM;
		}
	}
	symbolizer__free(sym);
	/* threads that have no Python thread state (C threads, or not started yet) */
	for (size_t k = 0; k < ntasks; k++) {
		struct dump_thread *t;

		if (!tasks[k].state)
			continue;
		t = &d->threads[d->nthreads++];
		t->tid = tasks[k].tid;
		t->ns_tid = tasks[k].ns_tid;
		t->task = tasks[k];
		t->gil = -1;
	}
	qsort(d->threads, d->nthreads, sizeof(*d->threads), cmp_thread);
	d->read_start_ns = start;
	d->read_end_ns = clock__mono_ns();
	return 0;
}

/* ---- writing ---- */

static const char *marker_of(const struct dump_thread *t)
{
	if (t->flags & SAMPLE_TRUNCATED)
		return "[truncated]";
	if (t->flags & SAMPLE_NO_TSTATE)
		return "[no Python thread state]";
	if (t->flags & SAMPLE_ERROR)
		return "[partial: frame read failed]";
	return NULL;
}

static void write_text_thread(const struct dump_thread *t, FILE *out)
{
	const char *marker = marker_of(t);

	fprintf(out, "\n");
	if (t->tid)
		fprintf(out, "Thread %d", t->tid);
	else
		fprintf(out, "Thread 0x%llx (tid unknown)", (unsigned long long)t->thread_id);
	fprintf(out, " (%s", state_text(t));
	if (t->task.wchan[0] && t->task.state != 'R')
		fprintf(out, " in %s", t->task.wchan);
	if (t->gil == 1)
		fprintf(out, ", holds the GIL");
	else if (t->gil == 0 && t->task.state == 'R')
		fprintf(out, ", without the GIL");
	fprintf(out, "): \"%s\"%s\n", t->task.state ? t->task.comm : "?",
		t->python ? "" : " (no Python thread state)");
	for (size_t i = 0; i < t->nframes; i++) {
		const struct dump_frame *f = &t->frames[i];

		if (f->file[0])
			fprintf(out, "    %s (%s:%d)\n", f->name, f->file, f->line);
		else
			fprintf(out, "    %s\n", f->name);
	}
	if (marker)
		fprintf(out, "    %s\n", marker);
	else if (t->python && !t->nframes)
		fprintf(out, "    (no Python frame)\n");
}

static void write_text(const struct dump_proc *d, FILE *out)
{
	char cmdline[sizeof(d->cmdline)];

	/* one line, whatever the arguments hold (python -c 'multi-line code') */
	snprintf(cmdline, sizeof(cmdline), "%s", d->cmdline);
	procfs__sanitize_comm(cmdline);
	fprintf(out, "Process %d: %s\n", d->pid, cmdline);
	fprintf(out, "Python %u.%u (%s), parent %d\n", d->py->major, d->py->minor, d->py->elf_path,
		d->parent);
	for (size_t i = 0; i < d->nthreads; i++)
		write_text_thread(&d->threads[i], out);
}

static void json_key_string(FILE *out, const char *key, const char *value)
{
	fprintf(out, "\"%s\": ", key);
	if (value)
		json__string(out, value);
	else
		fprintf(out, "null");
}

static void write_json_thread(const struct dump_thread *t, FILE *out)
{
	fprintf(out, "{\"tid\": %d, \"ns_tid\": %d, \"thread_id\": %llu, ", t->tid, t->ns_tid,
		(unsigned long long)t->thread_id);
	json_key_string(out, "name", t->task.state ? t->task.comm : NULL);
	fprintf(out, ", \"python\": %s, ", t->python ? "true" : "false");
	json_key_string(out, "state", state_text(t));
	fprintf(out, ", ");
	json_key_string(out, "kernel_function",
			t->task.wchan[0] && t->task.state != 'R' ? t->task.wchan : NULL);
	fprintf(out, ", \"gil\": %s, \"truncated\": %s, ",
		t->gil < 0 ? "null"
		: t->gil   ? "true"
			   : "false",
		t->flags & SAMPLE_TRUNCATED ? "true" : "false");
	json_key_string(out, "error",
			t->flags & SAMPLE_ERROR && t->error < METRIC_MAX
			    ? pyprof_metric_names[t->error]
			    : NULL);
	fprintf(out, ", \"frames\": [");
	for (size_t i = 0; i < t->nframes; i++) {
		fprintf(out, "%s{", i ? ", " : "");
		json_key_string(out, "name", t->frames[i].name);
		fprintf(out, ", ");
		json_key_string(out, "file", t->frames[i].file);
		fprintf(out, ", \"line\": %d}", t->frames[i].line);
	}
	fprintf(out, "]}");
}

static void write_json_proc(const struct dump_proc *d, FILE *out)
{
	char version[32];

	snprintf(version, sizeof(version), "%u.%u", d->py->major, d->py->minor);
	fprintf(out, "{\"pid\": %d, \"parent\": %d, ", d->pid, d->parent);
	json_key_string(out, "command_line", d->cmdline);
	fprintf(out, ", ");
	json_key_string(out, "python", version);
	fprintf(out, ", ");
	json_key_string(out, "python_path", d->py->elf_path);
	fprintf(out, ", \"exited\": %s, \"read_ms\": %.3f, \"threads\": [",
		d->exited ? "true" : "false", (d->read_end_ns - d->read_start_ns) / 1e6);
	for (size_t i = 0; i < d->nthreads; i++) {
		fprintf(out, "%s", i ? ", " : "");
		write_json_thread(&d->threads[i], out);
	}
	fprintf(out, "]}");
}

/* ---- processes ---- */

struct dump_run {
	const struct dump_opts *o;
	FILE *out;
	unsigned written;
	int code; /* of the first process */
};

static void note_failures(const struct dump_proc *d)
{
	char line[1024];
	size_t o = 0;

	for (int i = METRIC_NONE + 1; i < METRIC_MAX && o < sizeof(line); i++) {
		if (d->metrics[i])
			o += snprintf(line + o, sizeof(line) - o, " %s=%llu",
				      pyprof_metric_names[i], (unsigned long long)d->metrics[i]);
	}
	if (o)
		log_warn("pid %d: counters:%s", d->pid, line);
}

/* Dumps one process; top: the pid asked for (its failures are the exit code). */
static void dump_one(struct dump_run *r, pid_t pid, pid_t parent, int top)
{
	struct dump_proc d = {.pid = pid, .parent = parent};
	char err_msg[512] = "";
	uint64_t start = clock__mono_ns();
	int err;

	err = top ? session__open_process(pid, &d.py, err_msg, sizeof(err_msg))
		  : pyproc__open(pid, NULL, &d.py, err_msg, sizeof(err_msg));
	if (err) {
		if (top) {
			if (r->o->subprocesses && err == -ENOEXEC)
				log_info("%s; looking at its children", err_msg);
			else
				log_error("%s", err_msg);
			r->code = session__exit_code(err);
		} else if (err != -ENOEXEC && err != -ESRCH) {
			log_warn("%s; skipping this process", err_msg);
		}
		return;
	}
	if (d.py->offsets.frame_size > 256) {
		log_error("pid %d: CPython %u.%u frames are larger than the walker reads", pid,
			  d.py->major, d.py->minor);
		if (top)
			r->code = SNAP_UNSUPPORTED;
		goto out;
	}
	if (!d.parent)
		d.parent = parent_of(pid);
	if (procfs__cmdline(pid, d.cmdline, sizeof(d.cmdline)) <= 0)
		procfs__comm(pid, 0, d.cmdline, sizeof(d.cmdline));
	err = read_threads(&d);
	if (err == -ENOMEM) {
		log_error("out of memory");
		if (top)
			r->code = SNAP_FAILED;
		goto out;
	}
	/* gone, or going: what was read is shown, and said to be partial */
	if (err || !procfs__alive(pid))
		d.exited = 1;
	if (r->o->json) {
		fprintf(r->out, "%s", r->written ? ",\n  " : "");
		write_json_proc(&d, r->out);
	} else {
		fprintf(r->out, "%s", r->written ? "\n" : "");
		write_text(&d, r->out);
	}
	r->written++;
	note_failures(&d);
	if (d.exited) {
		log_error("pid %d exited while it was being read: %s", pid,
			  d.nthreads ? "the threads read until then are shown"
				     : "none of its threads could be read");
		if (top)
			r->code = SNAP_NO_PROCESS;
	} else {
		/* the interval, for comparing with the target's own clock (time.monotonic) */
		log_info("pid %d: %zu threads read in %.1f ms (%.1f ms with finding the "
			 "interpreter), from %.6f to %.6f s of CLOCK_MONOTONIC%s",
			 pid, d.nthreads, (d.read_end_ns - d.read_start_ns) / 1e6,
			 (clock__mono_ns() - start) / 1e6, d.read_start_ns / 1e9,
			 d.read_end_ns / 1e9,
			 d.more_threads ? "; more threads than the bounds were left out" : "");
	}
out:
	proc_free(&d);
}

/* Every descendant of pid, breadth first, bounded in count and depth. */
static void dump_descendants(struct dump_run *r, pid_t pid)
{
	static pid_t queue[DUMP_MAX_PROCESSES], parents[DUMP_MAX_PROCESSES];
	static unsigned depth[DUMP_MAX_PROCESSES];
	static pid_t kids[DUMP_MAX_PROCESSES];
	size_t head = 0, tail = 0;
	int more_seen = 0;

	queue[tail] = pid;
	depth[tail++] = 0;
	while (head < tail) {
		pid_t p = queue[head];
		unsigned dp = depth[head++];
		size_t n = 0;
		int more = 0;

		if (head > 1)
			dump_one(r, p, parents[head - 1], 0);
		if (dp >= DUMP_MAX_DEPTH ||
		    proctask__children(p, kids, DUMP_MAX_PROCESSES, &n, &more))
			continue;
		more_seen |= more;
		for (size_t i = 0; i < n; i++) {
			if (tail == DUMP_MAX_PROCESSES) {
				more_seen = 1;
				break;
			}
			parents[tail] = p;
			depth[tail] = dp + 1;
			queue[tail++] = kids[i];
		}
	}
	if (more_seen)
		log_warn("more than %d descendants of pid %d: the rest are left out",
			 DUMP_MAX_PROCESSES, pid);
}

int dump__run(const struct dump_opts *o, FILE *out)
{
	struct dump_run r = {.o = o, .out = out, .code = SNAP_OK};

	if (o->json)
		fprintf(out, "{\"processes\": [\n  ");
	dump_one(&r, o->pid, 0, 1);
	/* a parent that is not Python (a shell, a supervisor) may still have Python children */
	if (o->subprocesses && (r.code == SNAP_OK || r.code == SNAP_NOT_PYTHON))
		dump_descendants(&r, o->pid);
	if (o->json)
		fprintf(out, "\n]}\n");
	if (o->subprocesses && r.code == SNAP_NOT_PYTHON && r.written)
		r.code = SNAP_OK;
	if (o->subprocesses && !r.written && r.code == SNAP_OK)
		r.code = SNAP_NOT_PYTHON;
	fflush(out);
	return r.code;
}
