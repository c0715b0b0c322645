// SPDX-License-Identifier: MIT
/* The web view's caches of merges and window totals (wincache.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "store/wincache.h"
#include "util/hashmap.h"

struct merge_entry {
	struct wincache_merge m; /* first: a wincache_merge pointer is its entry */
	struct lru_node lru;
	struct hkey key;
	unsigned refs;
	int cached; /* on the list and in the index; else freed at its last put */
};

struct total_entry {
	struct lru_node lru;
	struct hkey key;
	uint64_t total;
	int err;
};

struct wincache {
	pthread_mutex_t lock;	 /* the indexes, lists and reference counts */
	pthread_mutex_t merging; /* one merge at a time (see wincache__merge) */
	struct hashmap merges, totals;
	struct lru merge_lru, total_lru;
};

struct wincache *wincache__new(size_t max_merges, size_t max_bytes, size_t max_totals)
{
	struct wincache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->merging, NULL);
	hashmap__init(&c->merges);
	hashmap__init(&c->totals);
	lru__init(&c->merge_lru, max_merges, max_bytes);
	lru__init(&c->total_lru, max_totals, (size_t)-1);
	return c;
}

static void merge_free(struct merge_entry *e)
{
	profile__free(&e->m.p);
	free(e);
}

void wincache__free(struct wincache *c)
{
	struct lru_node *n, *next;

	if (!c)
		return;
	for (n = c->merge_lru.head.next; n != &c->merge_lru.head; n = next) {
		next = n->next;
		merge_free(lru__entry(n, struct merge_entry, lru));
	}
	for (n = c->total_lru.head.next; n != &c->total_lru.head; n = next) {
		next = n->next;
		free(lru__entry(n, struct total_entry, lru));
	}
	hashmap__free(&c->merges);
	hashmap__free(&c->totals);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->merging);
	free(c);
}

/* A key over each window's name, size and modification time (and the kind, in the name). */
static int files_key(const char *dir, const struct store_window *w, size_t n, struct hkey *ret)
{
	uint64_t a = 0x9e3779b97f4a7c15ULL ^ n, b = 0xc2b2ae3d27d4eb4fULL;

	for (size_t i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		uint64_t words[3];

		if (snprintf(path, sizeof(path), "%s/%s", dir, w[i].name) >= (int)sizeof(path))
			return -ENAMETOOLONG;
		if (stat(path, &st))
			return -errno;
		words[0] = (uint64_t)st.st_size;
		words[1] = (uint64_t)st.st_mtim.tv_sec;
		words[2] = (uint64_t)st.st_mtim.tv_nsec;
		a = hash__bytes(w[i].name, strlen(w[i].name), a);
		a = hash__words(words, 3, a);
		b = hash__bytes(w[i].name, strlen(w[i].name), b);
		b = hash__words(words, 3, b);
	}
	ret->a = a;
	ret->b = b;
	return 0;
}

/* Memory a profile holds, roughly: its stacks, frames and strings. */
static size_t profile_bytes(const struct profile *p)
{
	struct profile_stack *s;
	size_t it = 0, bytes = p->nframes * (sizeof(struct frame) + sizeof(uint32_t) + 64);

	while (hashmap__next(&p->stacks, &it, NULL, (void **)&s))
		for (; s; s = s->next_same_hash)
			bytes += sizeof(*s) + s->n * sizeof(uint32_t) + 32;
	return bytes;
}

/* Under c->lock: drops entries over the budget (one in use is freed at its last put). */
static void merges_trim(struct wincache *c, size_t keep)
{
	struct lru_node *n;

	while ((n = lru__over(&c->merge_lru, keep))) {
		struct merge_entry *e = lru__entry(n, struct merge_entry, lru);

		lru__unlink(&c->merge_lru, n);
		hashmap__del(&c->merges, e->key);
		lru__evicted(&c->merge_lru);
		e->cached = 0;
		if (!e->refs)
			merge_free(e);
	}
}

static struct merge_entry *merge_lookup(struct wincache *c, struct hkey key)
{
	struct merge_entry *e;

	pthread_mutex_lock(&c->lock);
	e = hashmap__get(&c->merges, key);
	if (e) {
		e->refs++;
		lru__touch(&c->merge_lru, &e->lru);
		c->merge_lru.stats[LRU_HITS]++;
	}
	pthread_mutex_unlock(&c->lock);
	return e;
}

/* Keeps window key's total (or err, unreadable), unless it is kept already. */
static void total_put(struct wincache *c, struct hkey key, uint64_t total, int err)
{
	struct total_entry *e = calloc(1, sizeof(*e));
	struct lru_node *old;

	if (!e)
		return;
	e->key = key;
	e->total = total;
	e->err = err;
	pthread_mutex_lock(&c->lock);
	if (hashmap__get(&c->totals, key) || hashmap__put(&c->totals, key, e, NULL)) {
		free(e); /* another request cached it meanwhile, or no memory: not kept */
	} else {
		lru__insert(&c->total_lru, &e->lru, sizeof(*e));
		while ((old = lru__over(&c->total_lru, 0))) {
			struct total_entry *o = lru__entry(old, struct total_entry, lru);

			lru__unlink(&c->total_lru, old);
			hashmap__del(&c->totals, o->key);
			lru__evicted(&c->total_lru);
			free(o);
		}
	}
	pthread_mutex_unlock(&c->lock);
}

const struct wincache_merge *wincache__merge(struct wincache *c, const char *dir,
					     const struct store_window *w, size_t n, char *err,
					     size_t err_len, int *ret_err)
{
	struct merge_entry *e;
	struct hkey key, wkey;
	uint64_t *totals;
	int ret = files_key(dir, w, n, &key);

	if (ret) {
		snprintf(err, err_len, "cannot read the store: %s", strerror(-ret));
		*ret_err = ret;
		return NULL;
	}
	e = merge_lookup(c, key);
	if (e)
		return &e->m;
	/* the page asks for a selection's table and its graph at once: the second waits for
	 * the first's merge instead of reading every window again */
	pthread_mutex_lock(&c->merging);
	e = merge_lookup(c, key);
	if (e) {
		pthread_mutex_unlock(&c->merging);
		return &e->m;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		pthread_mutex_unlock(&c->merging);
		*ret_err = -ENOMEM;
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	profile__init(&e->m.p);
	totals = calloc(n, sizeof(*totals));
	ret = totals ? store__load(dir, w, n, &e->m.p, &e->m.meta, totals, err, err_len) : -ENOMEM;
	if (ret == -ENOMEM && !totals)
		snprintf(err, err_len, "out of memory");
	if (ret) {
		pthread_mutex_unlock(&c->merging);
		merge_free(e);
		free(totals);
		*ret_err = ret;
		return NULL;
	}
	/* the timeline's totals come with the merge: a range shown before its timeline is
	 * not read twice */
	for (size_t i = 0; i < n; i++)
		if (!files_key(dir, &w[i], 1, &wkey))
			total_put(c, wkey, totals[i], 0);
	free(totals);
	e->m.windows = n;
	e->key = key;
	e->refs = 1;
	pthread_mutex_lock(&c->lock);
	c->merge_lru.stats[LRU_MISSES]++;
	if (!hashmap__put(&c->merges, key, e, NULL)) {
		e->cached = 1;
		lru__insert(&c->merge_lru, &e->lru, profile_bytes(&e->m.p));
		merges_trim(c, 1);
	}
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&c->merging);
	return &e->m;
}

void wincache__put(struct wincache *c, const struct wincache_merge *m)
{
	struct merge_entry *e = (struct merge_entry *)m;

	if (!m)
		return;
	pthread_mutex_lock(&c->lock);
	if (!--e->refs && !e->cached)
		merge_free(e);
	pthread_mutex_unlock(&c->lock);
}

int wincache__total(struct wincache *c, const char *dir, const struct store_window *w,
		    uint64_t *ret_total)
{
	struct total_entry *e;
	struct hkey key;
	char err[256];
	int ret = files_key(dir, w, 1, &key);

	if (ret)
		return ret;
	pthread_mutex_lock(&c->lock);
	e = hashmap__get(&c->totals, key);
	if (e) {
		c->total_lru.stats[LRU_HITS]++;
		lru__touch(&c->total_lru, &e->lru);
		*ret_total = e->total;
		ret = e->err;
		pthread_mutex_unlock(&c->lock);
		return ret;
	}
	c->total_lru.stats[LRU_MISSES]++;
	pthread_mutex_unlock(&c->lock);
	ret = store__total(dir, w, ret_total, err, sizeof(err));
	total_put(c, key, *ret_total, ret);
	return ret;
}

void wincache__stats(struct wincache *c, uint64_t ret_merges[LRU_STAT_MAX],
		     uint64_t ret_totals[LRU_STAT_MAX])
{
	pthread_mutex_lock(&c->lock);
	memcpy(ret_merges, c->merge_lru.stats, sizeof(c->merge_lru.stats));
	memcpy(ret_totals, c->total_lru.stats, sizeof(c->total_lru.stats));
	pthread_mutex_unlock(&c->lock);
}
