// SPDX-License-Identifier: MIT
/* Linear-probing hash map with backward-shift deletion, and the string interner on top of it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "util/hashmap.h"

uint64_t hash__bytes(const void *data, size_t len, uint64_t seed)
{
	/* FNV-1a, then a final mix so the low bits used for buckets are well spread */
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

uint64_t hash__words(const uint64_t *w, size_t n, uint64_t seed)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ seed ^ n;

	for (size_t i = 0; i < n; i++) {
		h = (h ^ w[i]) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 32;
	return h;
}

struct hkey hash__text(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t a = 0x9e3779b97f4a7c15ULL ^ len, b = 0xc2b2ae3d27d4eb4fULL + len, w;
	size_t i = 0;

	/* two lanes with their own multipliers and shifts, a word at a time */
	for (; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		a = (a ^ w) * 0xff51afd7ed558ccdULL;
		a ^= a >> 29;
		b = (b ^ w) * 0xc4ceb9fe1a85ec53ULL;
		b ^= b >> 31;
	}
	if (i < len) {
		w = 0;
		memcpy(&w, p + i, len - i);
		a = (a ^ w) * 0xff51afd7ed558ccdULL;
		a ^= a >> 29;
		b = (b ^ w) * 0xc4ceb9fe1a85ec53ULL;
		b ^= b >> 31;
	}
	a *= 0xc4ceb9fe1a85ec53ULL;
	a ^= a >> 32;
	b *= 0xff51afd7ed558ccdULL;
	b ^= b >> 33;
	return (struct hkey){a, b};
}

static uint64_t hkey_hash(struct hkey k)
{
	uint64_t h =
	    k.a * 0x9e3779b97f4a7c15ULL ^ (k.b + 0x632be59bd9b4e019ULL) * 0xc2b2ae3d27d4eb4fULL;

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return h;
}

void hashmap__init(struct hashmap *m)
{
	memset(m, 0, sizeof(*m));
}

void hashmap__free(struct hashmap *m)
{
	free(m->keys);
	free(m->values);
	free(m->used);
	hashmap__init(m);
}

static size_t hashmap__slot(const struct hashmap *m, struct hkey k, int *ret_found)
{
	size_t mask = m->cap - 1, i = hkey_hash(k) & mask;

	while (m->used[i]) {
		if (m->keys[i].a == k.a && m->keys[i].b == k.b) {
			*ret_found = 1;
			return i;
		}
		i = (i + 1) & mask;
	}
	*ret_found = 0;
	return i;
}

void *hashmap__get(const struct hashmap *m, struct hkey k)
{
	int found;
	size_t i;

	if (!m->cap)
		return NULL;
	i = hashmap__slot(m, k, &found);
	return found ? m->values[i] : NULL;
}

static int hashmap__grow(struct hashmap *m)
{
	struct hashmap bigger;
	size_t cap = m->cap ? m->cap * 2 : 64;

	bigger.cap = cap;
	bigger.n = 0;
	bigger.keys = calloc(cap, sizeof(*bigger.keys));
	bigger.values = calloc(cap, sizeof(*bigger.values));
	bigger.used = calloc(cap, 1);
	if (!bigger.keys || !bigger.values || !bigger.used) {
		hashmap__free(&bigger);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		int found;
		size_t j;

		if (!m->used[i])
			continue;
		j = hashmap__slot(&bigger, m->keys[i], &found);
		bigger.used[j] = 1;
		bigger.keys[j] = m->keys[i];
		bigger.values[j] = m->values[i];
		bigger.n++;
	}
	hashmap__free(m);
	*m = bigger;
	return 0;
}

int hashmap__put(struct hashmap *m, struct hkey k, void *v, void **ret_old)
{
	int found;
	size_t i;

	if ((m->n + 1) * 4 >= m->cap * 3) {
		int err = hashmap__grow(m);

		if (err)
			return err;
	}
	i = hashmap__slot(m, k, &found);
	if (ret_old)
		*ret_old = found ? m->values[i] : NULL;
	if (!found) {
		m->used[i] = 1;
		m->keys[i] = k;
		m->n++;
	}
	m->values[i] = v;
	return 0;
}

void *hashmap__del(struct hashmap *m, struct hkey k)
{
	size_t mask, i, j;
	int found;
	void *v;

	if (!m->cap)
		return NULL;
	i = hashmap__slot(m, k, &found);
	if (!found)
		return NULL;
	v = m->values[i];
	mask = m->cap - 1;
	/* backward-shift the rest of the cluster so probing never stops early */
	j = i;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!m->used[j])
			break;
		home = hkey_hash(m->keys[j]) & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->keys[i] = m->keys[j];
			m->values[i] = m->values[j];
			i = j;
		}
	}
	m->used[i] = 0;
	m->n--;
	return v;
}

int hashmap__next(const struct hashmap *m, size_t *iter, struct hkey *ret_key, void **ret_value)
{
	while (*iter < m->cap) {
		size_t i = (*iter)++;

		if (m->used[i]) {
			if (ret_key)
				*ret_key = m->keys[i];
			if (ret_value)
				*ret_value = m->values[i];
			return 1;
		}
	}
	return 0;
}

void strtab__init(struct strtab *t)
{
	memset(t, 0, sizeof(*t));
	hashmap__init(&t->index);
}

void strtab__free(struct strtab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->strs[i]);
	free(t->strs);
	free(t->next_same_hash);
	hashmap__free(&t->index);
	memset(t, 0, sizeof(*t));
}

/* The index maps a string's hash to 1 + the newest id with that hash; older ids with the same
 * hash are chained through next_same_hash (also 1-based, 0 ends). */
int64_t strtab__intern(struct strtab *t, const char *s)
{
	size_t len = strlen(s);
	struct hkey k = {hash__bytes(s, len, 0), len};
	uintptr_t head = (uintptr_t)hashmap__get(&t->index, k);
	int err;

	for (uintptr_t id1 = head; id1; id1 = t->next_same_hash[id1 - 1]) {
		if (!strcmp(t->strs[id1 - 1], s))
			return (int64_t)(id1 - 1);
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		char **ns = realloc(t->strs, cap * sizeof(*ns));
		uint32_t *nn;

		if (!ns)
			return -ENOMEM;
		t->strs = ns;
		nn = realloc(t->next_same_hash, cap * sizeof(*nn));
		if (!nn)
			return -ENOMEM;
		t->next_same_hash = nn;
		t->cap = cap;
	}
	t->strs[t->n] = strdup(s);
	if (!t->strs[t->n])
		return -ENOMEM;
	t->next_same_hash[t->n] = (uint32_t)head;
	err = hashmap__put(&t->index, k, (void *)(uintptr_t)(t->n + 1), NULL);
	if (err) {
		free(t->strs[t->n]);
		return err;
	}
	return (int64_t)t->n++;
}
