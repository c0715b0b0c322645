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
};

/* Parses kallsyms text (text-section symbols only). -EPERM if every address is hidden. */
int kallsyms__parse(const char *text, size_t len, struct kallsyms *ret);
int kallsyms__load(struct kallsyms *ret);
/* The symbol containing addr, or NULL. */
const char *kallsyms__name(const struct kallsyms *k, uint64_t addr);
void kallsyms__free(struct kallsyms *k);

#endif
