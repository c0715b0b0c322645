/* SPDX-License-Identifier: MIT */
/* Reads CPython objects (code objects, str, bytes) out of a target's memory. The memory is
 * hostile: every pointer, length and kind is checked before use. */
#ifndef PYPROF_PYOBJ_H
#define PYPROF_PYOBJ_H

#include <stdint.h>
#include <stddef.h>
#include "os/memread.h"
#include "py_offsets.h"

/* Longest string and line table read from a target. */
#define PYOBJ_MAX_STR	    4096
#define PYOBJ_MAX_LINETABLE (1 << 20)

/* The fields that identify a code object: compared to detect a reused address. */
struct py_code_id {
	uint64_t type, name, qualname, filename, linetable;
	int32_t firstlineno;
};

struct py_code {
	struct py_code_id id;
	char *name;
	char *qualname; /* NULL before 3.11 */
	char *filename;
	int firstlineno;
	uint8_t *linetable;
	size_t linetable_len;
	uint64_t code_start; /* address of the first instruction (3.11+) */
};

enum pyobj_error {
	PYOBJ_OK = 0,
	PYOBJ_UNREADABLE,    /* the code object's memory could not be read */
	PYOBJ_NOT_CODE,	     /* the object's type is not PyCode_Type */
	PYOBJ_BAD_STRING,    /* a name or file name could not be read or decoded */
	PYOBJ_BAD_LINETABLE, /* the line table could not be read */
};

/* Reads only the identifying fields (one small read): for cache validation. */
int pyobj__read_code_id(const struct mem_reader *r, const struct py_offsets *off, uint64_t addr,
			struct py_code_id *ret);
/* Reads the whole code object; on failure *ret_reason tells why. code_type may be 0 (unchecked). */
int pyobj__read_code(const struct mem_reader *r, const struct py_offsets *off, uint64_t code_type,
		     uint64_t addr, struct py_code *ret, enum pyobj_error *ret_reason);
void pyobj__code_free(struct py_code *c);

/* Reads a str object as UTF-8 into a new NUL-terminated buffer. */
int pyobj__read_str(const struct mem_reader *r, const struct py_offsets *off, uint64_t addr,
		    char **ret);
/* Reads a bytes object (at most max bytes). */
int pyobj__read_bytes(const struct mem_reader *r, const struct py_offsets *off, uint64_t addr,
		      size_t max, uint8_t **ret, size_t *ret_len);

#endif
