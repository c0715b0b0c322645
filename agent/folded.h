/* SPDX-License-Identifier: MIT */
/* The folded text format ("root;...;leaf COUNT" lines): an incremental parser into a profile
 * (plain or gzip input, bounded memory per line), and the naming conventions of our frames. */
#ifndef PYPROF_FOLDED_H
#define PYPROF_FOLDED_H

#include <stddef.h>
#include <stdint.h>
#include "profile.h"

/* Longest accepted line, newline excluded: longer lines are an error, never buffered whole. */
#define FOLDED_MAX_LINE (1024 * 1024)

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
void folded__parse_frame(const char *frame, uint32_t depth, struct frame_parts *ret);

static inline enum frame_kind folded__frame_kind(const char *frame, uint32_t depth)
{
	struct frame_parts fp;

	folded__parse_frame(frame, depth, &fp);
	return fp.kind;
}

/* The function a frame belongs to, ignoring the line: "qualname (file)" for Python frames, the
 * whole frame otherwise. Writes at most size bytes (NUL included); returns the full length. */
size_t folded__function_name(const char *frame, uint32_t depth, char *buf, size_t size);

/* Incremental parser: feed it bytes as they come, then finish. Errors name the 1-based line. */
struct folded_parser {
	struct profile *profile;
	unsigned long line; /* lines completed so far */
	char *buf;	    /* the current, incomplete line */
	size_t len, cap;
	uint32_t *ids;
	size_t ids_cap;
	int failed;
};

void folded_parser__init(struct folded_parser *fp, struct profile *p);
void folded_parser__free(struct folded_parser *fp);
/* Returns 0, or -EINVAL (malformed input), -E2BIG (line too long), -EOVERFLOW (counts), -ENOMEM,
 * with a message "line N: ..." in err. */
int folded_parser__feed(struct folded_parser *fp, const char *data, size_t len, char *err,
			size_t err_len);
/* Parses a last line that has no newline. */
int folded_parser__finish(struct folded_parser *fp, char *err, size_t err_len);

/* Reads a whole folded file, plain or gzip ("-": standard input) into p. */
int folded__read_path(const char *path, struct profile *p, char *err, size_t err_len);

#endif
