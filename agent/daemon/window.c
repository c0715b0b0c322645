// SPDX-License-Identifier: MIT
/* Window arithmetic (window.h). */
#include "daemon/window.h"

#define NS_PER_S 1000000000ULL

void window__begin(struct window *w, uint32_t seconds, uint64_t from_wall_ns, uint64_t now_wall_ns,
		   uint64_t now_mono_ns)
{
	uint64_t len = seconds ? seconds : 1;
	uint64_t slot = from_wall_ns / NS_PER_S / len * len;
	uint64_t end_wall_ns = (slot + len) * NS_PER_S;

	w->seconds = (uint32_t)len;
	w->slot_s = slot;
	w->from_ns = from_wall_ns;
	w->end_mono =
	    end_wall_ns > now_wall_ns ? now_mono_ns + (end_wall_ns - now_wall_ns) : now_mono_ns;
}

int window__over(const struct window *w, uint64_t sample_mono_ns, uint64_t now_mono_ns)
{
	if (sample_mono_ns)
		return sample_mono_ns >= w->end_mono;
	return now_mono_ns >= w->end_mono + WINDOW_SLACK_NS;
}

uint64_t window__end_wall(const struct window *w)
{
	return (w->slot_s + w->seconds) * NS_PER_S;
}

void window__next(struct window *w, uint64_t now_wall_ns, uint64_t now_mono_ns)
{
	uint64_t end_wall = window__end_wall(w);
	/* unsigned: a wall clock stepped back before the end is "more than a window away" too */
	uint64_t behind = now_wall_ns - end_wall;

	window__begin(w, w->seconds,
		      behind < (uint64_t)w->seconds * NS_PER_S ? end_wall : now_wall_ns,
		      now_wall_ns, now_mono_ns);
}
