// SPDX-License-Identifier: MIT
/* kallsyms__parse and kallsyms__name on hand-made /proc/kallsyms texts
 * (tests/fixtures/kallsyms). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "os/kallsyms.h"
#include "os/procfs.h"
#include "util/clock.h"

#define MINUTE (60ULL * 1000000000)

static char *load_fixture(const char *name, size_t *ret_len)
{
	char path[512];
	char *buf;

	snprintf(path, sizeof(path), "%s/kallsyms/%s", FIXTURES, name);
	assert_int_equal(procfs__read_file(path, 1 << 20, &buf, ret_len), 0);
	return buf;
}

static void parse_sample(struct kallsyms *k)
{
	size_t len;
	char *text = load_fixture("sample.txt", &len);

	assert_int_equal(kallsyms__parse(text, len, k), 0);
	/* the names live in k->names, not in the text */
	memset(text, 'X', len);
	free(text);
}

/* Only t/T/w/W symbols are kept (data, bss, rodata and absolute ones are not), malformed lines
 * are skipped, module suffixes are not part of the name, and the result is sorted. */
static void test_parse_keeps_text_and_weak_symbols_sorted(void **state)
{
	static const struct {
		uint64_t addr;
		const char *name;
	} want[] = {
	    {0xffffffff81000000, "_stext"},
	    {0xffffffff81000100, "static_helper"},
	    {0xffffffff81000500, "unsorted_after_stext"},
	    {0xffffffff81001000, "do_syscall_64"},
	    {0xffffffff81003000, "weak_upper"},
	    {0xffffffff81003100, "weak_lower"},
	    {0xffffffff81008000, "penultimate"},
	    {0xffffffff81009000, "final_symbol"},
	    {0xffffffffc0100000, "module_func"},
	    {0xffffffffc0100080, "module_export"},
	};
	struct kallsyms k = {0};

	parse_sample(&k);
	assert_int_equal(k.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < k.n; i++) {
		assert_int_equal(k.syms[i].addr, want[i].addr);
		assert_string_equal(k.syms[i].name, want[i].name);
	}
	kallsyms__free(&k);
	assert_null(k.syms);
	assert_int_equal(k.n, 0);
	kallsyms__free(&k);
	kallsyms__free(NULL);
}

/* A name at its address, inside the symbol (up to the next one), and nothing before the first. */
static void test_name_at_inside_and_before_symbols(void **state)
{
	static const struct {
		uint64_t addr;
		const char *name; /* NULL: no symbol */
	} cases[] = {
	    {0, NULL},
	    {0xffffffff80ffffff, NULL},
	    {0xffffffff81000000, "_stext"},
	    {0xffffffff81000001, "_stext"},
	    {0xffffffff810000ff, "_stext"},
	    {0xffffffff81000100, "static_helper"},
	    {0xffffffff81000500, "unsorted_after_stext"},
	    {0xffffffff81000fff, "unsorted_after_stext"},
	    {0xffffffff81001000, "do_syscall_64"},
	    /* a data symbol is not a boundary: the text symbol before it still covers it */
	    {0xffffffff81002000, "do_syscall_64"},
	    {0xffffffff81003050, "weak_upper"},
	    {0xffffffff81003100, "weak_lower"},
	    {0xffffffff81004000, "weak_lower"},
	    {0xffffffffc0100000, "module_func"},
	    {0xffffffffc010007f, "module_func"},
	    {0xffffffffc0100080, "module_export"},
	};
	struct kallsyms k = {0};

	parse_sample(&k);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = kallsyms__name(&k, cases[i].addr);

		if (!cases[i].name) {
			if (got)
				fail_msg("0x%llx named %s, want none",
					 (unsigned long long)cases[i].addr, got);
			continue;
		}
		if (!got || strcmp(got, cases[i].name))
			fail_msg("0x%llx named %s, want %s", (unsigned long long)cases[i].addr,
				 got ? got : "(none)", cases[i].name);
	}
	kallsyms__free(&k);
}

/* When every address reads as zero (no CAP_SYSLOG, kptr_restrict), parsing says so. */
static void test_all_zero_addresses_is_eperm(void **state)
{
	struct kallsyms k = {.n = 999};
	size_t len;
	char *text = load_fixture("hidden.txt", &len);

	assert_int_equal(kallsyms__parse(text, len, &k), -EPERM);
	assert_int_equal(k.n, 999); /* untouched */
	free(text);
	/* an empty text has no address either */
	assert_int_equal(kallsyms__parse("", 0, &k), -EPERM);
	/* one real address is enough */
	const char one[] = "0000000000000000 T a\nffffffff81000000 T b\n";
	assert_int_equal(kallsyms__parse(one, sizeof(one) - 1, &k), 0);
	assert_int_equal(k.n, 2);
	assert_string_equal(kallsyms__name(&k, 0xffffffff81000010), "b");
	kallsyms__free(&k);
}

static void test_empty_table_names_nothing(void **state)
{
	struct kallsyms k = {0};

	assert_null(kallsyms__name(&k, 0));
	assert_null(kallsyms__name(&k, 0xffffffff81000000));
}

/* Overlong lines and names are bounded: no overflow, nothing invented. */
static void test_long_lines_and_names_are_bounded(void **state)
{
	size_t cap = 8192, o = 0;
	char *text = malloc(cap);
	struct kallsyms k = {0};
	const char *got;

	assert_non_null(text);
	o += snprintf(text + o, cap - o, "ffffffff81000000 T ");
	for (int i = 0; i < 600; i++)
		text[o++] = 'a'; /* a 619-byte line */
	text[o++] = '\n';
	o += snprintf(text + o, cap - o, "ffffffff82000000 T ");
	for (int i = 0; i < 300; i++)
		text[o++] = 'b'; /* a 300-byte name on a line that fits */
	text[o++] = '\n';
	o += snprintf(text + o, cap - o, "ffffffff83000000 T short\n");
	assert_int_equal(kallsyms__parse(text, o, &k), 0);
	assert_null(kallsyms__name(&k, 0xffffffff81000010));
	got = kallsyms__name(&k, 0xffffffff82000010);
	assert_non_null(got);
	assert_true(strlen(got) >= 1 && strlen(got) <= 300);
	assert_int_equal(strspn(got, "b"), strlen(got));
	assert_string_equal(kallsyms__name(&k, 0xffffffff83000000), "short");
	kallsyms__free(&k);
	free(text);
}

/* Many symbols in reverse order: every one is found at its address and just below the next. */
static void test_50k_reverse_ordered_symbols_all_found(void **state)
{
	size_t n = 50000, cap = n * 48, o = 0;
	char *text = malloc(cap), want[32];
	struct kallsyms k = {0};

	assert_non_null(text);
	for (size_t i = n; i-- > 0;)
		o += snprintf(text + o, cap - o, "%016llx t f%zu\n",
			      0xffffffff81000000ULL + i * 0x40, i);
	assert_int_equal(kallsyms__parse(text, o, &k), 0);
	assert_int_equal(k.n, n);
	for (size_t i = 0; i < n; i += 7) {
		snprintf(want, sizeof(want), "f%zu", i);
		assert_string_equal(kallsyms__name(&k, 0xffffffff81000000ULL + i * 0x40), want);
		assert_string_equal(kallsyms__name(&k, 0xffffffff81000000ULL + i * 0x40 + 0x3f),
				    want);
	}
	kallsyms__free(&k);
	free(text);
}

/* A lazy table holds nothing until a name is asked for, then this kernel's symbols (or says
 * once that it cannot), and gives the memory back when unused; asked again, it loads again. */
static void test_lazy_table_loads_at_first_name_and_drops_when_unused(void **state)
{
	struct kallsyms k;
	const char *name;

	kallsyms__init_lazy(&k, MINUTE);
	assert_int_equal(k.n, 0);
	assert_int_equal(k.loaded, 0);
	name = kallsyms__name(&k, 0xffffffff81000000ULL + 0x1000);
	if (k.failed) {
		assert_null(name); /* addresses hidden from us: nothing named, once */
		assert_int_equal(k.n, 0);
		return;
	}
	assert_int_equal(k.loaded, 1);
	assert_int_equal(k.loads, 1);
	assert_true(k.n > 1000);
	assert_int_equal(kallsyms__drop_unused(&k, k.used_ns + 1000), 0);
	/* a clock read before the last use is no idleness (no wrap-around) */
	assert_int_equal(kallsyms__drop_unused(&k, k.used_ns - 1000), 0);
	assert_int_equal(kallsyms__drop_unused(&k, k.used_ns + MINUTE), 1);
	assert_int_equal(k.loaded, 0);
	assert_int_equal(k.n, 0);
	assert_null(k.syms);
	kallsyms__name(&k, 0xffffffff81000000ULL + 0x1000);
	assert_int_equal(k.loaded, 1);
	assert_int_equal(k.loads, 2);
	kallsyms__free(&k);
}

/* A table needed again soon after its drop is kept twice as long each time, up to
 * KALLSYMS_KEEP_GROWTH times; one unused for longer than it was kept goes back to the first
 * keep time. The loads are real (this kernel's table); the clock is moved by hand. */
static void test_a_table_dropped_too_soon_is_kept_longer(void **state)
{
	struct kallsyms k;

	kallsyms__init_lazy(&k, MINUTE);
	kallsyms__name(&k, 0xffffffff81000000ULL + 0x1000);
	if (k.failed)
		return; /* addresses hidden: covered by the test above */
	for (uint64_t want = 2 * MINUTE; want <= 64 * MINUTE; want *= 2) {
		uint64_t keep = k.keep_ns;

		assert_int_equal(kallsyms__drop_unused(&k, k.used_ns + keep - 1), 0);
		assert_int_equal(kallsyms__drop_unused(&k, k.used_ns + keep), 1);
		/* the drop is in the (moved) future: a real use comes before it, inside keep_ns */
		k.dropped_ns = clock__mono_ns() - 1000;
		kallsyms__name(&k, 0xffffffff81000000ULL + 0x1000);
		assert_int_equal(k.loaded, 1);
		assert_int_equal(k.keep_ns, want < MINUTE * KALLSYMS_KEEP_GROWTH
						? want
						: MINUTE * KALLSYMS_KEEP_GROWTH);
	}
	/* unused for longer than it was kept: back to a minute */
	assert_int_equal(kallsyms__drop_unused(&k, k.used_ns + k.keep_ns), 1);
	k.dropped_ns = clock__mono_ns() - k.keep_ns - 1;
	kallsyms__name(&k, 0xffffffff81000000ULL + 0x1000);
	assert_int_equal(k.keep_ns, MINUTE);
	assert_int_equal(k.loads, 8);
	kallsyms__free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_keeps_text_and_weak_symbols_sorted),
	    cmocka_unit_test(test_name_at_inside_and_before_symbols),
	    cmocka_unit_test(test_all_zero_addresses_is_eperm),
	    cmocka_unit_test(test_empty_table_names_nothing),
	    cmocka_unit_test(test_long_lines_and_names_are_bounded),
	    cmocka_unit_test(test_50k_reverse_ordered_symbols_all_found),
	    cmocka_unit_test(test_lazy_table_loads_at_first_name_and_drops_when_unused),
	    cmocka_unit_test(test_a_table_dropped_too_soon_is_kept_longer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
