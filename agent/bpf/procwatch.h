/* SPDX-License-Identifier: MIT */
/* Process exec, exit and (when asked) fork events from BPF, for discovering targets as they
 * start. */
#ifndef PYPROF_PROCWATCH_H
#define PYPROF_PROCWATCH_H

#include <stdint.h>
#include "pyprof_event.h"

typedef void (*procwatch_cb)(void *ctx, const struct pyprof_proc_event *ev);

struct procwatch;

/* With forks, every new process is reported too (PYPROF_PROC_FORK, with its parent). */
int procwatch__open(procwatch_cb cb, void *ctx, int forks, struct procwatch **ret, char *errbuf,
		    size_t errlen);
/* Reports forks from now on (on), or no more: the fork program is attached only while asked
 * for, so a reader that follows no process tree costs the host's forks nothing. Returns 0 or
 * -errno (errbuf says why). */
int procwatch__set_forks(struct procwatch *w, int on, char *errbuf, size_t errlen);
/* Whether forks are reported now. */
int procwatch__forks(const struct procwatch *w);
/* A descriptor that polls readable when an exec or fork event is queued (exits wake nobody). */
int procwatch__fd(const struct procwatch *w);
/* Delivers the events queued so far; returns how many, or -errno. */
int procwatch__drain(struct procwatch *w);
/* Events lost because the ring buffer was full. */
uint64_t procwatch__lost(struct procwatch *w);
/* "tp_btf" or "raw_tp": the attach type in use. */
const char *procwatch__attach_kind(const struct procwatch *w);
void procwatch__close(struct procwatch *w);

#endif
