// SPDX-License-Identifier: MIT
/* Probe features, not kernel versions: look the tracepoint up in the kernel's own BTF. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/btf.h>
#include "bpfload.h"

int bpfload__has_btf_tracepoint(const char *tp)
{
	const char *force = getenv("PYPROF_FORCE_RAW_TP");
	struct btf *vmlinux;
	char name[128];
	int found;

	if (force && !strcmp(force, "1"))
		return 0;
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return 0;
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	found = btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) > 0;
	btf__free(vmlinux);
	return found;
}

int bpfload__choose(struct bpf_program *btf_prog, struct bpf_program *raw_prog, const char *tp)
{
	int use_btf = bpfload__has_btf_tracepoint(tp);

	bpf_program__set_autoload(btf_prog, use_btf);
	bpf_program__set_autoload(raw_prog, !use_btf);
	return use_btf;
}
