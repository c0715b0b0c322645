/* SPDX-License-Identifier: MIT */
/* `agentctl convert`, `agentctl diff` and `agentctl merge`: stored profiles in, any output format
 * out. Each takes the command's arguments (argv[0] is the command name) and returns an exit
 * code: 0 done, 1 failure (unreadable or malformed input, write error; for diff also a share
 * grown past --fail-above), 2 usage. */
#ifndef PYPROF_CONVERT_H
#define PYPROF_CONVERT_H

enum convert_exit {
	CONVERT_OK = 0,
	CONVERT_FAILED = 1,
	CONVERT_USAGE = 2,
};

int convert__cmd_convert(int argc, char **argv);
int convert__cmd_diff(int argc, char **argv);
int convert__cmd_merge(int argc, char **argv);

struct profile;
struct profile_meta;

/* What diff prints, shared with compare: the text report (top functions) or the differential
 * SVG to output (NULL or "-": standard output), and the --fail-above verdict on stderr. */
struct diff_report_opts {
	int svg;
	unsigned long top;
	double fail_above; /* -1: not given */
	const char *output;
};

/* Returns CONVERT_OK, or CONVERT_FAILED (also when a share grew past fail_above); messages are
 * prefixed "agentctl CMD:". */
int convert__report_diff(const char *cmd, const struct profile *base, const struct profile *new,
			 const struct profile_meta *new_meta, const struct diff_report_opts *o);

#endif
