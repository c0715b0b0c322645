/* SPDX-License-Identifier: MIT */
/* Kernel symbol names for kernel stack addresses, from /proc/kallsyms. */
#ifndef PYPROF_KALLSYMS_H
#define PYPROF_KALLSYMS_H

#include <stdint.h>
#include <stddef.h>

struct ksym {
	uint64_t addr;
	char *name;
};

struct kallsyms {
	struct ksym *syms;
	size_t n;
	char *names; /* one allocation holding every name */
	/* A lazy table (kallsyms__init_lazy) is loaded at its first kallsyms__name and dropped by
	 * kallsyms__drop_unused: 5 MiB here, which a host with no kernel frame to name keeps not.
	 */
	int lazy, loaded, failed;
	uint64_t used_ns; /* CLOCK_MONOTONIC of the last kallsyms__name */
};

/* Parses kallsyms text (text-section symbols only). -EPERM if every address is hidden. */
int kallsyms__parse(const char *text, size_t len, struct kallsyms *ret);
int kallsyms__load(struct kallsyms *ret);
/* An empty table that loads itself when a name is first asked for. */
void kallsyms__init_lazy(struct kallsyms *k);
/* The symbol containing addr, or NULL (a lazy table that cannot be loaded warns once). */
const char *kallsyms__name(struct kallsyms *k, uint64_t addr);
/* Frees a lazy table's symbols if no name was asked for in idle_ns; the next ask loads them
 * again. Returns 1 if it freed them. */
int kallsyms__drop_unused(struct kallsyms *k, uint64_t now_ns, uint64_t idle_ns);
void kallsyms__free(struct kallsyms *k);

#endif
