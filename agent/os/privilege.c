// SPDX-License-Identifier: MIT
/* Capability checks through capget(2), so a failure can say which capability is missing
 * (a verifier rejection and a missing capability both come back as EACCES/EPERM). */
#include <linux/capability.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "os/privilege.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static const struct {
	unsigned need;
	int cap;
	const char *name;
} needed[] = {
    {PRIVILEGE_BPF, CAP_BPF, "CAP_BPF"},
    {PRIVILEGE_BPF, CAP_PERFMON, "CAP_PERFMON"},
    {PRIVILEGE_PTRACE, CAP_SYS_PTRACE, "CAP_SYS_PTRACE"},
    {PRIVILEGE_FILES, CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH"},
};

#define NNEEDED (sizeof(needed) / sizeof(needed[0]))

int privilege__has(int cap)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {};

	if (cap < 0 || cap >= 64 || syscall(SYS_capget, &hdr, data))
		return 0;
	return !!(data[cap / 32].effective & (1u << (cap % 32)));
}

int privilege__missing(unsigned needs, char *buf, size_t len)
{
	const char *names[NNEEDED] = {0};
	size_t o = 0;
	int n = 0;

	if ((needs & PRIVILEGE_BPF) && privilege__has(CAP_SYS_ADMIN))
		needs &= ~PRIVILEGE_BPF; /* the kernel accepts CAP_SYS_ADMIN for both */
	for (size_t i = 0; i < NNEEDED; i++) {
		if ((needs & needed[i].need) && !privilege__has(needed[i].cap))
			names[n++] = needed[i].name;
	}
	if (len)
		buf[0] = '\0';
	for (int i = 0; i < n && o < len; i++)
		o += snprintf(buf + o, len - o, "%s%s",
			      !i	   ? ""
			      : i == n - 1 ? " and "
					   : ", ",
			      names[i]);
	return n;
}
