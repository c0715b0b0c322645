// SPDX-License-Identifier: MIT
/* Stack aggregation and the folded rendering of a profile. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "format/folded.h"
#include "profile/profile.h"
#include "profile_fixture.h"

/* The folded text of p, NUL-terminated (caller frees). */
static char *folded(const struct profile *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(folded__write(p, f), 0);
	fclose(f);
	assert_non_null(buf);
	assert_int_equal(strlen(buf), len);
	return buf;
}

/* Adds a stack given as "root;mid;leaf" (split on ';' here, not by the profile). */
static void add(struct profile *p, const char *stack, uint64_t weight)
{
	uint32_t ids[64];
	uint32_t n = 0;
	char *copy = strdup(stack), *save = NULL;

	assert_non_null(copy);
	for (char *f = strtok_r(copy, ";", &save); f; f = strtok_r(NULL, ";", &save)) {
		int64_t id = profile__frame_native(p, f);

		assert_true(id >= 0);
		assert_true(n < 64);
		ids[n++] = (uint32_t)id;
	}
	assert_int_equal(profile__add(p, ids, n, weight), 0);
	free(copy);
}

static void test_empty_profile_writes_nothing(void **state)
{
	struct profile p;
	char *out;

	profile__init(&p);
	out = folded(&p);
	assert_string_equal(out, "");
	assert_int_equal(p.nstacks, 0);
	assert_int_equal(p.total, 0);
	free(out);
	profile__free(&p);
}

/* Equal stacks are one line with the summed weight; the total counts every weight. */
static void test_equal_stacks_are_summed(void **state)
{
	struct profile p;
	char *out;

	profile__init(&p);
	add(&p, "main;work;leaf", 3);
	add(&p, "main;work;leaf", 4);
	add(&p, "main;work;leaf", 1000000000000ULL);
	out = folded(&p);
	assert_string_equal(out, "main;work;leaf 1000000000007\n");
	assert_int_equal(p.nstacks, 1);
	assert_int_equal(p.total, 1000000000007ULL);
	free(out);
	profile__free(&p);
}

/* Stacks that differ in order, depth or one frame stay apart, prefixes included. */
static void test_different_stacks_stay_apart(void **state)
{
	struct profile p;
	char *out;

	profile__init(&p);
	add(&p, "a;b", 1);
	add(&p, "b;a", 2);
	add(&p, "a", 4);
	add(&p, "a;b;c", 8);
	add(&p, "a;b;b", 16);
	add(&p, "a;c", 32);
	add(&p, "a;b", 64);
	out = folded(&p);
	assert_string_equal(out, "a 4\n"
				 "a;b 65\n"
				 "a;b;b 16\n"
				 "a;b;c 8\n"
				 "a;c 32\n"
				 "b;a 2\n");
	assert_int_equal(p.nstacks, 6);
	assert_int_equal(p.total, 127);
	free(out);
	profile__free(&p);
}

/* The output is sorted and depends only on the contents, not on the order stacks arrived in. */
static void test_output_sorted_and_independent_of_insertion_order(void **state)
{
	static const char *const stacks[] = {
	    "zeta;x",	  "alpha;beta",
	    "alpha",	  "mod;<module>;f",
	    "Alpha;beta", "alpha;beta;gamma",
	    "m;n;o",	  "a b;c d",
	    "_x",	  "0;1",
	    "alpha;bet",  "é;ü",
	};
	size_t n = sizeof(stacks) / sizeof(stacks[0]);
	struct profile p1, p2;
	char *o1, *o2, *prev = NULL, *save = NULL;
	size_t lines = 0;

	profile__init(&p1);
	profile__init(&p2);
	for (size_t r = 0; r < 3; r++) {
		for (size_t i = 0; i < n; i++) {
			add(&p1, stacks[i], i + 1);
			add(&p2, stacks[n - 1 - i], n - i);
		}
	}
	o1 = folded(&p1);
	o2 = folded(&p2);
	assert_string_equal(o1, o2);
	for (char *l = strtok_r(o1, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (prev && strcmp(prev, l) >= 0)
			fail_msg("folded lines not sorted: \"%s\" before \"%s\"", prev, l);
		prev = l;
		lines++;
	}
	assert_int_equal(lines, n);
	/* a frame name with a space keeps it: the weight is after the last space */
	assert_non_null(strstr(o2, "a b;c d 24\n"));
	free(o1);
	free(o2);
	profile__free(&p1);
	profile__free(&p2);
}

/* ';' and line breaks in frame names would split frames or lines: they are replaced, and the
 * rest of the name is kept. */
static void test_reserved_characters_in_frame_names_replaced(void **state)
{
	struct profile p;
	uint32_t ids[3];
	char *out, *save = NULL;
	size_t lines = 0;

	profile__init(&p);
	ids[0] = profile__frame_native(&p, "a;b");
	ids[1] = profile__frame_native(&p, "line1\nline2");
	ids[2] = profile__frame_native(&p, "cr\rlf\n;");
	assert_int_equal(profile__add(&p, ids, 3, 5), 0);
	out = folded(&p);
	/* exactly one line, three frames, each reserved character replaced by one other */
	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		const char *shape = "a?b;line1?line2;cr?lf?? 5";

		assert_int_equal(strlen(l), strlen(shape));
		for (size_t i = 0; shape[i]; i++) {
			if (shape[i] != '?')
				assert_int_equal(l[i], shape[i]);
			else if (l[i] == ';' || l[i] == '\n' || l[i] == '\r' || l[i] == '\0')
				fail_msg("reserved character kept at %zu of \"%s\"", i, l);
		}
		lines++;
	}
	assert_int_equal(lines, 1);
	free(out);
	profile__free(&p);
}

/* A 1000-frame stack renders every frame in order, root first. */
static void test_1000_frame_stack_rendered_whole(void **state)
{
	struct profile p;
	uint32_t ids[1000];
	size_t cap = 1000 * 24, o = 0, parent_len;
	char name[32], *want = malloc(2 * cap), *out;

	assert_non_null(want);
	profile__init(&p);
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "frame_number_%d", i);
		ids[i] = (uint32_t)profile__frame_native(&p, name);
		if (i == 999)
			parent_len = o;
		o += snprintf(want + o, cap - o, "%s%s", i ? ";" : "", name);
	}
	assert_int_equal(profile__add(&p, ids, 1000, 9), 0);
	assert_int_equal(profile__add(&p, ids, 999, 1), 0); /* its parent, one frame shorter */
	/* "...998 1" sorts before "...998;frame_number_999 9" (' ' < ';') */
	memmove(want + parent_len + 3, want, o);
	memcpy(want + parent_len, " 1\n", 3);
	memcpy(want + parent_len + 3 + o, " 9\n", 4);
	out = folded(&p);
	assert_int_equal(strlen(out), parent_len + 3 + o + 3);
	assert_string_equal(out, want);
	assert_int_equal(p.nstacks, 2);
	free(out);
	free(want);
	profile__free(&p);
}

/* Many distinct stacks over few frames (colliding hashes are chained, not merged). */
static void test_10k_distinct_stacks_all_written(void **state)
{
	struct profile p;
	uint32_t ids[4];
	char *out;
	size_t lines = 0;

	profile__init(&p);
	for (int i = 0; i < 4; i++) {
		char n[8];

		snprintf(n, sizeof(n), "f%d", i);
		assert_int_equal(profile__frame_native(&p, n), i);
	}
	for (uint32_t s = 0; s < 10000; s++) {
		uint32_t n = 1 + s % 4;

		for (uint32_t j = 0; j < n; j++)
			ids[j] = (s >> (2 * j + 2)) & 3;
		if (n == 4)
			ids[3] = s & 3;
		assert_int_equal(profile__add(&p, ids, n, 1), 0);
	}
	/* count distinct (n, ids) pairs independently */
	{
		unsigned char *seen = calloc(4 * 256, 1);
		size_t distinct = 0;

		assert_non_null(seen);
		for (uint32_t s = 0; s < 10000; s++) {
			uint32_t n = 1 + s % 4, code = 0;

			for (uint32_t j = 0; j < n; j++)
				code |= (j == 3 ? (s & 3) : ((s >> (2 * j + 2)) & 3)) << (2 * j);
			if (!seen[(n - 1) * 256 + code]) {
				seen[(n - 1) * 256 + code] = 1;
				distinct++;
			}
		}
		assert_int_equal(p.nstacks, distinct);
		free(seen);
	}
	out = folded(&p);
	for (const char *c = out; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, p.nstacks);
	assert_int_equal(p.total, 10000);
	free(out);
	profile__free(&p);
}

/* A frame name longer than any real one is kept to a bounded prefix, not overflowed. */
static void test_overlong_frame_name_bounded(void **state)
{
	struct profile p;
	size_t n = 100000;
	char *name = malloc(n + 1);
	const char *kept;
	int64_t id;

	assert_non_null(name);
	memset(name, 'q', n);
	name[n] = '\0';
	profile__init(&p);
	id = profile__frame_native(&p, name);
	assert_true(id >= 0);
	kept = profile__frame_at(&p, (uint32_t)id)->name;
	assert_non_null(kept);
	assert_true(strlen(kept) >= 255 && strlen(kept) < n);
	assert_int_equal(strspn(kept, "q"), strlen(kept));
	free(name);
	profile__free(&p);
}

/* Writing to a full device reports an error instead of pretending success. */
static void test_write_error_is_reported(void **state)
{
	struct profile p;
	FILE *f = fopen("/dev/full", "w");

	if (!f)
		skip();
	profile__init(&p);
	add(&p, "a;b", 1);
	assert_true(folded__write(&p, f) < 0);
	fclose(f);
	profile__free(&p);
}

/* A filter keeps the stacks whose process, thread and container frames hold its texts, and
 * nothing else; the kept stacks are the same frames in a profile of their own. */
static void test_filter_keeps_stacks_by_process_thread_and_container(void **state)
{
	struct profile src, dst;
	struct profile_filter all = {0}, web = {.comm = "web"},
			      pool = {.comm = "web", .thread = "pool"}, box = {.container = "abc"},
			      none = {.comm = "nosuch"};
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	load_text(&src, "web (1);thread 11 (MainThread);main (/w.py:1) 60\n"
			"web (1);thread 12 (pool-1);q (/w.py:9) 20\n"
			"worker (2);thread 21 (MainThread);[container abc123];run (/k.py:3) 15\n");
	assert_true(profile_filter__empty(&all));
	assert_false(profile_filter__empty(&web));
	profile__init(&dst);
	assert_int_equal(profile__filter(&src, &web, &dst), 0);
	assert_int_equal(dst.total, 80);
	profile__free(&dst);
	profile__init(&dst);
	assert_int_equal(profile__filter(&src, &pool, &dst), 0);
	f = open_memstream(&text, &len);
	assert_int_equal(folded__write(&dst, f), 0);
	fclose(f);
	assert_string_equal(text, "web (1);thread 12 (pool-1);q (/w.py:9) 20\n");
	free(text);
	profile__free(&dst);
	profile__init(&dst);
	assert_int_equal(profile__filter(&src, &box, &dst), 0);
	assert_int_equal(dst.total, 15);
	profile__free(&dst);
	profile__init(&dst);
	assert_int_equal(profile__filter(&src, &none, &dst), 0);
	assert_int_equal(dst.total, 0);
	assert_int_equal(dst.nstacks, 0);
	profile__free(&dst);
	profile__free(&src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_profile_writes_nothing),
	    cmocka_unit_test(test_filter_keeps_stacks_by_process_thread_and_container),
	    cmocka_unit_test(test_equal_stacks_are_summed),
	    cmocka_unit_test(test_different_stacks_stay_apart),
	    cmocka_unit_test(test_output_sorted_and_independent_of_insertion_order),
	    cmocka_unit_test(test_reserved_characters_in_frame_names_replaced),
	    cmocka_unit_test(test_1000_frame_stack_rendered_whole),
	    cmocka_unit_test(test_10k_distinct_stacks_all_written),
	    cmocka_unit_test(test_overlong_frame_name_bounded),
	    cmocka_unit_test(test_write_error_is_reported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
