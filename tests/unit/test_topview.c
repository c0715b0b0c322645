// SPDX-License-Identifier: MIT
/* The table of `agentctl top`: recursion counted once in total, own to the innermost function,
 * frames that are not functions left out, the four sort keys and reverse, interval against
 * cumulative weights, the hottest line, by-line rows, the empty profile and reset. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "profile/topview.h"
#include "profile_fixture.h"

static void add_text(struct topview *tv, const char *text)
{
	struct profile p;

	load_text(&p, text);
	assert_int_equal(topview__add(tv, &p), 0);
	profile__free(&p);
}

static const struct topview_row *row(struct topview *tv, const char *name, int by_line,
				     int64_t line)
{
	const struct topview_row *rows;
	size_t n;

	assert_int_equal(topview__rows(tv, TOPVIEW_OWN_ALL, 0, by_line, &rows, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rows[i].name, name) && (line < 0 || rows[i].line == line))
			return &rows[i];
	return NULL;
}

/* The names of the rows in order, joined by spaces. */
static char *order(struct topview *tv, enum topview_key key, int reverse)
{
	static char buf[512];
	const struct topview_row *rows;
	size_t n, o = 0;

	assert_int_equal(topview__rows(tv, key, reverse, 0, &rows, &n), 0);
	buf[0] = '\0';
	for (size_t i = 0; i < n && o < sizeof(buf); i++)
		o += snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? " " : "", rows[i].name);
	return buf;
}

static void test_recursion_counted_once_in_total(void **state)
{
	struct topview *tv = topview__new(0);
	const struct topview_row *r;

	add_text(tv, "app (1);main (/a.py:1);f (/a.py:10);f (/a.py:11);f (/a.py:10) 5\n"
		     "app (1);main (/a.py:1);f (/a.py:10);g (/a.py:20);f (/a.py:12) 3\n");
	r = row(tv, "f", 0, -1);
	assert_non_null(r);
	assert_int_equal(r->total_all, 8);
	assert_int_equal(r->total_now, 8);
	assert_int_equal(r->own_all, 8); /* the leaf of both stacks */
	r = row(tv, "main", 0, -1);
	assert_int_equal(r->total_all, 8);
	assert_int_equal(r->own_all, 0);
	assert_int_equal(row(tv, "g", 0, -1)->own_all, 0);
	assert_int_equal(row(tv, "g", 0, -1)->total_all, 3);
	/* by line, f:10 is twice in the first stack: still 5, not 10 */
	r = row(tv, "f", 1, 10);
	assert_non_null(r);
	assert_int_equal(r->total_all, 8);
	assert_int_equal(r->own_all, 5);
	assert_int_equal(topview__weight_now(tv), 8);
	topview__free(tv);
}

static void test_frames_that_are_not_functions_left_out(void **state)
{
	struct topview *tv = topview__new(0);
	const struct topview_row *rows;
	size_t n;

	add_text(tv, "app (1);thread 7 (main);[container 0123abcd];[ns pid 3];main (/a.py:1);"
		     "wait (/a.py:5);[sleeping];futex_wait_[k];schedule_[k] 40\n"
		     "app (1);thread 8 (worker);[truncated];run (/a.py:9) 10\n"
		     "app (1);thread 8 (worker);[no Python thread state] 6\n");
	assert_int_equal(topview__rows(tv, TOPVIEW_TOTAL_ALL, 0, 0, &rows, &n), 0);
	assert_int_equal(n, 3); /* main, wait, run */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(rows[i].kind, FRAME_PYTHON);
	/* own goes to the innermost function, past the marker and the kernel frames */
	assert_int_equal(row(tv, "wait", 0, -1)->own_all, 40);
	assert_int_equal(row(tv, "run", 0, -1)->own_all, 10);
	/* a stack without a function is time all the same */
	assert_int_equal(topview__weight_now(tv), 56);
	assert_int_equal(topview__threads_now(tv), 2);
	topview__free(tv);

	/* with kernel, kernel frames are functions and the innermost takes the own weight */
	tv = topview__new(1);
	add_text(tv, "app (1);main (/a.py:1);wait (/a.py:5);[sleeping];futex_wait_[k];"
		     "schedule_[k] 40\n");
	assert_int_equal(row(tv, "wait", 0, -1)->own_all, 0);
	assert_int_equal(row(tv, "schedule", 0, -1)->own_all, 40);
	assert_int_equal(row(tv, "schedule", 0, -1)->kind, FRAME_KERNEL);
	assert_null(row(tv, "schedule", 0, -1)->file);
	assert_int_equal(row(tv, "futex_wait", 0, -1)->total_all, 40);
	topview__free(tv);
}

/* Four functions whose orders differ by column: the first interval makes b the hottest since
 * start, the second makes c the hottest now. */
static void test_sort_keys_and_reverse(void **state)
{
	struct topview *tv = topview__new(0);

	add_text(tv, "app (1);main (/a.py:1);a (/a.py:2);b (/a.py:3) 100\n"
		     "app (1);main (/a.py:1);a (/a.py:2) 10\n");
	add_text(tv, "app (1);main (/a.py:1);c (/a.py:4) 30\n"
		     "app (1);main (/a.py:1);a (/a.py:2);b (/a.py:3) 5\n"
		     "app (1);main (/a.py:1) 1\n");
	/* now: own c 30, b 5, main 1, a 0; total main 36, c 30, a 5, b 5 */
	assert_string_equal(order(tv, TOPVIEW_OWN_NOW, 0), "c b main a");
	assert_string_equal(order(tv, TOPVIEW_TOTAL_NOW, 0), "main c a b");
	/* since start: own b 105, c 30, a 10, main 1; total main 146, a 115, b 105, c 30 */
	assert_string_equal(order(tv, TOPVIEW_OWN_ALL, 0), "b c a main");
	assert_string_equal(order(tv, TOPVIEW_TOTAL_ALL, 0), "main a b c");
	assert_string_equal(order(tv, TOPVIEW_TOTAL_ALL, 1), "c b a main");
	/* equal totals: the caller (less own) first, whichever the direction */
	assert_string_equal(order(tv, TOPVIEW_TOTAL_NOW, 1), "a b c main");
	assert_int_equal(topview__weight_now(tv), 36);
	assert_int_equal(topview__weight_all(tv), 146);
	topview__free(tv);

	/* one path: every total equal, the leaf last; equal owns: the more total first */
	tv = topview__new(0);
	add_text(tv, "app (1);<module> (/a.py:1);zmain (/a.py:2);leaf (/a.py:3) 10\n"
		     "app (1);<module> (/a.py:1);other (/a.py:4) 0\n");
	assert_string_equal(order(tv, TOPVIEW_TOTAL_ALL, 0), "<module> zmain leaf");
	add_text(tv, "app (1);<module> (/a.py:1);zmain (/a.py:2) 1\n");
	assert_string_equal(order(tv, TOPVIEW_OWN_NOW, 0), "zmain <module> leaf");
	topview__free(tv);
}

/* By function, a row shows the line with the most own weight (else total); by line, one row
 * per line. */
static void test_hottest_line_and_rows_by_line(void **state)
{
	struct topview *tv = topview__new(0);

	add_text(tv, "app (1);main (/a.py:40);f (/a.py:10) 3\n"
		     "app (1);main (/a.py:41);f (/a.py:12) 7\n"
		     "app (1);main (/a.py:41);f (/a.py:12);g (/b.py:3) 20\n");
	assert_int_equal(row(tv, "f", 0, -1)->line, 12);
	assert_int_equal(row(tv, "f", 0, -1)->total_all, 30);
	assert_int_equal(row(tv, "main", 0, -1)->line, 41); /* no own: the most total */
	assert_string_equal(row(tv, "g", 0, -1)->file, "/b.py");
	assert_int_equal(row(tv, "f", 1, 10)->own_all, 3);
	assert_int_equal(row(tv, "f", 1, 12)->own_all, 7);
	assert_int_equal(row(tv, "f", 1, 12)->total_all, 27);
	topview__free(tv);
}

static void test_empty_profile_and_reset(void **state)
{
	struct topview *tv = topview__new(0);
	const struct topview_row *rows;
	size_t n = 99;

	add_text(tv, "");
	assert_int_equal(topview__rows(tv, TOPVIEW_OWN_NOW, 0, 0, &rows, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(topview__weight_now(tv), 0);
	assert_int_equal(topview__threads_now(tv), 0);

	add_text(tv, "app (1);main (/a.py:1) 4\n");
	add_text(tv, ""); /* a quiet interval: the functions stay, with nothing now */
	assert_int_equal(topview__rows(tv, TOPVIEW_OWN_NOW, 0, 1, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].own_now, 0);
	assert_int_equal(rows[0].own_all, 4);
	assert_int_equal(topview__weight_all(tv), 4);

	topview__reset(tv);
	assert_int_equal(topview__rows(tv, TOPVIEW_OWN_ALL, 0, 0, &rows, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(topview__weight_all(tv), 0);
	add_text(tv, "app (1);main (/a.py:1) 2\n");
	assert_int_equal(row(tv, "main", 0, -1)->own_all, 2);
	topview__free(tv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_recursion_counted_once_in_total),
	    cmocka_unit_test(test_frames_that_are_not_functions_left_out),
	    cmocka_unit_test(test_sort_keys_and_reverse),
	    cmocka_unit_test(test_hottest_line_and_rows_by_line),
	    cmocka_unit_test(test_empty_profile_and_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
