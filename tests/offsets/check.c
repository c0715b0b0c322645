/* SPDX-License-Identifier: MIT */
/* Compares agent/python/pyoffsets.c with the truth for one CPython installation: the "field value"
 * lines probe.c printed from that version's headers, and the _Py_DebugOffsets bytes of its
 * libpython. Driven by tests/offsets/run.sh; prints one FAIL line per wrong field.
 *
 *   check table PROBE_OUTPUT LABEL        pyoffsets__table() against the headers
 *   check debug BLOB PROBE_OUTPUT LABEL   pyoffsets__from_debug_offsets(BLOB) against the
 *                                         headers and against pyoffsets__table()
 *   check parse BLOB MINOR LABEL          only that BLOB parses as 3.MINOR (versions the probe
 *                                         does not know); prints what it gives
 * Exit status: 0 all equal, 1 a difference, 2 bad input. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python/pyoffsets.h"

#define NAME(name) #name,
static const char *const field_names[] = {PYOFFSETS_FIELDS(NAME)};
#define NFIELDS (sizeof(field_names) / sizeof(field_names[0]))

static __u64 field_get(const struct py_offsets *o, size_t i)
{
	size_t n = 0;

#define GET(name)                                                                                  \
	if (n++ == i)                                                                              \
		return o->name;
	PYOFFSETS_FIELDS(GET)
#undef GET
	abort();
}

static void field_set(struct py_offsets *o, size_t i, __u64 value)
{
	size_t n = 0;

#define SET(name)                                                                                  \
	if (n++ == i) {                                                                            \
		o->name = value;                                                                   \
		return;                                                                            \
	}
	PYOFFSETS_FIELDS(SET)
#undef SET
	abort();
}

/* The probe's output: every table field must be there once; "x_" lines are extra facts. */
static int read_probe(const char *path, struct py_offsets *ret, long long *ret_debug_at)
{
	char key[128];
	unsigned long long value;
	int seen[NFIELDS] = {0};
	int err = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "check: %s: %s\n", path, strerror(errno));
		return -1;
	}
	*ret_debug_at = -1;
	while (fscanf(f, "%127s %llu", key, &value) == 2) {
		size_t i;

		if (!strcmp(key, "x_debug_offsets_at"))
			*ret_debug_at = (long long)value;
		if (!strncmp(key, "x_", 2))
			continue;
		for (i = 0; i < NFIELDS && strcmp(field_names[i], key); i++)
			;
		if (i == NFIELDS || seen[i]++) {
			fprintf(stderr, "check: %s: unknown or repeated field %s\n", path, key);
			err = -1;
			continue;
		}
		field_set(ret, i, value);
	}
	if (!feof(f)) {
		fprintf(stderr, "check: %s: unreadable line\n", path);
		err = -1;
	}
	fclose(f);
	for (size_t i = 0; i < NFIELDS; i++) {
		if (!seen[i]) {
			fprintf(stderr, "check: %s: the probe printed no %s\n", path,
				field_names[i]);
			err = -1;
		}
	}
	return err;
}

static void print_value(const char *name, __u64 v)
{
	if (v == PYOFF_NONE && strcmp(name, "frame_code_mask"))
		printf("NONE");
	else
		printf("%llu", (unsigned long long)v);
}

/* Prints a FAIL line per differing field; returns how many differ. */
static int compare(const char *label, const char *what, const char *got_name,
		   const struct py_offsets *got, const char *want_name,
		   const struct py_offsets *want)
{
	int bad = 0;

	for (size_t i = 0; i < NFIELDS; i++) {
		__u64 a = field_get(got, i), b = field_get(want, i);

		if (a == b)
			continue;
		printf("FAIL %s %s: %s: %s ", label, what, field_names[i], got_name);
		print_value(field_names[i], a);
		printf(", %s ", want_name);
		print_value(field_names[i], b);
		printf("\n");
		bad++;
	}
	return bad;
}

static int check_table(const char *probe_path, const char *label)
{
	struct py_offsets want = {0};
	const struct py_offsets *table;
	long long debug_at;

	if (read_probe(probe_path, &want, &debug_at))
		return 2;
	table = pyoffsets__table(want.version >> 8, want.version & 0xff);
	if (!table) {
		printf("FAIL %s table: pyoffsets__table(%u, %u) is NULL\n", label,
		       want.version >> 8, want.version & 0xff);
		return 1;
	}
	return compare(label, "table", "table", table, "headers", &want) ? 1 : 0;
}

static int check_debug(const char *blob_path, const char *probe_path, const char *label)
{
	unsigned char buf[4096];
	struct py_offsets want = {0}, got;
	const struct py_offsets *table;
	long long debug_at;
	size_t len;
	int err, bad;
	FILE *f;

	if (read_probe(probe_path, &want, &debug_at))
		return 2;
	f = fopen(blob_path, "rb");
	if (!f) {
		fprintf(stderr, "check: %s: %s\n", blob_path, strerror(errno));
		return 2;
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);

	if (debug_at != 0) {
		printf("FAIL %s debug-offsets: _Py_DebugOffsets is at %lld in _PyRuntimeState, not "
		       "0\n",
		       label, debug_at);
		return 1;
	}
	err = pyoffsets__from_debug_offsets(buf, len, &got);
	if (err) {
		printf("FAIL %s debug-offsets: pyoffsets__from_debug_offsets(%zu bytes) = %s\n",
		       label, len, strerror(-err));
		return 1;
	}
	bad = compare(label, "debug-offsets", "parsed", &got, "headers", &want);
	table = pyoffsets__table(want.version >> 8, want.version & 0xff);
	if (table)
		bad += compare(label, "debug-offsets", "parsed", &got, "table", table);
	return bad ? 1 : 0;
}

static int check_parse(const char *blob_path, const char *minor, const char *label)
{
	unsigned char buf[4096];
	struct py_offsets got;
	size_t len;
	int err;
	FILE *f = fopen(blob_path, "rb");

	if (!f) {
		fprintf(stderr, "check: %s: %s\n", blob_path, strerror(errno));
		return 2;
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	err = pyoffsets__from_debug_offsets(buf, len, &got);
	if (err) {
		printf("FAIL %s debug-offsets: pyoffsets__from_debug_offsets(%zu bytes) = %s\n",
		       label, len, strerror(-err));
		return 1;
	}
	if (got.version != (0x0300u | (unsigned)atoi(minor))) {
		printf("FAIL %s debug-offsets: parsed as version %#x\n", label, got.version);
		return 1;
	}
	for (size_t i = 0; i < NFIELDS; i++) {
		printf("     %s ", field_names[i]);
		print_value(field_names[i], field_get(&got, i));
		printf("\n");
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "table"))
		return check_table(argv[2], argv[3]);
	if (argc == 5 && !strcmp(argv[1], "debug"))
		return check_debug(argv[2], argv[3], argv[4]);
	if (argc == 5 && !strcmp(argv[1], "parse"))
		return check_parse(argv[2], argv[3], argv[4]);
	fprintf(stderr,
		"usage: %s table PROBE_OUTPUT LABEL | debug BLOB PROBE_OUTPUT LABEL | "
		"parse BLOB MINOR LABEL\n",
		argv[0]);
	return 2;
}
