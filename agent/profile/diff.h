/* SPDX-License-Identifier: MIT */
/* Two profiles compared function by function, each normalised to shares of its own total. */
#ifndef PYPROF_DIFF_H
#define PYPROF_DIFF_H

#include <stdint.h>
#include <stdio.h>
#include "util/hashmap.h"
#include "profile/profile.h"

/* A function is a frame without its line: "qualname (file)" for Python frames, the frame's text
 * (frame.h) otherwise (native, kernel, markers). Process, thread and container frames are left
 * out: PIDs and TIDs change from run to run. Shares are percent of the profile's total weight. */
struct diff_function {
	const char *name;
	double base_self, base_total; /* self: the function is the leaf; total: anywhere in the
				       * stack, counted once per stack however deep it recurses */
	double new_self, new_total;
};

struct diff {
	struct strtab names;
	struct diff_function *fns;
	size_t n;
	uint64_t base_weight, new_weight;
};

/* Returns 0, -ENODATA if either profile has no weight, or -ENOMEM. */
int diff__compute(const struct profile *base, const struct profile *new, struct diff *ret);
void diff__free(struct diff *d);

/* The function whose total share grew the most (percentage points), NULL if none grew. */
const struct diff_function *diff__max_growth(const struct diff *d);

enum diff_order { DIFF_TOTAL_GREW, DIFF_TOTAL_SHRANK, DIFF_SELF_GREW, DIFF_SELF_SHRANK };

/* The functions in order (largest change first, then by name), at most top of them, leaving out
 * changes under 0.005 percentage points: the rows of the report's sections. sorted holds d->n
 * entries. Returns how many of sorted to show. */
size_t diff__rank(const struct diff *d, enum diff_order order, size_t top,
		  const struct diff_function **sorted);

/* The report: the top functions whose total share, then self share, grew and shrank the most. */
int diff__write_text(const struct diff *d, size_t top, FILE *out);

#endif
