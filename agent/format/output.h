/* SPDX-License-Identifier: MIT */
/* Writing a profile in one of the output formats (folded, pprof, speedscope, svg flame graph):
 * the one entry point for agentctl snapshot, convert and the daemon's output.formats. */
#ifndef PYPROF_OUTPUT_H
#define PYPROF_OUTPUT_H

#include <stdint.h>
#include <stdio.h>
#include "profile/profile.h"

enum output_format {
	OUTPUT_FOLDED = 0,
	OUTPUT_PPROF,
	OUTPUT_SPEEDSCOPE,
	OUTPUT_SVG,
	OUTPUT_FORMAT_MAX,
};

/* "folded", "pprof", "speedscope", "svg" -> format; -EINVAL if unknown. */
int output__parse_format(const char *name, enum output_format *ret_format);
const char *output__format_name(enum output_format format);
/* File name extension for a format, dot included (".folded", ".pb.gz", ...). */
const char *output__extension(enum output_format format);

/* Writes p in format to out and flushes it. Returns 0 or a negative errno. */
int output__write(const struct profile *p, const struct profile_meta *meta,
		  enum output_format format, FILE *out);
/* Writes output already rendered (len bytes of text) to path, atomically, as below. */
int output__write_text_path(const char *text, size_t len, const char *path);
/* Same, to path, atomically: written to a temporary file in the same directory, then renamed,
 * so a reader never sees half a profile. */
int output__write_path(const struct profile *p, const struct profile_meta *meta,
		       enum output_format format, const char *path);

#endif
