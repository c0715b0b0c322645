// SPDX-License-Identifier: MIT
/* The open-addressing hash map (put/get/del, backward-shift deletion, iteration) and the
 * string interner. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/hashmap.h"

#define NKEYS 100000

static struct hkey key_of(size_t i)
{
	/* both halves vary, and some keys differ only in one half */
	return (struct hkey){.a = i * 0x10001, .b = i % 3 ? i : 0};
}

static void *val_of(size_t i)
{
	return (void *)(uintptr_t)(i + 1);
}

/* Table invariants: power-of-two capacity, n equals the used slots, load at most 3/4. */
static void check_invariants(const struct hashmap *m)
{
	size_t used = 0;

	if (!m->cap) {
		assert_int_equal(m->n, 0);
		return;
	}
	assert_int_equal(m->cap & (m->cap - 1), 0);
	for (size_t i = 0; i < m->cap; i++)
		used += m->used[i] != 0;
	assert_int_equal(used, m->n);
	assert_true(m->n * 4 <= m->cap * 3);
}

static void test_empty_map_finds_nothing(void **state)
{
	struct hashmap m;
	size_t it = 0;

	hashmap__init(&m);
	assert_null(hashmap__get(&m, key_of(0)));
	assert_null(hashmap__get(&m, (struct hkey){0, 0}));
	assert_null(hashmap__del(&m, key_of(1)));
	assert_int_equal(hashmap__next(&m, &it, NULL, NULL), 0);
	hashmap__free(&m);
	hashmap__free(&m);
}

static void test_put_get_100k_keys(void **state)
{
	struct hashmap m;

	hashmap__init(&m);
	for (size_t i = 0; i < NKEYS; i++) {
		void *old = (void *)1;

		assert_int_equal(hashmap__put(&m, key_of(i), val_of(i), &old), 0);
		assert_null(old);
	}
	assert_int_equal(m.n, NKEYS);
	check_invariants(&m);
	for (size_t i = 0; i < NKEYS; i++)
		assert_ptr_equal(hashmap__get(&m, key_of(i)), val_of(i));
	/* keys never inserted, including ones sharing a half with inserted keys */
	for (size_t i = NKEYS; i < NKEYS + 1000; i++)
		assert_null(hashmap__get(&m, key_of(i)));
	assert_null(hashmap__get(&m, (struct hkey){.a = key_of(5).a, .b = key_of(5).b + 1}));
	assert_null(hashmap__get(&m, (struct hkey){.a = key_of(5).b, .b = key_of(5).a}));
	hashmap__free(&m);
	assert_int_equal(m.n, 0);
	assert_null(hashmap__get(&m, key_of(1)));
}

/* Putting an existing key replaces the value, reports the old one, and does not grow n. */
static void test_put_existing_key_replaces(void **state)
{
	struct hashmap m;
	void *old = NULL;

	hashmap__init(&m);
	assert_int_equal(hashmap__put(&m, (struct hkey){0, 0}, val_of(1), NULL), 0);
	assert_int_equal(hashmap__put(&m, (struct hkey){0, 0}, val_of(2), &old), 0);
	assert_ptr_equal(old, val_of(1));
	assert_ptr_equal(hashmap__get(&m, (struct hkey){0, 0}), val_of(2));
	assert_int_equal(m.n, 1);
	hashmap__free(&m);
}

/* Deleting half the keys leaves every other key findable, the deleted ones gone, and the
 * table reusable. */
static void test_del_half_of_100k_keeps_the_rest(void **state)
{
	struct hashmap m;

	hashmap__init(&m);
	for (size_t i = 0; i < NKEYS; i++)
		assert_int_equal(hashmap__put(&m, key_of(i), val_of(i), NULL), 0);
	for (size_t i = 1; i < NKEYS; i += 2)
		assert_ptr_equal(hashmap__del(&m, key_of(i)), val_of(i));
	assert_int_equal(m.n, NKEYS / 2);
	check_invariants(&m);
	for (size_t i = 0; i < NKEYS; i++) {
		void *v = hashmap__get(&m, key_of(i));

		if (i % 2)
			assert_null(v);
		else
			assert_ptr_equal(v, val_of(i));
	}
	/* deleting again is a no-op */
	assert_null(hashmap__del(&m, key_of(1)));
	assert_int_equal(m.n, NKEYS / 2);
	for (size_t i = 1; i < NKEYS; i += 2)
		assert_int_equal(hashmap__put(&m, key_of(i), val_of(i), NULL), 0);
	assert_int_equal(m.n, NKEYS);
	for (size_t i = 0; i < NKEYS; i++)
		assert_ptr_equal(hashmap__get(&m, key_of(i)), val_of(i));
	hashmap__free(&m);
}

/* Backward shift: in a small, nearly full table (long clusters, some wrapping around the end),
 * delete keys one by one in random orders; after each deletion every remaining key is found
 * and no slot is left marked used without a key. */
static void test_del_in_dense_table_keeps_clusters_findable(void **state)
{
	uint32_t x = 7;
	size_t wrapped_clusters = 0;

	for (int round = 0; round < 200; round++) {
		struct hashmap m;
		size_t nk = 40 + round % 8, order[48];
		int present[48];

		hashmap__init(&m);
		for (size_t i = 0; i < nk; i++) {
			assert_int_equal(hashmap__put(&m, (struct hkey){round * 1000 + i, round},
						      val_of(i), NULL),
					 0);
			present[i] = 1;
			order[i] = i;
		}
		assert_int_equal(m.cap, 64); /* dense: 40-47 keys in 64 slots */
		if (m.used[0] && m.used[m.cap - 1])
			wrapped_clusters++;
		for (size_t i = nk - 1; i > 0; i--) {
			size_t j;

			x = x * 1103515245 + 12345;
			j = (x >> 16) % (i + 1);
			size_t t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		for (size_t d = 0; d < nk; d++) {
			size_t victim = order[d];

			assert_ptr_equal(
			    hashmap__del(&m, (struct hkey){round * 1000 + victim, round}),
			    val_of(victim));
			present[victim] = 0;
			check_invariants(&m);
			for (size_t i = 0; i < nk; i++) {
				void *v = hashmap__get(&m, (struct hkey){round * 1000 + i, round});

				if (present[i] && v != val_of(i))
					fail_msg("round %d: key %zu lost after deleting %zu", round,
						 i, victim);
				if (!present[i] && v)
					fail_msg("round %d: deleted key %zu still found", round, i);
			}
		}
		assert_int_equal(m.n, 0);
		hashmap__free(&m);
	}
	/* the random rounds did exercise clusters that wrap past the last slot */
	assert_true(wrapped_clusters > 10);
}

/* Iteration visits each present key exactly once, with its value, after puts and deletes. */
static void test_iteration_visits_each_key_once(void **state)
{
	struct hashmap m;
	unsigned char *seen = calloc(NKEYS, 1);
	size_t it = 0, visits = 0;
	struct hkey k;
	void *v;

	assert_non_null(seen);
	hashmap__init(&m);
	for (size_t i = 0; i < NKEYS; i++)
		assert_int_equal(hashmap__put(&m, (struct hkey){i, 0}, val_of(i), NULL), 0);
	for (size_t i = 0; i < NKEYS; i += 3)
		hashmap__del(&m, (struct hkey){i, 0});
	while (hashmap__next(&m, &it, &k, &v)) {
		assert_true(k.a < NKEYS);
		assert_int_equal(k.b, 0);
		assert_int_not_equal(k.a % 3, 0);
		assert_ptr_equal(v, val_of(k.a));
		assert_int_equal(seen[k.a], 0);
		seen[k.a] = 1;
		visits++;
	}
	assert_int_equal(visits, m.n);
	assert_int_equal(visits, NKEYS - (NKEYS + 2) / 3);
	/* a finished iterator stays finished */
	assert_int_equal(hashmap__next(&m, &it, &k, &v), 0);
	hashmap__free(&m);
	free(seen);
}

static void test_hash_bytes_depends_on_data_seed_and_length(void **state)
{
	const char zeros[8] = {0};
	uint64_t h = hash__bytes("abc", 3, 0);

	assert_int_equal(h, hash__bytes("abc", 3, 0));
	assert_int_not_equal(h, hash__bytes("abd", 3, 0));
	assert_int_not_equal(h, hash__bytes("abc", 3, 1));
	assert_int_not_equal(hash__bytes(zeros, 4, 0), hash__bytes(zeros, 5, 0));
	assert_int_not_equal(hash__bytes("ab", 2, 0), hash__bytes("ba", 2, 0));
}

/* The folded memo's keys stand for the text alone: every byte, the tail past the last whole
 * word and the length matter, in both lanes; over many similar texts no two keys are equal. */
static void test_hash_text_depends_on_every_byte_and_the_length(void **state)
{
	char t[40] = "gunicorn (1234);thread 1235 (Main);f";
	struct hkey k = hash__text(t, 37), k2;
	struct hashmap seen;

	k2 = hash__text(t, 37);
	assert_true(k.a == k2.a && k.b == k2.b);
	for (int i = 0; i < 37; i++) {
		t[i] ^= 1;
		k2 = hash__text(t, 37);
		assert_true(k.a != k2.a && k.b != k2.b);
		t[i] ^= 1;
	}
	k2 = hash__text(t, 36);
	assert_true(k.a != k2.a && k.b != k2.b);
	k2 = hash__text("\0\0\0\0\0\0\0\0\0", 9);
	k = hash__text("\0\0\0\0\0\0\0\0", 8);
	assert_true(k.a != k2.a && k.b != k2.b);
	hashmap__init(&seen);
	for (int i = 0; i < 100000; i++) {
		char s[32];
		int n = snprintf(s, sizeof(s), "main;handle;f%d (/a.py:%d)", i % 317, i);

		k = hash__text(s, n);
		assert_null(hashmap__get(&seen, k));
		assert_int_equal(hashmap__put(&seen, k, (void *)1, NULL), 0);
	}
	hashmap__free(&seen);
}

/* The collector's memo keys: every word, its position, the seed and the count matter, and
 * keys differing in one bit of one word spread over the low bits the buckets use. */
static void test_hash_words_depends_on_every_word_and_position(void **state)
{
	uint64_t w[64] = {0}, zeros[3] = {0}, low = 0;
	uint64_t h = hash__words(w, 64, 0);

	assert_int_equal(h, hash__words(w, 64, 0));
	assert_int_not_equal(h, hash__words(w, 64, 1));
	assert_int_not_equal(hash__words(zeros, 2, 0), hash__words(zeros, 3, 0));
	for (int i = 0; i < 64; i++) {
		uint64_t hi;

		w[i] = 1;
		hi = hash__words(w, 64, 0);
		assert_int_not_equal(h, hi);
		low |= 1ULL << (hi & 63);
		w[i] = 0;
	}
	assert_true(__builtin_popcountll(low) > 20); /* 64 keys over 64 buckets */
	w[0] = 1;
	h = hash__words(w, 2, 0);
	w[0] = 0;
	w[1] = 1;
	assert_int_not_equal(h, hash__words(w, 2, 0));
}

/* Interned strings get ids 0, 1, 2... in order of first sight; the same string always gets the
 * same id, the table holds its own copy, and ids past the end have no string. */
static void test_strtab_ids_are_dense_and_stable(void **state)
{
	struct strtab t;
	char buf[32];

	strtab__init(&t);
	assert_int_equal(strtab__intern(&t, "a"), 0);
	assert_int_equal(strtab__intern(&t, "b"), 1);
	assert_int_equal(strtab__intern(&t, "a"), 0);
	assert_int_equal(strtab__intern(&t, ""), 2);
	assert_int_equal(strtab__intern(&t, ""), 2);
	strcpy(buf, "mutable");
	assert_int_equal(strtab__intern(&t, buf), 3);
	strcpy(buf, "changed");
	assert_string_equal(strtab__str(&t, 3), "mutable");
	assert_int_equal(strtab__intern(&t, "mutable"), 3);
	assert_int_equal(strtab__intern(&t, "changed"), 4);
	assert_int_equal(t.n, 5);
	assert_null(strtab__str(&t, 5));
	assert_null(strtab__str(&t, UINT32_MAX));
	strtab__free(&t);
	assert_int_equal(t.n, 0);
}

static void test_strtab_100k_strings_keep_their_ids(void **state)
{
	struct strtab t;
	char buf[32];

	strtab__init(&t);
	for (size_t i = 0; i < NKEYS; i++) {
		snprintf(buf, sizeof(buf), "frame_%zu", i);
		assert_int_equal(strtab__intern(&t, buf), (int64_t)i);
	}
	/* again, in reverse: every id unchanged, nothing added */
	for (size_t i = NKEYS; i-- > 0;) {
		snprintf(buf, sizeof(buf), "frame_%zu", i);
		assert_int_equal(strtab__intern(&t, buf), (int64_t)i);
		assert_string_equal(strtab__str(&t, i), buf);
	}
	assert_int_equal(t.n, NKEYS);
	/* prefixes of interned strings are different strings */
	assert_int_equal(strtab__intern(&t, "frame_"), NKEYS);
	assert_int_equal(strtab__intern(&t, "frame_1000000"), NKEYS + 1);
	strtab__free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_map_finds_nothing),
	    cmocka_unit_test(test_put_get_100k_keys),
	    cmocka_unit_test(test_put_existing_key_replaces),
	    cmocka_unit_test(test_del_half_of_100k_keeps_the_rest),
	    cmocka_unit_test(test_del_in_dense_table_keeps_clusters_findable),
	    cmocka_unit_test(test_iteration_visits_each_key_once),
	    cmocka_unit_test(test_hash_bytes_depends_on_data_seed_and_length),
	    cmocka_unit_test(test_hash_words_depends_on_every_word_and_position),
	    cmocka_unit_test(test_hash_text_depends_on_every_byte_and_the_length),
	    cmocka_unit_test(test_strtab_ids_are_dense_and_stable),
	    cmocka_unit_test(test_strtab_100k_strings_keep_their_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
