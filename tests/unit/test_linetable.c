// SPDX-License-Identifier: MIT
/* linetable__addr2line() against the lines CPython 3.6-3.15 report for every instruction of
 * tests/fixtures/linetables/sample.py, and against malformed tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "python/linetable.h"

#define LT_DIR FIXTURES "/linetables"

static const unsigned int versions[] = {0x0306, 0x0307, 0x0308, 0x0309, 0x030a,
					0x030b, 0x030c, 0x030d, 0x030e, 0x030f};
#define N_VERSIONS (sizeof(versions) / sizeof(versions[0]))

/* One code object of a fixture file. */
struct lt_code {
	char name[128];
	int firstlineno;
	int nbytes;
	uint8_t *table;
	size_t len;
	int *lines; /* nbytes / 2 expected lines, -1 = no line */
	int nedges;
	int edge_addrq[8];
	int edge_line[8];
};

struct lt_fixture {
	unsigned int version;
	struct lt_code *codes;
	size_t ncodes;
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static uint8_t *unhex(const char *s, size_t *ret_len)
{
	size_t n = strlen(s), i;
	uint8_t *out;

	*ret_len = 0;
	if (strcmp(s, "-") == 0)
		return NULL;
	assert_int_equal(n % 2, 0);
	out = malloc(n / 2);
	assert_non_null(out);
	for (i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		assert_true(hi >= 0 && lo >= 0);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*ret_len = n / 2;
	return out;
}

static void fixture_load(unsigned int version, struct lt_fixture *fx)
{
	char path[512], *line = NULL;
	size_t cap = 0;
	FILE *f;

	memset(fx, 0, sizeof(*fx));
	snprintf(path, sizeof(path), LT_DIR "/lines-%u.%u.txt", version >> 8, version & 0xff);
	f = fopen(path, "r");
	if (!f)
		fail_msg("missing fixture %s (run tests/fixtures/linetables/gen.sh)", path);
	while (getline(&line, &cap, f) > 0) {
		struct lt_code *c = fx->ncodes ? &fx->codes[fx->ncodes - 1] : NULL;
		char *hex = NULL;

		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "version ", 8) == 0) {
			unsigned int major, minor;

			assert_int_equal(sscanf(line, "version %u %u", &major, &minor), 2);
			fx->version = major << 8 | minor;
		} else if (strncmp(line, "code ", 5) == 0) {
			fx->codes = realloc(fx->codes, (fx->ncodes + 1) * sizeof(*fx->codes));
			assert_non_null(fx->codes);
			c = &fx->codes[fx->ncodes++];
			memset(c, 0, sizeof(*c));
			assert_int_equal(sscanf(line, "code %127s %d %d %ms", c->name,
						&c->firstlineno, &c->nbytes, &hex),
					 4);
			c->table = unhex(hex, &c->len);
			free(hex);
		} else if (strncmp(line, "edge ", 5) == 0) {
			assert_non_null(c);
			assert_true(c->nedges < 8);
			assert_int_equal(sscanf(line, "edge %d %d", &c->edge_addrq[c->nedges],
						&c->edge_line[c->nedges]),
					 2);
			c->nedges++;
		} else if (strncmp(line, "lines", 5) == 0) {
			char *p = line + 5, *end;
			int i;

			assert_non_null(c);
			c->lines = calloc(c->nbytes / 2 + 1, sizeof(int));
			assert_non_null(c->lines);
			for (i = 0; i < c->nbytes / 2; i++) {
				c->lines[i] = (int)strtol(p, &end, 10);
				assert_true(end != p);
				p = end;
			}
		}
	}
	free(line);
	fclose(f);
	assert_int_equal(fx->version, version);
}

static void fixture_free(struct lt_fixture *fx)
{
	size_t i;

	for (i = 0; i < fx->ncodes; i++) {
		free(fx->codes[i].table);
		free(fx->codes[i].lines);
	}
	free(fx->codes);
}

/* 0 and the line, or -ENOENT where CPython says -1 ("no line"). */
static void expect_line(unsigned int version, const struct lt_code *c, int addrq, int want)
{
	int line = -12345, err;

	err = linetable__addr2line(version, c->table, c->len, c->firstlineno, addrq, &line);
	if (want == -1) {
		if (err != -ENOENT)
			fail_msg("%x %s:%d addrq %d: want no line, got err %d line %d", version,
				 c->name, c->firstlineno, addrq, err, line);
		return;
	}
	if (err != 0 || line != want)
		fail_msg("%x %s:%d addrq %d: want line %d, got err %d line %d", version, c->name,
			 c->firstlineno, addrq, want, err, line);
}

static void test_every_offset_matches_cpython_addr2line(void **state)
{
	size_t v, i, checked = 0, noline = 0;

	for (v = 0; v < N_VERSIONS; v++) {
		struct lt_fixture fx;
		size_t before = checked;

		fixture_load(versions[v], &fx);
		assert_true(fx.ncodes >= 25);
		for (i = 0; i < fx.ncodes; i++) {
			const struct lt_code *c = &fx.codes[i];
			int k;

			for (k = 0; k < c->nbytes / 2; k++) {
				expect_line(fx.version, c, 2 * k, c->lines[k]);
				noline += c->lines[k] == -1;
				checked++;
			}
			for (k = 0; k < c->nedges; k++) {
				expect_line(fx.version, c, c->edge_addrq[k], c->edge_line[k]);
				checked++;
			}
		}
		printf("linetable: %u.%u: %zu code objects, %zu offsets match CPython\n",
		       versions[v] >> 8, versions[v] & 0xff, fx.ncodes, checked - before);
		fixture_free(&fx);
	}
	/* the fixtures exercise every format, including instructions without a line */
	assert_true(checked > 30000);
	assert_true(noline > 0);
}

/* Every prefix of every real table, copied to an exact-size heap block so that ASan or valgrind
 * flag any read past the end, and decoded at offsets inside and past it. */
static void test_truncated_tables_never_read_past_end(void **state)
{
	size_t v, i, calls = 0;

	for (v = 0; v < N_VERSIONS; v++) {
		struct lt_fixture fx;

		fixture_load(versions[v], &fx);
		for (i = 0; i < fx.ncodes; i++) {
			const struct lt_code *c = &fx.codes[i];
			size_t cut;

			for (cut = 0; cut < c->len; cut++) {
				uint8_t *t = malloc(cut ? cut : 1);
				int addrq[] = {-2,	  0,	  2, c->nbytes / 2, c->nbytes - 2,
					       c->nbytes, 1 << 30};
				size_t a;

				assert_non_null(t);
				memcpy(t, c->table, cut);
				for (a = 0; a < sizeof(addrq) / sizeof(addrq[0]); a++) {
					int line = -1;
					int err = linetable__addr2line(
					    fx.version, t, cut, c->firstlineno, addrq[a], &line);

					assert_true(err == 0 || err == -ENOENT || err == -EINVAL);
					if (err == 0)
						assert_true(line >= 0);
					calls++;
				}
				free(t);
			}
		}
		fixture_free(&fx);
	}
	assert_true(calls > 10000);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_random_tables_return_valid_codes(void **state)
{
	int iter, results[3] = {0};

	for (iter = 0; iter < 200000; iter++) {
		size_t len = rng() % 48, k;
		uint8_t *t = malloc(len ? len : 1);
		unsigned int version = versions[rng() % N_VERSIONS];
		int addrq = (int)(rng() % 600) - 100;
		int line = -1, err;

		assert_non_null(t);
		for (k = 0; k < len; k++)
			t[k] = (uint8_t)rng();
		/* half the 3.11+ tables start like a real one, to get past the first check */
		if (len && (iter & 1))
			t[0] |= 0x80;
		err = linetable__addr2line(version, t, len, (int)(rng() % 5000), addrq, &line);
		assert_true(err == 0 || err == -ENOENT || err == -EINVAL);
		if (err == 0)
			assert_true(line >= 0);
		results[err == 0 ? 0 : err == -ENOENT ? 1 : 2]++;
		free(t);
	}
	/* random input reaches all three outcomes */
	assert_true(results[0] > 0 && results[1] > 0 && results[2] > 0);
}

static void test_malformed_tables_are_einval(void **state)
{
	int line;
	/* LONG entry whose line-delta varint announces a next byte that is not there */
	const uint8_t trunc_varint[] = {0x80 | 14 << 3, 0x41};
	/* varint running into the next entry's first byte */
	const uint8_t varint_into_entry[] = {0x80 | 13 << 3, 0x41, 0x80};
	/* seven continuation bytes: longer than any 32-bit value */
	const uint8_t long_varint[] = {0x80 | 13 << 3, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x3f};
	/* a first byte without bit 7 is not an entry */
	const uint8_t no_entry[] = {0x00, 0x00};
	/* line deltas of +2^31-1 twice: past INT_MAX */
	const uint8_t overflow[] = {0x80 | 13 << 3, 0x7e, 0x7f, 0x7f, 0x7f, 0x7f, 0x03,
				    0x80 | 13 << 3, 0x7e, 0x7f, 0x7f, 0x7f, 0x7f, 0x03};
	const uint8_t odd[] = {2, 1, 4};
	/* lnotab going below line 0 */
	const uint8_t negative[] = {2, 0x80};

	assert_int_equal(
	    linetable__addr2line(0x030b, trunc_varint, sizeof(trunc_varint), 1, 0, &line), -EINVAL);
	assert_int_equal(
	    linetable__addr2line(0x030c, varint_into_entry, sizeof(varint_into_entry), 1, 0, &line),
	    -EINVAL);
	assert_int_equal(
	    linetable__addr2line(0x030d, long_varint, sizeof(long_varint), 1, 0, &line), -EINVAL);
	assert_int_equal(linetable__addr2line(0x030b, no_entry, sizeof(no_entry), 1, 0, &line),
			 -EINVAL);
	assert_int_equal(linetable__addr2line(0x030b, overflow, sizeof(overflow), 1, 2, &line),
			 -EINVAL);
	assert_int_equal(linetable__addr2line(0x0308, odd, sizeof(odd), 1, 0, &line), -EINVAL);
	assert_int_equal(linetable__addr2line(0x030a, odd, sizeof(odd), 1, 0, &line), -EINVAL);
	assert_int_equal(linetable__addr2line(0x0309, negative, sizeof(negative), 5, 4, &line),
			 -EINVAL);
	/* the length is checked before anything is read */
	assert_int_equal(
	    linetable__addr2line(0x030b, odd, (size_t)LINETABLE_MAX_LEN + 1, 1, 0, &line), -EINVAL);
	assert_int_equal(linetable__addr2line(0x030b, NULL, 4, 1, 0, &line), -EINVAL);
	assert_int_equal(linetable__addr2line(0x030b, odd, 2, 1, 0, NULL), -EINVAL);
	assert_int_equal(linetable__addr2line(0x030b, odd, 2, -1, 0, &line), -EINVAL);
}

static void test_unknown_versions_are_eopnotsupp(void **state)
{
	const uint8_t t[] = {2, 1};
	int line;

	assert_int_equal(linetable__addr2line(0x0305, t, 2, 1, 0, &line), -EOPNOTSUPP);
	assert_int_equal(linetable__addr2line(0x0207, t, 2, 1, 0, &line), -EOPNOTSUPP);
	assert_int_equal(linetable__addr2line(0x0406, t, 2, 1, 0, &line), -EOPNOTSUPP);
}

/* The per-version edge cases, on small hand-built tables. */
static void test_edges_follow_each_versions_addr2line(void **state)
{
	/* lnotab: +6 bytes +1 line, +10 bytes +2 lines */
	const uint8_t lnotab[] = {6, 1, 10, 2};
	/* 3.10: 4 bytes on firstlineno+0, 2 bytes with no line, 4 bytes on +3 */
	const uint8_t t310[] = {4, 0, 2, 0x80, 4, 3};
	/* 3.11: NO_COLUMNS +0 (2 units), NONE (1 unit), ONE_LINE2 (1 unit) */
	const uint8_t t311[] = {0x80 | 13 << 3 | 1, 0x00, 0x80 | 15 << 3, 0x80 | 12 << 3, 3, 7};
	int line;

	/* 3.6-3.9: negative addrq (f_lasti -1) is firstlineno; past the end, the last line */
	assert_int_equal(linetable__addr2line(0x0306, lnotab, 4, 10, -1, &line), 0);
	assert_int_equal(line, 10);
	assert_int_equal(linetable__addr2line(0x0306, lnotab, 4, 10, 5, &line), 0);
	assert_int_equal(line, 10);
	assert_int_equal(linetable__addr2line(0x0306, lnotab, 4, 10, 6, &line), 0);
	assert_int_equal(line, 11);
	assert_int_equal(linetable__addr2line(0x0309, lnotab, 4, 10, 1000, &line), 0);
	assert_int_equal(line, 13);
	assert_int_equal(linetable__addr2line(0x0309, NULL, 0, 10, 4, &line), 0);
	assert_int_equal(line, 10);

	/* 3.10: -128 is no line; past the end is no line; negative is firstlineno */
	assert_int_equal(linetable__addr2line(0x030a, t310, 6, 20, 3, &line), 0);
	assert_int_equal(line, 20);
	assert_int_equal(linetable__addr2line(0x030a, t310, 6, 20, 4, &line), -ENOENT);
	assert_int_equal(linetable__addr2line(0x030a, t310, 6, 20, 6, &line), 0);
	assert_int_equal(line, 23);
	assert_int_equal(linetable__addr2line(0x030a, t310, 6, 20, 10, &line), -ENOENT);
	assert_int_equal(linetable__addr2line(0x030a, t310, 6, 20, -2, &line), 0);
	assert_int_equal(line, 20);
	assert_int_equal(linetable__addr2line(0x030a, NULL, 0, 20, 0, &line), -ENOENT);

	/* 3.11+: the same rules on the location table */
	assert_int_equal(linetable__addr2line(0x030b, t311, 6, 30, 2, &line), 0);
	assert_int_equal(line, 30);
	assert_int_equal(linetable__addr2line(0x030c, t311, 6, 30, 4, &line), -ENOENT);
	assert_int_equal(linetable__addr2line(0x030d, t311, 6, 30, 6, &line), 0);
	assert_int_equal(line, 32);
	assert_int_equal(linetable__addr2line(0x030d, t311, 6, 30, 8, &line), -ENOENT);
	assert_int_equal(linetable__addr2line(0x030d, t311, 6, 30, -2, &line), 0);
	assert_int_equal(line, 30);

	/* 3.14, 3.15 and a newer minor read with a guessed layout: the 3.11 format (3.14 was
	 * refused once, and every line of its frames was 0) */
	for (unsigned int v = 0x030e; v <= 0x0310; v++) {
		assert_int_equal(linetable__addr2line(v, t311, 6, 30, 2, &line), 0);
		assert_int_equal(line, 30);
		assert_int_equal(linetable__addr2line(v, t311, 6, 30, 4, &line), -ENOENT);
		assert_int_equal(linetable__addr2line(v, t311, 6, 30, 6, &line), 0);
		assert_int_equal(line, 32);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_offset_matches_cpython_addr2line),
	    cmocka_unit_test(test_truncated_tables_never_read_past_end),
	    cmocka_unit_test(test_random_tables_return_valid_codes),
	    cmocka_unit_test(test_malformed_tables_are_einval),
	    cmocka_unit_test(test_unknown_versions_are_eopnotsupp),
	    cmocka_unit_test(test_edges_follow_each_versions_addr2line),
	};

	return cmocka_run_group_tests_name("linetable", tests, NULL, NULL);
}
