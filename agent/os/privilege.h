/* SPDX-License-Identifier: MIT */
/* Which of the capabilities the agent needs the process has, to name a missing one. */
#ifndef PYPROF_PRIVILEGE_H
#define PYPROF_PRIVILEGE_H

#include <stddef.h>

/* What a capability is needed for. */
enum privilege_need {
	/* load and attach the samplers: CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN for both */
	PRIVILEGE_BPF = 1u << 0,
	/* read other processes' memory and /proc/PID/{maps,mem,root,...}: CAP_SYS_PTRACE */
	PRIVILEGE_PTRACE = 1u << 1,
	/* read a target's files in directories closed to the agent's user: CAP_DAC_READ_SEARCH */
	PRIVILEGE_FILES = 1u << 2,
};

/* The advice that follows a missing capability's name in error messages. */
#define PRIVILEGE_ADVICE "run as root, or with CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE"

/* 1 if the effective set holds cap (e.g. CAP_BPF), 0 if not. */
int privilege__has(int cap);
/* Names the capabilities that needs (PRIVILEGE_* bits) call for and the effective set lacks in
 * buf, as "CAP_PERFMON and CAP_SYS_PTRACE" ("" if none). Returns how many are missing. */
int privilege__missing(unsigned needs, char *buf, size_t len);

#endif
