/* SPDX-License-Identifier: MIT */
/* What agentctl serve keeps between requests: merged selections, and each window's total for
 * the timeline, each keyed by the files' names, sizes and modification times (a window written
 * again is read again), bounded and evicted least-recently-used. Thread-safe. */
#ifndef PYPROF_WINCACHE_H
#define PYPROF_WINCACHE_H

#include <stddef.h>
#include <stdint.h>
#include "profile/profile.h"
#include "store/store.h"
#include "util/lru.h"

/* A merged selection, shared: read-only until given back with wincache__put. */
struct wincache_merge {
	struct profile p;
	struct profile_meta meta;
	size_t windows;
};

struct wincache;

/* Up to max_merges merges of at most max_bytes together (estimated), and max_totals totals. */
struct wincache *wincache__new(size_t max_merges, size_t max_bytes, size_t max_totals);
void wincache__free(struct wincache *c);

/* The merge of windows w[0..n) of dir (store__load), from the cache when the same files were
 * merged before. Returns it (give it back with wincache__put), or NULL with *ret_err (-errno)
 * and a message in err. Merges are made one at a time: a request for what another is merging
 * waits for it rather than reading the same files again. */
const struct wincache_merge *wincache__merge(struct wincache *c, const char *dir,
					     const struct store_window *w, size_t n, char *err,
					     size_t err_len, int *ret_err);
void wincache__put(struct wincache *c, const struct wincache_merge *m);

/* The total weight of one window, cached. Returns 0 or -errno (unreadable). */
int wincache__total(struct wincache *c, const char *dir, const struct store_window *w,
		    uint64_t *ret_total);

/* hits, misses, evictions of merges and of totals (lru_stat order). */
void wincache__stats(struct wincache *c, uint64_t ret_merges[LRU_STAT_MAX],
		     uint64_t ret_totals[LRU_STAT_MAX]);

#endif
