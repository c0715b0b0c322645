/* SPDX-License-Identifier: MIT */
/* Names Python frames (qualified name, file, line) of one process, reading its memory, with a
 * cache that is revalidated so a reused code-object address never yields a stale name. */
#ifndef PYPROF_SYMBOLIZE_H
#define PYPROF_SYMBOLIZE_H

#include <stdint.h>
#include <sys/types.h>
#include "hashmap.h"
#include "memread.h"
#include "pyprof_event.h"
#include "py_offsets.h"

enum sym_stat {
	SYM_STAT_FRAMES,	   /* frames resolved */
	SYM_STAT_CODE_READS,	   /* code objects read from the target */
	SYM_STAT_REVALIDATIONS,	   /* cached code objects checked again */
	SYM_STAT_REUSED_ADDRESS,   /* a cached address held another code object: re-read */
	SYM_STAT_FROM_CACHE_DEAD,  /* named from the cache after the object or process was gone */
	SYM_STAT_UNREADABLE,	   /* unknown: code object unreadable and not cached */
	SYM_STAT_NOT_CODE,	   /* unknown: the address did not hold a code object */
	SYM_STAT_BAD_STRING,	   /* unknown: name or file name unreadable */
	SYM_STAT_BAD_LINETABLE,	   /* line unknown: line table unreadable or malformed */
	SYM_STAT_NO_LINE,	   /* line unknown: the instruction has no line */
	SYM_STAT_QUALNAME_DERIVED, /* pre-3.11 qualified name derived from the source */
	SYM_STAT_MAX,
};

extern const char *const sym_stat_names[SYM_STAT_MAX];

struct frame_sym {
	const char *name; /* owned by the symbolizer, valid until symbolizer__free */
	const char *filename;
	int line;  /* 0 if unknown */
	int known; /* 0: the frame could not be named */
};

struct symbolizer;

struct symbolizer *symbolizer__new(pid_t pid, const struct py_offsets *off, uint64_t code_type);
/* A reader other than process_vm_readv (tests, fuzzing); source files are then not read. */
struct symbolizer *symbolizer__new_reader(const struct mem_reader *r, const struct py_offsets *off,
					  uint64_t code_type);
int symbolizer__resolve(struct symbolizer *s, const struct py_frame *f, struct frame_sym *ret);
/* Starts a new validation period: cached code objects are checked again once when next used. */
void symbolizer__tick(struct symbolizer *s);
const uint64_t *symbolizer__stats(const struct symbolizer *s);
void symbolizer__free(struct symbolizer *s);

#endif
