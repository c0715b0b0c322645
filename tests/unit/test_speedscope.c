// SPDX-License-Identifier: MIT
/* speedscope JSON: profiles per thread or process, shared frames, weights, string escaping.
 * (The e2e tests load the same output with speedscope's own importer.) */
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
#include "format/speedscope.h"
#include "profile_fixture.h"

#define FX FIXTURES "/folded/"

static char *json_of(const struct profile *p, enum profile_kind kind)
{
	struct profile_meta m = {.kind = kind, .rate_hz = 99};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(speedscope__write(p, &m, f), 0);
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

static void test_one_sampled_profile_per_thread(void **state)
{
	struct profile p;
	char err[256] = "", *json;

	profile__init(&p);
	assert_int_equal(folded__read_path(FX "mixed.folded", &p, err, sizeof(err)), 0);
	json = json_of(&p, PROFILE_CPU);
	assert_non_null(strstr(json, "\"$schema\":\"https://www.speedscope.app/"
				     "file-format-schema.json\""));
	assert_int_equal(count(json, "\"type\":\"sampled\""), 3);
	assert_non_null(strstr(json, "\"name\":\"app (100) thread 101 (MainThread)\""));
	assert_non_null(strstr(json, "\"name\":\"app (100) thread 102 (worker)\""));
	assert_non_null(strstr(json, "\"name\":\"app (100) thread 103 (io)\""));
	/* 212 + 38 + 50 + 40 on the main thread: its endValue is the thread's total */
	assert_non_null(strstr(json, "\"endValue\":340"));
	assert_non_null(strstr(json, "\"endValue\":100"));
	assert_non_null(strstr(json, "\"endValue\":60"));
	assert_int_equal(count(json, "\"unit\":\"none\""), 3);
	/* shared frames: each once, Python ones split into name, file and line */
	assert_int_equal(count(json, "{\"name\":\"Handler.score\",\"file\":\"/srv/app.py\","
				     "\"line\":17}"),
			 1);
	assert_int_equal(count(json, "{\"name\":\"main\",\"file\":\"/srv/app.py\",\"line\":36}"),
			 1);
	assert_int_equal(count(json, "{\"name\":\"\\u003cmodule\\u003e\",\"file\":\"/srv/"
				     "app.py\",\"line\":40}"),
			 1);
	assert_int_equal(count(json, "{\"name\":\"__x64_sys_epoll_wait_[k]\"}"), 1);
	/* the root and thread frames name the profiles and are not frames themselves */
	assert_int_equal(count(json, "{\"name\":\"app (100)\"}"), 0);
	assert_int_equal(count(json, "{\"name\":\"thread 101 (MainThread)\"}"), 0);
	free(json);
	profile__free(&p);
}

static void test_without_thread_frames_one_profile_per_process(void **state)
{
	struct profile p;
	char *json;

	load_text(&p, "a (1);f (/x.py:1) 3\na (1);g (/x.py:2) 4\nb (2);f (/x.py:1) 5\nb (2) 6\n");
	json = json_of(&p, PROFILE_OFFCPU);
	assert_int_equal(count(json, "\"type\":\"sampled\""), 2);
	assert_non_null(strstr(json, "\"name\":\"a (1)\",\"unit\":\"microseconds\""));
	assert_non_null(strstr(json, "\"endValue\":7,"));
	assert_non_null(strstr(json, "\"endValue\":11,"));
	/* a stack that is only the root keeps it, so its weight is not lost */
	assert_int_equal(count(json, "{\"name\":\"b (2)\"}"), 1);
	/* the heavier process is shown first */
	assert_non_null(strstr(json, "\"activeProfileIndex\":1"));
	free(json);
	profile__free(&p);
}

static void test_stacks_without_process_root_form_one_profile(void **state)
{
	struct profile p;
	char *json;

	load_text(&p, "main;work 3\nmain;idle 1\n");
	json = json_of(&p, PROFILE_CPU);
	assert_int_equal(count(json, "\"type\":\"sampled\""), 1);
	assert_non_null(strstr(json, "\"name\":\"all stacks\""));
	assert_non_null(strstr(json, "{\"name\":\"main\"}"));
	assert_non_null(strstr(json, "\"weights\":["));
	free(json);
	profile__free(&p);
}

/* Frame names are from other processes: quotes, backslashes, control bytes and invalid UTF-8
 * must come out as valid JSON. */
static void test_frame_names_escaped_into_valid_json(void **state)
{
	struct profile p;
	uint32_t ids[2];
	char *json;

	profile__init(&p);
	ids[0] = (uint32_t)profile__frame_process(&p, "a", 1);
	ids[1] = (uint32_t)profile__frame_native(&p, "q\"b\\s\t\x01\xff\xc3\xa9</x>&");
	assert_int_equal(profile__add(&p, ids, 2, 1), 0);
	json = json_of(&p, PROFILE_CPU);
	assert_non_null(strstr(
	    json, "{\"name\":\"q\\\"b\\\\s\\t\\u0001\\ufffd\xc3\xa9\\u003c/x\\u003e\\u0026\"}"));
	free(json);
	profile__free(&p);
}

/* Python frames are written from their fields: a qualname holding " (" and a file holding
 * " (" and ":3)" stay whole; other frames by their text. */
static void test_python_frames_written_from_their_fields(void **state)
{
	struct profile p;
	uint32_t ids[4];
	char *json;

	profile__init(&p);
	ids[0] = (uint32_t)profile__frame_process(&p, "my (odd) comm", 7);
	ids[1] = (uint32_t)profile__frame_thread(&p, 8, "w");
	ids[2] = (uint32_t)profile__frame_kernel(&p, "f (/x.py:1)");
	ids[3] = (uint32_t)profile__frame_python(&p, "handler (v2)", "/srv/a (b):3).py", 42);
	assert_int_equal(profile__add(&p, ids, 4, 1), 0);
	json = json_of(&p, PROFILE_CPU);
	assert_non_null(strstr(json, "{\"name\":\"handler (v2)\",\"file\":\"/srv/a (b):3).py\","
				     "\"line\":42}"));
	assert_non_null(strstr(json, "{\"name\":\"f (/x.py:1)_[k]\"}"));
	assert_non_null(strstr(json, "\"name\":\"my (odd) comm (7) thread 8 (w)\""));
	free(json);
	profile__free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_sampled_profile_per_thread),
	    cmocka_unit_test(test_without_thread_frames_one_profile_per_process),
	    cmocka_unit_test(test_stacks_without_process_root_form_one_profile),
	    cmocka_unit_test(test_frame_names_escaped_into_valid_json),
	    cmocka_unit_test(test_python_frames_written_from_their_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
