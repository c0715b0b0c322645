/* SPDX-License-Identifier: MIT */
/* Finds and describes the CPython interpreter inside a process: which ELF holds it, its
 * version, where its runtime state is, and the layout of its structures. */
#ifndef PYPROF_PYPROC_H
#define PYPROF_PYPROC_H

#include <stdint.h>
#include <sys/types.h>
#include "py_offsets.h"

struct pyproc_cache;

struct pyproc {
	pid_t pid;
	unsigned major, minor;
	char elf_path[512];	       /* the ELF defining the runtime, as the process maps it */
	uint64_t bias;		       /* load bias of that ELF */
	uint64_t runtime_addr;	       /* &_PyRuntime, 0 before 3.7 */
	uint64_t interp_head_addr;     /* address of the pointer to the first interpreter */
	uint64_t code_type_addr;       /* &PyCode_Type, 0 if unknown */
	int layout_from_debug_offsets; /* 1 if read from the interpreter's _Py_DebugOffsets */
	unsigned layout_guessed_from;  /* a version newer than known, read with the layout of
					* 3.<this> after checking it on the process; 0 if exact */
	struct py_offsets offsets;
};

/* Describes the interpreter of pid. Errors, with a sentence in errbuf:
 *   -ESRCH no such process, -EACCES/-EPERM not allowed to look at it,
 *   -ENOEXEC not a CPython process, -EPROTONOSUPPORT a CPython version without a layout. */
int pyproc__open(pid_t pid, struct pyproc_cache *cache, struct pyproc **ret, char *errbuf,
		 size_t errlen);
void pyproc__free(struct pyproc *p);

/* What each ELF file (by device, inode and offset) says about CPython, so that discovery
 * parses a file once however many processes map it (NULL caches nothing), for at most
 * PYPROC_CACHE_FILES files (a few hundred bytes each), the least recently used forgotten. */
#define PYPROC_CACHE_FILES 1024

struct pyproc_cache *pyproc__cache_new(void);
size_t pyproc__cache_size(const struct pyproc_cache *c);
/* Its budget and counters. */
struct lru;
const struct lru *pyproc__cache_lru(const struct pyproc_cache *c);
void pyproc__cache_free(struct pyproc_cache *c);

/* Major and minor version from a PY_VERSION_HEX value. */
int pyproc__version_from_hex(uint32_t hex, unsigned *ret_major, unsigned *ret_minor);

#endif
