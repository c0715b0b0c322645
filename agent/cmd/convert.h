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

#endif
