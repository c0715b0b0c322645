/* SPDX-License-Identifier: MIT */
/* The daemon's figures, gathered once and rendered two ways: `agentctl status` text and the
 * Prometheus text exposition format served at /metrics. */
#ifndef PYPROF_STATLIST_H
#define PYPROF_STATLIST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum stat_type { STAT_COUNTER, STAT_GAUGE, STAT_INFO };

struct stat_entry {
	const char *family; /* Prometheus name without the pyprof_ prefix, e.g. "samples_total" */
	const char *help;
	enum stat_type type;
	char label_key[32]; /* "" for none */
	char label_val[128];
	char label2_key[32]; /* a second label, "" for none */
	char label2_val[256];
	double value;
	char text[256]; /* STAT_INFO: shown in status only */
};

struct stat_list {
	struct stat_entry *e;
	size_t n, cap;
};

void statlist__init(struct stat_list *l);
void statlist__free(struct stat_list *l);
int statlist__add(struct stat_list *l, const char *family, enum stat_type type, const char *help,
		  const char *label_key, const char *label_val, double value);
/* Adds a second label to the entry added last. */
int statlist__label2(struct stat_list *l, const char *key, const char *val);
int statlist__info(struct stat_list *l, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "name{label=value}: value" lines, info lines first. */
int statlist__render_status(const struct stat_list *l, FILE *out);
/* HELP and TYPE once per family, samples grouped under it (families must be added together). */
int statlist__render_prometheus(const struct stat_list *l, FILE *out);

#endif
