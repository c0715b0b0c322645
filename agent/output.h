/* SPDX-License-Identifier: MIT */
/* Writing a profile in one of the output formats (folded, pprof, speedscope, svg flame graph):
 * the one entry point for agentctl snapshot, convert and the daemon's output.formats. */
#ifndef PYPROF_OUTPUT_H
#define PYPROF_OUTPUT_H

#include <stdint.h>
#include <stdio.h>
#include "profile.h"

enum profile_kind {
	PROFILE_CPU = 0, /* weights are samples, one every 1/rate_hz s of CPU time */
	PROFILE_OFFCPU,	 /* weights are microseconds off-CPU */
	PROFILE_WALL,	 /* weights are microseconds of wall-clock time */
	PROFILE_KIND_MAX,
};

/* What a profile's weights mean and when it was taken. */
struct profile_meta {
	enum profile_kind kind;
	unsigned rate_hz;	  /* sampling frequency; 0: unknown */
	uint64_t start_ns;	  /* wall-clock start, ns since the Unix epoch; 0: unknown */
	uint64_t duration_ns;	  /* 0: unknown */
	const char *container_id; /* labels every sample in pprof when set (NULL: none) */
	const char *title;	  /* flame graph and speedscope title (NULL: from kind) */
};

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
/* "cpu", "offcpu", "wall" -> kind; -EINVAL if unknown. */
int output__parse_kind(const char *name, enum profile_kind *ret_kind);
const char *output__kind_name(enum profile_kind kind);

/* Writes p in format to out and flushes it. Returns 0 or a negative errno. */
int output__write(const struct profile *p, const struct profile_meta *meta,
		  enum output_format format, FILE *out);
/* Same, to path, atomically: written to a temporary file in the same directory, then renamed,
 * so a reader never sees half a profile. */
int output__write_path(const struct profile *p, const struct profile_meta *meta,
		       enum output_format format, const char *path);

/* Writes s as a JSON string literal (quotes included). Invalid UTF-8 becomes U+FFFD; '<', '>'
 * and '&' are escaped too, so the literal can sit inside HTML or an XML CDATA section. */
int output__json_string(FILE *out, const char *s);

#endif
