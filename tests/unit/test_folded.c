// SPDX-License-Identifier: MIT
/* The folded parser (whole, chunked, gzipped, malformed) and the frame naming conventions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "format/folded.h"
#include "profile/frame.h"
#include "profile_fixture.h"

#define FX FIXTURES "/folded/"

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (ret_len)
		*ret_len = n;
	return buf;
}

/* Parses text in one feed; returns the error, message in err. */
static int parse(struct profile *p, const char *text, char *err, size_t err_len)
{
	struct folded_parser fp;
	int ret;

	folded_parser__init(&fp, p);
	ret = folded_parser__feed(&fp, text, strlen(text), err, err_len);
	if (!ret)
		ret = folded_parser__finish(&fp, err, err_len);
	folded_parser__free(&fp);
	return ret;
}

static void test_frame_kinds_follow_the_naming_conventions(void **state)
{
	static const struct {
		const char *frame;
		uint32_t depth;
		enum frame_kind kind;
	} cases[] = {
	    {"python3.12 (4242)", 0, FRAME_PROCESS},
	    {"python3.12 (4242)", 3, FRAME_NATIVE}, /* a process only at the root */
	    {"my (odd) comm (7)", 0, FRAME_PROCESS},
	    {"thread 4243 (MainThread)", 1, FRAME_THREAD},
	    {"thread 4243 (MainThread)", 2, FRAME_NATIVE},
	    {"thread x (MainThread)", 1, FRAME_NATIVE},
	    {"<module> (/srv/app.py:40)", 2, FRAME_PYTHON},
	    {"outer.<locals>.inner (/srv/util.py:5)", 5, FRAME_PYTHON},
	    {"Handler.score (/srv/app.py:0)", 5, FRAME_PYTHON},
	    {"f (/srv/app.py:)", 5, FRAME_NATIVE},
	    {"f (:12)", 5, FRAME_NATIVE},
	    {"f (/srv/app.py:12x)", 5, FRAME_NATIVE},
	    {"do_syscall_64_[k]", 4, FRAME_KERNEL},
	    {"[unknown]_[k]", 4, FRAME_KERNEL},
	    {"[truncated]", 2, FRAME_MARKER},
	    {"[partial: frame read failed]", 2, FRAME_MARKER},
	    {"[no Python thread state]", 2, FRAME_MARKER},
	    {"[waiting for GIL]", 2, FRAME_MARKER},
	    {"<unknown>", 3, FRAME_MARKER},
	    {"[container 3f2a9c]", 1, FRAME_CONTAINER},
	    {"zlib_compress", 4, FRAME_NATIVE},
	    {"", 4, FRAME_NATIVE},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct frame_parts fp;
		enum frame_kind k;

		frame__parse(cases[i].frame, cases[i].depth, &fp);
		k = fp.kind;
		if (k != cases[i].kind)
			fail_msg("'%s' at depth %u: %s, expected %s", cases[i].frame,
				 cases[i].depth, frame_kind_names[k],
				 frame_kind_names[cases[i].kind]);
	}
}

static void test_frame_parts_split_at_the_right_places(void **state)
{
	struct frame_parts fp;

	frame__parse("outer.<locals>.inner (/a b (c)/x.py:123)", 4, &fp);
	assert_int_equal(fp.kind, FRAME_PYTHON);
	assert_int_equal(fp.name_len, strlen("outer.<locals>.inner"));
	assert_memory_equal(fp.name, "outer.<locals>.inner", fp.name_len);
	assert_int_equal(fp.file_len, strlen("/a b (c)/x.py"));
	assert_memory_equal(fp.file, "/a b (c)/x.py", fp.file_len);
	assert_int_equal(fp.number, 123);

	frame__parse("my (odd) comm (77)", 0, &fp);
	assert_int_equal(fp.kind, FRAME_PROCESS);
	assert_int_equal(fp.number, 77);
	assert_int_equal(fp.name_len, strlen("my (odd) comm"));

	frame__parse("thread 4243 (worker (2))", 1, &fp);
	assert_int_equal(fp.kind, FRAME_THREAD);
	assert_int_equal(fp.number, 4243);
	assert_memory_equal(fp.name, "worker (2)", fp.name_len);
	assert_int_equal(fp.name_len, strlen("worker (2)"));

	frame__parse("[container 3f2a9c]", 1, &fp);
	assert_int_equal(fp.name_len, 6);
	assert_memory_equal(fp.name, "3f2a9c", 6);

	frame__parse("tcp_sendmsg_[k]", 9, &fp);
	assert_int_equal(fp.name_len, strlen("tcp_sendmsg"));
}

static void test_frame_text_of_every_kind(void **state)
{
	static const struct {
		struct frame f;
		const char *text;
	} cases[] = {
	    {{FRAME_NATIVE, "zlib_compress", NULL, 0}, "zlib_compress"},
	    {{FRAME_PYTHON, "Handler.score", "/srv/app.py", 17}, "Handler.score (/srv/app.py:17)"},
	    {{FRAME_KERNEL, "do_syscall_64", NULL, 0}, "do_syscall_64_[k]"},
	    {{FRAME_MARKER, "[truncated]", NULL, 0}, "[truncated]"},
	    {{FRAME_PROCESS, "python3.12", NULL, 4242}, "python3.12 (4242)"},
	    {{FRAME_THREAD, "MainThread", NULL, 4243}, "thread 4243 (MainThread)"},
	    {{FRAME_CONTAINER, "3f2a9c", NULL, 0}, "[container 3f2a9c]"},
	    {{FRAME_KIND_MAX + 3, "from a newer agent", NULL, 0}, "from a newer agent"},
	};
	char buf[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(frame__format(&cases[i].f, buf, sizeof(buf)),
				 strlen(cases[i].text));
		assert_string_equal(buf, cases[i].text);
	}
	/* the full length is returned when the buffer is short, as snprintf */
	assert_int_equal(frame__format(&cases[1].f, buf, 4), strlen(cases[1].text));
	assert_string_equal(buf, "Han");
}

/* Each stack of p written as folded text and read back, as a fresh profile (caller frees). */
static void round_trip(const struct profile *p, struct profile *ret)
{
	char *text = folded_text(p);

	load_text(ret, text);
	free(text);
}

/* The stack of p with weight w (weights are distinct in these tests). */
static const struct profile_stack *stack_weighing(const struct profile *p, uint64_t w)
{
	struct profile_stack *s;
	size_t it = 0;

	while (hashmap__next(&p->stacks, &it, NULL, (void **)&s))
		for (; s; s = s->next_same_hash)
			if (s->weight == w)
				return s;
	fail_msg("no stack of weight %llu", (unsigned long long)w);
	return NULL;
}

static void assert_same_frame(const struct frame *got, const struct frame *want, uint32_t depth)
{
	if (got->kind != want->kind || strcmp(got->name, want->name) || !got->file != !want->file ||
	    (got->file && strcmp(got->file, want->file)) || got->number != want->number)
		fail_msg("at depth %u: %s '%s' '%s' %lld read back as %s '%s' '%s' %lld", depth,
			 frame_kind_names[want->kind], want->name, want->file ? want->file : "-",
			 (long long)want->number, frame_kind_names[got->kind], got->name,
			 got->file ? got->file : "-", (long long)got->number);
}

/* Frames of every kind the agent writes, at the depths it writes them, with names holding
 * spaces, parentheses, colons and "<locals>", files holding " (" and ":12)": written as folded
 * text and read back, every field is the same. */
static void test_every_frame_the_agent_writes_round_trips(void **state)
{
	static const char *const comms[] = {
	    "python3.12", "my (odd) comm", "x (12)", "", "gunicorn: worker [app]", "a:1)",
	};
	static const char *const threads[] = {
	    "MainThread", "worker (2)", "a)", "", "thread 5 (x)", "ThreadPoolExecutor-0_0",
	};
	static const struct frame below[] = {
	    {FRAME_PYTHON, "<module>", "/srv/app.py", 40},
	    {FRAME_PYTHON, "outer.<locals>.inner", "/srv/util.py", 5},
	    {FRAME_PYTHON, "Handler.score", "/srv/app.py", 0},
	    {FRAME_PYTHON, "f.<locals>.<lambda>", "<string>", 1},
	    {FRAME_PYTHON, "<genexpr>", "<frozen importlib._bootstrap>", 2147483647},
	    {FRAME_PYTHON, "C.<locals>.<listcomp>", "/a b (c)/x.py", 123},
	    {FRAME_PYTHON, "has space", "/tmp/x (copy):12)/y.py", 7},
	    {FRAME_PYTHON, "f(x)", "/p:1", 8},
	    {FRAME_PYTHON, "a:b)c", "/weird)", 9},
	    {FRAME_PYTHON, "thread 5", "C:\\src\\x.py", 10},
	    {FRAME_PYTHON, "[not a marker]", "/x.py", 11},
	    {FRAME_PYTHON, "<x>", "/f (1)", 12},
	    {FRAME_PYTHON, "name_[k]", "f_[k]", 13},
	    {FRAME_PYTHON, "tab\there", "/t\tab.py", 14},
	    {FRAME_KERNEL, "do_syscall_64", NULL, 0},
	    {FRAME_KERNEL, "[unknown]", NULL, 0},
	    {FRAME_KERNEL, "x_[k]", NULL, 0},
	    {FRAME_KERNEL, "f (/x.py:1)", NULL, 0},
	    {FRAME_KERNEL, "", NULL, 0},
	    {FRAME_MARKER, "[truncated]", NULL, 0},
	    {FRAME_MARKER, "[partial: frame read failed]", NULL, 0},
	    {FRAME_MARKER, "[error: thread state unreadable]", NULL, 0},
	    {FRAME_MARKER, "[no Python thread state]", NULL, 0},
	    {FRAME_MARKER, "<unknown>", NULL, 0},
	    {FRAME_MARKER, "[waiting for GIL]", NULL, 0},
	    {FRAME_MARKER, "[runnable]", NULL, 0},
	    {FRAME_MARKER, "[sleeping]", NULL, 0},
	    {FRAME_MARKER, "[pod 0b7e-4f2c]", NULL, 0},
	    {FRAME_MARKER, "[ns pid 7]", NULL, 0},
	    {FRAME_MARKER, "[no stack]", NULL, 0},
	    {FRAME_CONTAINER, "3f2a9c0d", NULL, 0},
	    {FRAME_CONTAINER, "odd (id):1)", NULL, 0},
	    {FRAME_NATIVE, "zlib_compress", NULL, 0},
	    {FRAME_NATIVE, "0x7f3a00", NULL, 0},
	    {FRAME_NATIVE, "", NULL, 0},
	    {FRAME_NATIVE, "a (b", NULL, 0},
	    {FRAME_NATIVE, "python3.12 (4242)", NULL, 0}, /* a process text, below the root */
	};
	const size_t ncomms = sizeof(comms) / sizeof(comms[0]);
	const size_t nbelow = sizeof(below) / sizeof(below[0]);
	struct profile p, back;
	uint64_t w = 0;

	profile__init(&p);
	for (size_t c = 0; c < ncomms; c++) {
		for (size_t i = 0; i < nbelow; i++) {
			uint32_t ids[3];

			ids[0] = (uint32_t)profile__frame_process(&p, comms[c], 4242 + c);
			ids[1] =
			    (uint32_t)profile__frame_thread(&p, 4243 + i, threads[(c + i) % 6]);
			ids[2] = (uint32_t)profile__intern_frame(&p, &below[i]);
			assert_int_equal(profile__add(&p, ids, 3, ++w), 0);
			/* and without the thread frame: what is below the root at depth 1 (but a
			 * qualname "thread N", which frame.h says reads as a thread there) */
			if (!strcmp(below[i].name, "thread 5"))
				continue;
			ids[1] = ids[2];
			assert_int_equal(profile__add(&p, ids, 2, ++w), 0);
		}
	}
	round_trip(&p, &back);
	assert_int_equal(back.total, p.total);
	assert_int_equal(back.nstacks, p.nstacks);
	for (uint64_t i = 1; i <= w; i++) {
		const struct profile_stack *a = stack_weighing(&p, i),
					   *b = stack_weighing(&back, i);

		assert_int_equal(a->n, b->n);
		for (uint32_t d = 0; d < a->n; d++)
			assert_same_frame(profile__frame_at(&back, b->ids[d]),
					  profile__frame_at(&p, a->ids[d]), d);
	}
	profile__free(&back);
	profile__free(&p);
}

/* The frames frame.h says cannot round-trip read back as it says, and the folded writer still
 * writes one line per distinct text. */
static void test_frames_that_cannot_round_trip_read_back_as_documented(void **state)
{
	static const struct {
		struct frame wrote;
		uint32_t depth;
		struct frame read;
	} cases[] = {
	    /* a qualname holding " (": cut at its first " (", the rest goes to the file */
	    {{FRAME_PYTHON, "a (b", "/x.py", 1}, 2, {FRAME_PYTHON, "a", "b (/x.py", 1}},
	    /* an empty qualname or file: native */
	    {{FRAME_PYTHON, "", "/x.py", 1}, 2, {FRAME_NATIVE, " (/x.py:1)", NULL, 0}},
	    {{FRAME_PYTHON, "f", "", 12}, 2, {FRAME_NATIVE, "f (:12)", NULL, 0}},
	    /* a qualname "thread N" just below the root */
	    {{FRAME_PYTHON, "thread 5", "/x.py", 1}, 1, {FRAME_THREAD, "/x.py:1", NULL, 5}},
	    /* markers that are not "[...]" or "<...>" without a space */
	    {{FRAME_MARKER, "plain", NULL, 0}, 2, {FRAME_NATIVE, "plain", NULL, 0}},
	    {{FRAME_MARKER, "<two words>", NULL, 0}, 2, {FRAME_NATIVE, "<two words>", NULL, 0}},
	    {{FRAME_MARKER, "[x_[k]", NULL, 0}, 2, {FRAME_KERNEL, "[x", NULL, 0}},
	    {{FRAME_MARKER, "[container x]", NULL, 0}, 2, {FRAME_CONTAINER, "x", NULL, 0}},
	    /* process and thread frames away from their depth */
	    {{FRAME_PROCESS, "app", NULL, 1}, 2, {FRAME_NATIVE, "app (1)", NULL, 0}},
	    {{FRAME_THREAD, "w", NULL, 3}, 2, {FRAME_NATIVE, "thread 3 (w)", NULL, 0}},
	    /* negative and long numbers */
	    {{FRAME_PYTHON, "f", "/x.py", -1}, 2, {FRAME_NATIVE, "f (/x.py:-1)", NULL, 0}},
	    {{FRAME_PROCESS, "app", NULL, 12345678901LL}, 0, {FRAME_NATIVE, "app (12345678901)"}},
	    /* a container ID whose text ends in "_[k]" */
	    {{FRAME_CONTAINER, "x_[k", NULL, 0}, 2, {FRAME_KERNEL, "[container x", NULL, 0}},
	    /* reserved characters were replaced when the frame was interned */
	    {{FRAME_PYTHON, "a;b", "/x\ny.py", 1}, 2, {FRAME_PYTHON, "a?b", "/x?y.py", 1}},
	};
	const size_t n = sizeof(cases) / sizeof(cases[0]);
	struct profile p, back;
	char *text;

	profile__init(&p);
	for (size_t i = 0; i < n; i++) {
		uint32_t ids[3];

		ids[0] = (uint32_t)profile__frame_process(&p, "app", 100);
		ids[1] = (uint32_t)profile__frame_thread(&p, 101, "w");
		ids[cases[i].depth] = (uint32_t)profile__intern_frame(&p, &cases[i].wrote);
		assert_int_equal(profile__add(&p, ids, cases[i].depth + 1, i + 1), 0);
	}
	round_trip(&p, &back);
	for (size_t i = 0; i < n; i++) {
		const struct profile_stack *s = stack_weighing(&back, i + 1);
		uint32_t d = cases[i].depth;

		assert_int_equal(s->n, d + 1);
		assert_same_frame(profile__frame_at(&back, s->ids[d]), &cases[i].read, d);
	}
	profile__free(&back);
	profile__free(&p);

	/* two stacks of distinct frames that read the same are one line, their weights summed */
	profile__init(&p);
	{
		uint32_t ids[2];

		ids[0] = (uint32_t)profile__frame_process(&p, "app", 1);
		ids[1] = (uint32_t)profile__frame_python(&p, "a (b", "/x.py", 3);
		assert_int_equal(profile__add(&p, ids, 2, 5), 0);
		ids[1] = (uint32_t)profile__frame_python(&p, "a", "b (/x.py", 3);
		assert_int_equal(profile__add(&p, ids, 2, 7), 0);
	}
	assert_int_equal(p.nstacks, 2);
	text = folded_text(&p);
	assert_string_equal(text, "app (1);a (b (/x.py:3) 12\n");
	free(text);
	profile__free(&p);
}

static void test_equal_stacks_summed_and_counted(void **state)
{
	struct profile p;
	char err[256] = "";
	char *out;

	profile__init(&p);
	assert_int_equal(parse(&p, "a;b;c 3\na;b 2\na;b;c 4\n", err, sizeof(err)), 0);
	assert_int_equal(p.total, 9);
	assert_int_equal(p.nstacks, 2);
	out = folded_text(&p);
	assert_string_equal(out, "a;b 2\na;b;c 7\n");
	free(out);
	profile__free(&p);
}

/* With a memo, a line seen before (in this input or an earlier one of the merge) is added to
 * its stack without parsing: the profile is the one parsing gives, the memo hit once per
 * repeated stack text (the count's separator, a tab here, is not part of it). */
static void test_memo_gives_the_profile_parsing_gives(void **state)
{
	static const char *inputs[] = {"a;b;c 3\na;b 2\n", "a;b;c 4\nx;y 1\na;b 5\n", "a;b;c\t6\n"};
	struct folded_memo memo;
	struct profile p, plain;
	char err[256] = "";
	char *a, *b;

	profile__init(&p);
	profile__init(&plain);
	folded_memo__init(&memo);
	for (size_t i = 0; i < 3; i++) {
		struct folded_parser fp;

		folded_parser__init(&fp, &p);
		fp.memo = &memo;
		assert_int_equal(
		    folded_parser__feed(&fp, inputs[i], strlen(inputs[i]), err, sizeof(err)), 0);
		assert_int_equal(folded_parser__finish(&fp, err, sizeof(err)), 0);
		folded_parser__free(&fp);
		assert_int_equal(parse(&plain, inputs[i], err, sizeof(err)), 0);
	}
	assert_int_equal(memo.hits, 3);
	assert_int_equal(memo.misses, 3);
	assert_int_equal(p.total, plain.total);
	assert_int_equal(p.nstacks, 3);
	a = folded_text(&p);
	b = folded_text(&plain);
	assert_string_equal(a, b);
	assert_string_equal(a, "a;b 7\na;b;c 13\nx;y 1\n");
	free(a);
	free(b);
	folded_memo__free(&memo);
	profile__free(&p);
	profile__free(&plain);
}

static void test_crlf_tabs_blank_lines_and_zero_counts_accepted(void **state)
{
	struct profile p;
	char err[256] = "";
	char *out;

	profile__init(&p);
	assert_int_equal(parse(&p, "\r\na;b 3\r\n\n  \na;c\t4\na;d 0\na;e 5", err, sizeof(err)), 0);
	out = folded_text(&p);
	assert_string_equal(out, "a;b 3\na;c 4\na;e 5\n");
	assert_int_equal(p.total, 12);
	free(out);
	profile__free(&p);
}

/* Any split of the input into feeds gives the same profile: lines may straddle chunks. */
static void test_byte_by_byte_feeding_gives_the_same_profile(void **state)
{
	struct profile whole, bytes;
	struct folded_parser fp;
	char err[256] = "", *text = slurp(FX "threads-3.12.folded", NULL), *a, *b;

	profile__init(&whole);
	profile__init(&bytes);
	assert_int_equal(parse(&whole, text, err, sizeof(err)), 0);
	folded_parser__init(&fp, &bytes);
	for (size_t i = 0; text[i]; i++)
		assert_int_equal(folded_parser__feed(&fp, text + i, 1, err, sizeof(err)), 0);
	assert_int_equal(folded_parser__finish(&fp, err, sizeof(err)), 0);
	folded_parser__free(&fp);
	a = folded_text(&whole);
	b = folded_text(&bytes);
	assert_string_equal(a, b);
	/* and the real snapshot reads back exactly as written */
	assert_string_equal(a, text);
	assert_int_equal(whole.total, 220);
	free(a);
	free(b);
	free(text);
	profile__free(&whole);
	profile__free(&bytes);
}

static void expect_error(const char *text, int want, const char *want_msg)
{
	struct profile p;
	char err[256] = "";

	profile__init(&p);
	assert_int_equal(parse(&p, text, err, sizeof(err)), want);
	if (!strstr(err, want_msg))
		fail_msg("error '%s' does not contain '%s'", err, want_msg);
	profile__free(&p);
}

static void test_malformed_lines_rejected_with_their_line_number(void **state)
{
	expect_error("a;b 1\nc;d\n", -EINVAL, "line 2: no count");
	expect_error("a;b 1\na;b 2\nc;d -5\n", -EINVAL, "line 3: negative count '-5'");
	expect_error("a;b 1x\n", -EINVAL, "line 1: no count at the end of the line: '1x'");
	expect_error("a;b 99999999999999999999999\n", -EOVERFLOW, "line 1: count");
	expect_error("a 9223372036854775807\nb 1\n", -EOVERFLOW, "line 2: the counts add up");
	expect_error("ok 1\n\x1b[31m 1\n", -EINVAL, "line 2: binary data (byte 0x1b");
	expect_error(" 5\n", -EINVAL, "line 1: no stack before the count");
	expect_error("a;b    \n", -EINVAL, "line 1: no count");
}

/* A NUL inside the text: strlen-based parse() would stop at it, so feed with lengths. */
static void test_nul_byte_rejected(void **state)
{
	static const char text[] = "a;b 1\nc\0d 2\n";
	struct folded_parser fp;
	struct profile p;
	char err[256] = "";

	profile__init(&p);
	folded_parser__init(&fp, &p);
	assert_int_equal(folded_parser__feed(&fp, text, sizeof(text) - 1, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "line 2: binary data (byte 0x00 at column 2)"));
	/* the parser stays failed */
	assert_int_equal(folded_parser__feed(&fp, "e 1\n", 4, err, sizeof(err)), -EINVAL);
	folded_parser__free(&fp);
	profile__free(&p);
}

/* A line over the limit is refused as soon as it passes it: memory stays bounded. */
static void test_overlong_line_refused_without_buffering_it(void **state)
{
	struct folded_parser fp;
	struct profile p;
	char err[256] = "", *chunk = malloc(64 * 1024);
	size_t fed = 0;
	int ret = 0;

	assert_non_null(chunk);
	memset(chunk, 'x', 64 * 1024);
	profile__init(&p);
	folded_parser__init(&fp, &p);
	assert_int_equal(folded_parser__feed(&fp, "a 1\nb 2\n", 8, err, sizeof(err)), 0);
	while (fed < 8u * FOLDED_MAX_LINE && !ret) {
		ret = folded_parser__feed(&fp, chunk, 64 * 1024, err, sizeof(err));
		fed += 64 * 1024;
	}
	assert_int_equal(ret, -E2BIG);
	assert_true(fed <= FOLDED_MAX_LINE + 64 * 1024);
	assert_true(fp.cap <= 2 * (FOLDED_MAX_LINE + 1));
	assert_non_null(strstr(err, "line 3: longer than 1048576 bytes"));
	folded_parser__free(&fp);
	profile__free(&p);
	free(chunk);
}

static void test_gzip_and_plain_files_read_the_same(void **state)
{
	struct profile plain, gz;
	char err[256] = "", *a, *b;

	profile__init(&plain);
	profile__init(&gz);
	assert_int_equal(folded__read_path(FX "threads-3.12.folded", &plain, err, sizeof(err)), 0);
	assert_int_equal(folded__read_path(FX "threads-3.12.folded.gz", &gz, err, sizeof(err)), 0);
	a = folded_text(&plain);
	b = folded_text(&gz);
	assert_string_equal(a, b);
	assert_int_equal(gz.total, 220);
	free(a);
	free(b);
	profile__free(&plain);
	profile__free(&gz);
}

static void test_truncated_gzip_is_an_error_not_a_short_profile(void **state)
{
	struct profile p;
	char err[256] = "";
	int ret;

	profile__init(&p);
	ret = folded__read_path(FX "truncated.folded.gz", &p, err, sizeof(err));
	assert_true(ret < 0);
	if (!strstr(err, "gzip") && !strstr(err, "line"))
		fail_msg("unclear error: '%s'", err);
	profile__free(&p);
}

static void test_fixture_errors_name_the_line(void **state)
{
	struct profile p;
	char err[256] = "";

	profile__init(&p);
	assert_int_equal(folded__read_path(FX "no-count.folded", &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 3:"));
	profile__free(&p);
	profile__init(&p);
	assert_int_equal(folded__read_path(FX "negative-count.folded", &p, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "line 2: negative count"));
	profile__free(&p);
	profile__init(&p);
	assert_int_equal(folded__read_path(FX "garbage.bin", &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "binary data"));
	profile__free(&p);
	profile__init(&p);
	assert_int_equal(folded__read_path(FX "does-not-exist", &p, err, sizeof(err)), -ENOENT);
	profile__free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frame_kinds_follow_the_naming_conventions),
	    cmocka_unit_test(test_frame_parts_split_at_the_right_places),
	    cmocka_unit_test(test_frame_text_of_every_kind),
	    cmocka_unit_test(test_every_frame_the_agent_writes_round_trips),
	    cmocka_unit_test(test_frames_that_cannot_round_trip_read_back_as_documented),
	    cmocka_unit_test(test_equal_stacks_summed_and_counted),
	    cmocka_unit_test(test_memo_gives_the_profile_parsing_gives),
	    cmocka_unit_test(test_crlf_tabs_blank_lines_and_zero_counts_accepted),
	    cmocka_unit_test(test_byte_by_byte_feeding_gives_the_same_profile),
	    cmocka_unit_test(test_malformed_lines_rejected_with_their_line_number),
	    cmocka_unit_test(test_nul_byte_rejected),
	    cmocka_unit_test(test_overlong_line_refused_without_buffering_it),
	    cmocka_unit_test(test_gzip_and_plain_files_read_the_same),
	    cmocka_unit_test(test_truncated_gzip_is_an_error_not_a_short_profile),
	    cmocka_unit_test(test_fixture_errors_name_the_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
