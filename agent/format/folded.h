/* SPDX-License-Identifier: MIT */
/* The folded text format ("root;...;leaf COUNT" lines, each frame in its text form, frame.h): the
 * writer, and an incremental parser into a profile (plain or gzip input, bounded memory per
 * line). */
#ifndef PYPROF_FOLDED_H
#define PYPROF_FOLDED_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <zlib.h>
#include "profile/profile.h"

/* Longest accepted line, newline excluded: longer lines are an error, never buffered whole. */
#define FOLDED_MAX_LINE (1024 * 1024)

/* Writes "root;...;leaf weight" lines, sorted so equal profiles give equal files. */
int folded__write(const struct profile *p, FILE *out);

/* The stacks of one profile already read, by their text: a host's windows hold the same stacks
 * again and again, and a line seen in an earlier input of a merge skips parsing its frames.
 * Keyed by hash__text (the text is not kept); as many entries as the profile has stacks. */
struct folded_memo {
	struct hashmap stacks; /* text key -> struct profile_stack * of the profile */
	uint64_t hits, misses;
};

void folded_memo__init(struct folded_memo *m);
void folded_memo__free(struct folded_memo *m);

/* Incremental parser: feed it bytes as they come, then finish. Errors name the 1-based line. */
struct folded_parser {
	struct profile *profile;
	unsigned long line; /* lines completed so far */
	char *buf;	    /* the current, incomplete line */
	size_t len, cap;
	uint32_t *ids;
	size_t ids_cap;
	int failed;
	int totals_only; /* lines checked and counted into profile->total, no stack kept: for a
			  * timeline, several times cheaper than interning every frame */
	struct folded_memo *memo; /* NULL, or the memo of profile's stacks */
};

void folded_parser__init(struct folded_parser *fp, struct profile *p);
void folded_parser__free(struct folded_parser *fp);
/* Returns 0, or -EINVAL (malformed input), -E2BIG (line too long), -EOVERFLOW (counts), -ENOMEM,
 * with a message "line N: ..." in err. */
int folded_parser__feed(struct folded_parser *fp, const char *data, size_t len, char *err,
			size_t err_len);
/* Parses a last line that has no newline. */
int folded_parser__finish(struct folded_parser *fp, char *err, size_t err_len);

/* Feeds fp head_len bytes already read from gz (head), then the rest of gz (plain or gzip),
 * and finishes it. A truncated or corrupt gzip stream is an error naming the line it broke
 * after. Returns 0 or -errno with a message in err. */
int folded__read_gz(struct folded_parser *fp, gzFile gz, const void *head, size_t head_len,
		    char *err, size_t err_len);
/* Opens path ("-": standard input) for reading plain or gzip text. Returns 0 or -errno with a
 * message in err. */
int folded__gz_open(const char *path, gzFile *ret, char *err, size_t err_len);
/* Whether gz failed (n: what the last gzread returned), and its error as a message. */
int folded__gz_failed(gzFile gz, int n);
int folded__gz_error(gzFile gz, unsigned long line, char *err, size_t err_len);
/* Reads a whole folded file, plain or gzip ("-": standard input) into p. */
int folded__read_path(const char *path, struct profile *p, char *err, size_t err_len);

#endif
