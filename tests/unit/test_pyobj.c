// SPDX-License-Identifier: MIT
/* pyobj on code objects captured from CPython 3.6-3.13 (tests/fixtures/pymem, made by
 * capture.py), and on hand-built hostile objects: wrong type, absurd lengths, bad kinds. */
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
#include "python/pyobj.h"
#include "python/pyoffsets.h"

/* Largest allocation made while tracking: hostile lengths must be refused before allocating.
 * Sanitizers intercept malloc themselves, so the tracker is left out of those builds. */
#if defined(__SANITIZE_ADDRESS__)
#define TRACK_MALLOC 0
#else
#define TRACK_MALLOC 1
#endif
static int tracking;
static size_t track_max;
#if TRACK_MALLOC
extern void *__libc_malloc(size_t n);
void *malloc(size_t n)
{
	if (tracking && n > track_max)
		track_max = n;
	return __libc_malloc(n);
}
#endif

static void track_start(void)
{
	track_max = 0;
	tracking = 1;
}

static size_t track_stop(void)
{
	tracking = 0;
	return track_max;
}

#include "pymem_fixture.h"

/* ---- tests on captured memory ---- */

/* Every version 3.6-3.13 was captured: a missing fixture is an error, not a skip. */
static void test_fixtures_cover_every_version(void **state)
{
	for (unsigned minor = 6; minor <= 13; minor++) {
		struct pymem pm;

		if (pymem_load(minor, &pm))
			fail_msg("tests/fixtures/pymem/code-3.%u.txt missing: run capture.py",
				 minor);
		assert_int_equal(pm.ncodes, 9);
		pymem_free(&pm);
	}
}

/* The built-in tables agree with where the captured code objects really hold their type and
 * their name, qualname, filename and line table pointers. */
static void test_offsets_table_matches_captured_headers(void **state)
{
	for (unsigned minor = 6; minor <= 13; minor++) {
		const struct py_offsets *off = pyoffsets__table(3, minor);
		struct pymem pm;

		assert_int_equal(pymem_load(minor, &pm), 0);
		assert_non_null(off);
		assert_int_equal(off->object_type, pm.obs_type);
		assert_int_equal(off->code_name, pm.obs_name);
		assert_int_equal(off->code_filename, pm.obs_filename);
		assert_int_equal(off->code_linetable, pm.obs_linetable);
		if (minor >= 11)
			assert_int_equal(off->code_qualname, pm.obs_qualname);
		else
			assert_int_equal(off->code_qualname, PYOFF_NONE);
		pymem_free(&pm);
	}
}

/* pyobj__read_code gives, for every captured code object, what CPython said about it. */
static void test_read_code_matches_cpython_every_version(void **state)
{
	for (unsigned minor = 6; minor <= 13; minor++) {
		const struct py_offsets *off = pyoffsets__table(3, minor);
		struct mem_reader r;
		struct pymem pm;

		assert_int_equal(pymem_load(minor, &pm), 0);
		r = (struct mem_reader){.read = memread__image, .ctx = &pm.img};
		for (size_t i = 0; i < pm.ncodes; i++) {
			const struct pm_code *pc = &pm.codes[i];
			enum pyobj_error reason = PYOBJ_NOT_CODE;
			struct py_code c;
			int err = pyobj__read_code(&r, off, pm.code_type, pc->addr, &c, &reason);

			if (err)
				fail_msg("3.%u %s: pyobj__read_code = %d, reason %d", minor,
					 pc->name, err, reason);
			assert_int_equal(reason, PYOBJ_OK);
			assert_string_equal(c.name, pc->name);
			assert_string_equal(c.filename, pc->filename);
			assert_int_equal(c.firstlineno, pc->firstlineno);
			if (minor >= 11) {
				assert_non_null(c.qualname);
				assert_string_equal(c.qualname, pc->qualname);
				assert_int_equal(c.code_start, pc->addr + off->code_code_adaptive);
			} else {
				assert_null(c.qualname);
				assert_int_equal(c.code_start, 0);
			}
			assert_int_equal(c.linetable_len, pc->linetable_len);
			assert_true(c.linetable_len > 0);
			assert_memory_equal(c.linetable, pc->linetable, pc->linetable_len);
			assert_int_equal(c.id.type, pm.code_type);
			pyobj__code_free(&c);
			assert_null(c.name);
		}
		pymem_free(&pm);
	}
}

/* Non-ASCII names of each PEP 393 kind come back as UTF-8: "café" (1-byte kind, not ASCII),
 * "函数" (2-byte kind) and "𠀀x" (4-byte kind). */
static void test_read_code_non_ascii_names_utf8(void **state)
{
	for (unsigned minor = 6; minor <= 13; minor++) {
		const struct py_offsets *off = pyoffsets__table(3, minor);
		struct mem_reader r;
		struct pymem pm;
		static const char *const names[] = {"caf\xc3\xa9", "\xe5\x87\xbd\xe6\x95\xb0",
						    "\xf0\xa0\x80\x80x"};

		assert_int_equal(pymem_load(minor, &pm), 0);
		r = (struct mem_reader){.read = memread__image, .ctx = &pm.img};
		for (size_t i = 0; i < 3; i++) {
			const struct pm_code *pc = pymem_find(&pm, names[i]);
			struct py_code c;
			enum pyobj_error reason;

			assert_int_equal(
			    pyobj__read_code(&r, off, pm.code_type, pc->addr, &c, &reason), 0);
			assert_string_equal(c.name, names[i]);
			pyobj__code_free(&c);
		}
		pymem_free(&pm);
	}
}

/* The identifying fields read alone equal those of the full read. */
static void test_read_code_id_matches_full_read(void **state)
{
	for (unsigned minor = 6; minor <= 13; minor++) {
		const struct py_offsets *off = pyoffsets__table(3, minor);
		struct mem_reader r;
		struct pymem pm;

		assert_int_equal(pymem_load(minor, &pm), 0);
		r = (struct mem_reader){.read = memread__image, .ctx = &pm.img};
		for (size_t i = 0; i < pm.ncodes; i++) {
			struct py_code_id id;
			struct py_code c;
			enum pyobj_error reason;

			assert_int_equal(pyobj__read_code_id(&r, off, pm.codes[i].addr, &id), 0);
			assert_int_equal(
			    pyobj__read_code(&r, off, 0, pm.codes[i].addr, &c, &reason), 0);
			assert_int_equal(id.type, pm.code_type);
			assert_int_equal(id.name, c.id.name);
			assert_int_equal(id.filename, c.id.filename);
			assert_int_equal(id.qualname, c.id.qualname);
			assert_int_equal(id.linetable, c.id.linetable);
			assert_int_equal(id.firstlineno, pm.codes[i].firstlineno);
			assert_true(id.name != 0 && id.filename != 0 && id.linetable != 0);
			assert_int_equal(id.qualname != 0, minor >= 11);
			pyobj__code_free(&c);
		}
		pymem_free(&pm);
	}
}

/* A code object read with the wrong type address is not named; unchecked (0) it is. */
static void test_read_code_wrong_type_is_not_code(void **state)
{
	const struct py_offsets *off = pyoffsets__table(3, 12);
	struct mem_reader r;
	struct pymem pm;
	struct py_code c;
	enum pyobj_error reason = PYOBJ_OK;

	assert_int_equal(pymem_load(12, &pm), 0);
	r = (struct mem_reader){.read = memread__image, .ctx = &pm.img};
	assert_int_equal(
	    pyobj__read_code(&r, off, pm.code_type + 16, pm.codes[0].addr, &c, &reason), -EINVAL);
	assert_int_equal(reason, PYOBJ_NOT_CODE);
	assert_int_equal(pyobj__read_code(&r, off, 0, pm.codes[0].addr, &c, &reason), 0);
	assert_int_equal(reason, PYOBJ_OK);
	pyobj__code_free(&c);
	pymem_free(&pm);
}

/* Unreadable and NULL code addresses. */
static void test_read_code_unreadable(void **state)
{
	const struct py_offsets *off = pyoffsets__table(3, 11);
	struct mem_reader r;
	struct pymem pm;
	struct py_code c;
	enum pyobj_error reason = PYOBJ_OK;

	assert_int_equal(pymem_load(11, &pm), 0);
	r = (struct mem_reader){.read = memread__image, .ctx = &pm.img};
	assert_int_equal(pyobj__read_code(&r, off, pm.code_type, 0, &c, &reason), -EFAULT);
	assert_int_equal(reason, PYOBJ_UNREADABLE);
	reason = PYOBJ_OK;
	assert_true(pyobj__read_code(&r, off, pm.code_type, 0x1000, &c, &reason) < 0);
	assert_int_equal(reason, PYOBJ_UNREADABLE);
	reason = PYOBJ_OK;
	assert_true(pyobj__read_code(&r, off, pm.code_type, UINT64_MAX - 8, &c, &reason) < 0);
	assert_int_equal(reason, PYOBJ_UNREADABLE);
	pymem_free(&pm);
}

/* ---- hand-built hostile objects ---- */

/* A scratch memory: one region at BASE, objects placed at fixed offsets in it. */
#define BASE	    0x10000000ULL
#define SCRATCH_LEN 65536

struct scratch {
	uint8_t mem[SCRATCH_LEN];
	struct mem_region region;
	struct mem_image img;
	struct mem_reader r;
};

static struct scratch *scratch_new(void)
{
	struct scratch *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->region = (struct mem_region){.addr = BASE, .data = s->mem, .len = SCRATCH_LEN};
	s->img = (struct mem_image){.regions = &s->region, .n = 1};
	s->r = (struct mem_reader){.read = memread__image, .ctx = &s->img};
	return s;
}

static void put_u32(struct scratch *s, uint64_t addr, uint32_t v)
{
	memcpy(s->mem + (addr - BASE), &v, 4);
}

static void put_u64(struct scratch *s, uint64_t addr, uint64_t v)
{
	memcpy(s->mem + (addr - BASE), &v, 8);
}

#define KIND(k) ((uint32_t)(k) << 2)
#define COMPACT (1u << 5)
#define ASCII	(1u << 6)

/* A str header at addr: state and length; returns where compact data goes. */
static uint64_t put_str_header(struct scratch *s, const struct py_offsets *off, uint64_t addr,
			       uint32_t state, int64_t length)
{
	put_u32(s, addr + off->unicode_state, state);
	put_u64(s, addr + off->unicode_length, (uint64_t)length);
	return addr + ((state & ASCII) ? off->unicode_ascii_size : off->unicode_compact_size);
}

static uint64_t put_ascii(struct scratch *s, const struct py_offsets *off, uint64_t addr,
			  const char *text)
{
	uint64_t data = put_str_header(s, off, addr, KIND(1) | COMPACT | ASCII, strlen(text));

	memcpy(s->mem + (data - BASE), text, strlen(text) + 1);
	return addr;
}

static uint64_t put_bytes(struct scratch *s, const struct py_offsets *off, uint64_t addr,
			  const void *data, int64_t size, size_t real)
{
	put_u64(s, addr + off->bytes_size, (uint64_t)size);
	memcpy(s->mem + (addr + off->bytes_sval - BASE), data, real);
	return addr;
}

/* A code object at addr whose fields point to the given objects. */
static void put_code(struct scratch *s, const struct py_offsets *off, uint64_t addr, uint64_t type,
		     uint64_t name, uint64_t qualname, uint64_t filename, uint64_t linetable,
		     int32_t firstlineno)
{
	put_u64(s, addr + off->object_type, type);
	put_u64(s, addr + off->code_name, name);
	put_u64(s, addr + off->code_filename, filename);
	put_u64(s, addr + off->code_linetable, linetable);
	put_u32(s, addr + off->code_firstlineno, (uint32_t)firstlineno);
	if (off->code_qualname != PYOFF_NONE)
		put_u64(s, addr + off->code_qualname, qualname);
}

static const struct py_offsets *both_layouts[2];

static int setup_layouts(void **state)
{
	both_layouts[0] = pyoffsets__table(3, 9);  /* with wstr, no qualname */
	both_layouts[1] = pyoffsets__table(3, 12); /* without wstr, with qualname */
	return !both_layouts[0] || !both_layouts[1];
}

/* A well-formed hand-built code object reads back; then each pointer broken in turn gives the
 * documented reason. */
static void test_hand_built_code_and_each_broken_pointer(void **state)
{
	for (int l = 0; l < 2; l++) {
		const struct py_offsets *off = both_layouts[l];
		struct scratch *s = scratch_new();
		uint64_t type = 0x7000, code = BASE + 0x100, name, qual, file, lt, nowhere = 0x20;
		struct py_code c;
		enum pyobj_error reason;

		name = put_ascii(s, off, BASE + 0x1000, "fn");
		qual = put_ascii(s, off, BASE + 0x1100, "Cls.fn");
		file = put_ascii(s, off, BASE + 0x1200, "/srv/app.py");
		lt = put_bytes(s, off, BASE + 0x1300, "\x00\x01\x02\x01", 4, 4);
		put_code(s, off, code, type, name, qual, file, lt, 17);
		assert_int_equal(pyobj__read_code(&s->r, off, type, code, &c, &reason), 0);
		assert_string_equal(c.name, "fn");
		assert_string_equal(c.filename, "/srv/app.py");
		if (off->code_qualname != PYOFF_NONE)
			assert_string_equal(c.qualname, "Cls.fn");
		assert_int_equal(c.firstlineno, 17);
		assert_int_equal(c.linetable_len, 4);
		assert_memory_equal(c.linetable, "\x00\x01\x02\x01", 4);
		pyobj__code_free(&c);

		put_code(s, off, code, type, nowhere, qual, file, lt, 17);
		assert_true(pyobj__read_code(&s->r, off, type, code, &c, &reason) < 0);
		assert_int_equal(reason, PYOBJ_BAD_STRING);
		put_code(s, off, code, type, name, qual, 0, lt, 17);
		assert_true(pyobj__read_code(&s->r, off, type, code, &c, &reason) < 0);
		assert_int_equal(reason, PYOBJ_BAD_STRING);
		if (off->code_qualname != PYOFF_NONE) {
			put_code(s, off, code, type, name, nowhere, file, lt, 17);
			assert_true(pyobj__read_code(&s->r, off, type, code, &c, &reason) < 0);
			assert_int_equal(reason, PYOBJ_BAD_STRING);
		}
		put_code(s, off, code, type, name, qual, file, nowhere, 17);
		assert_true(pyobj__read_code(&s->r, off, type, code, &c, &reason) < 0);
		assert_int_equal(reason, PYOBJ_BAD_LINETABLE);
		put_code(s, off, code, type, name, qual, file, 0, 17);
		assert_true(pyobj__read_code(&s->r, off, type, code, &c, &reason) < 0);
		assert_int_equal(reason, PYOBJ_BAD_LINETABLE);
		/* a negative first line is carried as is (the line table decides lines) */
		put_code(s, off, code, type, name, qual, file, lt, -5);
		assert_int_equal(pyobj__read_code(&s->r, off, type, code, &c, &reason), 0);
		assert_int_equal(c.firstlineno, -5);
		pyobj__code_free(&c);
		/* the type is checked before anything it points to is read */
		put_code(s, off, code, type + 1, nowhere, nowhere, nowhere, nowhere, 1);
		assert_int_equal(pyobj__read_code(&s->r, off, type, code, &c, &reason), -EINVAL);
		assert_int_equal(reason, PYOBJ_NOT_CODE);
		free(s);
	}
}

/* Absurd and negative string lengths are refused before any allocation of that size. */
static void test_str_absurd_length_is_e2big_without_big_allocation(void **state)
{
	static const int64_t lengths[] = {
	    1LL << 40, -1, INT64_MIN, INT64_MAX, PYOBJ_MAX_STR + 1, (1LL << 62) + 1,
	};

	for (int l = 0; l < 2; l++) {
		const struct py_offsets *off = both_layouts[l];
		struct scratch *s = scratch_new();

		for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
			for (unsigned kind = 1; kind <= 4; kind *= 2) {
				char *out = (char *)0x1;
				size_t biggest;
				int err;

				put_str_header(s, off, BASE + 0x100,
					       KIND(kind) | COMPACT | (kind == 1 ? ASCII : 0),
					       lengths[i]);
				track_start();
				err = pyobj__read_str(&s->r, off, BASE + 0x100, &out);
				biggest = track_stop();
				if (err != -E2BIG)
					fail_msg("length %" PRId64 " kind %u: %d, want -E2BIG",
						 lengths[i], kind, err);
				assert_ptr_equal(out, (char *)0x1);
				assert_true(biggest <= 64);
			}
		}
		free(s);
	}
}

/* The longest string accepted reads whole, with allocations bounded by it. */
static void test_str_at_max_length_reads_whole(void **state)
{
	const struct py_offsets *off = both_layouts[1];
	struct scratch *s = scratch_new();
	uint64_t data = put_str_header(s, off, BASE + 0x100, KIND(2) | COMPACT, PYOBJ_MAX_STR);
	char *out = NULL;
	size_t biggest;

	for (int i = 0; i < PYOBJ_MAX_STR; i++)
		memcpy(s->mem + (data - BASE) + 2 * i, "\xe9\x00", 2); /* U+00E9 */
	track_start();
	assert_int_equal(pyobj__read_str(&s->r, off, BASE + 0x100, &out), 0);
	biggest = track_stop();
	assert_int_equal(strlen(out), 2 * PYOBJ_MAX_STR);
	assert_memory_equal(out + 2 * (PYOBJ_MAX_STR - 1), "\xc3\xa9", 2);
	if (TRACK_MALLOC)
		assert_true(biggest > 0 && biggest <= 4 * PYOBJ_MAX_STR + 1);
	free(out);
	free(s);
}

/* Kinds other than 1, 2 and 4, and the ASCII flag on a wide kind, are refused. */
static void test_str_bad_kind_is_einval(void **state)
{
	for (int l = 0; l < 2; l++) {
		const struct py_offsets *off = both_layouts[l];
		struct scratch *s = scratch_new();

		for (unsigned kind = 0; kind < 8; kind++) {
			char *out = NULL;
			int err;

			if (kind == 1 || kind == 2 || kind == 4)
				continue;
			put_str_header(s, off, BASE + 0x100, KIND(kind) | COMPACT, 3);
			err = pyobj__read_str(&s->r, off, BASE + 0x100, &out);
			if (err != -EINVAL)
				fail_msg("kind %u: %d, want -EINVAL", kind, err);
		}
		for (unsigned kind = 2; kind <= 4; kind *= 2) {
			char *out = NULL;

			put_str_header(s, off, BASE + 0x100, KIND(kind) | COMPACT | ASCII, 3);
			assert_int_equal(pyobj__read_str(&s->r, off, BASE + 0x100, &out), -EINVAL);
		}
		free(s);
	}
}

/* An "ASCII" string holding a byte above 0x7f is not ASCII: refused. */
static void test_str_ascii_flag_with_high_byte_is_einval(void **state)
{
	const struct py_offsets *off = both_layouts[1];
	struct scratch *s = scratch_new();
	char *out = NULL;

	put_ascii(s, off, BASE + 0x100, "ab\xff");
	assert_int_equal(pyobj__read_str(&s->r, off, BASE + 0x100, &out), -EINVAL);
	put_ascii(s, off, BASE + 0x100, "abc");
	assert_int_equal(pyobj__read_str(&s->r, off, BASE + 0x100, &out), 0);
	assert_string_equal(out, "abc");
	free(out);
	free(s);
}

/* Code points that UTF-8 cannot carry (surrogates, > U+10FFFF), NUL, which would cut the name
 * short, and the other ASCII control characters (here DEL), which would break the lines of
 * folded profiles, become U+FFFD; everything else is encoded exactly. */
static void test_str_invalid_code_points_replaced(void **state)
{
	const struct py_offsets *off = both_layouts[1];
	struct scratch *s = scratch_new();
	uint32_t cps[] = {'a',	0xd800, 0x110000, 0,	  0x10ffff, 0x7f,
			  0x80, 0x7ff,	0x800,	  0xffff, 0x10000};
	uint64_t data = put_str_header(s, off, BASE + 0x100, KIND(4) | COMPACT, 11);
	const char want[] =
	    "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xf4\x8f\xbf\xbf\xef\xbf\xbd\xc2\x80"
	    "\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80";
	char *out = NULL;

	memcpy(s->mem + (data - BASE), cps, sizeof(cps));
	assert_int_equal(pyobj__read_str(&s->r, off, BASE + 0x100, &out), 0);
	assert_int_equal(strlen(out), sizeof(want) - 1);
	assert_memory_equal(out, want, sizeof(want));
	free(out);
	free(s);
}

/* A length that runs past readable memory fails the read instead of reading beyond. */
static void test_str_data_past_readable_memory_fails(void **state)
{
	const struct py_offsets *off = both_layouts[1];
	struct scratch *s = scratch_new();
	uint64_t addr = BASE + SCRATCH_LEN - off->unicode_ascii_size - 10;
	char *out = NULL;

	put_str_header(s, off, addr, KIND(1) | COMPACT | ASCII, 11);
	assert_true(pyobj__read_str(&s->r, off, addr, &out) < 0);
	put_str_header(s, off, addr, KIND(1) | COMPACT | ASCII, 10);
	memset(s->mem + SCRATCH_LEN - 10, 'z', 10);
	assert_int_equal(pyobj__read_str(&s->r, off, addr, &out), 0);
	assert_string_equal(out, "zzzzzzzzzz");
	free(out);
	/* a header cut by the end of memory */
	assert_true(pyobj__read_str(&s->r, off, BASE + SCRATCH_LEN - 20, &out) < 0);
	assert_int_equal(pyobj__read_str(&s->r, off, 0, &out), -EINVAL);
	free(s);
}

/* A legacy (non-compact) string's data pointer is followed, and fails cleanly when wild. */
static void test_str_legacy_data_pointer(void **state)
{
	const struct py_offsets *off = both_layouts[0];
	struct scratch *s = scratch_new();
	char *out = NULL;

	put_str_header(s, off, BASE + 0x100, KIND(2), 2);
	put_u64(s, BASE + 0x100 + off->unicode_compact_size, BASE + 0x800);
	memcpy(s->mem + 0x800, "\x34\x12\x41\x00", 4);
	assert_int_equal(pyobj__read_str(&s->r, off, BASE + 0x100, &out), 0);
	assert_string_equal(out, "\xe1\x88\xb4"
				 "A");
	free(out);
	put_u64(s, BASE + 0x100 + off->unicode_compact_size, 0xdead0000);
	assert_true(pyobj__read_str(&s->r, off, BASE + 0x100, &out) < 0);
	free(s);
}

/* Bytes with a negative or too large size are refused before allocating; size 0 is fine. */
static void test_bytes_negative_or_huge_size_is_e2big(void **state)
{
	static const int64_t sizes[] = {-1, -4096, INT64_MIN, 1LL << 40, INT64_MAX};

	for (int l = 0; l < 2; l++) {
		const struct py_offsets *off = both_layouts[l];
		struct scratch *s = scratch_new();
		uint8_t *out = (uint8_t *)0x1;
		size_t len = 77, biggest;

		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			put_bytes(s, off, BASE + 0x100, "", sizes[i], 0);
			track_start();
			assert_int_equal(pyobj__read_bytes(&s->r, off, BASE + 0x100,
							   PYOBJ_MAX_LINETABLE, &out, &len),
					 -E2BIG);
			biggest = track_stop();
			assert_true(biggest <= 64);
			assert_ptr_equal(out, (uint8_t *)0x1);
			assert_int_equal(len, 77);
		}
		/* the caller's maximum is a bound too */
		put_bytes(s, off, BASE + 0x100, "abcdef", 6, 6);
		assert_int_equal(pyobj__read_bytes(&s->r, off, BASE + 0x100, 5, &out, &len),
				 -E2BIG);
		assert_int_equal(pyobj__read_bytes(&s->r, off, BASE + 0x100, 6, &out, &len), 0);
		assert_int_equal(len, 6);
		assert_memory_equal(out, "abcdef", 6);
		free(out);
		put_bytes(s, off, BASE + 0x100, "", 0, 0);
		assert_int_equal(pyobj__read_bytes(&s->r, off, BASE + 0x100, 6, &out, &len), 0);
		assert_int_equal(len, 0);
		free(out);
		/* a size within bounds but past readable memory */
		put_bytes(s, off, BASE + SCRATCH_LEN - 64, "", 1000, 0);
		assert_true(
		    pyobj__read_bytes(&s->r, off, BASE + SCRATCH_LEN - 64, 4096, &out, &len) < 0);
		free(s);
	}
}

/* Offsets that would read past the code header buffer, or that do not exist, are refused
 * before reading. */
static void test_bad_offsets_refused(void **state)
{
	struct py_offsets off = *pyoffsets__table(3, 12);
	struct scratch *s = scratch_new();
	struct py_code_id id;
	struct py_code c;
	enum pyobj_error reason;
	char *str;
	uint8_t *bytes;
	size_t len;

	off.code_name = 4096;
	off.code_size = 4104;
	assert_int_equal(pyobj__read_code_id(&s->r, &off, BASE, &id), -EINVAL);
	assert_true(pyobj__read_code(&s->r, &off, 0, BASE, &c, &reason) < 0);
	off = *pyoffsets__table(3, 12);
	off.code_filename = PYOFF_NONE;
	assert_int_equal(pyobj__read_code_id(&s->r, &off, BASE, &id), -EINVAL);
	off = *pyoffsets__table(3, 12);
	off.code_size = 0;
	assert_int_equal(pyobj__read_code_id(&s->r, &off, BASE, &id), -EINVAL);
	off = *pyoffsets__table(3, 12);
	off.unicode_length = PYOFF_NONE;
	assert_int_equal(pyobj__read_str(&s->r, &off, BASE, &str), -EINVAL);
	off = *pyoffsets__table(3, 12);
	off.bytes_sval = PYOFF_NONE;
	assert_int_equal(pyobj__read_bytes(&s->r, &off, BASE, 16, &bytes, &len), -EINVAL);
	pyobj__code_free(NULL);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixtures_cover_every_version),
	    cmocka_unit_test(test_offsets_table_matches_captured_headers),
	    cmocka_unit_test(test_read_code_matches_cpython_every_version),
	    cmocka_unit_test(test_read_code_non_ascii_names_utf8),
	    cmocka_unit_test(test_read_code_id_matches_full_read),
	    cmocka_unit_test(test_read_code_wrong_type_is_not_code),
	    cmocka_unit_test(test_read_code_unreadable),
	    cmocka_unit_test(test_hand_built_code_and_each_broken_pointer),
	    cmocka_unit_test(test_str_absurd_length_is_e2big_without_big_allocation),
	    cmocka_unit_test(test_str_at_max_length_reads_whole),
	    cmocka_unit_test(test_str_bad_kind_is_einval),
	    cmocka_unit_test(test_str_ascii_flag_with_high_byte_is_einval),
	    cmocka_unit_test(test_str_invalid_code_points_replaced),
	    cmocka_unit_test(test_str_data_past_readable_memory_fails),
	    cmocka_unit_test(test_str_legacy_data_pointer),
	    cmocka_unit_test(test_bytes_negative_or_huge_size_is_e2big),
	    cmocka_unit_test(test_bad_offsets_refused),
	};

	return cmocka_run_group_tests(tests, setup_layouts, NULL);
}
