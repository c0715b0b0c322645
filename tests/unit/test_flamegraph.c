// SPDX-License-Identifier: MIT
/* SVG flame graphs: self-contained, the call tree data complete and consistent, narrow subtrees
 * merged, deep stacks and hostile frame names handled. (The e2e tests render them in Chromium.) */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "format/flamegraph.h"
#include "format/folded.h"
#include "profile_fixture.h"

#define FX FIXTURES "/folded/"

static char *svg_of(const struct profile *p, const struct profile *base)
{
	struct profile_meta m = {.kind = PROFILE_CPU, .rate_hz = 99};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (base)
		assert_int_equal(flamegraph__write_diff(base, p, &m, f), 0);
	else
		assert_int_equal(flamegraph__write(p, &m, f), 0);
	fclose(f);
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *s = strstr(hay, needle); s; s = strstr(s + 1, needle))
		n++;
	return n;
}

/* The numbers of the data array "key:[...]" in svg (caller frees); *ret_n gets their count. */
static unsigned long long *array(const char *svg, const char *key, size_t *ret_n)
{
	char pat[16];
	const char *s;
	unsigned long long *v = NULL;
	size_t n = 0, cap = 0;

	snprintf(pat, sizeof(pat), "\n%s:[", key);
	s = strstr(svg, pat);
	assert_non_null(s);
	s += strlen(pat);
	while (*s != ']') {
		char *end;

		if (n == cap) {
			unsigned long long *bigger;

			cap = cap ? cap * 2 : 64;
			bigger = realloc(v, cap * sizeof(*v));
			assert_non_null(bigger);
			v = bigger;
		}
		v[n++] = strtoull(s, &end, 10);
		assert_true(end > s);
		s = *end == ',' ? end + 1 : end;
	}
	*ret_n = n;
	return v;
}

static void test_svg_is_self_contained(void **state)
{
	struct profile p;
	char err[256] = "", *svg;

	profile__init(&p);
	assert_int_equal(folded__read_path(FX "mixed.folded", &p, err, sizeof(err)), 0);
	svg = svg_of(&p, NULL);
	assert_true(!strncmp(svg, "<?xml", 5));
	assert_non_null(strstr(svg, "</svg>\n"));
	/* the only URLs are the XML namespaces; nothing is fetched */
	assert_int_equal(count(svg, "http"), count(svg, "http://www.w3.org/"));
	assert_int_equal(count(svg, "src="), 0);
	assert_int_equal(count(svg, "href"), 0);
	assert_int_equal(count(svg, "<script"), 1);
	assert_non_null(strstr(svg, "id=\"search\""));
	free(svg);
	profile__free(&p);
}

/* The tree in the file: node 0 is everything, subtree sizes and values are consistent (a node's
 * value is at least the sum of its children's), and every frame name is there. */
static void test_tree_data_is_complete_and_consistent(void **state)
{
	unsigned long long *n, *v, *s;
	size_t nn, nv, ns;
	struct profile p;
	char err[256] = "", *svg;

	profile__init(&p);
	assert_int_equal(folded__read_path(FX "mixed.folded", &p, err, sizeof(err)), 0);
	svg = svg_of(&p, NULL);
	n = array(svg, "n", &nn);
	v = array(svg, "v", &nv);
	s = array(svg, "s", &ns);
	assert_int_equal(nn, nv);
	assert_int_equal(nn, ns);
	assert_int_equal(v[0], 500);
	assert_int_equal(s[0], nn);
	for (size_t i = 0; i < nn; i++) {
		unsigned long long sum = 0;

		assert_true(s[i] >= 1 && i + s[i] <= nn);
		for (size_t j = i + 1; j < i + s[i]; j += s[j])
			sum += v[j];
		assert_true(sum <= v[i]);
	}
	/* root, process, 3 threads, and 18 more frames down the 7 stacks (mixed.folded) */
	assert_int_equal(nn, 1 + 1 + 3 + 18);
	assert_non_null(strstr(svg, "\"Handler.score (/srv/app.py:17)\""));
	assert_non_null(strstr(svg, "\"\\u003cmodule\\u003e (/srv/app.py:40)\""));
	assert_non_null(strstr(svg, "\"__x64_sys_epoll_wait_[k]\""));
	free(n);
	free(v);
	free(s);
	free(svg);
	profile__free(&p);
}

static void test_frame_kinds_are_recorded_per_name(void **state)
{
	struct profile p;
	char *svg;

	load_text(&p, "app (1);thread 2 (w);f (/a.py:1);native_fn;sys_read_[k] 1\n"
		      "app (1);thread 2 (w);[truncated] 1\n");
	svg = svg_of(&p, NULL);
	/* names in pre-order, siblings by name: all, app (1), thread, [truncated], f, native_fn,
	 * sys_read */
	assert_non_null(strstr(svg, "kinds:\"RTTMPNK\""));
	free(svg);
	profile__free(&p);
}

/* 5000 siblings of weight 1 under a stack of weight 10^6 are below 1/100000 of the total: they
 * are one merged node in the file, with their summed weight. */
static void test_narrow_subtrees_merged_in_the_file(void **state)
{
	struct profile p;
	uint32_t ids[3];
	unsigned long long *v;
	size_t nv;
	char name[32], *svg;

	profile__init(&p);
	ids[0] = (uint32_t)profile__frame_process(&p, "app", 1);
	ids[1] = (uint32_t)profile__frame_python(&p, "main", "/a.py", 1);
	ids[2] = (uint32_t)profile__frame_python(&p, "big", "/a.py", 2);
	assert_int_equal(profile__add(&p, ids, 3, 1000000), 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "tiny%d", i);
		ids[2] = (uint32_t)profile__frame_python(&p, name, "/a.py", i + 10);
		assert_int_equal(profile__add(&p, ids, 3, 1), 0);
	}
	svg = svg_of(&p, NULL);
	assert_non_null(strstr(svg, "\"[merged: 5000 narrow frames]\""));
	assert_null(strstr(svg, "tiny17 "));
	v = array(svg, "v", &nv);
	assert_int_equal(nv, 5); /* all, app, main, big, merged */
	assert_int_equal(v[0], 1005000);
	assert_true(strlen(svg) < 64 * 1024);
	free(v);
	free(svg);
	profile__free(&p);
}

/* The tree is walked without recursion: a 200000-frame stack neither crashes nor is cut. */
static void test_very_deep_stack_written_whole(void **state)
{
	enum { DEPTH = 200000 };
	uint32_t *ids = malloc(DEPTH * sizeof(*ids));
	struct profile p;
	size_t nv;
	unsigned long long *v;
	char *svg;

	assert_non_null(ids);
	profile__init(&p);
	ids[0] = (uint32_t)profile__frame_process(&p, "app", 1);
	for (int i = 1; i < DEPTH; i++)
		ids[i] = (uint32_t)profile__frame_python(&p, "rec", "/a.py", i % 2 ? 1 : 2);
	assert_int_equal(profile__add(&p, ids, DEPTH, 3), 0);
	svg = svg_of(&p, NULL);
	v = array(svg, "v", &nv);
	assert_int_equal(nv, DEPTH + 1);
	assert_int_equal(v[DEPTH], 3);
	free(v);
	free(svg);
	free(ids);
	profile__free(&p);
}

/* A frame name cannot end the script's CDATA section or inject markup. */
static void test_hostile_frame_names_stay_inside_the_data(void **state)
{
	struct profile p;
	char *svg;

	load_text(&p, "app (1);x]]></script><script>alert(1)</script> 1\n");
	svg = svg_of(&p, NULL);
	assert_int_equal(count(svg, "]]>"), 1);
	assert_int_equal(count(svg, "<script"), 1);
	free(svg);
	profile__free(&p);
}

/* Differential: base values ride along, and PIDs/TIDs are dropped so two runs line up. */
static void test_diff_aligns_runs_and_carries_both_weights(void **state)
{
	struct profile base, new;
	unsigned long long *v, *b;
	size_t nv, nb;
	char *svg;

	load_text(&base,
		  "app (10);thread 11 (w);f (/a.py:1) 50\napp (10);thread 11 (w);g (/a.py:2) 50\n");
	load_text(&new,
		  "app (20);thread 21 (w);f (/a.py:1) 70\napp (20);thread 21 (w);g (/a.py:2) 30\n");
	svg = svg_of(&new, &base);
	assert_non_null(strstr(svg, "\"app\""));
	assert_non_null(strstr(svg, "\"thread (w)\""));
	assert_null(strstr(svg, "app (10)"));
	assert_non_null(strstr(svg, "diff:1,total:100,btotal:100"));
	v = array(svg, "v", &nv);
	b = array(svg, "b", &nb);
	assert_int_equal(nv, 5); /* all, app, thread, f, g */
	assert_int_equal(nb, 5);
	assert_int_equal(v[3], 70);
	assert_int_equal(b[3], 50);
	assert_int_equal(v[4], 30);
	assert_int_equal(b[4], 50);
	free(v);
	free(b);
	free(svg);
	profile__free(&base);
	profile__free(&new);
}

/* Kinds come from the frames, not from their text: a Python frame whose qualname holds " (" is
 * Python, a kernel symbol that reads like a Python frame is kernel. */
static void test_frame_kinds_come_from_the_frames(void **state)
{
	struct profile p;
	uint32_t ids[4];
	char *svg;

	profile__init(&p);
	ids[0] = (uint32_t)profile__frame_process(&p, "app", 1);
	ids[1] = (uint32_t)profile__frame_python(&p, "handler (v2)", "/srv/a (b).py", 42);
	ids[2] = (uint32_t)profile__frame_kernel(&p, "f (/x.py:1)");
	ids[3] = (uint32_t)profile__frame_marker(&p, "plain words");
	assert_int_equal(profile__add(&p, ids, 4, 1), 0);
	svg = svg_of(&p, NULL);
	assert_non_null(strstr(svg, "\"handler (v2) (/srv/a (b).py:42)\""));
	assert_non_null(strstr(svg, "\"f (/x.py:1)_[k]\""));
	assert_non_null(strstr(svg, "kinds:\"RTPKM\""));
	free(svg);
	profile__free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_svg_is_self_contained),
	    cmocka_unit_test(test_tree_data_is_complete_and_consistent),
	    cmocka_unit_test(test_frame_kinds_are_recorded_per_name),
	    cmocka_unit_test(test_narrow_subtrees_merged_in_the_file),
	    cmocka_unit_test(test_very_deep_stack_written_whole),
	    cmocka_unit_test(test_hostile_frame_names_stay_inside_the_data),
	    cmocka_unit_test(test_diff_aligns_runs_and_carries_both_weights),
	    cmocka_unit_test(test_frame_kinds_come_from_the_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
