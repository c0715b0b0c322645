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
	 * A load costs tens of ms of CPU (the kernel formats every symbol), so a table asked for
	 * again within keep_ns of its drop is kept twice as long from then on (up to
	 * KALLSYMS_KEEP_GROWTH times the first keep_ns): kernel frames that come every few minutes
	 * cost one load, not one a minute.
	 */
	int lazy, loaded, failed;
	uint64_t used_ns;    /* CLOCK_MONOTONIC of the last kallsyms__name */
	uint64_t keep_ns;    /* how long the table is kept without a name asked for */
	uint64_t base_ns;    /* keep_ns as first given */
	uint64_t dropped_ns; /* CLOCK_MONOTONIC of the last drop; 0: never dropped */
	unsigned loads;	     /* reads of /proc/kallsyms */
};

#define KALLSYMS_KEEP_GROWTH 32

/* Parses kallsyms text (text-section symbols only). -EPERM if every address is hidden. */
int kallsyms__parse(const char *text, size_t len, struct kallsyms *ret);
int kallsyms__load(struct kallsyms *ret);
/* An empty table that loads itself when a name is first asked for, and is dropped after keep_ns
 * (or longer: see keep_ns above) without one. */
void kallsyms__init_lazy(struct kallsyms *k, uint64_t keep_ns);
/* The symbol containing addr, or NULL (a lazy table that cannot be loaded warns once). */
const char *kallsyms__name(struct kallsyms *k, uint64_t addr);
/* Frees a lazy table's symbols if no name was asked for in its keep_ns; the next ask loads them
 * again. Returns 1 if it freed them. */
int kallsyms__drop_unused(struct kallsyms *k, uint64_t now_ns);
void kallsyms__free(struct kallsyms *k);

#endif
