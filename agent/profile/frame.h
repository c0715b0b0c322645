/* SPDX-License-Identifier: MIT */
/* How the agent names frames, in the one text form every format carries them in: "qualname
 * (path/file.py:LINE)" for Python, "name_[k]" for the kernel, "[...]" for markers, "COMM (PID)"
 * at the root and "thread TID (name)" below it. The collector writes them; the flame graph,
 * speedscope, pprof and diff writers read a frame's kind and parts here. */
#ifndef PYPROF_FRAME_H
#define PYPROF_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum frame_kind {
	FRAME_NATIVE = 0, /* anything that matches no other kind */
	FRAME_PYTHON,	  /* "qualname (path/file.py:LINE)" */
	FRAME_KERNEL,	  /* "name_[k]" */
	FRAME_MARKER,	  /* "[truncated]", "[partial: ...]", "<unknown>", ... */
	FRAME_PROCESS,	  /* root "COMM (PID)" */
	FRAME_THREAD,	  /* "thread TID (name)", just below the root */
	FRAME_CONTAINER,  /* "[container ID]" */
	FRAME_KIND_MAX,
};

extern const char *const frame_kind_names[FRAME_KIND_MAX];

/* A frame name cut into its parts; the pointers point into the name. */
struct frame_parts {
	enum frame_kind kind;
	const char *name; /* Python: qualname; process: comm; thread: thread name; container: id;
			   * kernel: the symbol without "_[k]"; otherwise the whole frame */
	size_t name_len;
	const char *file; /* Python only, else NULL */
	size_t file_len;
	long number; /* Python: line; process: pid; thread: tid; else 0 */
};

/* Classifies a frame. depth is its position in the stack (0 = root): "COMM (PID)" is a process
 * only at the root and "thread TID (name)" a thread only just below it. */
void frame__parse(const char *frame, uint32_t depth, struct frame_parts *ret);

static inline enum frame_kind frame__kind(const char *frame, uint32_t depth)
{
	struct frame_parts fp;

	frame__parse(frame, depth, &fp);
	return fp.kind;
}

/* The function a frame belongs to, ignoring the line: "qualname (file)" for Python frames, the
 * whole frame otherwise. Writes at most size bytes (NUL included); returns the full length. */
size_t frame__function_name(const char *frame, uint32_t depth, char *buf, size_t size);

#endif
