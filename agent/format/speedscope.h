/* SPDX-License-Identifier: MIT */
/* speedscope's JSON file format (https://www.speedscope.app/file-format-schema.json). */
#ifndef PYPROF_SPEEDSCOPE_H
#define PYPROF_SPEEDSCOPE_H

#include <stdio.h>
#include "profile/profile.h"

/* One "sampled" profile per thread ("COMM (PID) thread TID (name)"), or per process when the
 * stacks have no thread frame; the root and thread frames name the profile and are not repeated
 * in its stacks (a stack that is nothing else keeps its last one). Frames are shared: Python
 * frames as {name: qualname, file, line}, others {name}. Weights: samples for cpu (unit "none"),
 * microseconds for offcpu and wall. */
int speedscope__write(const struct profile *p, const struct profile_meta *meta, FILE *out);

#endif
