/* SPDX-License-Identifier: MIT */
/* Prints, for the CPython whose headers it is compiled against, the value every field of
 * struct py_offsets must have, as "field value" lines, computed with offsetof()/sizeof() on the
 * interpreter's own (internal) structures. tests/offsets/run.sh compiles it once per version
 * and check.c compares the output with pyoffsets__table() (3.6-3.13) and with what
 * pyoffsets__from_debug_offsets() makes of the interpreter's _Py_DebugOffsets (3.13+). Lines
 * starting with "x_" are extra facts the script needs (not table fields). */
#include <Python.h>
#include <frameobject.h>
#include <stddef.h>
#include <stdio.h>

#if PY_VERSION_HEX < 0x03060000 || PY_VERSION_HEX >= 0x03100000
#error "probe.c knows CPython 3.6 to 3.15"
#endif

#if PY_VERSION_HEX >= 0x03070000 && PY_VERSION_HEX < 0x03080000
#include "internal/pystate.h" /* _PyRuntimeState, _ceval_runtime_state, _gil_runtime_state */
#elif PY_VERSION_HEX >= 0x03080000 && PY_VERSION_HEX < 0x03090000
#include "internal/pycore_pystate.h"
#elif PY_VERSION_HEX >= 0x03090000
#include "internal/pycore_runtime.h"
#include "internal/pycore_interp.h"
#endif
#if PY_VERSION_HEX >= 0x030b0000
#include "internal/pycore_frame.h"
#include "internal/pycore_gil.h"
#endif
#if PY_VERSION_HEX >= 0x030e0000
#include "internal/pycore_stackref.h" /* Py_TAG_BITS: f_executable is a _PyStackRef */
#endif

#define NONE	       0xffffffffu
#define P(name, value) printf("%s %lu\n", #name, (unsigned long)(value))
#define PNONE(name)    P(name, NONE)
/* End of a field: its offset plus its width. */
#define END(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
#define MAX2(a, b)	  ((a) > (b) ? (a) : (b))

int main(void)
{
	P(version, (PY_MAJOR_VERSION << 8) | PY_MINOR_VERSION);

	/* runtime, interpreter, thread */
#if PY_VERSION_HEX >= 0x03070000
	P(runtime_interpreters_head, offsetof(_PyRuntimeState, interpreters.head));
#else
	PNONE(runtime_interpreters_head);
#endif
	P(interp_next, offsetof(PyInterpreterState, next));
#if PY_VERSION_HEX >= 0x030b0000
	P(interp_threads_head, offsetof(PyInterpreterState, threads.head));
#else
	P(interp_threads_head, offsetof(PyInterpreterState, tstate_head));
#endif
	P(tstate_next, offsetof(PyThreadState, next));
	P(tstate_thread_id, offsetof(PyThreadState, thread_id));
#if PY_VERSION_HEX >= 0x030b0000
	P(tstate_native_thread_id, offsetof(PyThreadState, native_thread_id));
#else
	PNONE(tstate_native_thread_id);
#endif

	/* frames */
#if PY_VERSION_HEX < 0x030b0000
	P(frame_kind, 1);
	P(tstate_frame, offsetof(PyThreadState, frame));
	PNONE(cframe_current_frame);
	P(frame_previous, offsetof(PyFrameObject, f_back));
	P(frame_code, offsetof(PyFrameObject, f_code));
	P(frame_instr, offsetof(PyFrameObject, f_lasti));
	PNONE(frame_owner);
	PNONE(frame_owner_cstack);
	P(frame_size, MAX2(MAX2(END(PyFrameObject, f_back), END(PyFrameObject, f_code)),
			   END(PyFrameObject, f_lasti)));
#else
	typedef _PyInterpreterFrame F;
#if PY_VERSION_HEX < 0x030d0000
	P(frame_kind, 2);
	P(tstate_frame, offsetof(PyThreadState, cframe));
	P(cframe_current_frame, offsetof(_PyCFrame, current_frame));
#define FCODE  f_code
#define FINSTR prev_instr
#else
	P(frame_kind, 3);
	P(tstate_frame, offsetof(PyThreadState, current_frame));
	PNONE(cframe_current_frame);
#define FCODE  f_executable
#define FINSTR instr_ptr
#endif
	P(frame_previous, offsetof(F, previous));
	P(frame_code, offsetof(F, FCODE));
	P(frame_instr, offsetof(F, FINSTR));
	P(frame_owner, offsetof(F, owner));
#if PY_VERSION_HEX >= 0x030e0000
	/* 3.14 inserted FRAME_OWNED_BY_INTERPRETER (3) before FRAME_OWNED_BY_CSTACK (4), 3.15
	 * removed CSTACK: frames owned by the interpreter or above are the ones not to walk, as
	 * _PyFrame_IsIncomplete() has it. Every owner of a Python frame must stay below. */
	_Static_assert(FRAME_OWNED_BY_THREAD < FRAME_OWNED_BY_INTERPRETER &&
			   FRAME_OWNED_BY_GENERATOR < FRAME_OWNED_BY_INTERPRETER &&
			   FRAME_OWNED_BY_FRAME_OBJECT < FRAME_OWNED_BY_INTERPRETER,
		       "a Python frame's owner is at or above FRAME_OWNED_BY_INTERPRETER");
#if PY_VERSION_HEX < 0x030f0000
	_Static_assert(FRAME_OWNED_BY_CSTACK > FRAME_OWNED_BY_INTERPRETER,
		       "FRAME_OWNED_BY_CSTACK is below FRAME_OWNED_BY_INTERPRETER");
#endif
	P(frame_owner_cstack, FRAME_OWNED_BY_INTERPRETER);
#elif PY_VERSION_HEX >= 0x030c0000
	P(frame_owner_cstack, FRAME_OWNED_BY_CSTACK);
#else
	PNONE(frame_owner_cstack); /* 3.11 marks entry frames with is_entry, not an owner */
#endif
	P(frame_size,
	  MAX2(MAX2(END(F, previous), END(F, FCODE)), MAX2(END(F, FINSTR), END(F, owner))));
#endif
#if PY_VERSION_HEX >= 0x030e0000
	/* the low bits of a _PyStackRef are its tag */
	_Static_assert(sizeof(((F *)0)->FCODE) == 8, "f_executable is not 8 bytes");
	P(frame_code_mask, ~(unsigned long long)Py_TAG_BITS);
#else
	P(frame_code_mask, ~0ULL);
#endif

	/* code */
	P(code_filename, offsetof(PyCodeObject, co_filename));
	P(code_name, offsetof(PyCodeObject, co_name));
	P(code_firstlineno, offsetof(PyCodeObject, co_firstlineno));
#if PY_VERSION_HEX >= 0x030a0000
#define LINETABLE co_linetable
#else
#define LINETABLE co_lnotab
#endif
	P(code_linetable, offsetof(PyCodeObject, LINETABLE));
	size_t code_end =
	    MAX2(MAX2(END(PyCodeObject, co_filename), END(PyCodeObject, co_name)),
		 MAX2(END(PyCodeObject, co_firstlineno), END(PyCodeObject, LINETABLE)));
#if PY_VERSION_HEX >= 0x030b0000
	P(code_qualname, offsetof(PyCodeObject, co_qualname));
	P(code_code_adaptive, offsetof(PyCodeObject, co_code_adaptive));
	code_end = MAX2(code_end, END(PyCodeObject, co_qualname));
#else
	PNONE(code_qualname);
	PNONE(code_code_adaptive);
#endif
	P(code_size, code_end);

	/* objects */
	P(object_type, offsetof(PyObject, ob_type));
	P(type_name, offsetof(PyTypeObject, tp_name));
	P(unicode_state, offsetof(PyASCIIObject, state));
	P(unicode_length, offsetof(PyASCIIObject, length));
	P(unicode_ascii_size, sizeof(PyASCIIObject));
	P(unicode_compact_size, sizeof(PyCompactUnicodeObject));
	P(bytes_size, offsetof(PyBytesObject, ob_base.ob_size));
	P(bytes_sval, offsetof(PyBytesObject, ob_sval));

	/* GIL */
#if PY_VERSION_HEX >= 0x030c0000
	P(gil_kind, 2);
	P(gil_ptr, offsetof(PyInterpreterState, ceval.gil));
	P(gil_locked, offsetof(struct _gil_runtime_state, locked));
	P(gil_holder, offsetof(struct _gil_runtime_state, last_holder));
	P(gil_size, sizeof(struct _gil_runtime_state));
#elif PY_VERSION_HEX >= 0x03070000
	P(gil_kind, 1);
	PNONE(gil_ptr);
	P(gil_locked, offsetof(_PyRuntimeState, ceval.gil.locked));
	P(gil_holder, offsetof(_PyRuntimeState, ceval.gil.last_holder));
	P(gil_size, sizeof(struct _gil_runtime_state));
#else
	P(gil_kind, 0);
	PNONE(gil_ptr);
	PNONE(gil_locked);
	PNONE(gil_holder);
	PNONE(gil_size);
#endif

#if PY_VERSION_HEX >= 0x030d0000
	P(x_debug_offsets_size, sizeof(_Py_DebugOffsets));
	P(x_debug_offsets_at, offsetof(_PyRuntimeState, debug_offsets));
#endif
	return 0;
}
