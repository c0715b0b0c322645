/* SPDX-License-Identifier: MIT */
/* Names Python frames (qualified name, file, line) of one process, reading its memory, with a
 * cache that is revalidated so a reused code-object address never yields a stale name. The
 * caches of the symbolizers of one collector share a budget (struct symcache): the least
 * recently used code objects and source files of any process are evicted beyond it, and read
 * again when next needed. */
#ifndef PYPROF_SYMBOLIZE_H
#define PYPROF_SYMBOLIZE_H

#include <stdint.h>
#include <sys/types.h>
#include "os/memread.h"
#include "py_offsets.h"
#include "pyprof_event.h"
#include "util/hashmap.h"
#include "util/lru.h"

enum sym_stat {
	SYM_STAT_FRAMES,	  /* frames resolved */
	SYM_STAT_CODE_READS,	  /* code objects read from the target */
	SYM_STAT_REVALIDATIONS,	  /* cached code objects checked again */
	SYM_STAT_REUSED_ADDRESS,  /* a cached address held another code object: re-read */
	SYM_STAT_FROM_CACHE_DEAD, /* named from the cache after the object or process was gone */
	SYM_STAT_UNREADABLE,	  /* unknown: code object unreadable and not cached */
	SYM_STAT_CODE_REPLACED, /* unknown: the sampled code object was freed, its memory reused */
	SYM_STAT_NOT_CODE,	/* unknown: the address did not hold a code object */
	SYM_STAT_BAD_STRING,	/* unknown: name or file name unreadable */
	SYM_STAT_BAD_LINETABLE, /* line unknown: line table unreadable or malformed */
	SYM_STAT_NO_LINE,	/* line unknown: the instruction has no line */
	SYM_STAT_QUALNAME_DERIVED, /* pre-3.11 qualified name derived from the source */
	SYM_STAT_MAX,
};

extern const char *const sym_stat_names[SYM_STAT_MAX];

struct frame_sym {
	/* owned by the symbolizer's cache: valid until the next call of a symbolizer of the same
	 * symcache (its entry may then be evicted) */
	const char *name;
	const char *filename;
	int line;  /* 0 if unknown */
	int known; /* 0: the frame could not be named */
};

/* The budget of a collector's symbolizers (README, "Memory"): code objects with their names and
 * line tables, and the source files that pre-3.11 qualified names are derived from (a file
 * larger than the budget is kept alone until the next one is read). */
#define SYMCACHE_CODE_BYTES	(8u << 20)
#define SYMCACHE_CODE_ENTRIES	65536
#define SYMCACHE_SOURCE_BYTES	(4u << 20)
#define SYMCACHE_SOURCE_ENTRIES 256
/* An entry unused this long leaves the cache (symcache__tick): the code objects of a process
 * that keeps making new code are not kept until the budget is full. */
#define SYMCACHE_IDLE_S 60

struct symcache;

struct symcache *symcache__new(size_t code_bytes, size_t source_bytes);
/* After every symbolizer that uses it. */
void symcache__free(struct symcache *c);
/* The cache's clock (monotonic seconds), at least once a second while it is used: entries
 * unused for SYMCACHE_IDLE_S are dropped (counted as evictions). */
void symcache__tick(struct symcache *c, uint64_t now_s);
/* The sym_stat counters of all its symbolizers, past and present. */
const uint64_t *symcache__stats(const struct symcache *c);
const struct lru *symcache__codes(const struct symcache *c);
const struct lru *symcache__sources(const struct symcache *c);

struct symbolizer;

/* cache: shared with the other symbolizers of a collector; NULL for one of its own with the
 * default budget. */
struct symbolizer *symbolizer__new(pid_t pid, const struct py_offsets *off, uint64_t code_type,
				   struct symcache *cache);
/* A reader other than process_vm_readv (tests, fuzzing); source files are then not read. */
struct symbolizer *symbolizer__new_reader(const struct mem_reader *r, const struct py_offsets *off,
					  uint64_t code_type, struct symcache *cache);
int symbolizer__resolve(struct symbolizer *s, const struct py_frame *f, struct frame_sym *ret);
/* Starts a new validation period: cached code objects are checked again once when next used. */
void symbolizer__tick(struct symbolizer *s);
/* Its cache's counters (symcache__stats). */
const uint64_t *symbolizer__stats(const struct symbolizer *s);
void symbolizer__free(struct symbolizer *s);

#endif
