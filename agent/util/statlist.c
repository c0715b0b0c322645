// SPDX-License-Identifier: MIT
/* One list of figures, two renderings. Label values are escaped as Prometheus requires. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "util/statlist.h"

void statlist__init(struct stat_list *l)
{
	memset(l, 0, sizeof(*l));
}

void statlist__free(struct stat_list *l)
{
	free(l->e);
	memset(l, 0, sizeof(*l));
}

static struct stat_entry *statlist__push(struct stat_list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct stat_entry *ne = realloc(l->e, cap * sizeof(*ne));

		if (!ne)
			return NULL;
		l->e = ne;
		l->cap = cap;
	}
	memset(&l->e[l->n], 0, sizeof(l->e[0]));
	return &l->e[l->n++];
}

int statlist__add(struct stat_list *l, const char *family, enum stat_type type, const char *help,
		  const char *label_key, const char *label_val, double value)
{
	struct stat_entry *e = statlist__push(l);

	if (!e)
		return -ENOMEM;
	e->family = family;
	e->help = help;
	e->type = type;
	e->value = value;
	if (label_key) {
		snprintf(e->label_key, sizeof(e->label_key), "%s", label_key);
		snprintf(e->label_val, sizeof(e->label_val), "%s", label_val);
	}
	return 0;
}

int statlist__label2(struct stat_list *l, const char *key, const char *val)
{
	if (!l->n)
		return -EINVAL;
	snprintf(l->e[l->n - 1].label2_key, sizeof(l->e[0].label2_key), "%s", key);
	snprintf(l->e[l->n - 1].label2_val, sizeof(l->e[0].label2_val), "%s", val);
	return 0;
}

int statlist__info(struct stat_list *l, const char *name, const char *fmt, ...)
{
	struct stat_entry *e = statlist__push(l);
	va_list ap;

	if (!e)
		return -ENOMEM;
	e->family = name;
	e->type = STAT_INFO;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	return 0;
}

static void print_value(FILE *out, double v)
{
	if (v == (double)(int64_t)v)
		fprintf(out, "%lld", (long long)v);
	else
		fprintf(out, "%.6g", v);
}

int statlist__render_status(const struct stat_list *l, FILE *out)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct stat_entry *e = &l->e[i];

		if (e->type == STAT_INFO)
			fprintf(out, "%s: %s\n", e->family, e->text);
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct stat_entry *e = &l->e[i];

		if (e->type == STAT_INFO)
			continue;
		if (e->label2_key[0])
			fprintf(out, "%s{%s=%s,%s=%s}: ", e->family, e->label_key, e->label_val,
				e->label2_key, e->label2_val);
		else if (e->label_key[0])
			fprintf(out, "%s{%s=%s}: ", e->family, e->label_key, e->label_val);
		else
			fprintf(out, "%s: ", e->family);
		print_value(out, e->value);
		fputc('\n', out);
	}
	return ferror(out) ? -EIO : 0;
}

static void print_label_value(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

int statlist__render_prometheus(const struct stat_list *l, FILE *out)
{
	char family[128] = "", name[128];

	for (size_t i = 0; i < l->n; i++) {
		const struct stat_entry *e = &l->e[i];

		if (e->type == STAT_INFO)
			continue;
		/* text format 0.0.4: HELP and TYPE name the series as exposed, _total included */
		snprintf(name, sizeof(name), "%s", e->family);
		if (strcmp(name, family)) {
			fprintf(out, "# HELP pyprof_%s %s\n", name, e->help);
			fprintf(out, "# TYPE pyprof_%s %s\n", name,
				e->type == STAT_COUNTER ? "counter" : "gauge");
			snprintf(family, sizeof(family), "%s", name);
		}
		fprintf(out, "pyprof_%s", e->family);
		if (e->label_key[0]) {
			fprintf(out, "{%s=\"", e->label_key);
			print_label_value(out, e->label_val);
			if (e->label2_key[0]) {
				fprintf(out, "\",%s=\"", e->label2_key);
				print_label_value(out, e->label2_val);
			}
			fputs("\"}", out);
		}
		fputc(' ', out);
		print_value(out, e->value);
		fputc('\n', out);
	}
	return ferror(out) ? -EIO : 0;
}
