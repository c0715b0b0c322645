/* SPDX-License-Identifier: MIT */
/* agentctl record: runs a command and profiles it from its start until it exits. */
#ifndef PYPROF_RECORD_H
#define PYPROF_RECORD_H

#include <signal.h>
#include "cmd/snapshot.h"

/* Exit codes of record itself; otherwise it exits with the command's status. */
enum record_exit {
	RECORD_CANNOT_EXECUTE = 126, /* the command was found but could not be executed */
	RECORD_NOT_FOUND = 127,	     /* no such command */
};

/* Runs argv (found in PATH as a shell would) as the invoking user (SUDO_UID and SUDO_GID when
 * run through sudo), with every option of opts but pid and duration, profiling it, and with
 * opts->subprocesses its descendants, from its first Python frame until it exits or *stop;
 * then writes the profile to opts->output (NULL: "pyprof-PID.EXT" in the working directory,
 * "-": standard output). Returns the command's exit status (128 + N if killed by signal N),
 * or an enum snapshot_exit code when the profiling could not start (the command then does not
 * run). With socket_path, the daemon listening there follows the command (a held snapshot that
 * lasts until it exits, at most 24 h, ended early by Ctrl-C or SIGTERM) when one does and can
 * serve it; else, or with NULL, agentctl samples by itself. */
int record__run(const struct snapshot_opts *opts, char *const argv[], const char *socket_path,
		volatile sig_atomic_t *stop);

#endif
