// SPDX-License-Identifier: MIT
/* The least-recently-used list of lru.h: a circular doubly linked list through a sentinel. */
#include "util/lru.h"

const char *const lru_stat_names[LRU_STAT_MAX] = {
    [LRU_HITS] = "hit",
    [LRU_MISSES] = "miss",
    [LRU_EVICTIONS] = "eviction",
};

void lru__init(struct lru *l, size_t max_n, size_t max_bytes)
{
	*l = (struct lru){.max_n = max_n, .max_bytes = max_bytes};
	l->head.prev = l->head.next = &l->head;
}

static void link_first(struct lru *l, struct lru_node *node)
{
	node->prev = &l->head;
	node->next = l->head.next;
	l->head.next->prev = node;
	l->head.next = node;
}

void lru__insert(struct lru *l, struct lru_node *node, size_t bytes)
{
	node->bytes = bytes;
	node->used = l->now;
	link_first(l, node);
	l->n++;
	l->bytes += bytes;
}

void lru__touch(struct lru *l, struct lru_node *node)
{
	node->used = l->now;
	if (l->head.next == node)
		return;
	node->prev->next = node->next;
	node->next->prev = node->prev;
	link_first(l, node);
}

void lru__unlink(struct lru *l, struct lru_node *node)
{
	node->prev->next = node->next;
	node->next->prev = node->prev;
	node->prev = node->next = node;
	l->n--;
	l->bytes -= node->bytes;
}

struct lru_node *lru__over(const struct lru *l, size_t keep)
{
	if (l->n <= keep || (l->n <= l->max_n && l->bytes <= l->max_bytes))
		return NULL;
	return l->head.prev;
}

struct lru_node *lru__idle(const struct lru *l, uint64_t idle)
{
	const struct lru_node *last = l->head.prev;

	if (last == &l->head || l->now - last->used < idle)
		return NULL;
	return l->head.prev;
}
