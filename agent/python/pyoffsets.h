/* SPDX-License-Identifier: MIT */
/* CPython structure offsets: built-in tables for 3.6-3.13 (x86_64, default builds) and a parser
 * for the _Py_DebugOffsets that CPython 3.13+ places at the start of _PyRuntime (layouts of
 * 3.13, 3.14 and 3.15; newer versions are read with the newest layout after a live check). */
#ifndef PYPROF_PYOFFSETS_H
#define PYPROF_PYOFFSETS_H

#include <stddef.h>

#include "py_offsets.h"

/* Bytes to read from the start of a target's _PyRuntime for pyoffsets__from_debug_offsets():
 * the size of the largest _Py_DebugOffsets layout understood (3.15's). _PyRuntimeState is far
 * larger than this in every version, so reading this much never runs past the object. */
#define PYOFFSETS_DEBUG_READ_SIZE 888

/* Largest offset accepted from a target's _Py_DebugOffsets. */
#define PYOFFSETS_MAX_OFFSET 65536

/* Every field of struct py_offsets, for code that walks them by name (dumps, tests). */
#define PYOFFSETS_FIELDS(X)                                                                        \
	X(version)                                                                                 \
	X(frame_kind)                                                                              \
	X(runtime_interpreters_head)                                                               \
	X(interp_next)                                                                             \
	X(interp_threads_head)                                                                     \
	X(tstate_next)                                                                             \
	X(tstate_thread_id)                                                                        \
	X(tstate_native_thread_id)                                                                 \
	X(tstate_frame)                                                                            \
	X(cframe_current_frame)                                                                    \
	X(frame_previous)                                                                          \
	X(frame_code)                                                                              \
	X(frame_instr)                                                                             \
	X(frame_owner)                                                                             \
	X(frame_owner_cstack)                                                                      \
	X(frame_size)                                                                              \
	X(frame_code_mask)                                                                         \
	X(code_filename)                                                                           \
	X(code_name)                                                                               \
	X(code_qualname)                                                                           \
	X(code_firstlineno)                                                                        \
	X(code_linetable)                                                                          \
	X(code_code_adaptive)                                                                      \
	X(code_size)                                                                               \
	X(object_type)                                                                             \
	X(type_name)                                                                               \
	X(unicode_state)                                                                           \
	X(unicode_length)                                                                          \
	X(unicode_ascii_size)                                                                      \
	X(unicode_compact_size)                                                                    \
	X(bytes_size)                                                                              \
	X(bytes_sval)                                                                              \
	X(gil_kind)                                                                                \
	X(gil_ptr)                                                                                 \
	X(gil_locked)                                                                              \
	X(gil_holder)                                                                              \
	X(gil_size)

/* The built-in offsets of CPython major.minor, or NULL if there is no table for it (before 3.6,
 * after 3.13: use pyoffsets__from_debug_offsets() there). A free-threaded 3.13t must not use
 * the 3.13 table: check its _Py_DebugOffsets (pyoffsets__debug_header) first. */
const struct py_offsets *pyoffsets__table(unsigned major, unsigned minor);

/* The version (PY_VERSION_HEX) and build kind that the _Py_DebugOffsets at the start of buf
 * announce; either pointer may be NULL. Returns 0, or -EINVAL for a short buffer or a wrong
 * cookie (not a 3.13+ _PyRuntime). */
int pyoffsets__debug_header(const void *buf, size_t len, __u64 *ret_version,
			    int *ret_free_threaded);

/* Fill *ret from the first len bytes of a target's _PyRuntime, which start with its
 * _Py_DebugOffsets (final releases of 3.13, 3.14 and 3.15, any patch release; same byte order
 * as this host). Fields the debug offsets do not carry are derived from what is known of that
 * minor version. Returns 0, -EINVAL for a wrong cookie, a buffer too short for the layout or an
 * offset that is out of bounds, or -ENOTSUP for another version, a pre-release or a
 * free-threaded build. *ret is written only on success. */
int pyoffsets__from_debug_offsets(const void *buf, size_t len, struct py_offsets *ret);

/* For a minor version newer than every layout known here (3.16+): reads buf with the newest
 * known layout, which must give the sizes every version so far has had (PyObject, type, bytes
 * and str heads, frame and code sizes the readers accept). The result describes the target's
 * version and is only a guess: the caller checks it against the live process before using it.
 * *ret_layout_minor (may be NULL) gets the minor whose layout was used. Returns 0, -ENOTSUP
 * for a version that is not newer (or not 3.x) or a free-threaded build, -EINVAL if the
 * layout does not fit. */
int pyoffsets__guess_from_debug_offsets(const void *buf, size_t len, struct py_offsets *ret,
					unsigned *ret_layout_minor);

/* The newest minor version whose _Py_DebugOffsets layout is known. */
unsigned pyoffsets__newest_debug_minor(void);

#endif /* PYPROF_PYOFFSETS_H */
