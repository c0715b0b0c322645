// SPDX-License-Identifier: MIT
/* The store of windows: range syntax and its bounds, window file names (hosts with '_', every
 * kind and format), selection by host, kind and range, one file per window, and loading. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/store.h"

#define T0 1796119200LL /* 2026-12-01T10:00:00Z */

static void test_range_parses_start_and_each_unit(void **state)
{
	struct store_range r;
	char buf[64];

	assert_int_equal(store__parse_range("2026-12-01T10:00Z/1h", &r), 0);
	assert_int_equal(r.start_s, T0);
	assert_int_equal(r.end_s, T0 + 3600);
	assert_int_equal(store__parse_range("2026-12-01T10:00:30Z/90s", &r), 0);
	assert_int_equal(r.start_s, T0 + 30);
	assert_int_equal(r.end_s, T0 + 120);
	assert_int_equal(store__parse_range("2026-12-01T10:00Z/15m", &r), 0);
	assert_int_equal(r.end_s - r.start_s, 900);
	assert_int_equal(store__parse_range("2026-12-01T10:00Z/2d", &r), 0);
	assert_int_equal(r.end_s - r.start_s, 2 * 86400);
	store__format_range(&r, buf, sizeof(buf));
	assert_string_equal(buf, "2026-12-01T10:00:00Z/172800s");
	assert_int_equal(store__parse_range(buf, &r), 0);
	assert_int_equal(r.start_s, T0);
}

static void test_range_refuses_malformed_and_absurd(void **state)
{
	static const char *const bad[] = {
	    "",
	    "2026-12-01T10:00Z",      /* no duration */
	    "2026-12-01T10:00Z/",     /* empty duration */
	    "2026-12-01T10:00Z/h",    /* no count */
	    "2026-12-01T10:00Z/0h",   /* empty range */
	    "2026-12-01T10:00Z/-1h",  /* negative */
	    "2026-12-01T10:00Z/1y",   /* unknown unit */
	    "2026-12-01T10:00Z/1h ",  /* trailing junk */
	    "2026-12-01T10:00Z/367d", /* more than a year */
	    "2026-12-01T10:00Z/99999999999999999999s",
	    "2026-12-01 10:00Z/1h", /* no T */
	    "2026-12-01T10:00/1h",  /* no Z: local time is ambiguous */
	    "2026-02-30T10:00Z/1h", /* no such day */
	    "2026-12-01T24:00Z/1h",
	    "2026-12-01T10:60Z/1h",
	    "1969-12-31T23:00Z/1h",
	    "2026-1a-01T10:00Z/1h",
	    "../../etc/1h",
	};
	struct store_range r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (store__parse_range(bad[i], &r) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
	assert_int_equal(store__parse_range("2026-12-01T10:00Z/366d", &r), 0);
}

static void test_host_names_are_one_safe_component(void **state)
{
	char longest[STORE_HOST_MAX + 2];

	assert_true(store__host_valid("web-1"));
	assert_true(store__host_valid("ip-10-0-0-1.ec2.internal"));
	assert_true(store__host_valid("node_a"));
	assert_false(store__host_valid(""));
	assert_false(store__host_valid(".."));
	assert_false(store__host_valid("."));
	assert_false(store__host_valid("a/b"));
	assert_false(store__host_valid("-x"));
	assert_false(store__host_valid("a b"));
	assert_false(store__host_valid("a%2f"));
	memset(longest, 'a', sizeof(longest));
	longest[STORE_HOST_MAX] = '\0';
	assert_true(store__host_valid(longest));
	longest[STORE_HOST_MAX] = 'a';
	longest[STORE_HOST_MAX + 1] = '\0';
	assert_false(store__host_valid(longest));
}

static void test_window_names_parse_from_the_right(void **state)
{
	char host[STORE_HOST_MAX + 1];
	struct store_window w;

	assert_int_equal(store__parse_name("web-1_20261201T100000Z_cpu.folded", host, &w), 0);
	assert_string_equal(host, "web-1");
	assert_int_equal(w.start_s, T0);
	assert_int_equal(w.kind, PROFILE_CPU);
	assert_int_equal(store__parse_name("a_b_20261201T100130Z_offcpu.pb.gz", host, &w), 0);
	assert_string_equal(host, "a_b");
	assert_int_equal(w.start_s, T0 + 90);
	assert_int_equal(w.kind, PROFILE_OFFCPU);
	assert_int_equal(store__parse_name("h_20261201T100000Z_wall.folded.gz", host, &w), 0);
	assert_int_equal(w.kind, PROFILE_WALL);
	/* other outputs of the same window, temporary files, and anything else are no windows */
	assert_int_equal(store__parse_name("h_20261201T100000Z_cpu.svg", host, &w), -EINVAL);
	assert_int_equal(store__parse_name("h_20261201T100000Z_cpu.speedscope.json", host, &w),
			 -EINVAL);
	assert_int_equal(store__parse_name("h_20261201T100000Z_disk.folded", host, &w), -EINVAL);
	assert_int_equal(store__parse_name("_20261201T100000Z_cpu.folded", host, &w), -EINVAL);
	assert_int_equal(store__parse_name("h_20261301T100000Z_cpu.folded", host, &w), -EINVAL);
	assert_int_equal(store__parse_name("h_2026120T1100000Z_cpu.folded", host, &w), -EINVAL);
	assert_int_equal(store__parse_name(".._20261201T100000Z_cpu.folded", host, &w), -EINVAL);
	assert_int_equal(store__parse_name("cpu.folded", host, &w), -EINVAL);
	assert_int_equal(store__parse_name(".folded", host, &w), -EINVAL);
}

static char dir[] = "/tmp/test_store.XXXXXX";

static void put(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int store_setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	put("web-1_20261201T100000Z_cpu.folded", "app (1);f (/a.py:1) 10\n");
	put("web-1_20261201T100000Z_cpu.pb.gz", "not read: the folded file is preferred\n");
	put("web-1_20261201T100100Z_cpu.folded", "app (1);g (/a.py:2) 30\n");
	put("web-1_20261201T100100Z_offcpu.folded", "app (1);g (/a.py:2) 7\n");
	put("web-1_20261201T110000Z_cpu.folded", "app (1);f (/a.py:1) 5\n");
	put("web_1_20261201T100000Z_cpu.folded", "app (1);h (/a.py:3) 1\n");
	put("web-1_20261201T120000Z_cpu.folded", "app (1);f (/a.py:1) nope\n");
	put("notes.txt", "ignored\n");
	return 0;
}

static int store_teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

static void test_hosts_listed_with_their_windows(void **state)
{
	struct store_host *h = NULL;
	size_t n = 0;

	assert_int_equal(store__list_hosts(dir, 16, &h, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(h[0].name, "web-1");
	assert_int_equal(h[0].windows, 6); /* files, every kind and format */
	assert_int_equal(h[0].first_s, T0);
	assert_int_equal(h[0].last_s, T0 + 7200);
	assert_string_equal(h[1].name, "web_1");
	free(h);
	assert_int_equal(store__list_hosts(dir, 1, &h, &n), -E2BIG);
	assert_int_equal(store__list_hosts("/nonexistent/store", 1, &h, &n), -ENOENT);
}

static void test_windows_selected_by_host_kind_and_range(void **state)
{
	struct store_range r = {T0, T0 + 3600};
	struct store_window *w = NULL;
	size_t n = 0;

	assert_int_equal(store__list_windows(dir, "web-1", PROFILE_CPU, &r, 100, &w, &n), 0);
	assert_int_equal(n, 2); /* 10:00 once (folded, not pprof too), 10:01; not 11:00 */
	assert_string_equal(w[0].name, "web-1_20261201T100000Z_cpu.folded");
	assert_string_equal(w[1].name, "web-1_20261201T100100Z_cpu.folded");
	free(w);
	assert_int_equal(store__list_windows(dir, "web-1", PROFILE_OFFCPU, NULL, 100, &w, &n), 0);
	assert_int_equal(n, 1);
	free(w);
	assert_int_equal(store__list_windows(dir, "web-1", PROFILE_KIND_MAX, NULL, 100, &w, &n), 0);
	assert_int_equal(n, 5);
	free(w);
	/* the range's end is open */
	r = (struct store_range){T0 + 3600, T0 + 3601};
	assert_int_equal(store__list_windows(dir, "web-1", PROFILE_CPU, &r, 100, &w, &n), 0);
	assert_int_equal(n, 1);
	free(w);
	r = (struct store_range){T0 - 3600, T0};
	assert_int_equal(store__list_windows(dir, "web-1", PROFILE_CPU, &r, 100, &w, &n), 0);
	assert_int_equal(n, 0);
	free(w);
	assert_int_equal(store__list_windows(dir, "web-1", PROFILE_CPU, NULL, 2, &w, &n), -E2BIG);
	assert_int_equal(store__list_windows(dir, "..", PROFILE_CPU, NULL, 2, &w, &n), -EINVAL);
	assert_int_equal(store__list_windows(dir, "a/b", PROFILE_CPU, NULL, 2, &w, &n), -EINVAL);
}

static void test_load_merges_and_names_a_corrupt_window(void **state)
{
	struct store_range r = {T0, T0 + 3600};
	struct store_window *w = NULL;
	struct profile_meta meta;
	struct profile p;
	char err[512] = "";
	size_t n = 0;

	assert_int_equal(store__list_windows(dir, "web-1", PROFILE_CPU, &r, 100, &w, &n), 0);
	profile__init(&p);
	assert_int_equal(store__load(dir, w, n, &p, &meta, NULL, err, sizeof(err)), 0);
	assert_int_equal(p.total, 40);
	assert_int_equal(meta.kind, PROFILE_CPU);
	profile__free(&p);
	free(w);
	r = (struct store_range){T0 + 7200, T0 + 7260};
	assert_int_equal(store__list_windows(dir, "web-1", PROFILE_CPU, &r, 100, &w, &n), 0);
	assert_int_equal(n, 1);
	profile__init(&p);
	assert_int_equal(store__load(dir, w, n, &p, &meta, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "web-1_20261201T120000Z_cpu.folded: line 1"));
	profile__free(&p);
	free(w);
	/* offcpu windows are read as offcpu, whatever folded text says (nothing) */
	assert_int_equal(store__list_windows(dir, "web-1", PROFILE_OFFCPU, NULL, 100, &w, &n), 0);
	profile__init(&p);
	assert_int_equal(store__load(dir, w, n, &p, &meta, NULL, err, sizeof(err)), 0);
	assert_int_equal(meta.kind, PROFILE_OFFCPU);
	profile__free(&p);
	free(w);
}

/* A window's total, alone or from a merge, is the sum of its counts, as a full load gives it;
 * a corrupt window is named by store__total as by store__load. */
static void test_totals_alone_and_from_a_merge_equal_the_loads(void **state)
{
	struct store_range r = {T0, T0 + 3600};
	struct store_window *w = NULL;
	struct profile_meta meta;
	struct profile p, one;
	uint64_t totals[16], total, sum = 0;
	char err[512] = "";
	size_t n = 0;

	assert_int_equal(store__list_windows(dir, "web-1", PROFILE_CPU, &r, 100, &w, &n), 0);
	assert_true(n > 1 && n <= 16);
	profile__init(&p);
	assert_int_equal(store__load(dir, w, n, &p, &meta, totals, err, sizeof(err)), 0);
	for (size_t i = 0; i < n; i++) {
		profile__init(&one);
		assert_int_equal(store__load(dir, &w[i], 1, &one, &meta, NULL, err, sizeof(err)),
				 0);
		assert_int_equal(store__total(dir, &w[i], &total, err, sizeof(err)), 0);
		assert_int_equal(total, one.total);
		assert_int_equal(totals[i], one.total);
		sum += total;
		profile__free(&one);
	}
	assert_int_equal(sum, p.total);
	profile__free(&p);
	free(w);
	r = (struct store_range){T0 + 7200, T0 + 7260};
	assert_int_equal(store__list_windows(dir, "web-1", PROFILE_CPU, &r, 100, &w, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store__total(dir, w, &total, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "web-1_20261201T120000Z_cpu.folded: line 1"));
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_range_parses_start_and_each_unit),
	    cmocka_unit_test(test_range_refuses_malformed_and_absurd),
	    cmocka_unit_test(test_host_names_are_one_safe_component),
	    cmocka_unit_test(test_window_names_parse_from_the_right),
	    cmocka_unit_test(test_hosts_listed_with_their_windows),
	    cmocka_unit_test(test_windows_selected_by_host_kind_and_range),
	    cmocka_unit_test(test_load_merges_and_names_a_corrupt_window),
	    cmocka_unit_test(test_totals_alone_and_from_a_merge_equal_the_loads),
	};

	return cmocka_run_group_tests(tests, store_setup, store_teardown);
}
