// SPDX-License-Identifier: MIT
/* /proc/kallsyms loaded once (or at first use, and dropped when unused), sorted, searched by
 * binary search. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "os/kallsyms.h"
#include "os/procfs.h"
#include "util/clock.h"
#include "util/log.h"

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int kallsyms__parse(const char *text, size_t len, struct kallsyms *ret)
{
	struct kallsyms k = {0};
	size_t cap = 0, names_len = 0, pos = 0;
	char *names;
	void *shrunk;
	int any_addr = 0;

	names = malloc(len + 1);
	if (!names)
		return -ENOMEM;
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - line) : len - pos;
		unsigned long long addr;
		char type, name[256];
		char tmp[512];

		pos += llen + 1;
		if (llen >= sizeof(tmp))
			continue;
		memcpy(tmp, line, llen);
		tmp[llen] = '\0';
		if (sscanf(tmp, "%llx %c %255s", &addr, &type, name) != 3)
			continue;
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		if (addr)
			any_addr = 1;
		if (k.n == cap) {
			struct ksym *ns;

			cap = cap ? cap * 2 : 4096;
			ns = realloc(k.syms, cap * sizeof(*ns));
			if (!ns) {
				free(k.syms);
				free(names);
				return -ENOMEM;
			}
			k.syms = ns;
		}
		k.syms[k.n].addr = addr;
		k.syms[k.n].name = (char *)(uintptr_t)names_len; /* fixed up below */
		strcpy(names + names_len, name);
		names_len += strlen(name) + 1;
		k.n++;
	}
	if (!any_addr) {
		free(k.syms);
		free(names);
		return -EPERM;
	}
	/* kept for the agent's lifetime: only what is used (names were sized for the whole text) */
	shrunk = realloc(names, names_len ? names_len : 1);
	if (shrunk)
		names = shrunk;
	shrunk = k.n ? realloc(k.syms, k.n * sizeof(*k.syms)) : NULL;
	if (shrunk)
		k.syms = shrunk;
	for (size_t i = 0; i < k.n; i++)
		k.syms[i].name = names + (uintptr_t)k.syms[i].name;
	qsort(k.syms, k.n, sizeof(*k.syms), cmp_ksym);
	k.names = names;
	*ret = k;
	return 0;
}

int kallsyms__load(struct kallsyms *ret)
{
	char *text;
	size_t len;
	int err;

	err = procfs__read_file("/proc/kallsyms", 256 << 20, &text, &len);
	if (err)
		return err;
	err = kallsyms__parse(text, len, ret);
	free(text);
	return err;
}

void kallsyms__init_lazy(struct kallsyms *k, uint64_t keep_ns)
{
	memset(k, 0, sizeof(*k));
	k->lazy = 1;
	k->keep_ns = k->base_ns = keep_ns;
}

/* Loads a lazy table at its first use; a failure is said once and not retried. */
static void load_lazy(struct kallsyms *k)
{
	struct kallsyms fresh = {0};
	int err;

	k->used_ns = clock__mono_ns();
	if (k->loaded || k->failed)
		return;
	if (k->dropped_ns && k->used_ns - k->dropped_ns < k->keep_ns) {
		if (k->keep_ns < k->base_ns * KALLSYMS_KEEP_GROWTH)
			k->keep_ns *= 2; /* dropped too soon: the gaps between uses are longer */
	} else {
		k->keep_ns = k->base_ns; /* first load, or unused for longer than it was kept */
	}
	k->loads++;
	err = kallsyms__load(&fresh);
	if (err) {
		k->failed = 1;
		log_warn("kernel symbols unavailable (%s): kernel frames will be [unknown]_[k]",
			 strerror(-err));
		return;
	}
	k->syms = fresh.syms;
	k->n = fresh.n;
	k->names = fresh.names;
	k->loaded = 1;
}

int kallsyms__drop_unused(struct kallsyms *k, uint64_t now_ns)
{
	/* now_ns may be older than the last use: the caller's clock was read before it */
	if (!k->lazy || !k->loaded || now_ns <= k->used_ns || now_ns - k->used_ns < k->keep_ns)
		return 0;
	k->dropped_ns = now_ns;
	free(k->syms);
	free(k->names);
	k->syms = NULL;
	k->names = NULL;
	k->n = 0;
	k->loaded = 0;
	return 1;
}

const char *kallsyms__name(struct kallsyms *k, uint64_t addr)
{
	size_t lo = 0, hi;

	if (k->lazy)
		load_lazy(k);
	hi = k->n;

	if (!k->n || addr < k->syms[0].addr)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->syms[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	return k->syms[lo].name;
}

void kallsyms__free(struct kallsyms *k)
{
	if (!k)
		return;
	free(k->syms);
	free(k->names);
	memset(k, 0, sizeof(*k));
}
