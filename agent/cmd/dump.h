/* SPDX-License-Identifier: MIT */
/* `agentctl dump`: the Python stack of every thread of a process as it is now, read without
 * stopping it (no ptrace), with each thread's state and GIL. */
#ifndef PYPROF_DUMP_H
#define PYPROF_DUMP_H

#include <stdio.h>
#include <sys/types.h>

struct dump_opts {
	pid_t pid;
	int subprocesses; /* and every Python descendant */
	int json;	  /* one JSON document instead of text */
};

/* Bounds of --subprocesses: processes dumped, and depth of the tree walked. */
#define DUMP_MAX_PROCESSES 1024
#define DUMP_MAX_DEPTH	   32

/* Writes the dump to out. Returns an exit code of enum snapshot_exit: SNAP_NO_PROCESS also when
 * the process exited while it was read (what was read is written, and a message says so). */
int dump__run(const struct dump_opts *o, FILE *out);

#endif
