// SPDX-License-Identifier: MIT
/* Function-level diff: shares normalised per profile, self vs total, lines aggregated, recursion
 * counted once, process/thread frames left out, the ranking and the largest growth. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "profile/diff.h"
#include "format/folded.h"
#include "profile_fixture.h"

static const struct diff_function *fn(const struct diff *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->fns[i].name, name))
			return &d->fns[i];
	return NULL;
}

static void assert_close(double got, double want)
{
	if (fabs(got - want) > 1e-9)
		fail_msg("%.12f, expected %.12f", got, want);
}

/* Base 100 samples, new 1000: shares, not counts, are compared. */
static void test_shares_normalised_per_profile(void **state)
{
	struct profile base, new;
	const struct diff_function *f, *g;
	struct diff d;

	load_text(&base, "app (1);main (/a.py:1);f (/a.py:10) 30\napp (1);main (/a.py:1);g "
			 "(/a.py:20) 70\n");
	load_text(&new, "app (2);main (/a.py:1);f (/a.py:10) 500\napp (2);main (/a.py:1);g "
			"(/a.py:20) 500\n");
	assert_int_equal(diff__compute(&base, &new, &d), 0);
	f = fn(&d, "f (/a.py)");
	g = fn(&d, "g (/a.py)");
	assert_non_null(f);
	assert_non_null(g);
	assert_close(f->base_total, 30);
	assert_close(f->new_total, 50);
	assert_close(f->base_self, 30);
	assert_close(f->new_self, 50);
	assert_close(g->new_total - g->base_total, -20);
	assert_close(fn(&d, "main (/a.py)")->new_total, 100);
	assert_close(fn(&d, "main (/a.py)")->new_self, 0);
	assert_ptr_equal(diff__max_growth(&d), f);
	diff__free(&d);
	profile__free(&base);
	profile__free(&new);
}

/* Different PIDs and TIDs in the two runs do not show up as changes. */
static void test_process_and_thread_frames_left_out(void **state)
{
	struct profile base, new;
	struct diff d;

	load_text(&base, "app (111);thread 112 (w);f (/a.py:1) 10\n");
	load_text(&new, "app (222);thread 223 (w);f (/a.py:1) 10\n");
	assert_int_equal(diff__compute(&base, &new, &d), 0);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.fns[0].name, "f (/a.py)");
	assert_null(diff__max_growth(&d));
	diff__free(&d);
	profile__free(&base);
	profile__free(&new);
}

/* Lines of one function add up; a recursive function's total counts each stack once. */
static void test_lines_aggregated_and_recursion_counted_once(void **state)
{
	struct profile base, new;
	const struct diff_function *r;
	struct diff d;

	load_text(&base,
		  "a (1);rec (/r.py:3);rec (/r.py:4);rec (/r.py:4) 40\na (1);other (/o.py:1) 60\n");
	load_text(&new, "a (1);rec (/r.py:3);rec (/r.py:5) 80\na (1);other (/o.py:1) 20\n");
	assert_int_equal(diff__compute(&base, &new, &d), 0);
	r = fn(&d, "rec (/r.py)");
	assert_non_null(r);
	assert_close(r->base_total, 40);
	assert_close(r->new_total, 80);
	assert_close(r->base_self, 40);
	assert_null(fn(&d, "rec (/r.py:3)"));
	diff__free(&d);
	profile__free(&base);
	profile__free(&new);
}

static void test_empty_profile_is_an_error(void **state)
{
	struct profile base, new;
	struct diff d;

	profile__init(&base);
	load_text(&new, "a (1);f (/a.py:1) 1\n");
	assert_int_equal(diff__compute(&base, &new, &d), -ENODATA);
	diff__free(&d);
	profile__free(&base);
	profile__free(&new);
}

/* The report ranks by change: the biggest growth first, the biggest shrink first. */
static void test_report_ranks_the_largest_changes_first(void **state)
{
	struct profile base, new;
	struct diff d;
	char *buf = NULL, *grew, *shrank, *a, *b, *c;
	size_t len = 0;
	FILE *f;

	load_text(&base, "p (1);a (/x.py:1) 10\np (1);b (/x.py:1) 10\np (1);c (/x.py:1) 80\n");
	load_text(&new, "p (1);a (/x.py:1) 25\np (1);b (/x.py:1) 15\np (1);c (/x.py:1) 60\n");
	assert_int_equal(diff__compute(&base, &new, &d), 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(diff__write_text(&d, 10, f), 0);
	fclose(f);
	grew = strstr(buf, "Total share grew the most:");
	shrank = strstr(buf, "Total share shrank the most:");
	assert_non_null(grew);
	assert_non_null(shrank);
	a = strstr(grew, "+15.00pp");
	b = strstr(grew, "+5.00pp");
	c = strstr(shrank, "-20.00pp");
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_true(a < b && b < shrank);
	assert_non_null(strstr(a, "a (/x.py)"));
	assert_true(strstr(a, "a (/x.py)") < b);
	assert_non_null(strstr(c, "c (/x.py)"));
	/* with --top 1 only the first of each section */
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	assert_int_equal(diff__write_text(&d, 1, f), 0);
	fclose(f);
	assert_null(strstr(buf, "+5.00pp"));
	free(buf);
	diff__free(&d);
	profile__free(&base);
	profile__free(&new);
}

/* A function is read from the frame's fields: a Python qualname holding " (" keeps it (lines
 * aggregated), and a kernel symbol that reads like a Python frame is not taken for one. */
static void test_functions_from_the_frame_fields(void **state)
{
	struct profile base, new;
	struct diff d;
	uint32_t ids[3];

	profile__init(&base);
	profile__init(&new);
	ids[0] = (uint32_t)profile__frame_process(&base, "app", 1);
	ids[1] = (uint32_t)profile__frame_python(&base, "handler (v2)", "/srv/x.py", 10);
	ids[2] = (uint32_t)profile__frame_kernel(&base, "f (/x.py:1)");
	assert_int_equal(profile__add(&base, ids, 3, 10), 0);
	ids[0] = (uint32_t)profile__frame_process(&new, "app", 2);
	ids[1] = (uint32_t)profile__frame_python(&new, "handler (v2)", "/srv/x.py", 11);
	assert_int_equal(profile__add(&new, ids, 2, 10), 0);
	assert_int_equal(diff__compute(&base, &new, &d), 0);
	assert_close(fn(&d, "handler (v2) (/srv/x.py)")->base_total, 100);
	assert_close(fn(&d, "handler (v2) (/srv/x.py)")->new_self, 100);
	assert_close(fn(&d, "f (/x.py:1)_[k]")->base_self, 100);
	assert_null(fn(&d, "f (/x.py)"));
	assert_null(fn(&d, "app (1)"));
	diff__free(&d);
	profile__free(&base);
	profile__free(&new);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shares_normalised_per_profile),
	    cmocka_unit_test(test_process_and_thread_frames_left_out),
	    cmocka_unit_test(test_lines_aggregated_and_recursion_counted_once),
	    cmocka_unit_test(test_empty_profile_is_an_error),
	    cmocka_unit_test(test_report_ranks_the_largest_changes_first),
	    cmocka_unit_test(test_functions_from_the_frame_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
