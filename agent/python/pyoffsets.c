/* SPDX-License-Identifier: MIT */
/* CPython structure offsets: one built-in table row per version 3.6-3.13, and the parser of the
 * _Py_DebugOffsets that 3.13+ carries at the start of _PyRuntime. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "python/pyoffsets.h"

#define NONE PYOFF_NONE

/* End of a field of the given width, 0 if the field does not exist in this version. */
#define END(off, width) ((off) == NONE ? 0u : (__u32)(off) + (width))
#define MAX2(a, b)	((a) > (b) ? (a) : (b))

/* The bytes the BPF walker reads per frame: previous, code, instr (int f_lasti or a pointer)
 * and the owner byte. */
#define FRAME_SIZE(prev, code, instr, instr_width, owner)                                          \
	MAX2(MAX2(END(prev, 8), END(code, 8)), MAX2(END(instr, instr_width), END(owner, 1)))

/* The bytes userspace reads per code object: four pointers and the int co_firstlineno. The
 * bytecode at code_code_adaptive is variable-length and read separately. */
#define CODE_SIZE(filename, name, qualname, firstlineno, linetable)                                \
	MAX2(                                                                                      \
	    MAX2(MAX2(END(filename, 8), END(name, 8)), MAX2(END(qualname, 8), END(linetable, 8))), \
	    END(firstlineno, 4))

/* Table rows are written with these, one argument per offset; offsets come from offsetof() on
 * each version's headers and are verified by tests/offsets/run.sh. */
#define THREADS(rt_head, next, threads_head, ts_next, thread_id, native_thread_id)                 \
	.runtime_interpreters_head = (rt_head), .interp_next = (next),                             \
	.interp_threads_head = (threads_head), .tstate_next = (ts_next),                           \
	.tstate_thread_id = (thread_id), .tstate_native_thread_id = (native_thread_id)

/* 3.6-3.10: tstate->frame is a PyFrameObject: f_back, f_code, int f_lasti. */
#define FRAME_OBJECT(ts_frame, back, code, lasti)                                                  \
	.frame_kind = PY_FRAME_OBJECT, .tstate_frame = (ts_frame), .cframe_current_frame = NONE,   \
	.frame_previous = (back), .frame_code = (code), .frame_instr = (lasti),                    \
	.frame_owner = NONE, .frame_owner_cstack = NONE,                                           \
	.frame_size = FRAME_SIZE(back, code, lasti, 4, NONE), .frame_code_mask = ~0ULL

/* 3.11+: _PyInterpreterFrame, reached through the cframe (3.11-3.12) or directly (3.13). */
#define INTERP_FRAME(kind, ts_frame, cframe_frame, prev, code, instr, owner, cstack)               \
	.frame_kind = (kind), .tstate_frame = (ts_frame), .cframe_current_frame = (cframe_frame),  \
	.frame_previous = (prev), .frame_code = (code), .frame_instr = (instr),                    \
	.frame_owner = (owner), .frame_owner_cstack = (cstack),                                    \
	.frame_size = FRAME_SIZE(prev, code, instr, 8, owner), .frame_code_mask = ~0ULL

#define CODE(filename, name, qualname, firstlineno, linetable, code_adaptive)                      \
	.code_filename = (filename), .code_name = (name), .code_qualname = (qualname),             \
	.code_firstlineno = (firstlineno), .code_linetable = (linetable),                          \
	.code_code_adaptive = (code_adaptive),                                                     \
	.code_size = CODE_SIZE(filename, name, qualname, firstlineno, linetable)

/* PyObject, PyTypeObject's head, PyBytesObject and PyASCIIObject's head do not move in
 * 3.6-3.13. PEP 623 (3.12) removed wstr from PyASCIIObject and wstr_length from
 * PyCompactUnicodeObject, so the data of compact strings starts 8 and 16 bytes earlier. */
#define OBJECTS(ascii_size, compact_size)                                                          \
	.object_type = 8, .type_name = 24, .unicode_state = 32, .unicode_length = 16,              \
	.unicode_ascii_size = (ascii_size), .unicode_compact_size = (compact_size),                \
	.bytes_size = 16, .bytes_sval = 32
#define OBJECTS_WSTR	OBJECTS(48, 72)
#define OBJECTS_NO_WSTR OBJECTS(40, 56)

/* 3.6: the GIL is file-static in ceval.c, out of reach of an offset table. */
#define GIL_STATIC                                                                                 \
	.gil_kind = PY_GIL_NONE, .gil_ptr = NONE, .gil_locked = NONE, .gil_holder = NONE,          \
	.gil_size = NONE
/* struct _gil_runtime_state is 208 bytes in 3.7-3.13 (interval, last_holder, locked,
 * switch_number, then the cond/mutex pairs a waiting thread sleeps on). */
#define GIL_STATE_SIZE 208
/* 3.7-3.11: _PyRuntime.ceval.gil, offsets from &_PyRuntime. */
#define GIL_RUNTIME(locked, holder)                                                                \
	.gil_kind = PY_GIL_RUNTIME, .gil_ptr = NONE, .gil_locked = (locked),                       \
	.gil_holder = (holder), .gil_size = GIL_STATE_SIZE
/* 3.12+: interp->ceval.gil points to a struct _gil_runtime_state. */
#define GIL_INTERP(ptr, locked, holder)                                                            \
	.gil_kind = PY_GIL_INTERP_PTR, .gil_ptr = (ptr), .gil_locked = (locked),                   \
	.gil_holder = (holder), .gil_size = GIL_STATE_SIZE

/* One row per version; clang-format would put each macro on a line of its own. */
/* clang-format off */
static const struct py_offsets tables[] = {
	/* 3.6 has no _PyRuntime: userspace resolves the static interp_head itself. */
	{ .version = 0x0306, THREADS(NONE, 0, 8, 8, 152, NONE), FRAME_OBJECT(24, 24, 32, 120),
	  CODE(96, 104, NONE, 36, 112, NONE), OBJECTS_WSTR, GIL_STATIC },
	{ .version = 0x0307, THREADS(24, 0, 8, 8, 176, NONE), FRAME_OBJECT(24, 24, 32, 104),
	  CODE(96, 104, NONE, 36, 112, NONE), OBJECTS_WSTR, GIL_RUNTIME(1280, 1272) },
	{ .version = 0x0308, THREADS(32, 0, 8, 8, 176, NONE), FRAME_OBJECT(24, 24, 32, 104),
	  CODE(104, 112, NONE, 40, 120, NONE), OBJECTS_WSTR, GIL_RUNTIME(1168, 1160) },
	{ .version = 0x0309, THREADS(32, 0, 8, 8, 176, NONE), FRAME_OBJECT(24, 24, 32, 104),
	  CODE(104, 112, NONE, 40, 120, NONE), OBJECTS_WSTR, GIL_RUNTIME(368, 360) },
	/* 3.10: f_lasti counts code units, no longer bytes; co_linetable replaces co_lnotab. */
	{ .version = 0x030a, THREADS(32, 0, 8, 8, 176, NONE), FRAME_OBJECT(24, 24, 32, 96),
	  CODE(104, 112, NONE, 40, 120, NONE), OBJECTS_WSTR, GIL_RUNTIME(368, 360) },
	/* 3.11: _PyCFrame starts with a uint8_t use_tracing, so current_frame is at 8. Entry frames
	 * carry is_entry and are real Python frames: no owner value marks frames to skip. */
	{ .version = 0x030b, THREADS(40, 0, 16, 8, 152, 160),
	  INTERP_FRAME(PY_FRAME_CFRAME, 56, 8, 48, 32, 56, 69, NONE),
	  CODE(112, 120, 128, 72, 136, 184), OBJECTS_WSTR, GIL_RUNTIME(376, 368) },
	/* 3.12: use_tracing left _PyCFrame (current_frame at 0); FRAME_OWNED_BY_CSTACK (3) marks
	 * the shim frame _PyEval_EvalFrameDefault pushes on the C stack. */
	{ .version = 0x030c, THREADS(40, 0, 72, 8, 136, 144),
	  INTERP_FRAME(PY_FRAME_CFRAME, 56, 0, 8, 0, 56, 70, 3),
	  CODE(112, 120, 128, 68, 136, 192), OBJECTS_NO_WSTR, GIL_INTERP(384, 16, 8) },
	/* 3.13: struct _ceval_state moved to the start of PyInterpreterState, so next and
	 * threads.head are far in. Same numbers as its _Py_DebugOffsets gives (tested). */
	{ .version = 0x030d, THREADS(632, 7264, 7344, 8, 152, 160),
	  INTERP_FRAME(PY_FRAME_DIRECT, 72, NONE, 8, 0, 56, 70, 3),
	  CODE(112, 120, 128, 68, 136, 200), OBJECTS_NO_WSTR, GIL_INTERP(16, 16, 8) },
};
/* clang-format on */

/* Every field listed in PYOFFSETS_FIELDS, and nothing more, makes up struct py_offsets. */
#define FIELD_SIZE(name) +sizeof(((struct py_offsets *)0)->name)
_Static_assert(((0 PYOFFSETS_FIELDS(FIELD_SIZE)) + 7) / 8 * 8 == sizeof(struct py_offsets),
	       "PYOFFSETS_FIELDS does not list every field of struct py_offsets");

const struct py_offsets *pyoffsets__table(unsigned major, unsigned minor)
{
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (tables[i].version >> 8 == major && (tables[i].version & 0xff) == minor)
			return &tables[i];
	return NULL;
}

/* The _Py_DebugOffsets layouts, transcribed from CPython: 3.13 from
 * Include/internal/pycore_runtime.h (v3.13.0), 3.14 and 3.15 from
 * Include/internal/pycore_debug_offsets.h (v3.14.0 and v3.14.10: 760 bytes; v3.15.2: 888 bytes).
 * One definition; V14() holds what 3.14 added, V15() what 3.15 added (fields inserted inside
 * thread_state, type_object, unicode_object and gc, and the err_stackitem and heap_type_object
 * sections). */
#define DEBUG_OFFSETS(tag, V14, V15)                                                               \
	struct tag {                                                                               \
		char cookie[8];                                                                    \
		__u64 version, free_threaded;                                                      \
		struct {                                                                           \
			__u64 size, finalizing, interpreters_head;                                 \
		} runtime_state;                                                                   \
		struct {                                                                           \
			__u64 size, id, next, threads_head;                                        \
			V14(__u64 threads_main;)                                                   \
			__u64 gc, imports_modules, sysdict, builtins, ceval_gil;                   \
			__u64 gil_runtime_state, gil_runtime_state_enabled;                        \
			__u64 gil_runtime_state_locked, gil_runtime_state_holder;                  \
			V14(__u64 code_object_generation, tlbc_generation;)                        \
		} interpreter_state;                                                               \
		struct {                                                                           \
			__u64 size, prev, next, interp, current_frame;                             \
			V15(__u64 base_frame, last_profiled_frame, last_profiled_frame_seq;)       \
			__u64 thread_id, native_thread_id, datastack_chunk, status;                \
			V15(__u64 holds_gil, gil_requested, current_exception, exc_state;)         \
		} thread_state;                                                                    \
		V15(struct { __u64 exc_value; } err_stackitem;)                                    \
		struct {                                                                           \
			__u64 size, previous, executable, instr_ptr, localsplus, owner;            \
			V14(__u64 stackpointer, tlbc_index;)                                       \
		} interpreter_frame;                                                               \
		struct {                                                                           \
			__u64 size, filename, name, qualname, linetable, firstlineno, argcount;    \
			__u64 localsplusnames, localspluskinds, co_code_adaptive;                  \
			V14(__u64 co_tlbc;)                                                        \
		} code_object;                                                                     \
		struct {                                                                           \
			__u64 size, ob_type;                                                       \
		} pyobject;                                                                        \
		struct {                                                                           \
			__u64 size, tp_name, tp_repr, tp_flags;                                    \
			V15(__u64 tp_basicsize, tp_dictoffset;)                                    \
		} type_object;                                                                     \
		V15(struct { __u64 size, ht_cached_keys; } heap_type_object;)                      \
		struct {                                                                           \
			__u64 size, ob_item, ob_size;                                              \
		} tuple_object, list_object;                                                       \
		V14(struct { __u64 size, used, table, mask; } set_object;)                         \
		struct {                                                                           \
			__u64 size, ma_keys, ma_values;                                            \
		} dict_object;                                                                     \
		struct {                                                                           \
			__u64 size, ob_fval;                                                       \
		} float_object;                                                                    \
		struct {                                                                           \
			__u64 size, lv_tag, ob_digit;                                              \
		} long_object;                                                                     \
		struct {                                                                           \
			__u64 size, ob_size, ob_sval;                                              \
		} bytes_object;                                                                    \
		struct {                                                                           \
			__u64 size, state, length, asciiobject_size;                               \
			V15(__u64 compactunicodeobject_size;)                                      \
		} unicode_object;                                                                  \
		struct {                                                                           \
			__u64 size, collecting;                                                    \
			V15(__u64 frame, generation_stats_size, generation_stats;)                 \
		} gc;                                                                              \
		V14(                                                                               \
		    struct { __u64 size, gi_name, gi_iframe, gi_frame_state; } gen_object;         \
		    struct { __u64 next, prev; } llist_node; struct {                              \
			    __u64 eval_breaker, remote_debugger_support, remote_debugging_enabled; \
			    __u64 debugger_pending_call, debugger_script_path;                     \
			    __u64 debugger_script_path_size;                                       \
		    } debugger_support;)                                                           \
	}
#define KEEP(...) __VA_ARGS__
#define DROP(...)
DEBUG_OFFSETS(debug_offsets_313, DROP, DROP);
DEBUG_OFFSETS(debug_offsets_314, KEEP, DROP);
DEBUG_OFFSETS(debug_offsets_315, KEEP, KEEP);
_Static_assert(sizeof(struct debug_offsets_313) == 584, "3.13 _Py_DebugOffsets is 584 bytes");
_Static_assert(sizeof(struct debug_offsets_314) == 760, "3.14 _Py_DebugOffsets is 760 bytes");
_Static_assert(sizeof(struct debug_offsets_315) == 888, "3.15 _Py_DebugOffsets is 888 bytes");
_Static_assert(sizeof(struct debug_offsets_315) == PYOFFSETS_DEBUG_READ_SIZE,
	       "3.15 _Py_DebugOffsets is the largest layout");

/* The debug offsets values this parser uses. */
enum dbg_src {
	S_RUNTIME_SIZE,
	S_INTERPRETERS_HEAD,
	S_INTERP_SIZE,
	S_INTERP_NEXT,
	S_THREADS_HEAD,
	S_CEVAL_GIL,
	S_GIL_STATE,
	S_GIL_LOCKED,
	S_GIL_HOLDER,
	S_TSTATE_SIZE,
	S_TSTATE_NEXT,
	S_CURRENT_FRAME,
	S_THREAD_ID,
	S_NATIVE_THREAD_ID,
	S_FRAME_SIZE,
	S_PREVIOUS,
	S_EXECUTABLE,
	S_INSTR_PTR,
	S_OWNER,
	S_CODE_SIZE,
	S_FILENAME,
	S_NAME,
	S_QUALNAME,
	S_LINETABLE,
	S_FIRSTLINENO,
	S_CODE_ADAPTIVE,
	S_OBJECT_SIZE,
	S_OB_TYPE,
	S_TYPE_SIZE,
	S_TP_NAME,
	S_BYTES_SIZE,
	S_OB_SIZE,
	S_OB_SVAL,
	S_UNICODE_SIZE,
	S_STATE,
	S_LENGTH,
	S_ASCII_SIZE,
	S__COUNT,
};

/* Where each value sits in a layout. */
#define DBG_AT(S)                                                                                  \
	{                                                                                          \
		[S_RUNTIME_SIZE] = offsetof(S, runtime_state.size),                                \
		[S_INTERPRETERS_HEAD] = offsetof(S, runtime_state.interpreters_head),              \
		[S_INTERP_SIZE] = offsetof(S, interpreter_state.size),                             \
		[S_INTERP_NEXT] = offsetof(S, interpreter_state.next),                             \
		[S_THREADS_HEAD] = offsetof(S, interpreter_state.threads_head),                    \
		[S_CEVAL_GIL] = offsetof(S, interpreter_state.ceval_gil),                          \
		[S_GIL_STATE] = offsetof(S, interpreter_state.gil_runtime_state),                  \
		[S_GIL_LOCKED] = offsetof(S, interpreter_state.gil_runtime_state_locked),          \
		[S_GIL_HOLDER] = offsetof(S, interpreter_state.gil_runtime_state_holder),          \
		[S_TSTATE_SIZE] = offsetof(S, thread_state.size),                                  \
		[S_TSTATE_NEXT] = offsetof(S, thread_state.next),                                  \
		[S_CURRENT_FRAME] = offsetof(S, thread_state.current_frame),                       \
		[S_THREAD_ID] = offsetof(S, thread_state.thread_id),                               \
		[S_NATIVE_THREAD_ID] = offsetof(S, thread_state.native_thread_id),                 \
		[S_FRAME_SIZE] = offsetof(S, interpreter_frame.size),                              \
		[S_PREVIOUS] = offsetof(S, interpreter_frame.previous),                            \
		[S_EXECUTABLE] = offsetof(S, interpreter_frame.executable),                        \
		[S_INSTR_PTR] = offsetof(S, interpreter_frame.instr_ptr),                          \
		[S_OWNER] = offsetof(S, interpreter_frame.owner),                                  \
		[S_CODE_SIZE] = offsetof(S, code_object.size),                                     \
		[S_FILENAME] = offsetof(S, code_object.filename),                                  \
		[S_NAME] = offsetof(S, code_object.name),                                          \
		[S_QUALNAME] = offsetof(S, code_object.qualname),                                  \
		[S_LINETABLE] = offsetof(S, code_object.linetable),                                \
		[S_FIRSTLINENO] = offsetof(S, code_object.firstlineno),                            \
		[S_CODE_ADAPTIVE] = offsetof(S, code_object.co_code_adaptive),                     \
		[S_OBJECT_SIZE] = offsetof(S, pyobject.size),                                      \
		[S_OB_TYPE] = offsetof(S, pyobject.ob_type),                                       \
		[S_TYPE_SIZE] = offsetof(S, type_object.size),                                     \
		[S_TP_NAME] = offsetof(S, type_object.tp_name),                                    \
		[S_BYTES_SIZE] = offsetof(S, bytes_object.size),                                   \
		[S_OB_SIZE] = offsetof(S, bytes_object.ob_size),                                   \
		[S_OB_SVAL] = offsetof(S, bytes_object.ob_sval),                                   \
		[S_UNICODE_SIZE] = offsetof(S, unicode_object.size),                               \
		[S_STATE] = offsetof(S, unicode_object.state),                                     \
		[S_LENGTH] = offsetof(S, unicode_object.length),                                   \
		[S_ASCII_SIZE] = offsetof(S, unicode_object.asciiobject_size),                     \
	}

struct dbg_layout {
	unsigned minor;
	__u32 first_release; /* PY_VERSION_HEX of its x.y.0 final: pre-releases had other layouts */
	size_t size;
	__u32 owner_cstack; /* owner of the entry (shim) frame _PyEval_EvalFrameDefault pushes */
	__u64 code_mask;
	unsigned short at[S__COUNT];
	unsigned short compact_at; /* unicode_object.compactunicodeobject_size; 0: not carried */
};

static const struct dbg_layout dbg_layouts[] = {
    /* 3.13: the entry frame is FRAME_OWNED_BY_CSTACK (3); f_executable is a PyObject *. */
    {13, 0x030d00f0, sizeof(struct debug_offsets_313), 3, ~0ULL, DBG_AT(struct debug_offsets_313),
     0},
    /* 3.14: FRAME_OWNED_BY_INTERPRETER (3) was inserted before FRAME_OWNED_BY_CSTACK (now 4)
     * and the entry frame moved to it, so 3 still marks it (4 is assigned nowhere; a walker
     * that skips owner >= frame_owner_cstack covers both). f_executable is a _PyStackRef:
     * bit 0 is Py_TAG_REFCNT, tagged ints use 0b11; objects are 16-byte aligned. */
    {14, 0x030e00f0, sizeof(struct debug_offsets_314), 3, ~3ULL, DBG_AT(struct debug_offsets_314),
     0},
    /* 3.15: FRAME_OWNED_BY_CSTACK is gone; FRAME_OWNED_BY_INTERPRETER (3) is the last owner,
     * held by entry frames and by the base frame every thread state embeds at the bottom of
     * its chain (previous NULL), so owner >= 3 skips both. One tag scheme for both builds
     * (Py_TAG_BITS 3, Py_TAG_REFCNT 1 in pycore_stackref.h): f_executable & ~3. */
    {15, 0x030f00f0, sizeof(struct debug_offsets_315), 3, ~3ULL, DBG_AT(struct debug_offsets_315),
     offsetof(struct debug_offsets_315, unicode_object.compactunicodeobject_size)},
};

/* How a py_offsets field comes from a value: the value is an offset into a structure whose
 * size is another value, and the field spans width bytes there (0: start of variable data). */
struct dbg_field {
	unsigned short dst;
	unsigned char src, in, width;
};

#define F(field, src, in, width)                                                                   \
	{                                                                                          \
		offsetof(struct py_offsets, field), src, in, width                                 \
	}
static const struct dbg_field dbg_fields[] = {
    F(runtime_interpreters_head, S_INTERPRETERS_HEAD, S_RUNTIME_SIZE, 8),
    F(interp_next, S_INTERP_NEXT, S_INTERP_SIZE, 8),
    F(interp_threads_head, S_THREADS_HEAD, S_INTERP_SIZE, 8),
    F(gil_ptr, S_CEVAL_GIL, S_INTERP_SIZE, 8),
    /* interp->_gil.locked / .last_holder from the interpreter; made relative below */
    F(gil_locked, S_GIL_LOCKED, S_INTERP_SIZE, 4),
    F(gil_holder, S_GIL_HOLDER, S_INTERP_SIZE, 8),
    F(tstate_next, S_TSTATE_NEXT, S_TSTATE_SIZE, 8),
    F(tstate_thread_id, S_THREAD_ID, S_TSTATE_SIZE, 8),
    F(tstate_native_thread_id, S_NATIVE_THREAD_ID, S_TSTATE_SIZE, 8),
    F(tstate_frame, S_CURRENT_FRAME, S_TSTATE_SIZE, 8),
    F(frame_previous, S_PREVIOUS, S_FRAME_SIZE, 8),
    F(frame_code, S_EXECUTABLE, S_FRAME_SIZE, 8),
    F(frame_instr, S_INSTR_PTR, S_FRAME_SIZE, 8),
    F(frame_owner, S_OWNER, S_FRAME_SIZE, 1),
    F(code_filename, S_FILENAME, S_CODE_SIZE, 8),
    F(code_name, S_NAME, S_CODE_SIZE, 8),
    F(code_qualname, S_QUALNAME, S_CODE_SIZE, 8),
    F(code_firstlineno, S_FIRSTLINENO, S_CODE_SIZE, 4),
    F(code_linetable, S_LINETABLE, S_CODE_SIZE, 8),
    F(code_code_adaptive, S_CODE_ADAPTIVE, S_CODE_SIZE, 0),
    F(object_type, S_OB_TYPE, S_OBJECT_SIZE, 8),
    F(type_name, S_TP_NAME, S_TYPE_SIZE, 8),
    F(unicode_state, S_STATE, S_UNICODE_SIZE, 4),
    F(unicode_length, S_LENGTH, S_UNICODE_SIZE, 8),
    F(unicode_ascii_size, S_ASCII_SIZE, S_UNICODE_SIZE, 0),
    F(bytes_size, S_OB_SIZE, S_BYTES_SIZE, 8),
    F(bytes_sval, S_OB_SVAL, S_BYTES_SIZE, 0),
};

#define DBG_COOKIE	"xdebugpy"
#define DBG_HEADER_SIZE 24 /* cookie, version, free_threaded: the same in every layout */

static __u64 get_u64(const unsigned char *p)
{
	__u64 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

int pyoffsets__debug_header(const void *buf, size_t len, __u64 *ret_version, int *ret_free_threaded)
{
	const unsigned char *p = buf;

	if (!buf || len < DBG_HEADER_SIZE || memcmp(p, DBG_COOKIE, 8) != 0)
		return -EINVAL;
	if (ret_version)
		*ret_version = get_u64(p + 8);
	if (ret_free_threaded)
		*ret_free_threaded = get_u64(p + 16) != 0;
	return 0;
}

/* Fills *ret from buf read with layout, for a target of the given minor version. */
static int parse_layout(const unsigned char *p, size_t len, const struct dbg_layout *layout,
			unsigned minor, struct py_offsets *ret)
{
	struct py_offsets o = {0};
	__u64 v[S__COUNT];

	if (len < layout->size)
		return -EINVAL;
	for (int i = 0; i < S__COUNT; i++)
		v[i] = get_u64(p + layout->at[i]);

	for (size_t i = 0; i < sizeof(dbg_fields) / sizeof(dbg_fields[0]); i++) {
		const struct dbg_field *f = &dbg_fields[i];
		__u64 off = v[f->src];
		__u32 off32 = (__u32)off;

		/* sizes may be large (PyInterpreterState is ~190 KiB), offsets may not */
		if (off > PYOFFSETS_MAX_OFFSET || off + f->width > v[f->in])
			return -EINVAL;
		memcpy((char *)&o + f->dst, &off32, sizeof(off32));
	}

	/* locked and last_holder were given inside interp->_gil; what interp->ceval.gil points to
	 * is a struct _gil_runtime_state too, so make them relative to its start. */
	if (v[S_GIL_STATE] > o.gil_locked || v[S_GIL_STATE] > o.gil_holder)
		return -EINVAL;
	o.gil_locked -= (__u32)v[S_GIL_STATE];
	o.gil_holder -= (__u32)v[S_GIL_STATE];
	o.gil_kind = PY_GIL_INTERP_PTR;
	/* not in _Py_DebugOffsets: the struct is the same 208 bytes in 3.13 to 3.15 */
	o.gil_size = GIL_STATE_SIZE;

	/* 3.12+ PyCompactUnicodeObject is PyASCIIObject plus utf8_length and utf8 (PEP 623), and
	 * PyUnicodeObject adds the data pointer after it. 3.15 says so itself. */
	if (layout->compact_at) {
		__u64 compact = get_u64(p + layout->compact_at);

		if (compact > v[S_UNICODE_SIZE] || compact < o.unicode_ascii_size)
			return -EINVAL;
		o.unicode_compact_size = (__u32)compact;
	} else {
		o.unicode_compact_size = o.unicode_ascii_size + 16;
	}
	if (o.unicode_compact_size + 8 > v[S_UNICODE_SIZE])
		return -EINVAL;

	o.version = 0x0300 | minor;
	o.frame_kind = PY_FRAME_DIRECT;
	o.cframe_current_frame = NONE;
	o.frame_owner_cstack = layout->owner_cstack;
	o.frame_code_mask = layout->code_mask;
	o.frame_size = FRAME_SIZE(o.frame_previous, o.frame_code, o.frame_instr, 8, o.frame_owner);
	o.code_size = CODE_SIZE(o.code_filename, o.code_name, o.code_qualname, o.code_firstlineno,
				o.code_linetable);
	*ret = o;
	return 0;
}

int pyoffsets__from_debug_offsets(const void *buf, size_t len, struct py_offsets *ret)
{
	const struct dbg_layout *layout = NULL;
	__u64 version;
	int free_threaded;

	if (!ret || pyoffsets__debug_header(buf, len, &version, &free_threaded))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(dbg_layouts) / sizeof(dbg_layouts[0]); i++)
		if (version >> 16 == (0x0300u | dbg_layouts[i].minor))
			layout = &dbg_layouts[i];
	/* a layout is fixed at its x.y.0 final and kept by every patch release of x.y */
	if (!layout || version < layout->first_release)
		return -ENOTSUP;
	if (free_threaded) /* other object headers, thread-local bytecode, no GIL */
		return -ENOTSUP;
	return parse_layout(buf, len, layout, layout->minor, ret);
}

/* Sizes a guessed layout must give, on x86_64 default builds of every version so far: a
 * misaligned guess reads another section's numbers here. */
struct dbg_range {
	unsigned char src;
	__u32 min, max;
};
static const struct dbg_range guess_ranges[] = {
    {S_RUNTIME_SIZE, 4096, 16u << 20},
    {S_INTERP_SIZE, 4096, 16u << 20},
    {S_TSTATE_SIZE, 128, 65536},
    {S_FRAME_SIZE, 48, 256}, /* the walker reads at most 256 bytes of a frame */
    {S_CODE_SIZE, 96, 512},
    {S_OBJECT_SIZE, 16, 16}, /* PyObject: ob_refcnt, ob_type */
    {S_OB_TYPE, 8, 8},
    {S_TYPE_SIZE, 256, 4096},
    {S_TP_NAME, 24, 24},
    {S_BYTES_SIZE, 33, 64},
    {S_OB_SIZE, 16, 16},
    {S_OB_SVAL, 32, 32},
    {S_UNICODE_SIZE, 48, 128},
    {S_LENGTH, 16, 16},
    {S_ASCII_SIZE, 32, 64},
};

int pyoffsets__guess_from_debug_offsets(const void *buf, size_t len, struct py_offsets *ret,
					unsigned *ret_layout_minor)
{
	const struct dbg_layout *newest =
	    &dbg_layouts[sizeof(dbg_layouts) / sizeof(dbg_layouts[0]) - 1];
	const unsigned char *p = buf;
	__u64 version;
	unsigned minor;
	int free_threaded, err;

	if (!ret || pyoffsets__debug_header(buf, len, &version, &free_threaded))
		return -EINVAL;
	minor = (version >> 16) & 0xff;
	/* known minors have their own layout, or are refused (pre-releases) */
	if (version >> 24 != 3 || minor <= newest->minor || free_threaded)
		return -ENOTSUP;
	if (len < newest->size)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(guess_ranges) / sizeof(guess_ranges[0]); i++) {
		__u64 v = get_u64(p + newest->at[guess_ranges[i].src]);

		if (v < guess_ranges[i].min || v > guess_ranges[i].max)
			return -EINVAL;
	}
	err = parse_layout(p, len, newest, minor, ret);
	if (!err && ret_layout_minor)
		*ret_layout_minor = newest->minor;
	return err;
}

unsigned pyoffsets__newest_debug_minor(void)
{
	return dbg_layouts[sizeof(dbg_layouts) / sizeof(dbg_layouts[0]) - 1].minor;
}
