/* SPDX-License-Identifier: MIT */
/* String helpers the parsers share. */
#ifndef PYPROF_TEXT_H
#define PYPROF_TEXT_H

#include <string.h>

/* Whether the n bytes at s end with suffix. */
static inline int text__ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && !memcmp(s + n - k, suffix, k);
}

#endif
