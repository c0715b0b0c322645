// SPDX-License-Identifier: MIT
/* qualname__derive() against the __qualname__ CPython 3.6-3.12 give every code object of
 * tests/fixtures/qualname (tricky.py, ambiguous.py, 30 standard-library modules). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "python/qualname.h"

#define QN_DIR FIXTURES "/qualname"

struct src_file {
	char rel[128];
	char *text;
	size_t len;
};

static struct src_file files[64];
static size_t nfiles;

static const struct src_file *source(const char *rel)
{
	char path[512];
	struct src_file *f;
	FILE *fp;
	long n;
	size_t i;

	for (i = 0; i < nfiles; i++)
		if (strcmp(files[i].rel, rel) == 0)
			return &files[i];
	assert_true(nfiles < sizeof(files) / sizeof(files[0]));
	f = &files[nfiles++];
	snprintf(f->rel, sizeof(f->rel), "%s", rel);
	snprintf(path, sizeof(path), QN_DIR "/%s", rel);
	fp = fopen(path, "rb");
	if (!fp)
		fail_msg("missing %s (run tests/fixtures/qualname/gen.py with python3.12)", path);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	/* exact size, no terminator: the function must not read past len */
	f->text = malloc(n ? (size_t)n : 1);
	assert_non_null(f->text);
	assert_int_equal(fread(f->text, 1, (size_t)n, fp), (size_t)n);
	f->len = (size_t)n;
	fclose(fp);
	return f;
}

static void sources_free(void)
{
	size_t i;

	for (i = 0; i < nfiles; i++)
		free(files[i].text);
	nfiles = 0;
}

/* 3.12 inlines list/set/dict comprehensions (PEP 709): what is nested in one loses that part. */
static void strip_inlined(const char *in, char *out, size_t outlen)
{
	static const char *const comps[] = {"<listcomp>.", "<setcomp>.", "<dictcomp>."};
	size_t o = 0, i;

	while (*in && o + 1 < outlen) {
		for (i = 0; i < 3; i++) {
			size_t n = strlen(comps[i]);

			if (strncmp(in, comps[i], n) == 0) {
				in += n;
				break;
			}
		}
		if (i == 3)
			out[o++] = *in++;
	}
	out[o] = 0;
}

enum group { G_TRICKY, G_AMBIGUOUS, G_STDLIB, G_N };
static const char *const group_names[] = {"tricky.py", "ambiguous.py", "stdlib"};

struct tally {
	char version[8];
	int exact, enoent, wrong;
};

static struct tally tallies[G_N][8];

static struct tally *tally_of(enum group g, const char *version)
{
	int i;

	for (i = 0; i < 8; i++) {
		if (!tallies[g][i].version[0])
			snprintf(tallies[g][i].version, sizeof(tallies[g][i].version), "%s",
				 version);
		if (strcmp(tallies[g][i].version, version) == 0)
			return &tallies[g][i];
	}
	fail_msg("too many versions");
	return NULL;
}

static void run_fixture(void)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *fp = fopen(QN_DIR "/expected.txt", "r");
	bool verbose = getenv("QUALNAME_VERBOSE") != NULL;

	memset(tallies, 0, sizeof(tallies));
	if (!fp)
		fail_msg("missing " QN_DIR "/expected.txt (run gen.py with python3.12)");
	while (getline(&line, &cap, fp) > 0) {
		char version[8], rel[128], name[256], want[1024], got[1024], stripped[1024];
		const struct src_file *f;
		struct tally *t;
		enum group g;
		int first, err;

		if (line[0] == '#')
			continue;
		assert_int_equal(
		    sscanf(line, "%7s %127s %d %255s %1023s", version, rel, &first, name, want), 5);
		g = strcmp(rel, "tricky.py") == 0      ? G_TRICKY
		    : strcmp(rel, "ambiguous.py") == 0 ? G_AMBIGUOUS
						       : G_STDLIB;
		t = tally_of(g, version);
		f = source(rel);
		err = qualname__derive(f->text, f->len, first, name, got, sizeof(got));
		if (err == -ENOENT) {
			t->enoent++;
			if (verbose)
				printf("qualname: ENOENT %s %s:%d %s (want %s)\n", version, rel,
				       first, name, want);
			continue;
		}
		assert_int_equal(err, 0);
		strip_inlined(got, stripped, sizeof(stripped));
		if (strcmp(got, want) == 0 ||
		    (strcmp(version, "3.12") == 0 && strcmp(stripped, want) == 0)) {
			t->exact++;
		} else {
			t->wrong++;
			printf("qualname: WRONG %s %s:%d %s: got %s, want %s\n", version, rel,
			       first, name, got, want);
		}
	}
	free(line);
	fclose(fp);
}

static void test_fixture_exact_match_rates(void **state)
{
	int g, i, total[G_N] = {0}, exact[G_N] = {0}, enoent[G_N] = {0}, wrong[G_N] = {0};

	run_fixture();
	for (g = 0; g < G_N; g++) {
		for (i = 0; i < 8 && tallies[g][i].version[0]; i++) {
			const struct tally *t = &tallies[g][i];
			int n = t->exact + t->enoent + t->wrong;

			printf(
			    "qualname: %-12s %-4s %5d code objects: %5d exact (%.2f%%), %d ENOENT, "
			    "%d wrong\n",
			    group_names[g], t->version, n, t->exact, 100.0 * t->exact / n,
			    t->enoent, t->wrong);
			total[g] += n;
			exact[g] += t->exact;
			enoent[g] += t->enoent;
			wrong[g] += t->wrong;
			/* every version on its own clears the bar of its group */
			if (g == G_STDLIB)
				assert_true(t->exact * 100 >= n * 99);
		}
		printf("qualname: %-12s all  %5d code objects: %5d exact (%.2f%%), %d ENOENT, %d "
		       "wrong\n",
		       group_names[g], total[g], exact[g], 100.0 * exact[g] / total[g], enoent[g],
		       wrong[g]);
	}
	/* a wrong name is worse than none: zero everywhere */
	assert_int_equal(wrong[G_TRICKY] + wrong[G_AMBIGUOUS] + wrong[G_STDLIB], 0);
	assert_int_equal(exact[G_TRICKY], total[G_TRICKY]);
	assert_true(exact[G_STDLIB] * 100 >= total[G_STDLIB] * 99);
	/* the corpus is the one gen.py writes: 3.12 and older versions, thousands of objects */
	assert_true(total[G_STDLIB] > 5000);
	assert_true(total[G_TRICKY] > 500);
	sources_free();
}

static int derive(const char *src, int first, const char *name, char *out, size_t outlen)
{
	return qualname__derive(src, strlen(src), first, name, out, outlen);
}

static void test_arguments_are_checked(void **state)
{
	const char *src = "class A:\n    def m(self):\n        pass\n";
	char out[64];

	assert_int_equal(derive(src, 2, "m", out, sizeof(out)), 0);
	assert_string_equal(out, "A.m");
	assert_int_equal(derive(src, 2, "m", out, 3), -ERANGE);
	assert_int_equal(derive(src, 0, "m", out, sizeof(out)), -EINVAL);
	assert_int_equal(derive(src, 2, "m", out, 0), -EINVAL);
	assert_int_equal(qualname__derive(NULL, 0, 2, "m", out, sizeof(out)), -EINVAL);
	assert_int_equal(
	    qualname__derive(src, (size_t)QUALNAME_MAX_SRC + 1, 2, "m", out, sizeof(out)), -EFBIG);
	assert_int_equal(derive(src, 1, "<module>", out, sizeof(out)), 0);
	assert_string_equal(out, "<module>");
	/* wrong line, wrong name, unknown kind of code object: no guess */
	assert_int_equal(derive(src, 3, "m", out, sizeof(out)), -ENOENT);
	assert_int_equal(derive(src, 2, "n", out, sizeof(out)), -ENOENT);
	assert_int_equal(derive(src, 2, "<string>", out, sizeof(out)), -ENOENT);
	assert_int_equal(derive(src, 99, "m", out, sizeof(out)), -ENOENT);
}

static void test_unparsable_source_is_enoent(void **state)
{
	char out[64];

	/* the def comes after an unterminated string: nothing after it can be trusted */
	assert_int_equal(derive("x = '''\ndef f():\n    pass\n", 2, "f", out, sizeof(out)),
			 -ENOENT);
	assert_int_equal(derive("x = (\ndef f():\n    pass\n", 2, "f", out, sizeof(out)), -ENOENT);
	assert_int_equal(derive("x = 1 $ 2\ndef f():\n    pass\n", 2, "f", out, sizeof(out)),
			 -ENOENT);
	/* 3.12 type-parameter scopes are not modelled: no guess */
	assert_int_equal(derive("type A = lambda: 1\n", 1, "<lambda>", out, sizeof(out)), -ENOENT);
	assert_int_equal(derive("def f[T](x=lambda: 1): pass\n", 1, "<lambda>", out, sizeof(out)),
			 -ENOENT);
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Truncated and mutated real sources, in exact-size blocks (ASan/valgrind see overreads): no
 * crash, only 0 or -ENOENT. */
static void test_damaged_sources_never_crash(void **state)
{
	static const char *const names[] = {"<lambda>", "<listcomp>", "<genexpr>", "<dictcomp>",
					    "m",	"method",     "deep",	   "Inner"};
	const struct src_file *f = source("tricky.py");
	int iter, ok = 0, enoent = 0;

	for (iter = 0; iter < 3000; iter++) {
		size_t len = (size_t)(rng() % (f->len + 1)), k;
		char *s = malloc(len ? len : 1), out[256];
		int err;

		assert_non_null(s);
		memcpy(s, f->text, len);
		for (k = 0; len && k < (size_t)(iter % 8); k++)
			s[rng() % len] = "\"'()[]{}:\\\n\t #f"[rng() % 16];
		err = qualname__derive(s, len, (int)(rng() % 300) + 1,
				       names[rng() % (sizeof(names) / sizeof(names[0]))], out,
				       sizeof(out));
		assert_true(err == 0 || err == -ENOENT);
		if (err == 0)
			assert_true(strlen(out) > 0 && strlen(out) < sizeof(out));
		ok += err == 0;
		enoent += err == -ENOENT;
		free(s);
	}
	assert_true(ok > 0 && enoent > 0);
	for (iter = 0; iter < 3000; iter++) {
		size_t len = rng() % 200, k;
		char *s = malloc(len ? len : 1), out[64];
		int err;

		assert_non_null(s);
		for (k = 0; k < len; k++)
			s[k] = (char)rng();
		err = qualname__derive(s, len, (int)(rng() % 5) + 1, names[rng() % 8], out,
				       sizeof(out));
		assert_true(err == 0 || err == -ENOENT);
		free(s);
	}
	sources_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixture_exact_match_rates),
	    cmocka_unit_test(test_arguments_are_checked),
	    cmocka_unit_test(test_unparsable_source_is_enoent),
	    cmocka_unit_test(test_damaged_sources_never_crash),
	};

	return cmocka_run_group_tests_name("qualname", tests, NULL, NULL);
}
