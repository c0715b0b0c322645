/* SPDX-License-Identifier: MIT */
/* Layout of the CPython structures the sampler walks, one instance per interpreter version.
 * Shared by the BPF programs (which walk thread states and frames) and userspace (which fills
 * it from a built-in table or from the interpreter's own _Py_DebugOffsets). No pointers. */
#ifndef PYPROF_PY_OFFSETS_H
#define PYPROF_PY_OFFSETS_H

#ifdef __BPF__
/* vmlinux.h provides __u32/__u64 */
#else
#include <linux/types.h>
#endif

/* An offset that does not exist in this version. */
#define PYOFF_NONE 0xffffffffu

/* How the thread state reaches the innermost frame. */
enum py_frame_kind {
	PY_FRAME_OBJECT =
	    1, /* 3.6-3.10: tstate->frame is a PyFrameObject (f_back, f_code, f_lasti) */
	PY_FRAME_CFRAME = 2, /* 3.11-3.12: tstate->cframe->current_frame, _PyInterpreterFrame */
	PY_FRAME_DIRECT = 3, /* 3.13+: tstate->current_frame, _PyInterpreterFrame */
};

/* Where the GIL's state lives. */
enum py_gil_kind {
	PY_GIL_NONE = 0, /* unknown (or free-threaded build) */
	PY_GIL_RUNTIME =
	    1, /* 3.7-3.11: inside _PyRuntime, at gil_locked/gil_holder from &_PyRuntime */
	PY_GIL_INTERP_PTR = 2, /* 3.12+: interp->ceval.gil (at gil_ptr) points to the state */
};

struct py_offsets {
	__u32 version;	  /* (major << 8) | minor, e.g. 0x030c for 3.12 */
	__u32 frame_kind; /* enum py_frame_kind */

	/* _PyRuntimeState (3.7+); for 3.6 userspace resolves the interpreter head itself */
	__u32 runtime_interpreters_head;

	/* PyInterpreterState */
	__u32 interp_next;
	__u32 interp_threads_head;

	/* PyThreadState */
	__u32 tstate_next;
	__u32 tstate_thread_id;	       /* pthread_self() of the thread: its FS base on x86_64 */
	__u32 tstate_native_thread_id; /* kernel tid, 3.11+; PYOFF_NONE before */
	__u32 tstate_frame;	       /* frame (OBJECT), cframe (CFRAME), current_frame (DIRECT) */
	__u32 cframe_current_frame;    /* _PyCFrame.current_frame (CFRAME only) */

	/* PyFrameObject (OBJECT) or _PyInterpreterFrame (CFRAME, DIRECT) */
	__u32 frame_previous;	  /* f_back / previous */
	__u32 frame_code;	  /* f_code / f_executable */
	__u32 frame_instr;	  /* f_lasti (int, OBJECT) or prev_instr / instr_ptr (pointer) */
	__u32 frame_owner;	  /* owner (char), PYOFF_NONE before 3.11 */
	__u32 frame_owner_cstack; /* frames with owner >= this are shims to skip (3.12: CSTACK,
				   * 3.14: INTERPRETER and CSTACK); PYOFF_NONE if none */
	__u32 frame_size;	  /* bytes to read to cover all frame fields above */
	__u64 frame_code_mask;	  /* AND-ed with frame_code's value (3.14 tags the low bits) */

	/* PyCodeObject (userspace only) */
	__u32 code_filename;
	__u32 code_name;
	__u32 code_qualname; /* PYOFF_NONE before 3.11 */
	__u32 code_firstlineno;
	__u32 code_linetable;	  /* co_lnotab (<= 3.9), co_linetable (3.10+) */
	__u32 code_code_adaptive; /* start of the bytecode inside the code object, 3.11+ */
	__u32 code_size;	  /* bytes to read to cover all code fields above */

	/* PyObject, PyTypeObject */
	__u32 object_type; /* ob_type */
	__u32 type_name;   /* tp_name */

	/* PyUnicodeObject (PEP 393 compact strings), PyBytesObject */
	__u32 unicode_state; /* the state bit field */
	__u32 unicode_length;
	__u32 unicode_ascii_size;   /* sizeof(PyASCIIObject): data of compact ASCII strings */
	__u32 unicode_compact_size; /* sizeof(PyCompactUnicodeObject): data of other compact ones */
	__u32 bytes_size;	    /* ob_size */
	__u32 bytes_sval;	    /* ob_sval */

	/* GIL state */
	__u32 gil_kind;	  /* enum py_gil_kind */
	__u32 gil_ptr;	  /* PY_GIL_INTERP_PTR: offset of the gil pointer in the interpreter */
	__u32 gil_locked; /* offset of 'locked' (int) from the GIL state */
	__u32 gil_holder; /* offset of 'last_holder' (PyThreadState *) from the GIL state */
	__u32 gil_size;	  /* sizeof(struct _gil_runtime_state), which starts at gil_holder - 8:
			   * a thread waiting for the GIL waits on a futex inside it */
};

/* Where the three pointers of a code object's check start (see py_code_check): co_filename, when
 * co_name and then co_qualname or the line table follow it; PYOFF_NONE in a layout without. */
static inline __u32 py_code_id_offset(const struct py_offsets *o)
{
	if (o->code_filename == PYOFF_NONE || o->code_name != o->code_filename + 8)
		return PYOFF_NONE;
	if (o->code_qualname == o->code_name + 8 || o->code_linetable == o->code_name + 8)
		return o->code_filename;
	return PYOFF_NONE;
}

#endif /* PYPROF_PY_OFFSETS_H */
