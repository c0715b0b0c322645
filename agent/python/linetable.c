// SPDX-License-Identifier: MIT
/* Line tables of CPython 3.6 and newer: co_lnotab (3.6-3.9), the 3.10 co_linetable and the 3.11+
 * location table, decoded as PyCode_Addr2Line() does, with every read bounded by the length. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>

#include "python/linetable.h"

/* 3.11+ location entry kinds, bits 3-6 of an entry's first byte (Objects/locations.md). */
enum loc_kind {
	LOC_ONE_LINE0 = 10,
	LOC_ONE_LINE1 = 11,
	LOC_ONE_LINE2 = 12,
	LOC_NO_COLUMNS = 13,
	LOC_LONG = 14,
	LOC_NONE = 15,
};

/* A 32-bit value takes at most 6 groups of 6 bits; longer is malformed. */
#define VARINT_MAX_BYTES 6

/* The line reached by the decoder, if it is one CPython could report. */
static int line_result(int64_t line, int *ret_line)
{
	if (line < 0 || line > INT_MAX)
		return -EINVAL;
	*ret_line = (int)line;
	return 0;
}

/*
 * 3.6-3.9 co_lnotab: (unsigned address increment, signed line increment) byte pairs, the line
 * applying from that address on (lnotab_notes.txt). CPython stops at the first pair whose address
 * passes addrq; it has no "no line" case and answers the last line past the end.
 */
static int addr2line_lnotab(const uint8_t *t, size_t len, int firstlineno, int addrq, int *ret_line)
{
	int64_t line = firstlineno;
	int64_t addr = 0;
	size_t i;

	if (len % 2)
		return -EINVAL;
	for (i = 0; i < len; i += 2) {
		addr += t[i];
		if (addr > addrq)
			break;
		line += (int8_t)t[i + 1];
	}
	return line_result(line, ret_line);
}

/*
 * 3.10 co_linetable: (unsigned address length, signed line increment) byte pairs, each an address
 * range; a line increment of -128 means "no line" for the range and leaves the line unchanged.
 * Empty ranges never hold addrq, so the first range ending after addrq is the answer, as
 * _PyCode_CheckLineNumber() finds it. Past the end CPython returns -1.
 */
static int addr2line_310(const uint8_t *t, size_t len, int firstlineno, int addrq, int *ret_line)
{
	int64_t computed = firstlineno;
	int64_t end = 0;
	size_t i;

	if (len % 2)
		return -EINVAL;
	for (i = 0; i < len; i += 2) {
		int ldelta = (int8_t)t[i + 1];

		end += t[i];
		if (ldelta != -128)
			computed += ldelta;
		if (addrq < end) {
			if (ldelta == -128)
				return -ENOENT;
			return line_result(computed, ret_line);
		}
	}
	return -ENOENT;
}

/* Unsigned varint of the 3.11+ table: 6 bits a byte, bit 6 says another byte follows. */
static int read_varint(const uint8_t *t, size_t len, size_t *pos, uint32_t *ret)
{
	uint64_t val = 0;
	unsigned int shift = 0;
	int n;

	for (n = 0; n < VARINT_MAX_BYTES; n++) {
		uint8_t b;

		if (*pos >= len)
			return -EINVAL;
		b = t[(*pos)++];
		/* bit 7 starts an entry: a varint running into one is truncated */
		if (b & 0x80)
			return -EINVAL;
		val |= (uint64_t)(b & 63) << shift;
		shift += 6;
		if (!(b & 64)) {
			if (val > UINT32_MAX)
				return -EINVAL;
			*ret = (uint32_t)val;
			return 0;
		}
	}
	return -EINVAL;
}

static int read_svarint(const uint8_t *t, size_t len, size_t *pos, int64_t *ret)
{
	uint32_t uval;
	int err;

	err = read_varint(t, len, pos, &uval);
	if (err)
		return err;
	*ret = (uval & 1) ? -(int64_t)(uval >> 1) : (int64_t)(uval >> 1);
	return 0;
}

/*
 * 3.11+ location table: one entry per run of 1-8 code units. First byte: bit 7 set, kind in bits
 * 3-6, code units - 1 in bits 0-2. Only LONG and NO_COLUMNS carry a line delta (a signed varint
 * right after the first byte); ONE_LINE0-2 add 0-2; short forms keep the line; NONE keeps it but
 * the range has no line. The bytes after the line delta (columns) are skipped as CPython does, up
 * to the next byte with bit 7 set.
 */
static int addr2line_311(const uint8_t *t, size_t len, int firstlineno, int addrq, int *ret_line)
{
	int64_t computed = firstlineno;
	int64_t end = 0;
	size_t pos = 0;

	while (pos < len) {
		uint8_t first = t[pos];
		int kind = (first >> 3) & 15;
		int64_t delta = 0;
		size_t next = pos + 1;
		int err;

		if (!(first & 0x80))
			return -EINVAL;
		switch (kind) {
		case LOC_LONG:
		case LOC_NO_COLUMNS:
			err = read_svarint(t, len, &next, &delta);
			if (err)
				return err;
			break;
		case LOC_ONE_LINE0:
		case LOC_ONE_LINE1:
		case LOC_ONE_LINE2:
			delta = kind - LOC_ONE_LINE0;
			break;
		default: /* short forms and NONE */
			break;
		}
		computed += delta;
		if (computed < INT_MIN || computed > INT_MAX)
			return -EINVAL;
		end += ((first & 7) + 1) * 2;
		if (addrq < end) {
			if (kind == LOC_NONE)
				return -ENOENT;
			return line_result(computed, ret_line);
		}
		while (next < len && !(t[next] & 0x80))
			next++;
		pos = next;
	}
	return -ENOENT;
}

int linetable__addr2line(unsigned int version, const uint8_t *table, size_t len, int firstlineno,
			 int addrq, int *ret_line)
{
	unsigned int major = version >> 8, minor = version & 0xff;

	if (!ret_line || (!table && len) || len > LINETABLE_MAX_LEN || firstlineno < 0)
		return -EINVAL;
	/* 3.14 and 3.15 kept the 3.11 location table (Objects/locations.md is unchanged, and
	 * tests/fixtures/linetables hold what their PyCode_Addr2Line() answers). A newer minor is
	 * only asked about when its layout was accepted as the newest known one: its table is
	 * taken to be the newest known format as well. */
	if (major != 3 || minor < 6)
		return -EOPNOTSUPP;

	if (minor <= 9)
		return addr2line_lnotab(table, len, firstlineno, addrq, ret_line);
	/* 3.10+ PyCode_Addr2Line(): a frame that has not started is on its first line */
	if (addrq < 0) {
		*ret_line = firstlineno;
		return 0;
	}
	if (minor == 10)
		return addr2line_310(table, len, firstlineno, addrq, ret_line);
	return addr2line_311(table, len, firstlineno, addrq, ret_line);
}
