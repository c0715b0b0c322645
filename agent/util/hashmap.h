/* SPDX-License-Identifier: MIT */
/* Open-addressing hash map from a 128-bit key to a pointer, and a string interner.
 * Used by the caches and the profile aggregator; one implementation for all. */
#ifndef PYPROF_HASHMAP_H
#define PYPROF_HASHMAP_H

#include <stdint.h>
#include <stddef.h>

struct hkey {
	uint64_t a, b;
};

struct hashmap {
	struct hkey *keys;
	void **values;
	uint8_t *used;
	size_t cap; /* power of two */
	size_t n;
};

void hashmap__init(struct hashmap *m);
void hashmap__free(struct hashmap *m);
void *hashmap__get(const struct hashmap *m, struct hkey k);
/* Inserts or replaces; returns the previous value (or NULL) in *ret_old if given. */
int hashmap__put(struct hashmap *m, struct hkey k, void *v, void **ret_old);
/* Removes k; returns its value or NULL. */
void *hashmap__del(struct hashmap *m, struct hkey k);
/* Iteration: for (size_t i = 0; hashmap__next(m, &i, &k, &v);) */
int hashmap__next(const struct hashmap *m, size_t *iter, struct hkey *ret_key, void **ret_value);

uint64_t hash__bytes(const void *data, size_t len, uint64_t seed);
/* A word at a time: for long keys that are whole words (several times faster than bytes). */
uint64_t hash__words(const uint64_t *w, size_t n, uint64_t seed);
/* A 128-bit key for text (two independent 64-bit lanes, a word at a time): for maps where the
 * key alone stands for the text, so it is not kept. */
struct hkey hash__text(const void *data, size_t len);

/* Interned strings get small dense ids (0, 1, ...), so stacks can be arrays of ids. */
struct strtab {
	struct hashmap index; /* hash -> chain of ids, via the id arrays below */
	char **strs;
	uint32_t *next_same_hash;
	size_t n, cap;
};

void strtab__init(struct strtab *t);
void strtab__free(struct strtab *t);
/* Returns the id of s (copying it on first sight), or -ENOMEM. */
int64_t strtab__intern(struct strtab *t, const char *s);
static inline const char *strtab__str(const struct strtab *t, uint32_t id)
{
	return id < t->n ? t->strs[id] : NULL;
}

#endif
