/* SPDX-License-Identifier: MIT */
/* What a frame is: a record (kind, name, file, number) that the collector builds and every writer
 * reads field by field; and its one text form, written by frame__format and read back, only from
 * files, by frame__parse. */
#ifndef PYPROF_FRAME_H
#define PYPROF_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* The kinds, with what each record's fields hold. A new kind goes before FRAME_KIND_MAX, with a
 * name in frame_kind_names, a text form in frame__format and frame__parse (which must not read
 * any text another kind writes), and its place in each writer; until then writers treat a kind
 * they do not know as native: its text is its name. */
enum frame_kind {
	FRAME_NATIVE = 0, /* name: the whole text; a frame that is no other kind */
	FRAME_PYTHON,	  /* name: qualname; file: the code's file name; number: line (>= 0) */
	FRAME_KERNEL,	  /* name: the kernel symbol */
	FRAME_MARKER,	 /* name: the whole text, "[...]" or "<...>" ("[truncated]", "<unknown>") */
	FRAME_PROCESS,	 /* name: comm; number: pid. The root of a stack */
	FRAME_THREAD,	 /* name: the thread's name; number: tid. Just below the root */
	FRAME_CONTAINER, /* name: the container ID. A pprof label */
	FRAME_KIND_MAX,
};

extern const char *const frame_kind_names[FRAME_KIND_MAX];

struct frame {
	enum frame_kind kind;
	const char *name; /* never NULL */
	const char *file; /* Python: never NULL (may be ""); otherwise NULL */
	int64_t number;	  /* Python: line; process: pid; thread: tid; otherwise 0 */
};

/* The text form, one grammar for folded files, flame graph labels and the names pprof and
 * speedscope give frames that have no file:
 *
 *   native     NAME
 *   python     QUALNAME " (" FILE ":" LINE ")"
 *   kernel     NAME "_[k]"
 *   marker     NAME                            (itself "[...]" or "<...>")
 *   process    COMM " (" PID ")"               (at depth 0, the root)
 *   thread     "thread " TID " (" NAME ")"     (at depth 1)
 *   container  "[container " ID "]"
 *
 * LINE, PID and TID are written in decimal without leading zeros. frame__parse reads a text at
 * depth d (0: the root) by the first rule that matches:
 *   1. ends in "_[k]": kernel, the rest is NAME;
 *   2. "[container " ID "]" with ID not empty: container; else "[...]": marker;
 *   3. "<...>" without a space: marker;
 *   4. d == 0 and the text ends in " (" DIGITS ")": process, split at that last " (" (a comm
 *      may hold " (");
 *   5. d == 1 and "thread " DIGITS " (" ... ")": thread, NAME is everything inside;
 *   6. split at the FIRST " (": if the text ends in ":" DIGITS ")" and both the qualname before
 *      and the FILE between are not empty, python. The file is taken greedily: it may hold
 *      " (", ":12)", ")" and anything else; a qualname may hold spaces, "(", ")", ":" and
 *      "<locals>", but not " (" (CPython's never do);
 *   7. otherwise native, the whole text.
 * DIGITS are 1 to 10 decimal digits (leading zeros read, not written again).
 *
 * So every frame the agent writes reads back with the same fields, except (tested in
 * tests/unit/test_folded.c):
 *   - a Python frame whose qualname holds " (": it reads back cut at its first " (", the rest
 *     going to the file; one with an empty qualname or file reads back as a native frame;
 *   - a Python frame at depth 1 (a stack without a thread frame) whose qualname is "thread "
 *     DIGITS reads back as a thread (a CPython qualname holds no space);
 *   - a marker that is not "[...]" or "<...>"-without-spaces, or whose text ends in "_[k]" or
 *     starts "[container ", reads back as native, kernel or container;
 *   - a process or thread frame away from its depth reads back as native (or Python);
 *   - a negative number, or a number of more than 10 digits, makes the text native;
 *   - a container ID whose text ends in "_[k]" reads back as kernel;
 *   - in names and files, ';', '\n' and '\r' are already '?' in the profile (profile.h), and
 *     names are bounded there; folded files also lose blanks at the end of a leaf frame and
 *     cannot carry control bytes other than tab (their reader refuses the line). */

/* Writes f's text into buf, at most size bytes with the NUL (as snprintf); returns its length. */
size_t frame__format(const struct frame *f, char *buf, size_t size);

/* A text cut into its parts (frame__parse); the pointers point into the text. */
struct frame_parts {
	enum frame_kind kind;
	const char *name;
	size_t name_len;
	const char *file; /* Python only, else NULL */
	size_t file_len;
	int64_t number;
};

/* Reads a text at depth (0: the root) by the rules above. */
void frame__parse(const char *text, uint32_t depth, struct frame_parts *ret);

#endif
