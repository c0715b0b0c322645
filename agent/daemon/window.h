/* SPDX-License-Identifier: MIT */
/* The daemon's windows, as arithmetic on the clocks passed in: each window ends at a wall-clock
 * multiple of its length (so every host's windows line up), and its end is watched on the
 * monotonic clock (so a wall-clock step neither ends it early nor holds it open). */
#ifndef PYPROF_WINDOW_H
#define PYPROF_WINDOW_H

#include <stdint.h>

/* Samples taken before a window's end may still be in the ring this long after it: the timer
 * closes a window that long after its end, a sample stamped later closes it at once. */
#define WINDOW_SLACK_NS (250ULL * 1000 * 1000)

struct window {
	uint32_t seconds;  /* length */
	uint64_t slot_s;   /* wall-clock start of its slot (a multiple of seconds) */
	uint64_t from_ns;  /* wall-clock ns its data starts: the slot's start, or later */
	uint64_t end_mono; /* monotonic ns it ends */
};

/* Starts the window holding data from from_wall_ns on; it ends at the next wall-clock multiple
 * of seconds after from_wall_ns, at once if that is not after now_wall_ns. */
void window__begin(struct window *w, uint32_t seconds, uint64_t from_wall_ns, uint64_t now_wall_ns,
		   uint64_t now_mono_ns);
/* Whether the window is over: a sample stamped sample_mono_ns (CLOCK_MONOTONIC, as BPF stamps
 * them) at or after its end, or (sample_mono_ns 0: the timer) now_mono_ns past its end and the
 * slack. */
int window__over(const struct window *w, uint64_t sample_mono_ns, uint64_t now_mono_ns);
/* The wall-clock ns its slot ends: the end of the data a written window holds. */
uint64_t window__end_wall(const struct window *w);
/* After the window was written (at now_wall_ns): starts the next, at its slot's end, or at
 * now_wall_ns when that is more than a window away (a stall, or the wall clock stepped). */
void window__next(struct window *w, uint64_t now_wall_ns, uint64_t now_mono_ns);

#endif
