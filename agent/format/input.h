/* SPDX-License-Identifier: MIT */
/* Reading stored profiles: folded text (plain or gzipped) or pprof, told apart by content, one
 * file or many summed into one profile. The one reader behind convert, diff, merge, compare and
 * the web view. */
#ifndef PYPROF_INPUT_H
#define PYPROF_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include "format/folded.h"
#include "profile/profile.h"

enum input_format { INPUT_AUTO, INPUT_FOLDED, INPUT_PPROF };

struct input_opts {
	enum input_format from;
	int kind_set, rate_set;
	enum profile_kind kind;
	unsigned rate_hz;
	int totals_only; /* only p->total is wanted: folded text is checked and counted, its
			  * stacks not kept (pprof is read whole) */
	struct folded_memo *memo; /* NULL, or the memo of p's stacks (folded.h); merges of several
				   * inputs make their own */
};

/* Folded input carries no rate: agentctl snapshot's default is assumed unless told. */
#define INPUT_DEFAULT_RATE_HZ 99

/* Loads path ("-": standard input), folded or pprof, plain or gzipped, adding its stacks to p;
 * ret_meta is filled from a pprof file and from opts. Returns 0 or -errno with a message in err
 * (the line where folded text is malformed). */
int input__load(const char *path, const struct input_opts *opts, struct profile *p,
		struct profile_meta *ret_meta, char *err, size_t err_len);

/* Loads each of paths[0..n) into p (summed) and ret_meta: the first input's kind and rate, the
 * earliest start and the latest end. Inputs of different kinds are an error. On failure, err
 * names the path that failed and why. Returns 0 or -errno. */
int input__load_merged(const char *const *paths, size_t n, const struct input_opts *opts,
		       struct profile *p, struct profile_meta *ret_meta, char *err, size_t err_len);
/* The same, with each input's total weight in ret_totals[0..n) (NULL: not wanted). */
int input__load_merged_totals(const char *const *paths, size_t n, const struct input_opts *opts,
			      struct profile *p, struct profile_meta *ret_meta,
			      uint64_t *ret_totals, char *err, size_t err_len);

#endif
