// SPDX-License-Identifier: MIT
/* symbolizer over code objects captured from CPython 3.6-3.13 (tests/fixtures/pymem, made by
 * capture.py): names, files and lines as CPython gives them, the cache, its revalidation when
 * an address is reused or becomes unreadable, and frames that cannot be named. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "os/memread.h"
#include "python/pyoffsets.h"
#include "python/symbolize.h"

#include "pymem_fixture.h"

/* ---- a reader over a captured image, with overlays (objects swapped in at an address), a
 * hole (an address range that became unreadable) and a read counter ---- */

struct tmem {
	const struct mem_image *img;
	struct mem_region overlay[4];
	size_t noverlay;
	uint64_t hole_start, hole_end;
	unsigned reads;
};

static int tmem_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct tmem *t = ctx;
	struct mem_image over = {.regions = t->overlay, .n = t->noverlay};

	t->reads++;
	if (t->hole_end && addr < t->hole_end && addr + len > t->hole_start)
		return -EFAULT;
	if (!memread__image(&over, addr, buf, len))
		return 0;
	return memread__image((void *)t->img, addr, buf, len);
}

/* Copies n captured bytes at addr (which must be captured) into a new buffer. */
static uint8_t *copy_bytes(const struct pymem *pm, uint64_t addr, size_t n)
{
	uint8_t *b = malloc(n);

	assert_non_null(b);
	assert_int_equal(memread__image((void *)&pm->img, addr, b, n), 0);
	return b;
}

static void overlay_add(struct tmem *t, uint64_t addr, const void *data, size_t len)
{
	assert_true(t->noverlay < 4);
	t->overlay[t->noverlay++] = (struct mem_region){.addr = addr, .data = data, .len = len};
}

/* The frame the BPF sampler would report at byte offset off of a code object at addr. */
static struct py_frame frame_at(const struct pymem *pm, const struct py_offsets *off, uint64_t addr,
				int offset)
{
	struct py_frame f = {.code = addr};

	if (pm->minor <= 9)
		f.instr = (uint64_t)(int64_t)offset; /* f_lasti in bytes */
	else if (pm->minor == 10)
		f.instr = (uint64_t)(int64_t)(offset / 2); /* f_lasti in code units */
	else
		f.instr = addr + off->code_code_adaptive + offset;
	return f;
}

static const char *display_of(const struct pymem *pm, const struct pm_code *pc)
{
	/* no source is read through a custom reader: co_name before 3.11 */
	return pm->minor >= 11 ? pc->qualname : pc->name;
}

/* CPython's line for (code idx, offset), from the capture; -2 if not captured. */
static int cpython_line(const struct pymem *pm, int idx, int offset)
{
	for (size_t i = 0; i < pm->nlines; i++)
		if (pm->lines[i].code == idx && pm->lines[i].offset == offset)
			return pm->lines[i].line;
	return -2;
}

struct env {
	struct pymem pm;
	const struct py_offsets *off;
	struct tmem mem;
	struct mem_reader reader;
	struct symbolizer *s;
};

static void env_open(struct env *e, unsigned minor)
{
	memset(e, 0, sizeof(*e));
	assert_int_equal(pymem_load(minor, &e->pm), 0);
	e->off = pyoffsets__table(3, minor);
	assert_non_null(e->off);
	e->mem.img = &e->pm.img;
	e->reader = (struct mem_reader){.read = tmem_read, .ctx = &e->mem};
	e->s = symbolizer__new_reader(&e->reader, e->off, e->pm.code_type, NULL);
	assert_non_null(e->s);
}

static void env_close(struct env *e)
{
	symbolizer__free(e->s);
	pymem_free(&e->pm);
}

static uint64_t stat(const struct env *e, enum sym_stat which)
{
	return symbolizer__stats(e->s)[which];
}

/* ---- tests ---- */

static void test_stat_names_all_set_and_distinct(void **state)
{
	for (int i = 0; i < SYM_STAT_MAX; i++) {
		assert_non_null(sym_stat_names[i]);
		assert_true(strlen(sym_stat_names[i]) > 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(sym_stat_names[i], sym_stat_names[j]);
	}
}

/* Every captured code unit of every code object is named (qualname on 3.11+, co_name before),
 * with CPython's file name and the line PyCode_Addr2Line() gave (0 where it gave none), each
 * code object read once. */
static void test_resolve_matches_cpython_every_version(void **state)
{
	for (unsigned minor = 6; minor <= 13; minor++) {
		struct env e;
		uint64_t no_line = 0;

		env_open(&e, minor);
		for (size_t i = 0; i < e.pm.nlines; i++) {
			const struct pm_line *pl = &e.pm.lines[i];
			const struct pm_code *pc = &e.pm.codes[pl->code];
			struct py_frame f = frame_at(&e.pm, e.off, pc->addr, pl->offset);
			struct frame_sym fs = {0};
			int want = pl->line < 0 ? 0 : pl->line;

			assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
			assert_int_equal(fs.known, 1);
			assert_string_equal(fs.name, display_of(&e.pm, pc));
			assert_string_equal(fs.filename, pc->filename);
			if (fs.line != want)
				fail_msg("3.%u %s offset %d: line %d, CPython says %d", minor,
					 pc->name, pl->offset, fs.line, pl->line);
			no_line += pl->line < 0;
		}
		assert_int_equal(stat(&e, SYM_STAT_FRAMES), e.pm.nlines);
		assert_int_equal(stat(&e, SYM_STAT_CODE_READS), e.pm.ncodes);
		assert_int_equal(stat(&e, SYM_STAT_REVALIDATIONS), 0);
		assert_int_equal(stat(&e, SYM_STAT_NO_LINE), no_line);
		assert_int_equal(stat(&e, SYM_STAT_BAD_LINETABLE), 0);
		assert_int_equal(stat(&e, SYM_STAT_UNREADABLE), 0);
		assert_int_equal(stat(&e, SYM_STAT_QUALNAME_DERIVED), 0);
		/* 3.10+ have offsets past the end with no line; 3.6-3.9 answer the last line */
		if (minor >= 10)
			assert_true(no_line >= e.pm.ncodes);
		else
			assert_int_equal(no_line, 0);
		env_close(&e);
	}
}

/* A frame that has not started (f_lasti -1, sign-extended by the sampler, or an instruction
 * pointer before the first instruction) is on the code object's first line. */
static void test_frame_not_started_is_on_first_line(void **state)
{
	for (unsigned minor = 6; minor <= 13; minor++) {
		struct env e;
		const struct pm_code *pc;
		struct py_frame f;
		struct frame_sym fs;

		env_open(&e, minor);
		pc = pymem_find(&e.pm, "plain");
		f.code = pc->addr;
		if (minor <= 10)
			f.instr = (uint64_t)-1;
		else
			f.instr = pc->addr + e.off->code_code_adaptive - 2;
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
		assert_int_equal(fs.line, pc->firstlineno);
		assert_true(fs.line > 40); /* "def plain" is near the end of target.py */
		env_close(&e);
	}
}

/* Resolving the same frames again in the same period reads nothing from the target. */
static void test_second_resolve_served_from_cache(void **state)
{
	for (unsigned minor = 6; minor <= 13; minor++) {
		struct env e;
		const char *first_names[256];

		env_open(&e, minor);
		assert_true(e.pm.nlines <= 512);
		for (size_t i = 0; i < e.pm.nlines && i < 256; i++) {
			const struct pm_code *pc = &e.pm.codes[e.pm.lines[i].code];
			struct py_frame f = frame_at(&e.pm, e.off, pc->addr, e.pm.lines[i].offset);
			struct frame_sym fs;

			assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
			first_names[i] = fs.name;
		}
		e.mem.reads = 0;
		for (size_t i = 0; i < e.pm.nlines && i < 256; i++) {
			const struct pm_code *pc = &e.pm.codes[e.pm.lines[i].code];
			struct py_frame f = frame_at(&e.pm, e.off, pc->addr, e.pm.lines[i].offset);
			struct frame_sym fs;

			assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
			assert_ptr_equal(fs.name, first_names[i]);
		}
		assert_int_equal(e.mem.reads, 0);
		assert_int_equal(stat(&e, SYM_STAT_REVALIDATIONS), 0);
		env_close(&e);
	}
}

/* After a tick, a cached code object is checked once (one small read) and kept if unchanged. */
static void test_tick_revalidates_once_per_period(void **state)
{
	struct env e;
	const struct pm_code *pc;
	struct frame_sym fs;
	struct py_frame f;
	uint64_t reads;

	env_open(&e, 12);
	pc = pymem_find(&e.pm, "area");
	f = frame_at(&e.pm, e.off, pc->addr, 2);
	assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
	reads = stat(&e, SYM_STAT_CODE_READS);
	for (int period = 1; period <= 3; period++) {
		symbolizer__tick(e.s);
		e.mem.reads = 0;
		for (int i = 0; i < 5; i++) {
			f = frame_at(&e.pm, e.off, pc->addr, 2 * i);
			assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
			assert_string_equal(fs.name, "Shape.area");
		}
		assert_int_equal(e.mem.reads, 1);
		assert_int_equal(stat(&e, SYM_STAT_REVALIDATIONS), period);
	}
	assert_int_equal(stat(&e, SYM_STAT_CODE_READS), reads);
	assert_int_equal(stat(&e, SYM_STAT_REUSED_ADDRESS), 0);
	env_close(&e);
}

/* After a tick, an address that now holds another code object gives the new object's name,
 * file and lines (cached lines of the old object are dropped), and the reuse is counted. */
static void test_reused_address_gives_new_name_every_version(void **state)
{
	for (unsigned minor = 6; minor <= 13; minor++) {
		struct env e;
		const struct pm_code *a, *b;
		int ia, ib, offset = 2, want_b;
		struct frame_sym fs;
		struct py_frame f;
		uint8_t *b_header;

		env_open(&e, minor);
		a = pymem_find(&e.pm, "area");
		b = pymem_find(&e.pm, "plain");
		ia = (int)(a - e.pm.codes);
		ib = (int)(b - e.pm.codes);
		want_b = cpython_line(&e.pm, ib, offset);
		assert_true(want_b > 0);
		assert_int_not_equal(cpython_line(&e.pm, ia, offset), want_b);
		f = frame_at(&e.pm, e.off, a->addr, offset);
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
		assert_string_equal(fs.name, display_of(&e.pm, a));
		assert_int_equal(fs.line, cpython_line(&e.pm, ia, offset));

		/* b's header (the fields userspace reads) now at a's address */
		b_header = copy_bytes(&e.pm, b->addr, e.off->code_size);
		overlay_add(&e.mem, a->addr, b_header, e.off->code_size);
		/* within the same period the cache is trusted */
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
		assert_string_equal(fs.name, display_of(&e.pm, a));

		symbolizer__tick(e.s);
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
		assert_int_equal(fs.known, 1);
		assert_string_equal(fs.name, display_of(&e.pm, b));
		assert_string_equal(fs.filename, b->filename);
		if (fs.line != want_b)
			fail_msg("3.%u: line %d after reuse, want plain's %d", minor, fs.line,
				 want_b);
		assert_int_equal(stat(&e, SYM_STAT_REUSED_ADDRESS), 1);
		assert_int_equal(stat(&e, SYM_STAT_CODE_READS), 2);
		/* and it stays the new object */
		symbolizer__tick(e.s);
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
		assert_string_equal(fs.name, display_of(&e.pm, b));
		assert_int_equal(stat(&e, SYM_STAT_REUSED_ADDRESS), 1);
		env_close(&e);
		free(b_header);
	}
}

/* The check word BPF puts in a frame of the code object whose header is hdr. */
static uint64_t check_of(const struct py_offsets *off, const uint8_t *hdr)
{
	uint64_t w[3];

	assert_int_equal(py_code_id_offset(off), off->code_filename);
	memcpy(w, hdr + off->code_filename, sizeof(w));
	return py_code_check(w[0], w[1], w[2]) << PY_CODE_ADDR_BITS;
}

/* A code object freed and its memory taken by another between a sample and its naming: with the
 * check the sampler sends, each sample is named by the object it was taken of, or not at all,
 * whatever the cache holds and whenever its period ends. */
static void test_check_names_the_sampled_object_or_none(void **state)
{
	for (unsigned minor = 6; minor <= 13; minor++) {
		struct env e;
		const struct pm_code *a, *b;
		uint8_t *a_header, *b_header;
		uint64_t check_a, check_b;
		struct frame_sym fs;
		struct py_frame f;

		env_open(&e, minor);
		a = pymem_find(&e.pm, "area");
		b = pymem_find(&e.pm, "plain");
		a_header = copy_bytes(&e.pm, a->addr, e.off->code_size);
		b_header = copy_bytes(&e.pm, b->addr, e.off->code_size);
		check_a = check_of(e.off, a_header);
		check_b = check_of(e.off, b_header);
		assert_int_not_equal(check_a, check_b);
		f = frame_at(&e.pm, e.off, a->addr, 2);
		f.code |= check_a;
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
		assert_string_equal(fs.name, display_of(&e.pm, a));

		/* a is freed, b's header now at a's address, within one period */
		overlay_add(&e.mem, a->addr, b_header, e.off->code_size);
		/* a sample taken before: still a's, from the cache */
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
		assert_string_equal(fs.name, display_of(&e.pm, a));
		/* a sample of the new object: the cache is not trusted, the object read again */
		f.code = a->addr | check_b;
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
		assert_string_equal(fs.name, display_of(&e.pm, b));
		assert_int_equal(stat(&e, SYM_STAT_REUSED_ADDRESS), 1);
		/* a late sample of a, named after b took its place: unknown, never b's name */
		f.code = a->addr | check_a;
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), -ENOENT);
		assert_int_equal(fs.known, 0);
		assert_int_equal(stat(&e, SYM_STAT_CODE_REPLACED), 1);
		/* without a check (a sampler that could not read one), the object there now */
		f.code = a->addr;
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
		assert_string_equal(fs.name, display_of(&e.pm, b));
		env_close(&e);
		free(a_header);
		free(b_header);
	}
}

/* Over its budget the cache evicts the least recently used code objects, of any symbolizer that
 * shares it, and reads them again when they come back: names stay right, never guessed. */
static void test_budget_evicts_and_rereads_right_names(void **state)
{
	for (unsigned minor = 6; minor <= 13; minor++) {
		struct env e;
		struct symcache *tiny = symcache__new(1, 1); /* holds one entry: the one in use */

		env_open(&e, minor);
		symbolizer__free(e.s);
		e.s = symbolizer__new_reader(&e.reader, e.off, e.pm.code_type, tiny);
		for (int pass = 0; pass < 2; pass++) {
			for (size_t i = 0; i < e.pm.nlines; i++) {
				const struct pm_line *pl = &e.pm.lines[i];
				const struct pm_code *pc = &e.pm.codes[pl->code];
				struct py_frame f = frame_at(&e.pm, e.off, pc->addr, pl->offset);
				struct frame_sym fs = {0};

				assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
				assert_string_equal(fs.name, display_of(&e.pm, pc));
				assert_string_equal(fs.filename, pc->filename);
				assert_int_equal(fs.line, pl->line < 0 ? 0 : pl->line);
				assert_true(symcache__codes(tiny)->n <= 1);
			}
		}
		/* every change of code object was a miss, and evicted the one before */
		assert_true(symcache__codes(tiny)->stats[LRU_MISSES] >= 2 * e.pm.ncodes);
		assert_int_equal(symcache__codes(tiny)->stats[LRU_EVICTIONS],
				 symcache__codes(tiny)->stats[LRU_MISSES] - 1);
		assert_int_equal(symcache__stats(tiny)[SYM_STAT_CODE_READS],
				 symcache__codes(tiny)->stats[LRU_MISSES]);
		env_close(&e);
		symcache__free(tiny);
	}
}

/* One budget for every symbolizer of a cache: the bytes it counts are those its entries hold,
 * whichever process they came from, and a symbolizer freed takes its entries out. */
static void test_budget_is_shared_and_released(void **state)
{
	struct symcache *c = symcache__new(SYMCACHE_CODE_BYTES, SYMCACHE_SOURCE_BYTES);
	struct env e;
	struct symbolizer *other;
	size_t one;

	env_open(&e, 12);
	symbolizer__free(e.s);
	e.s = symbolizer__new_reader(&e.reader, e.off, e.pm.code_type, c);
	other = symbolizer__new_reader(&e.reader, e.off, e.pm.code_type, c);
	for (size_t i = 0; i < e.pm.ncodes; i++) {
		struct py_frame f = frame_at(&e.pm, e.off, e.pm.codes[i].addr, 0);
		struct frame_sym fs;

		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
	}
	one = symcache__codes(c)->bytes;
	assert_int_equal(symcache__codes(c)->n, e.pm.ncodes);
	assert_true(one > e.pm.ncodes * 64); /* names, files and line tables are counted */
	for (size_t i = 0; i < e.pm.ncodes; i++) {
		struct py_frame f = frame_at(&e.pm, e.off, e.pm.codes[i].addr, 0);
		struct frame_sym fs;

		assert_int_equal(symbolizer__resolve(other, &f, &fs), 0);
	}
	assert_int_equal(symcache__codes(c)->n, 2 * e.pm.ncodes);
	assert_int_equal(symcache__codes(c)->bytes, 2 * one);
	symbolizer__free(other);
	assert_int_equal(symcache__codes(c)->n, e.pm.ncodes);
	assert_int_equal(symcache__codes(c)->bytes, one);
	env_close(&e);
	assert_int_equal(symcache__codes(c)->n, 0);
	assert_int_equal(symcache__codes(c)->bytes, 0);
	symcache__free(c);
}

/* Entries unused for SYMCACHE_IDLE_S leave the cache at a tick, counted as evictions; a code
 * object used since stays; one that left is read again, with its right name. */
static void test_idle_entries_leave_at_a_tick(void **state)
{
	struct symcache *c = symcache__new(SYMCACHE_CODE_BYTES, SYMCACHE_SOURCE_BYTES);
	uint64_t t0 = symcache__codes(c)->now;
	struct frame_sym fs, again;
	char second[256] = "";
	struct py_frame f;
	struct env e;

	env_open(&e, 12);
	symbolizer__free(e.s);
	e.s = symbolizer__new_reader(&e.reader, e.off, e.pm.code_type, c);
	assert_true(e.pm.ncodes >= 2);
	for (size_t i = 0; i < e.pm.ncodes; i++) {
		f = frame_at(&e.pm, e.off, e.pm.codes[i].addr, 0);
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
		if (i == 1)
			snprintf(second, sizeof(second), "%s", fs.name);
	}
	symcache__tick(c, t0 + SYMCACHE_IDLE_S - 1);
	assert_int_equal(symcache__codes(c)->n, e.pm.ncodes);
	f = frame_at(&e.pm, e.off, e.pm.codes[0].addr, 0);
	assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0); /* used at t0 + IDLE - 1 */
	symcache__tick(c, t0 + SYMCACHE_IDLE_S);
	assert_int_equal(symcache__codes(c)->n, 1);
	assert_int_equal(symcache__codes(c)->stats[LRU_EVICTIONS], e.pm.ncodes - 1);
	f = frame_at(&e.pm, e.off, e.pm.codes[1].addr, 0);
	assert_int_equal(symbolizer__resolve(e.s, &f, &again), 0);
	assert_string_equal(again.name, second);
	assert_int_equal(symcache__codes(c)->n, 2);
	symcache__tick(c, t0 + 10 * SYMCACHE_IDLE_S);
	assert_int_equal(symcache__codes(c)->n, 0);
	env_close(&e);
	symcache__free(c);
}

/* When a cached code object becomes unreadable (freed, or the process exited), the cached name
 * and lines are used and counted. */
static void test_unreadable_after_tick_named_from_cache(void **state)
{
	for (unsigned minor = 6; minor <= 13; minor++) {
		struct env e;
		const struct pm_code *a;
		struct frame_sym fs;
		struct py_frame f;
		int line;

		env_open(&e, minor);
		a = pymem_find(&e.pm, "inner");
		f = frame_at(&e.pm, e.off, a->addr, 4);
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
		line = fs.line;
		assert_true(line > 0);
		e.mem.hole_start = a->addr;
		e.mem.hole_end = a->addr + e.off->code_size;
		symbolizer__tick(e.s);
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
		assert_int_equal(fs.known, 1);
		assert_string_equal(fs.name, display_of(&e.pm, a));
		assert_string_equal(fs.filename, a->filename);
		assert_int_equal(fs.line, line);
		assert_int_equal(stat(&e, SYM_STAT_FROM_CACHE_DEAD), 1);
		assert_int_equal(stat(&e, SYM_STAT_UNREADABLE), 0);
		assert_int_equal(stat(&e, SYM_STAT_REUSED_ADDRESS), 0);
		/* a line never computed before is still computed from the cached table */
		f = frame_at(&e.pm, e.off, a->addr, 0);
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
		assert_int_equal(fs.line, cpython_line(&e.pm, (int)(a - e.pm.codes), 0) < 0
					      ? 0
					      : cpython_line(&e.pm, (int)(a - e.pm.codes), 0));
		env_close(&e);
	}
}

/* An address never seen and unreadable cannot be named. */
static void test_unknown_unreadable_address(void **state)
{
	struct env e;
	struct frame_sym fs = {.known = 1, .line = 5};
	struct py_frame f = {.code = 0xdead0000, .instr = 8};

	env_open(&e, 11);
	assert_int_equal(symbolizer__resolve(e.s, &f, &fs), -ENOENT);
	assert_int_equal(fs.known, 0);
	assert_string_equal(fs.name, "<unknown>");
	assert_non_null(fs.filename);
	assert_int_equal(fs.line, 0);
	assert_int_equal(stat(&e, SYM_STAT_UNREADABLE), 1);
	f.code = 0;
	assert_int_equal(symbolizer__resolve(e.s, &f, &fs), -ENOENT);
	assert_int_equal(fs.known, 0);
	assert_int_equal(stat(&e, SYM_STAT_UNREADABLE), 2);
	/* still unknown after a tick: nothing was cached */
	symbolizer__tick(e.s);
	f.code = 0xdead0000;
	assert_int_equal(symbolizer__resolve(e.s, &f, &fs), -ENOENT);
	assert_int_equal(stat(&e, SYM_STAT_FROM_CACHE_DEAD), 0);
	assert_int_equal(stat(&e, SYM_STAT_FRAMES), 3);
	env_close(&e);
}

/* Objects that are not (usable) code objects: each failure is unknown and counted by reason. */
static void test_not_code_bad_string_bad_linetable_counted(void **state)
{
	for (unsigned minor = 6; minor <= 13; minor += 7) {
		struct env e;
		const struct pm_code *a;
		uint8_t *hdr[3];
		uint64_t at[3] = {0x5000000, 0x5001000, 0x5002000}, junk = 0x10;
		struct frame_sym fs;
		struct py_frame f;

		env_open(&e, minor);
		a = pymem_find(&e.pm, "area");
		for (int i = 0; i < 3; i++)
			hdr[i] = copy_bytes(&e.pm, a->addr, e.off->code_size);
		memcpy(hdr[0] + e.off->object_type, &junk, 8);	  /* a wrong type */
		memcpy(hdr[1] + e.off->code_name, &junk, 8);	  /* a wild name */
		memcpy(hdr[2] + e.off->code_linetable, &junk, 8); /* a wild line table */
		for (int i = 0; i < 3; i++)
			overlay_add(&e.mem, at[i], hdr[i], e.off->code_size);

		f = (struct py_frame){.code = at[0]};
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), -ENOENT);
		assert_int_equal(fs.known, 0);
		assert_int_equal(stat(&e, SYM_STAT_NOT_CODE), 1);
		f.code = at[1];
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), -ENOENT);
		assert_int_equal(fs.known, 0);
		assert_int_equal(stat(&e, SYM_STAT_BAD_STRING), 1);
		f.code = at[2];
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), -ENOENT);
		assert_int_equal(fs.known, 0);
		assert_int_equal(stat(&e, SYM_STAT_BAD_LINETABLE), 1);
		assert_int_equal(stat(&e, SYM_STAT_UNREADABLE), 0);
		/* the genuine copy at a fourth address is named */
		overlay_add(&e.mem, 0x5003000, copy_bytes(&e.pm, a->addr, e.off->code_size),
			    e.off->code_size);
		f.code = 0x5003000;
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
		assert_string_equal(fs.name, display_of(&e.pm, a));
		free((void *)e.mem.overlay[3].data);
		for (int i = 0; i < 3; i++)
			free(hdr[i]);
		env_close(&e);
	}
}

/* An instruction absurdly far from the code start has no line, and does not crash. */
static void test_absurd_instruction_has_no_line(void **state)
{
	for (unsigned minor = 6; minor <= 13; minor++) {
		struct env e;
		const struct pm_code *a;
		struct frame_sym fs;
		struct py_frame f;

		env_open(&e, minor);
		a = pymem_find(&e.pm, "area");
		f.code = a->addr;
		f.instr = minor <= 10 ? (uint64_t)INT32_MAX : a->addr + (1ULL << 40);
		assert_int_equal(symbolizer__resolve(e.s, &f, &fs), 0);
		assert_int_equal(fs.known, 1);
		assert_string_equal(fs.name, display_of(&e.pm, a));
		if (minor >= 10)
			assert_int_equal(fs.line, 0);
		else
			assert_true(fs.line >= 0);
		env_close(&e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stat_names_all_set_and_distinct),
	    cmocka_unit_test(test_resolve_matches_cpython_every_version),
	    cmocka_unit_test(test_check_names_the_sampled_object_or_none),
	    cmocka_unit_test(test_frame_not_started_is_on_first_line),
	    cmocka_unit_test(test_second_resolve_served_from_cache),
	    cmocka_unit_test(test_tick_revalidates_once_per_period),
	    cmocka_unit_test(test_reused_address_gives_new_name_every_version),
	    cmocka_unit_test(test_budget_evicts_and_rereads_right_names),
	    cmocka_unit_test(test_budget_is_shared_and_released),
	    cmocka_unit_test(test_idle_entries_leave_at_a_tick),
	    cmocka_unit_test(test_unreadable_after_tick_named_from_cache),
	    cmocka_unit_test(test_unknown_unreadable_address),
	    cmocka_unit_test(test_not_code_bad_string_bad_linetable_counted),
	    cmocka_unit_test(test_absurd_instruction_has_no_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
