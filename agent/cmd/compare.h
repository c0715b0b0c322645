/* SPDX-License-Identifier: MIT */
/* `agentctl compare`: two time ranges of one host's stored windows, each merged, compared as
 * `agentctl diff` compares two files (the same report, the same --fail-above gate). Exit codes
 * are diff's (convert.h): 0, 1 (also: a range without windows, an unreadable window), 2 usage. */
#ifndef PYPROF_COMPARE_H
#define PYPROF_COMPARE_H

int compare__cmd(int argc, char **argv);

#endif
