/* SPDX-License-Identifier: MIT */
/* A file written whole or not at all: written under a temporary name in its directory, made
 * durable, then renamed over its final name, so a crash leaves the old file or the whole new
 * one. One implementation for the profiles written locally and the upload spool. */
#ifndef PYPROF_ATOMICFILE_H
#define PYPROF_ATOMICFILE_H

#include <limits.h>
#include <stdio.h>
#include <sys/types.h>

struct atomic_file {
	FILE *f; /* write here between open and commit */
	char path[PATH_MAX];
	char tmp[PATH_MAX];
};

/* Creates the temporary file for path. tmp_name: its name in path's directory, a template
 * ending in XXXXXX (so that a reader of the directory can tell it apart), or NULL for
 * "NAME.tmp.XXXXXX". Returns 0 or -errno (-ENAMETOOLONG for a path that does not fit). */
int atomicfile__open(struct atomic_file *a, const char *path, const char *tmp_name);
/* Gives the file mode, flushes and fsyncs it, renames it to its path and fsyncs the directory.
 * On failure the temporary file is removed. Returns 0 or -errno. */
int atomicfile__commit(struct atomic_file *a, mode_t mode);
/* Creates dir and its missing parents (parents 0755, dir itself 0700: it holds what is private
 * to its writer). Returns 0 (also when it exists) or -errno. */
int atomicfile__make_dirs(const char *dir);
/* Drops the temporary file. */
void atomicfile__abort(struct atomic_file *a);

#endif
