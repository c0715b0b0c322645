/* SPDX-License-Identifier: MIT */
/* Reading another process's memory. A reader is an interface so the object readers can be
 * tested and fuzzed on captured memory instead of a live process. */
#ifndef PYPROF_MEMREAD_H
#define PYPROF_MEMREAD_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

struct mem_reader {
	/* Copies exactly len bytes at addr into buf; 0 or a negative errno. */
	int (*read)(void *ctx, uint64_t addr, void *buf, size_t len);
	void *ctx;
};

static inline int mem_read(const struct mem_reader *r, uint64_t addr, void *buf, size_t len)
{
	return r->read(r->ctx, addr, buf, len);
}

/* process_vm_readv on pid; the context is the pid itself. */
int memread__process(void *ctx, uint64_t addr, void *buf, size_t len);
static inline struct mem_reader memread__for_pid(pid_t pid)
{
	return (struct mem_reader){.read = memread__process, .ctx = (void *)(intptr_t)pid};
}

/* A reader over a list of captured memory regions (tests and fuzzing). */
struct mem_region {
	uint64_t addr;
	const void *data;
	size_t len;
};
struct mem_image {
	const struct mem_region *regions;
	size_t n;
};
int memread__image(void *ctx, uint64_t addr, void *buf, size_t len);

#endif
