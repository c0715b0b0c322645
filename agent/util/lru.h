/* SPDX-License-Identifier: MIT */
/* A least-recently-used list with a budget (entries and bytes) and its counters, for the caches
 * that hold what is read from targets. Intrusive: an entry embeds a struct lru_node; its owner
 * indexes entries as it likes, puts each on the list, and frees what lru__over names. */
#ifndef PYPROF_LRU_H
#define PYPROF_LRU_H

#include <stddef.h>
#include <stdint.h>

struct lru_node {
	struct lru_node *prev, *next;
	size_t bytes;
	uint64_t used; /* the list's clock when last inserted or touched */
};

enum lru_stat {
	LRU_HITS,
	LRU_MISSES,
	LRU_EVICTIONS,
	LRU_STAT_MAX,
};

extern const char *const lru_stat_names[LRU_STAT_MAX];

struct lru {
	struct lru_node head; /* head.next: the most recently used; head.prev: the least */
	size_t n, bytes;
	size_t max_n, max_bytes;
	uint64_t now; /* its owner's clock (lru__set_now), in its owner's unit; 0 if unused */
	uint64_t stats[LRU_STAT_MAX];
};

void lru__init(struct lru *l, size_t max_n, size_t max_bytes);
/* Puts a new entry of the given size first. */
void lru__insert(struct lru *l, struct lru_node *node, size_t bytes);
/* Moves an entry first (it was used). */
void lru__touch(struct lru *l, struct lru_node *node);
void lru__unlink(struct lru *l, struct lru_node *node);
/* The least recently used entry while the list is over its budget and holds more than keep
 * entries, else NULL. The caller unlinks and frees it, and counts it with lru__evicted. */
struct lru_node *lru__over(const struct lru *l, size_t keep);
/* The list's clock, stamped on entries as they are inserted and touched. */
static inline void lru__set_now(struct lru *l, uint64_t now)
{
	l->now = now;
}
/* The least recently used entry if it was last used idle or more before the list's clock, else
 * NULL: unused entries leave a cache in time, not only under the budget. The caller unlinks and
 * frees it, and counts it with lru__evicted. */
struct lru_node *lru__idle(const struct lru *l, uint64_t idle);
static inline void lru__evicted(struct lru *l)
{
	l->stats[LRU_EVICTIONS]++;
}

#define lru__entry(node, type, member) ((type *)((char *)(node)-offsetof(type, member)))

#endif
