/* SPDX-License-Identifier: MIT */
/* Target memory as 4 KiB pages: replayed from a recording, or read from a stopped process and
 * kept page by page while it is being recorded (so a recording holds exactly the pages read). */
#ifndef PYPROF_REPLAY_MEM_H
#define PYPROF_REPLAY_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define REPLAY_PAGE_SIZE 4096ULL
/* Largest single read served: the symbolizer's line tables are at most 1 MiB. */
#define REPLAY_MAX_READ (4u << 20)

struct replay_page {
	uint64_t addr;
	uint8_t *data;
	int hidden; /* a mutation made it unreadable */
};

struct replay_mem {
	pid_t pid;		   /* > 0: recording this (stopped) process; 0: replaying */
	struct replay_page *pages; /* sorted by addr */
	size_t n, cap;
	uint64_t *failed; /* recording: pages the process could not give */
	size_t nfailed, capfailed;
};

/* Copies exactly len bytes at addr; 0, or -EFAULT if any page of the range is not there. */
int replay_mem__read(struct replay_mem *m, uint64_t addr, void *buf, size_t len);
/* The same as a struct mem_reader callback (agent/os/memread.h); ctx is the replay_mem. */
int replay_mem__reader(void *ctx, uint64_t addr, void *buf, size_t len);
/* Adds a copy of the page at addr (page-aligned). */
int replay_mem__add(struct replay_mem *m, uint64_t addr, const void *data);
struct replay_page *replay_mem__page(struct replay_mem *m, uint64_t addr);
/* Overwrites recorded bytes (mutations); the old bytes go to ret_old if not NULL. */
int replay_mem__poke(struct replay_mem *m, uint64_t addr, const void *data, size_t len,
		     void *ret_old);
void replay_mem__free(struct replay_mem *m);

#endif /* PYPROF_REPLAY_MEM_H */
