// SPDX-License-Identifier: MIT
/* pyoffsets__table() for 3.6-3.13 and pyoffsets__from_debug_offsets() on the real 3.13, 3.14
 * and 3.15 _Py_DebugOffsets (libpython3.13.so.1.0; Debian's python3.14 3.14.10 and python3.15
 * 3.15.2), on a synthetic 3.14 layout and on hostile input; the guess for newer versions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "python/pyoffsets.h"

#define FIXTURE_313 FIXTURES "/debug_offsets/3.13.bin"
#define FIXTURE_314 FIXTURES "/debug_offsets/3.14.bin"
#define FIXTURE_315 FIXTURES "/debug_offsets/3.15.bin"
#define SIZE_313    584 /* 73 uint64_t */
#define SIZE_314    760 /* 95 uint64_t */
#define SIZE_315    888 /* 111 uint64_t */

/* Slots (uint64_t indices) of the 3.13 _Py_DebugOffsets, from pycore_runtime.h, v3.13.0. */
enum {
	I_VERSION = 1,
	I_FREE_THREADED = 2,
	I_INTERP_SIZE = 6,
	I_INTERP_NEXT = 8,
	I_GIL_STATE = 15,
	I_GIL_LOCKED = 17,
	I_CURRENT_FRAME = 23,
	I_FRAME_SIZE = 28,
	I_FRAME_OWNER = 33,
	I_CODE_FILENAME = 35,
	I_UNICODE_STATE = 68,
};

/* Slots of the 3.15 _Py_DebugOffsets (pycore_debug_offsets.h, v3.15.2). */
enum {
	I15_TSTATE_THREAD_ID = 30,
	I15_OBJECT_SIZE = 58,
	I15_UNICODE_COMPACT_SIZE = 93,
};

static unsigned char fixture[SIZE_313], fixture_314[SIZE_314], fixture_315[SIZE_315];

static int load_one(const char *path, unsigned char *buf, size_t len)
{
	FILE *f = fopen(path, "rb");

	if (!f)
		return -1;
	if (fread(buf, 1, len, f) != len || fgetc(f) != EOF) {
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

static int load_fixture(void **state)
{
	if (load_one(FIXTURE_313, fixture, sizeof(fixture)) ||
	    load_one(FIXTURE_314, fixture_314, sizeof(fixture_314)) ||
	    load_one(FIXTURE_315, fixture_315, sizeof(fixture_315)))
		return -1;
	return 0;
}

static uint64_t slot(const unsigned char *buf, int i)
{
	uint64_t v;

	memcpy(&v, buf + 8 * i, sizeof(v));
	return v;
}

static void set_slot(unsigned char *buf, int i, uint64_t v)
{
	memcpy(buf + 8 * i, &v, sizeof(v));
}

/* Every field equal, named in the failure message. */
static void assert_offsets_equal(const struct py_offsets *got, const struct py_offsets *want)
{
#define EQ(name)                                                                                   \
	if ((uint64_t)got->name != (uint64_t)want->name)                                           \
		fail_msg("%s: got %llu, want %llu", #name, (unsigned long long)got->name,          \
			 (unsigned long long)want->name);
	PYOFFSETS_FIELDS(EQ)
#undef EQ
}

static void table_exists_for_each_of_3_6_to_3_13(void **state)
{
	for (unsigned minor = 6; minor <= 13; minor++) {
		const struct py_offsets *o = pyoffsets__table(3, minor);

		assert_non_null(o);
		assert_int_equal(o->version, 0x0300 | minor);
		assert_int_equal(o->frame_kind, minor <= 10   ? PY_FRAME_OBJECT
						: minor <= 12 ? PY_FRAME_CFRAME
							      : PY_FRAME_DIRECT);
		assert_int_equal(o->gil_kind, minor == 6    ? PY_GIL_NONE
					      : minor <= 11 ? PY_GIL_RUNTIME
							    : PY_GIL_INTERP_PTR);
		assert_true(o->frame_code_mask == ~0ULL);
		/* 3.6 has no _PyRuntime; only 3.12+ mark C-stack shim frames with an owner */
		assert_int_equal(o->runtime_interpreters_head == PYOFF_NONE, minor == 6);
		assert_int_equal(o->frame_owner_cstack == PYOFF_NONE, minor <= 11);
		assert_int_equal(o->code_qualname == PYOFF_NONE, minor <= 10);
		assert_int_equal(o->tstate_native_thread_id == PYOFF_NONE, minor <= 10);
	}
}

static void no_table_outside_3_6_to_3_13(void **state)
{
	assert_null(pyoffsets__table(2, 7));
	assert_null(pyoffsets__table(3, 5));
	assert_null(pyoffsets__table(3, 14));
	assert_null(pyoffsets__table(4, 6));
	assert_null(pyoffsets__table(3, 256 + 6)); /* must not alias 3.6 */
	assert_null(pyoffsets__table(256 + 3, 6));
}

/* frame_size and code_size cover every field the readers use; offsets are all plausible. */
static void table_read_sizes_cover_their_fields(void **state)
{
	for (unsigned minor = 6; minor <= 13; minor++) {
		const struct py_offsets *o = pyoffsets__table(3, minor);
		const unsigned instr_width = o->frame_kind == PY_FRAME_OBJECT ? 4 : 8;

		assert_true(o->frame_previous + 8 <= o->frame_size);
		assert_true(o->frame_code + 8 <= o->frame_size);
		assert_true(o->frame_instr + instr_width <= o->frame_size);
		if (o->frame_owner != PYOFF_NONE)
			assert_true(o->frame_owner + 1 <= o->frame_size);
		assert_true(o->code_filename + 8 <= o->code_size);
		assert_true(o->code_name + 8 <= o->code_size);
		assert_true(o->code_linetable + 8 <= o->code_size);
		assert_true(o->code_firstlineno + 4 <= o->code_size);
		if (o->code_qualname != PYOFF_NONE)
			assert_true(o->code_qualname + 8 <= o->code_size);
#define PLAUSIBLE(name)                                                                            \
	if (strcmp(#name, "frame_code_mask") && o->name != PYOFF_NONE &&                           \
	    o->name > PYOFFSETS_MAX_OFFSET)                                                        \
		fail_msg("3.%u %s = %llu", minor, #name, (unsigned long long)o->name);
		PYOFFSETS_FIELDS(PLAUSIBLE)
#undef PLAUSIBLE
	}
}

static void debug_offsets_of_real_3_13_equal_the_3_13_table(void **state)
{
	struct py_offsets got;

	assert_int_equal(pyoffsets__from_debug_offsets(fixture, sizeof(fixture), &got), 0);
	assert_offsets_equal(&got, pyoffsets__table(3, 13));

	/* callers read more than the layout needs: extra bytes are ignored */
	unsigned char big[PYOFFSETS_DEBUG_READ_SIZE + 100];

	memset(big, 0xa5, sizeof(big));
	memcpy(big, fixture, sizeof(fixture));
	assert_int_equal(pyoffsets__from_debug_offsets(big, sizeof(big), &got), 0);
	assert_offsets_equal(&got, pyoffsets__table(3, 13));
}

static void debug_offsets_rejects_a_wrong_cookie(void **state)
{
	unsigned char buf[SIZE_313];
	struct py_offsets got;

	for (size_t i = 0; i < 8; i++) {
		memcpy(buf, fixture, sizeof(buf));
		buf[i] ^= 0x20;
		assert_int_equal(pyoffsets__from_debug_offsets(buf, sizeof(buf), &got), -EINVAL);
	}
}

static void debug_offsets_rejects_every_truncation(void **state)
{
	struct py_offsets got;

	for (size_t len = 0; len < SIZE_313; len++)
		assert_int_equal(pyoffsets__from_debug_offsets(fixture, len, &got), -EINVAL);
	assert_int_equal(pyoffsets__from_debug_offsets(NULL, SIZE_313, &got), -EINVAL);
}

static void debug_offsets_rejects_offsets_above_64k(void **state)
{
	static const int slots[] = {I_INTERP_NEXT, I_GIL_LOCKED,    I_GIL_STATE,    I_CURRENT_FRAME,
				    I_FRAME_OWNER, I_CODE_FILENAME, I_UNICODE_STATE};
	unsigned char buf[SIZE_313];
	struct py_offsets got;

	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		const uint64_t absurd[] = {65537, 1ULL << 32, ~0ULL};

		for (size_t j = 0; j < 3; j++) {
			memcpy(buf, fixture, sizeof(buf));
			set_slot(buf, slots[i], absurd[j]);
			if (pyoffsets__from_debug_offsets(buf, sizeof(buf), &got) != -EINVAL)
				fail_msg("slot %d = %llu accepted", slots[i],
					 (unsigned long long)absurd[j]);
		}
	}

	/* the bound itself is accepted (PyInterpreterState is ~190 KiB in 3.13) */
	memcpy(buf, fixture, sizeof(buf));
	assert_true(slot(buf, I_INTERP_SIZE) > 65536 + 8);
	set_slot(buf, I_INTERP_NEXT, 65536);
	assert_int_equal(pyoffsets__from_debug_offsets(buf, sizeof(buf), &got), 0);
	assert_int_equal(got.interp_next, 65536);
}

static void debug_offsets_rejects_fields_outside_their_struct(void **state)
{
	unsigned char buf[SIZE_313];
	struct py_offsets got;

	/* owner at the very end of _PyInterpreterFrame is outside it */
	memcpy(buf, fixture, sizeof(buf));
	set_slot(buf, I_FRAME_OWNER, slot(buf, I_FRAME_SIZE));
	assert_int_equal(pyoffsets__from_debug_offsets(buf, sizeof(buf), &got), -EINVAL);

	/* the GIL fields must lie after the start of the GIL state */
	memcpy(buf, fixture, sizeof(buf));
	set_slot(buf, I_GIL_STATE, slot(buf, I_GIL_LOCKED) + 8);
	assert_int_equal(pyoffsets__from_debug_offsets(buf, sizeof(buf), &got), -EINVAL);
}

static void debug_offsets_rejects_free_threaded_builds(void **state)
{
	unsigned char buf[SIZE_313];
	struct py_offsets got;

	memcpy(buf, fixture, sizeof(buf));
	set_slot(buf, I_FREE_THREADED, 1);
	assert_int_equal(pyoffsets__from_debug_offsets(buf, sizeof(buf), &got), -ENOTSUP);
}

static void debug_offsets_accepts_only_final_releases(void **state)
{
	static const struct {
		uint64_t version;
		int err;
	} cases[] = {
	    {0x030d05f0, 0},	    /* 3.13.5 */
	    {0x030d00c1, -ENOTSUP}, /* 3.13.0rc1: pre-releases had other layouts */
	    {0x030d00a1, -ENOTSUP}, /* 3.13.0a1 */
	    {0x030c01f0, -ENOTSUP}, /* 3.12.1 has no debug offsets */
	    {0x031000f0, -ENOTSUP}, /* 3.16: no layout (pyoffsets__guess_from_debug_offsets) */
	    {0x040d00f0, -ENOTSUP}, {0x1030d00f0ULL, -ENOTSUP},
	};
	unsigned char buf[SIZE_313];
	struct py_offsets got;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(buf, fixture, sizeof(buf));
		set_slot(buf, I_VERSION, cases[i].version);
		if (pyoffsets__from_debug_offsets(buf, sizeof(buf), &got) != cases[i].err)
			fail_msg("version %#llx", (unsigned long long)cases[i].version);
	}
}

/* The 3.14 layout (Include/internal/pycore_debug_offsets.h, v3.14.0), built from the 3.13
 * values: runs of slots that moved, and the slots 3.14 added, filled with a decoy that would
 * show up in the result if the parser read one of them. */
static void debug_offsets_parses_the_3_14_layout(void **state)
{
	static const struct {
		int from, to, n;
	} runs[] = {
	    {0, 0, 6},	  /* header, runtime_state */
	    {6, 6, 4},	  /* interpreter_state up to threads_head; threads_main is new */
	    {10, 11, 9},  /* gc .. gil_runtime_state_holder; two generations are new */
	    {19, 22, 9},  /* thread_state */
	    {28, 31, 6},  /* interpreter_frame; stackpointer, tlbc_index are new */
	    {34, 39, 10}, /* code_object; co_tlbc is new */
	    {44, 50, 12}, /* pyobject, type_object, tuple_object, list_object */
	    {56, 66, 17}, /* set_object is new; dict .. gc */
	};		  /* gen_object, llist_node, debugger_support are new */
	unsigned char buf[SIZE_314];
	struct py_offsets got, want = *pyoffsets__table(3, 13);

	for (int i = 0; i < SIZE_314 / 8; i++)
		set_slot(buf, i, 4242);
	for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++)
		memcpy(buf + 8 * runs[r].to, fixture + 8 * runs[r].from, 8 * runs[r].n);
	set_slot(buf, I_VERSION, 0x030e00f0);

	assert_int_equal(pyoffsets__from_debug_offsets(buf, sizeof(buf), &got), 0);
	want.version = 0x030e;
	want.frame_owner_cstack = 3;  /* FRAME_OWNED_BY_INTERPRETER: 3.14's entry frames */
	want.frame_code_mask = ~3ULL; /* f_executable is a tagged _PyStackRef */
	assert_offsets_equal(&got, &want);

	/* a 3.14 blob as long as a 3.13 one is truncated */
	assert_int_equal(pyoffsets__from_debug_offsets(buf, SIZE_313, &got), -EINVAL);
	set_slot(buf, I_FREE_THREADED, 1);
	assert_int_equal(pyoffsets__from_debug_offsets(buf, sizeof(buf), &got), -ENOTSUP);
}

/* The 3.14 values on top of the 3.13 table, as offsetof() gives them in the 3.14.10 headers
 * (tests/offsets/probe.c compiled against Debian's libpython3.14-dev). */
static struct py_offsets want_314(void)
{
	struct py_offsets w = *pyoffsets__table(3, 13);

	w.version = 0x030e;
	w.runtime_interpreters_head = 808;
	w.interp_next = 7272;
	w.interp_threads_head = 7344;
	w.frame_owner = 74; /* after stackpointer; f_executable is first since 3.13 */
	w.frame_size = 75;
	w.frame_owner_cstack = 3;   /* FRAME_OWNED_BY_INTERPRETER */
	w.code_code_adaptive = 208; /* co_tlbc, in every build */
	w.frame_code_mask = ~3ULL;
	return w;
}

/* The same for the 3.15.2 headers: thread states grew (base_frame, last_profiled_frame, ...),
 * the rest of what the sampler reads did not move. */
static struct py_offsets want_315(void)
{
	struct py_offsets w = want_314();

	w.version = 0x030f;
	w.runtime_interpreters_head = 936;
	w.interp_next = 7264;
	w.interp_threads_head = 7336;
	w.tstate_thread_id = 176;
	w.tstate_native_thread_id = 184;
	return w;
}

static void debug_offsets_of_real_3_14_and_3_15_equal_their_headers(void **state)
{
	struct py_offsets got, want;

	assert_int_equal(pyoffsets__from_debug_offsets(fixture_314, SIZE_314, &got), 0);
	want = want_314();
	assert_offsets_equal(&got, &want);
	assert_int_equal(pyoffsets__from_debug_offsets(fixture_315, SIZE_315, &got), 0);
	want = want_315();
	assert_offsets_equal(&got, &want);
	/* what a reader of the target gets (pyproc reads a page) parses the same */
	{
		unsigned char page[4096] = {0};

		memcpy(page, fixture_315, SIZE_315);
		assert_int_equal(pyoffsets__from_debug_offsets(page, sizeof(page), &got), 0);
		assert_offsets_equal(&got, &want);
	}
}

/* Every patch release of a known minor keeps its x.y.0 layout; pre-releases do not. */
static void debug_offsets_never_key_on_the_patch_release(void **state)
{
	static const struct {
		uint64_t version;
		int err;
	} cases[] = {
	    {0x030f00f0, 0},	    /* 3.15.0 */
	    {0x030f02f0, 0},	    /* 3.15.2, the fixture */
	    {0x030f0af0, 0},	    /* 3.15.10 */
	    {0x030ffff0, 0},	    /* 3.15.255 */
	    {0x030f00b4, -ENOTSUP}, /* 3.15.0b4: another layout */
	    {0x030f00c1, -ENOTSUP}, /* 3.15.0rc1 */
	};
	unsigned char buf[SIZE_315];
	struct py_offsets got, want = want_315();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(buf, fixture_315, sizeof(buf));
		set_slot(buf, I_VERSION, cases[i].version);
		if (pyoffsets__from_debug_offsets(buf, sizeof(buf), &got) != cases[i].err)
			fail_msg("version %#llx", (unsigned long long)cases[i].version);
		if (!cases[i].err)
			assert_offsets_equal(&got, &want);
	}
	for (uint64_t micro = 0; micro < 256; micro++) {
		memcpy(buf, fixture_314, SIZE_314);
		set_slot(buf, I_VERSION, 0x030e00f0 | micro << 8);
		assert_int_equal(pyoffsets__from_debug_offsets(buf, SIZE_314, &got), 0);
	}
}

static void debug_offsets_3_15_rejects_hostile_values(void **state)
{
	unsigned char buf[SIZE_315];
	struct py_offsets got;

	for (size_t len = 0; len < SIZE_315; len++)
		assert_int_equal(pyoffsets__from_debug_offsets(fixture_315, len, &got), -EINVAL);
	/* compact str data before the ASCII header's end, or past the str object */
	memcpy(buf, fixture_315, sizeof(buf));
	set_slot(buf, I15_UNICODE_COMPACT_SIZE, 8);
	assert_int_equal(pyoffsets__from_debug_offsets(buf, sizeof(buf), &got), -EINVAL);
	set_slot(buf, I15_UNICODE_COMPACT_SIZE, 4096);
	assert_int_equal(pyoffsets__from_debug_offsets(buf, sizeof(buf), &got), -EINVAL);
	/* thread_id beyond the thread state */
	memcpy(buf, fixture_315, sizeof(buf));
	set_slot(buf, I15_TSTATE_THREAD_ID, 1u << 20);
	assert_int_equal(pyoffsets__from_debug_offsets(buf, sizeof(buf), &got), -EINVAL);
}

static void debug_header_names_version_and_build(void **state)
{
	unsigned char buf[SIZE_315];
	__u64 version = 0;
	int ft = -1;

	assert_int_equal(pyoffsets__debug_header(fixture_315, SIZE_315, &version, &ft), 0);
	assert_int_equal(version, 0x030f02f0);
	assert_int_equal(ft, 0);
	memcpy(buf, fixture_315, sizeof(buf));
	set_slot(buf, I_FREE_THREADED, 1);
	assert_int_equal(pyoffsets__debug_header(buf, sizeof(buf), NULL, &ft), 0);
	assert_int_equal(ft, 1);
	/* a free-threaded 3.15t is refused by both parsers */
	{
		struct py_offsets got;

		assert_int_equal(pyoffsets__from_debug_offsets(buf, sizeof(buf), &got), -ENOTSUP);
		set_slot(buf, I_VERSION, 0x031000f0);
		assert_int_equal(pyoffsets__guess_from_debug_offsets(buf, sizeof(buf), &got, NULL),
				 -ENOTSUP);
	}
	assert_int_equal(pyoffsets__debug_header(fixture_315, 23, &version, &ft), -EINVAL);
	buf[0] = 'X';
	assert_int_equal(pyoffsets__debug_header(buf, sizeof(buf), &version, &ft), -EINVAL);
}

/* 3.16+: the newest layout (3.15's) is tried; the result carries the target's version. */
static void guess_reads_a_newer_minor_with_the_newest_layout(void **state)
{
	unsigned char buf[SIZE_315];
	struct py_offsets got, want = want_315();
	unsigned from = 0;

	assert_int_equal(pyoffsets__newest_debug_minor(), 15);
	memcpy(buf, fixture_315, sizeof(buf));
	set_slot(buf, I_VERSION, 0x031000a1); /* 3.16.0a1 */
	assert_int_equal(pyoffsets__from_debug_offsets(buf, sizeof(buf), &got), -ENOTSUP);
	assert_int_equal(pyoffsets__guess_from_debug_offsets(buf, sizeof(buf), &got, &from), 0);
	assert_int_equal(from, 15);
	want.version = 0x0310;
	assert_offsets_equal(&got, &want);
	set_slot(buf, I_VERSION, 0x031402f0); /* 3.20.2 */
	assert_int_equal(pyoffsets__guess_from_debug_offsets(buf, sizeof(buf), &got, NULL), 0);
	assert_int_equal(got.version, 0x0314);

	/* known minors are never guessed: they are exact or refused */
	assert_int_equal(pyoffsets__guess_from_debug_offsets(fixture_315, SIZE_315, &got, NULL),
			 -ENOTSUP);
	assert_int_equal(pyoffsets__guess_from_debug_offsets(fixture, SIZE_313, &got, NULL),
			 -ENOTSUP);
	set_slot(buf, I_VERSION, 0x041000f0); /* 4.16 */
	assert_int_equal(pyoffsets__guess_from_debug_offsets(buf, sizeof(buf), &got, NULL),
			 -ENOTSUP);

	/* truncated */
	set_slot(buf, I_VERSION, 0x031000f0);
	for (size_t len = 0; len < SIZE_315; len++)
		assert_int_equal(pyoffsets__guess_from_debug_offsets(buf, len, &got, NULL),
				 -EINVAL);
}

/* A newer version whose layout moved: the sizes read at 3.15's places are not what every
 * version has had, and the guess is refused before any offset is used. */
static void guess_refuses_a_layout_that_moved(void **state)
{
	unsigned char buf[SIZE_315] = {0};
	struct py_offsets got;

	/* a 3.14 layout announcing 3.16: sections sit 128 bytes earlier */
	memcpy(buf, fixture_314, SIZE_314);
	set_slot(buf, I_VERSION, 0x031000f0);
	assert_int_equal(pyoffsets__guess_from_debug_offsets(buf, sizeof(buf), &got, NULL),
			 -EINVAL);
	/* one 8-byte field inserted before pyobject */
	memcpy(buf, fixture_315, 8 * I15_OBJECT_SIZE);
	memcpy(buf + 8 * (I15_OBJECT_SIZE + 1), fixture_315 + 8 * I15_OBJECT_SIZE,
	       SIZE_315 - 8 * (I15_OBJECT_SIZE + 1));
	set_slot(buf, I15_OBJECT_SIZE, 8);
	set_slot(buf, I_VERSION, 0x031000f0);
	assert_int_equal(pyoffsets__guess_from_debug_offsets(buf, sizeof(buf), &got, NULL),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(table_exists_for_each_of_3_6_to_3_13),
	    cmocka_unit_test(no_table_outside_3_6_to_3_13),
	    cmocka_unit_test(table_read_sizes_cover_their_fields),
	    cmocka_unit_test(debug_offsets_of_real_3_13_equal_the_3_13_table),
	    cmocka_unit_test(debug_offsets_rejects_a_wrong_cookie),
	    cmocka_unit_test(debug_offsets_rejects_every_truncation),
	    cmocka_unit_test(debug_offsets_rejects_offsets_above_64k),
	    cmocka_unit_test(debug_offsets_rejects_fields_outside_their_struct),
	    cmocka_unit_test(debug_offsets_rejects_free_threaded_builds),
	    cmocka_unit_test(debug_offsets_accepts_only_final_releases),
	    cmocka_unit_test(debug_offsets_parses_the_3_14_layout),
	    cmocka_unit_test(debug_offsets_of_real_3_14_and_3_15_equal_their_headers),
	    cmocka_unit_test(debug_offsets_never_key_on_the_patch_release),
	    cmocka_unit_test(debug_offsets_3_15_rejects_hostile_values),
	    cmocka_unit_test(debug_header_names_version_and_build),
	    cmocka_unit_test(guess_reads_a_newer_minor_with_the_newest_layout),
	    cmocka_unit_test(guess_refuses_a_layout_that_moved),
	};

	return cmocka_run_group_tests(tests, load_fixture, NULL);
}
