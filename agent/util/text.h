/* SPDX-License-Identifier: MIT */
/* String and number helpers the parsers share. */
#ifndef PYPROF_TEXT_H
#define PYPROF_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The decimal number in the len bytes at s: digits only (no sign, space or base prefix), at
 * most max. Returns 0, -EINVAL (empty, or not a digit), or -ERANGE (over max). The one number
 * parser of the command line, the control protocol and the spool. */
int text__parse_u64(const char *s, size_t len, uint64_t max, uint64_t *ret);

/* Whether the n bytes at s end with suffix. */
static inline int text__ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && !memcmp(s + n - k, suffix, k);
}

#endif
