// SPDX-License-Identifier: MIT
/* The one decimal parser: digits only, bounded, overflow caught at any width. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/text.h"

static int parse(const char *s, uint64_t max, uint64_t *v)
{
	return text__parse_u64(s, strlen(s), max, v);
}

static void test_parse_u64(void **state)
{
	uint64_t v = 7;

	assert_int_equal(parse("0", 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse("0042", 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse("10", 10, &v), 0);
	assert_int_equal(parse("11", 10, &v), -ERANGE);
	assert_int_equal(parse("18446744073709551615", UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse("18446744073709551616", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse("99999999999999999999999", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse("5", 3, &v), -ERANGE);
	v = 7;
	for (const char *const *bad =
		 (const char *const[]){"", "-1", "+1", " 1", "1 ", "0x10", "1e3", "12a", NULL};
	     *bad; bad++)
		assert_int_equal(parse(*bad, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(v, 7); /* untouched on failure */
	/* the length bounds the read: no NUL needed */
	assert_int_equal(text__parse_u64("123456", 3, 1000, &v), 0);
	assert_int_equal(v, 123);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_u64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
