// SPDX-License-Identifier: MIT
/* pyoffsets__table() for 3.6-3.13 and pyoffsets__from_debug_offsets() on the real 3.13
 * _Py_DebugOffsets of libpython3.13.so.1.0, on a 3.14 layout and on hostile input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pyoffsets.h"

#define FIXTURE_313 FIXTURES "/debug_offsets/3.13.bin"
#define SIZE_313    584 /* 73 uint64_t */
#define SIZE_314    760 /* 95 uint64_t */

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

static unsigned char fixture[SIZE_313];

static int load_fixture(void **state)
{
	FILE *f = fopen(FIXTURE_313, "rb");

	if (!f)
		return -1;
	if (fread(fixture, 1, sizeof(fixture), f) != sizeof(fixture) || fgetc(f) != EOF) {
		fclose(f);
		return -1;
	}
	fclose(f);
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

static void debug_offsets_accepts_only_final_3_13_and_3_14(void **state)
{
	static const struct {
		uint64_t version;
		int err;
	} cases[] = {
	    {0x030d05f0, 0},	    /* 3.13.5 */
	    {0x030d00c1, -ENOTSUP}, /* 3.13.0rc1: pre-releases had other layouts */
	    {0x030d00a1, -ENOTSUP}, /* 3.13.0a1 */
	    {0x030c01f0, -ENOTSUP}, /* 3.12.1 has no debug offsets */
	    {0x030f00f0, -ENOTSUP}, /* 3.15: another layout */
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
	    cmocka_unit_test(debug_offsets_accepts_only_final_3_13_and_3_14),
	    cmocka_unit_test(debug_offsets_parses_the_3_14_layout),
	};

	return cmocka_run_group_tests(tests, load_fixture, NULL);
}
