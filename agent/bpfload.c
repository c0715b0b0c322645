// SPDX-License-Identifier: MIT
/* Probe features, not kernel versions: look the tracepoint up in the kernel's own BTF, ask the
 * kernel to create the map type, read the clocksource it chose. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/btf.h>
#include "bpfload.h"

static int env_is_1(const char *name)
{
	const char *v = getenv(name);

	return v && !strcmp(v, "1");
}

static int forced_portable(void)
{
	return env_is_1("PYPROF_FORCE_RAW_TP");
}

/* 1 if the kernel's BTF has every (name, kind) of the NULL-ended list. */
static int kernel_btf_has(const char *const *names, const int *kinds)
{
	struct btf *vmlinux;
	int found = 1;

	if (forced_portable())
		return 0;
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return 0;
	for (int i = 0; names[i] && found; i++)
		found = btf__find_by_name_kind(vmlinux, names[i], kinds[i]) > 0;
	btf__free(vmlinux);
	return found;
}

int bpfload__has_btf_tracepoint(const char *tp)
{
	char name[128];
	const char *names[] = {name, NULL};
	const int kinds[] = {BTF_KIND_TYPEDEF};

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	return kernel_btf_has(names, kinds);
}

int bpfload__has_task_work(void)
{
	const char *names[] = {"bpf_task_work_schedule_resume_impl", "bpf_preempt_disable",
			       "bpf_preempt_enable", NULL};
	const int kinds[] = {BTF_KIND_FUNC, BTF_KIND_FUNC, BTF_KIND_FUNC};

	return !env_is_1("PYPROF_NO_TASK_WORK") && kernel_btf_has(names, kinds);
}

int bpfload__has_task_storage(void)
{
	return !forced_portable() && libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) > 0;
}

int bpfload__sched_clock_is_global(void)
{
	char name[32] = "";
	FILE *f;

	if (forced_portable())
		return 0;
	f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");
	if (!f)
		return 0;
	if (!fgets(name, sizeof(name), f))
		name[0] = '\0';
	fclose(f);
	return !strcmp(name, "tsc\n");
}

int bpfload__choose(struct bpf_program *btf_prog, struct bpf_program *raw_prog, const char *tp)
{
	int use_btf = bpfload__has_btf_tracepoint(tp);

	bpf_program__set_autoload(btf_prog, use_btf);
	bpf_program__set_autoload(raw_prog, !use_btf);
	return use_btf;
}
