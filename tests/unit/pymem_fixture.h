/* SPDX-License-Identifier: MIT */
/* Loader of the code objects captured from real CPython processes (tests/fixtures/pymem, made
 * by capture.py), shared by the pyobj and symbolize unit tests. Include after cmocka.h. */
#ifndef PYPROF_TEST_PYMEM_FIXTURE_H
#define PYPROF_TEST_PYMEM_FIXTURE_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "os/memread.h"

#define PM_MAX_CODES 16

struct pm_code {
	uint64_t addr;
	char name[128], qualname[256], filename[256]; /* qualname "" before 3.11 */
	int firstlineno;
	uint8_t *linetable;
	size_t linetable_len;
};

struct pm_line {
	int code, offset, line;
};

struct pymem {
	unsigned major, minor, micro;
	uint64_t code_type;
	int obs_type, obs_name, obs_qualname, obs_filename, obs_linetable;
	struct pm_code codes[PM_MAX_CODES];
	size_t ncodes;
	struct pm_line *lines;
	size_t nlines;
	struct mem_region *regions;
	size_t nregions;
	struct mem_image img;
};

static uint8_t *unhex(const char *s, size_t *ret_len)
{
	size_t n = strlen(s);
	uint8_t *out = malloc(n / 2 + 1);

	assert_non_null(out);
	assert_int_equal(n % 2, 0);
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	*ret_len = n / 2;
	return out;
}

/* Loads code-3.<minor>.txt; returns 0, or -ENOENT if that version was not captured. */
static int pymem_load(unsigned minor, struct pymem *pm)
{
	char path[512], *line = NULL;
	size_t cap = 0, lcap = 0, rcap = 0;
	FILE *f;

	memset(pm, 0, sizeof(*pm));
	pm->obs_qualname = -1;
	snprintf(path, sizeof(path), "%s/pymem/code-3.%u.txt", FIXTURES, minor);
	f = fopen(path, "r");
	if (!f)
		return -ENOENT;
	while (getline(&line, &cap, f) > 0) {
		char a[128], b[256], c[256], hex[4096];
		int idx, n1, n2;
		uint64_t addr;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		if (!strncmp(line, "python ", 7)) {
			assert_int_equal(
			    sscanf(line, "python %u %u %u", &pm->major, &pm->minor, &pm->micro), 3);
		} else if (!strncmp(line, "code_type ", 10)) {
			assert_int_equal(sscanf(line, "code_type %" SCNx64, &pm->code_type), 1);
		} else if (!strncmp(line, "observed ", 9)) {
			char *save = NULL, *tok = strtok_r(line + 9, " ", &save);

			while (tok) {
				char *val = strtok_r(NULL, " ", &save);
				int v;

				assert_non_null(val);
				v = atoi(val);
				if (!strcmp(tok, "type"))
					pm->obs_type = v;
				else if (!strcmp(tok, "name"))
					pm->obs_name = v;
				else if (!strcmp(tok, "qualname"))
					pm->obs_qualname = v;
				else if (!strcmp(tok, "filename"))
					pm->obs_filename = v;
				else if (!strcmp(tok, "linetable"))
					pm->obs_linetable = v;
				tok = strtok_r(NULL, " ", &save);
			}
		} else if (!strncmp(line, "code ", 5)) {
			struct pm_code *pc;

			assert_int_equal(sscanf(line,
						"code %d %" SCNx64 " %127s %255s %255s %d %4095s",
						&idx, &addr, a, b, c, &n1, hex),
					 7);
			assert_int_equal(idx, (int)pm->ncodes);
			assert_true(pm->ncodes < PM_MAX_CODES);
			pc = &pm->codes[pm->ncodes++];
			pc->addr = addr;
			snprintf(pc->name, sizeof(pc->name), "%s", a);
			snprintf(pc->qualname, sizeof(pc->qualname), "%s", strcmp(b, "-") ? b : "");
			snprintf(pc->filename, sizeof(pc->filename), "%s", c);
			pc->firstlineno = n1;
			if (strcmp(hex, "-"))
				pc->linetable = unhex(hex, &pc->linetable_len);
		} else if (!strncmp(line, "line ", 5)) {
			assert_int_equal(sscanf(line, "line %d %d %d", &idx, &n1, &n2), 3);
			assert_true(idx >= 0 && (size_t)idx < pm->ncodes);
			if (pm->nlines == lcap) {
				lcap = lcap ? lcap * 2 : 256;
				pm->lines = realloc(pm->lines, lcap * sizeof(*pm->lines));
				assert_non_null(pm->lines);
			}
			pm->lines[pm->nlines++] = (struct pm_line){idx, n1, n2};
		} else if (!strncmp(line, "mem ", 4)) {
			char *sp = strchr(line + 4, ' ');
			struct mem_region *r;
			size_t len;

			assert_non_null(sp);
			*sp = '\0';
			assert_int_equal(sscanf(line + 4, "%" SCNx64, &addr), 1);
			if (pm->nregions == rcap) {
				rcap = rcap ? rcap * 2 : 32;
				pm->regions = realloc(pm->regions, rcap * sizeof(*pm->regions));
				assert_non_null(pm->regions);
			}
			r = &pm->regions[pm->nregions++];
			r->addr = addr;
			r->data = unhex(sp + 1, &len);
			r->len = len;
		} else {
			fail_msg("%s: unknown line \"%.40s\"", path, line);
		}
	}
	free(line);
	fclose(f);
	assert_int_equal(pm->major, 3);
	assert_int_equal(pm->minor, minor);
	assert_true(pm->ncodes > 0 && pm->nlines > 0 && pm->nregions > 0 && pm->code_type);
	pm->img = (struct mem_image){.regions = pm->regions, .n = pm->nregions};
	return 0;
}

static void pymem_free(struct pymem *pm)
{
	for (size_t i = 0; i < pm->ncodes; i++)
		free(pm->codes[i].linetable);
	for (size_t i = 0; i < pm->nregions; i++)
		free((void *)pm->regions[i].data);
	free(pm->regions);
	free(pm->lines);
	memset(pm, 0, sizeof(*pm));
}

static const struct pm_code *pymem_find(const struct pymem *pm, const char *name)
{
	for (size_t i = 0; i < pm->ncodes; i++)
		if (!strcmp(pm->codes[i].name, name))
			return &pm->codes[i];
	fail_msg("3.%u fixture has no code object %s", pm->minor, name);
	return NULL;
}

#endif
