/* SPDX-License-Identifier: MIT */
/* The table of `agentctl top`: each function's own and total weight in the last interval and
 * since start, from the profile taken at each interval, sorted by a column. No terminal here. */
#ifndef PYPROF_TOPVIEW_H
#define PYPROF_TOPVIEW_H

#include <stddef.h>
#include <stdint.h>
#include "profile/profile.h"

/* The columns a table sorts by, as py-spy's keys 1 to 4: in pairs, own then total of the same
 * period (the sort's tie-break relies on it). */
enum topview_key {
	TOPVIEW_OWN_NOW = 0, /* %Own: the last interval's own weight */
	TOPVIEW_TOTAL_NOW,   /* %Total: the last interval's total weight */
	TOPVIEW_OWN_ALL,     /* OwnTime: own weight since start */
	TOPVIEW_TOTAL_ALL,   /* TotalTime: total weight since start */
	TOPVIEW_KEY_MAX,
};

/* A function: Python frames are one per qualname and file (lines aggregated), or per line;
 * native and (with kernel) kernel frames are functions too. Process, thread, container and
 * marker frames are not. Own: the function is the innermost function of the stack; total: it
 * is anywhere in the stack, counted once per stack however deep it recurses. */
struct topview_row {
	enum frame_kind kind;
	const char *name; /* valid until the next topview__add or topview__reset */
	const char *file; /* Python: the file; otherwise NULL */
	int64_t line;	  /* Python: by line, the line; by function, the line with the most own
			   * weight since start (else the most total); -1 otherwise */
	uint64_t own_now, total_now, own_all, total_all;
};

struct topview;

/* kernel: kernel frames are functions (else left out, as markers are). */
struct topview *topview__new(int kernel);
void topview__free(struct topview *tv);
/* Adds the profile of one interval: the previous interval's weights are cleared, these become
 * the last interval's and are added to those since start. Returns 0 or -ENOMEM. */
int topview__add(struct topview *tv, const struct profile *p);
/* Forgets everything seen (py-spy's reset). */
void topview__reset(struct topview *tv);
/* Every function seen since start (or the last reset), by function or by line, sorted by key,
 * largest first (smallest first with reverse); equal totals with the less own first (callers
 * before callees), equal owns with the more total first, then by name, file, line. *ret_rows stays
 * valid until the next call on tv. Returns 0 or -ENOMEM. */
int topview__rows(struct topview *tv, enum topview_key key, int reverse, int by_line,
		  const struct topview_row **ret_rows, size_t *ret_n);
/* The weight of the last interval's profile, and since start (stacks without a function
 * included: they are time too). */
uint64_t topview__weight_now(const struct topview *tv);
uint64_t topview__weight_all(const struct topview *tv);
/* Distinct threads (thread frames) with weight in the last interval's profile. */
size_t topview__threads_now(const struct topview *tv);

#endif
