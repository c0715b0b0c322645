// SPDX-License-Identifier: MIT
/* Capability checks through capget(2), so a failure can say which capability is missing
 * (a verifier rejection and a missing capability both come back as EACCES/EPERM). */
#include <linux/capability.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "privilege.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

int privilege__has(int cap)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {};

	if (cap < 0 || cap >= 64 || syscall(SYS_capget, &hdr, data))
		return 0;
	return !!(data[cap / 32].effective & (1u << (cap % 32)));
}

const char *privilege__missing_bpf(void)
{
	if (privilege__has(CAP_SYS_ADMIN))
		return NULL;
	if (!privilege__has(CAP_BPF))
		return "CAP_BPF";
	if (!privilege__has(CAP_PERFMON))
		return "CAP_PERFMON";
	return NULL;
}

const char *privilege__missing_ptrace(void)
{
	return privilege__has(CAP_SYS_PTRACE) ? NULL : "CAP_SYS_PTRACE";
}
