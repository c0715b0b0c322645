/* SPDX-License-Identifier: MIT */
/* `agentctl top`: a live table of the functions of one process, redrawn every second. */
#ifndef PYPROF_TOP_H
#define PYPROF_TOP_H

#include <signal.h>
#include "cmd/snapshot.h"

/* Samples opts->pid (rate_hz, mode, kernel of opts) and shows the table until q, *stop or the
 * process's exit: on a terminal full screen (the alternate screen, keys read in cbreak mode,
 * both restored on every way out), else one plain table per interval. With socket_path, each
 * interval is a one-second snapshot by the daemon listening there, when one does and can serve
 * it (keys are then read between intervals); else, or with NULL, agentctl samples by itself.
 * Returns an exit code (enum snapshot_exit): 0 when stopped or when the process exited. */
int top__run(const struct snapshot_opts *opts, const char *socket_path,
	     volatile sig_atomic_t *stop);

#endif
