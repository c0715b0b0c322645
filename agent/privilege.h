/* SPDX-License-Identifier: MIT */
/* Which of the capabilities the agent needs the process has, to name a missing one. */
#ifndef PYPROF_PRIVILEGE_H
#define PYPROF_PRIVILEGE_H

/* 1 if the effective set holds cap (e.g. CAP_BPF), 0 if not. */
int privilege__has(int cap);
/* Names the first missing capability needed to load and attach the samplers ("CAP_BPF",
 * "CAP_PERFMON"), or NULL if none is missing (CAP_SYS_ADMIN covers both). */
const char *privilege__missing_bpf(void);
/* NULL, or "CAP_SYS_PTRACE" if reading other processes' memory is not allowed. */
const char *privilege__missing_ptrace(void);

#endif
