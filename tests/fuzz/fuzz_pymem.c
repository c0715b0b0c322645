// SPDX-License-Identifier: MIT
/* libFuzzer harness: code objects, str and bytes read out of arbitrary "target memory"
 * (pyobj__read_code) and frames named from it (symbolizer__resolve), with each version's
 * offsets from pyoffsets__table, or offsets parsed from a fuzzed _Py_DebugOffsets.
 *
 * Input, little-endian:
 *   u8 minor      6..13: that version's table; 14, 15: _Py_DebugOffsets read from region 0
 *   u8 nregions   1..8 memory regions
 *   u8 nframes    0..32 frames to name
 *   u8 flags      bit 0: check the code type; bit 1: change memory, then name them again;
 *                 bit 2: a cache budget of 1 KiB (evictions)
 *   u64 code_type
 *   nregions x { u64 addr; u32 len }
 *   nframes x { u64 code; u64 instr }  instr: f_lasti (3.6-3.10), else a byte offset from the
 *                                      code object's first instruction
 *   u32 mutate_at; u8 mutate_xor       bytes of region 0 changed before the second pass
 *   region data, one after the other (cut short where the input ends)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "os/memread.h"
#include "python/pyobj.h"
#include "python/pyoffsets.h"
#include "python/symbolize.h"

#define MAX_REGIONS 8
#define MAX_FRAMES  32

struct cursor {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct cursor *c, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		if (c->left) {
			v |= (uint64_t)c->p[0] << (8 * i);
			c->p++;
			c->left--;
		}
	}
	return v;
}

/* A name handed out by the symbolizer or pyobj: NUL-terminated, valid UTF-8, no control
 * characters (they would break the folded format and the files made from it). */
static void check_name(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	if (!s)
		abort();
	for (size_t i = 0; u[i];) {
		size_t n = u[i] < 0x80 ? 1 : (u[i] >> 5) == 6 ? 2 : (u[i] >> 4) == 14 ? 3 : 4;

		if (u[i] < 0x20 || u[i] == 0x7f || (u[i] >= 0x80 && u[i] < 0xc2) || u[i] > 0xf4)
			abort();
		for (size_t k = 1; k < n; k++)
			if ((u[i + k] & 0xc0) != 0x80)
				abort();
		i += n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c = {data, size};
	struct mem_region regions[MAX_REGIONS];
	struct py_frame frames[MAX_FRAMES];
	struct py_offsets off;
	struct mem_image img;
	struct mem_reader r;
	struct symbolizer *s;
	struct symcache *cache = NULL;
	unsigned minor, nregions, nframes, flags;
	uint64_t code_type;
	uint32_t mutate_at;
	uint8_t mutate_xor;

	if (size < 4)
		return 0;
	minor = take(&c, 1) % 10 + 6;
	nregions = take(&c, 1) % MAX_REGIONS + 1;
	nframes = take(&c, 1) % (MAX_FRAMES + 1);
	flags = take(&c, 1);
	code_type = take(&c, 8);
	for (unsigned i = 0; i < nregions; i++) {
		regions[i].addr = take(&c, 8);
		regions[i].len = take(&c, 4) & 0xfffff;
	}
	for (unsigned i = 0; i < nframes; i++) {
		frames[i].code = take(&c, 8);
		frames[i].instr = take(&c, 8);
	}
	mutate_at = take(&c, 4);
	mutate_xor = take(&c, 1);
	/* each region in its own exact-size allocation, so ASan sees any read past one */
	for (unsigned i = 0; i < nregions; i++) {
		size_t len = regions[i].len < c.left ? regions[i].len : c.left;
		uint8_t *copy = malloc(len ? len : 1);

		if (!copy)
			abort();
		memcpy(copy, c.p, len);
		c.p += len;
		c.left -= len;
		regions[i].data = copy;
		regions[i].len = len;
	}
	img = (struct mem_image){regions, nregions};
	r = (struct mem_reader){.read = memread__image, .ctx = &img};

	if (minor <= 13) {
		off = *pyoffsets__table(3, minor);
	} else if (pyoffsets__from_debug_offsets(regions[0].data, regions[0].len, &off)) {
		goto out;
	}
	if (!(flags & 1))
		code_type = 0;
	if (off.frame_kind != PY_FRAME_OBJECT && off.code_code_adaptive != PYOFF_NONE) {
		for (unsigned i = 0; i < nframes; i++)
			frames[i].instr += frames[i].code + off.code_code_adaptive;
	}

	for (unsigned i = 0; i < nframes; i++) {
		enum pyobj_error reason;
		struct py_code code;

		if (pyobj__read_code(&r, &off, code_type, frames[i].code, &code, &reason)) {
			if (reason == PYOBJ_OK)
				abort();
			continue;
		}
		if (reason != PYOBJ_OK || code.linetable_len > PYOBJ_MAX_LINETABLE)
			abort();
		check_name(code.name);
		check_name(code.filename);
		if (code.qualname)
			check_name(code.qualname);
		pyobj__code_free(&code);
	}

	/* a budget of a few entries: eviction and re-reading are fuzzed too (flags bit 2) */
	cache = (flags & 4) ? symcache__new(1024, 1024) : NULL;
	s = symbolizer__new_reader(&r, &off, code_type, cache);
	if (!s)
		abort();
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < nframes; i++) {
			struct frame_sym fs;
			int rc = symbolizer__resolve(s, &frames[i], &fs);

			if (!rc != !!fs.known || fs.line < 0)
				abort();
			check_name(fs.name);
			check_name(fs.filename);
		}
		if (!(flags & 2) || !regions[0].len)
			break;
		/* the target changed under us: a reused address, a freed object */
		for (size_t k = 0; k < 64 && k < regions[0].len; k++)
			((uint8_t *)regions[0].data)[(mutate_at + k) % regions[0].len] ^=
			    mutate_xor;
		symbolizer__tick(s);
	}
	symbolizer__free(s);
	symcache__free(cache);
out:
	for (unsigned i = 0; i < nregions; i++)
		free((void *)regions[i].data);
	return 0;
}
