/* SPDX-License-Identifier: MIT */
/* Self-contained interactive SVG flame graphs: one profile, or the difference of two. */
#ifndef PYPROF_FLAMEGRAPH_H
#define PYPROF_FLAMEGRAPH_H

#include <stdio.h>
#include "profile/profile.h"

/* Image width in pixels; frames are laid out in this width minus a 10 px margin each side. */
#define FLAMEGRAPH_WIDTH 1200

/* The SVG carries its call tree as data and inline JavaScript that draws it (no network):
 * hover shows a frame's name, weight and share; click zooms (the frame takes the full width);
 * the search box (Ctrl-F) highlights matching frames and shows their share of the total;
 * frames are coloured by kind (Python, native, kernel, marker, process/thread). Frames narrower
 * than a pixel at the current zoom are drawn merged, and subtrees narrower than 0.1 px of the
 * full width are merged in the file already, so its size and drawing time stay bounded. */
int flamegraph__write(const struct profile *p, const struct profile_meta *meta, FILE *out);

/* Differential flame graph: the shape of new, each frame coloured by how its share of the total
 * changed from base (red grew, blue shrank; hover gives both shares). PIDs and TIDs are dropped
 * from process and thread frames ("COMM", "thread (name)") so two runs line up. */
int flamegraph__write_diff(const struct profile *base, const struct profile *new,
			   const struct profile_meta *meta, FILE *out);

#endif
