/* SPDX-License-Identifier: MIT */
/* Symbols, segments and static data of ELF files (libelf). */
#ifndef PYPROF_ELFSYM_H
#define PYPROF_ELFSYM_H

#include <stdint.h>
#include <stddef.h>

struct elf_file;

struct elf_symbol_query {
	const char *name;
	uint64_t value; /* out: st_value (link-time address), 0 if not found */
	uint64_t size;	/* out: st_size */
	int found;	/* out */
};

int elffile__open(const char *path, struct elf_file **ret);
/* Opens an ELF held in memory (tests, fuzzing); the buffer must outlive the handle. */
int elffile__open_mem(const void *buf, size_t len, struct elf_file **ret);
void elffile__close(struct elf_file *ef);

/* Looks up every query's name in .dynsym and .symtab in one pass; returns how many were found. */
int elffile__lookup(struct elf_file *ef, struct elf_symbol_query *q, size_t n);
/* Copies len bytes of initialized data at link-time address vaddr (-ENOENT if not in the file). */
int elffile__read(struct elf_file *ef, uint64_t vaddr, void *buf, size_t len);
/* The link-time address of the PT_LOAD segment that starts at file offset off (page-aligned
 * comparison), used to compute the load bias of a mapping. */
int elffile__segment_vaddr(struct elf_file *ef, uint64_t off, uint64_t *ret_vaddr);
/* 1 for ET_EXEC, 0 for ET_DYN. */
int elffile__is_exec(struct elf_file *ef);
/* Finds a "3.X.Y" CPython version string (PY_VERSION) in .rodata; returns 0 and (major, minor). */
int elffile__find_version_string(struct elf_file *ef, unsigned *ret_major, unsigned *ret_minor);

#endif
