// SPDX-License-Identifier: MIT
/* libFuzzer harness: the line-table decoders of every CPython format (linetable__addr2line).
 * Input: minor version (1 byte), co_firstlineno (4 bytes, little-endian), addrq (4 bytes),
 * then the table (co_lnotab or co_linetable) as read from a target. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "python/linetable.h"

static int32_t get_i32(const uint8_t *p)
{
	uint32_t v =
	    (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;

	return (int32_t)v;
}

static void check(unsigned version, const uint8_t *t, size_t len, int first, int addrq)
{
	int line = -12345, rc = linetable__addr2line(version, t, len, first, addrq, &line);
	unsigned minor = version & 0xff;

	switch (rc) {
	case 0:
		if (line < 0)
			abort(); /* a line is never negative */
		if (addrq < 0 && minor >= 10 && line != first)
			abort(); /* not started: co_firstlineno, as PyCode_Addr2Line */
		break;
	case -ENOENT:
		if (minor <= 9)
			abort(); /* co_lnotab has no "no line" case */
		break;
	case -EINVAL:
		if (line != -12345)
			abort(); /* nothing written on failure */
		break;
	case -EOPNOTSUPP:
		if (minor >= 6 && minor <= 13)
			abort();
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned minor;
	int first, addrq;
	const uint8_t *t;
	size_t len;
	uint8_t *copy;

	if (size < 9)
		return 0;
	minor = data[0] % 10 + 5; /* 3.5 (unsupported) to 3.14 (unsupported) */
	first = get_i32(data + 1);
	addrq = get_i32(data + 5);
	len = size - 9;
	/* an exact-size heap copy, so ASan sees any read past the table */
	copy = malloc(len ? len : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 9, len);
	t = copy;
	check(0x0300 | minor, t, len, first, addrq);
	/* every instruction of a table this size, and the edges */
	for (int a = -2; a <= (int)(len * 16) + 2 && a < 512; a += 2)
		check(0x0300 | minor, t, len, first < 0 ? 1 : first, a);
	check(0x0300 | minor, t, len, first, INT32_MAX);
	check(0x0300 | minor, t, len, first, INT32_MIN);
	free(copy);
	return 0;
}
