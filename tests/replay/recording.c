// SPDX-License-Identifier: MIT
/* Reading and writing recordings (format in recording.h; `zcat F | sed '/^pages/q'` shows the
 * header). Recordings are test input: every count and length in them is bounded. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "recording.h"

#define MAGIC "pyprof-replay-recording\t1"

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}

/* Splits line at tabs into at most max fields; returns how many. */
static int split(char *line, char **f, int max)
{
	int n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	while (n < max) {
		f[n++] = line;
		line = strchr(line, '\t');
		if (!line)
			break;
		*line++ = '\0';
	}
	return line ? -1 : n;
}

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;

	errno = 0;
	*ret = strtoull(s, &end, 0);
	return errno || end == s || *end ? -EINVAL : 0;
}

/* One expectation line (tasks, thread, frame); 1 if the line is not one. */
static int parse_expect_line(struct recording *r, char **f, int n)
{
	struct rec_thread *t;
	struct rec_frame *fr;
	uint64_t v;

	if (!strcmp(f[0], "tasks") && n == 2) {
		if (parse_u64(f[1], &v) || v > RECORDING_MAX_TASKS)
			return -EINVAL;
		r->expect_tasks = (unsigned)v;
		return 0;
	}
	if (!strcmp(f[0], "thread") && n == 4) {
		if (r->nthreads >= RECORDING_MAX_THREADS || strlen(f[1]) >= sizeof(t->role))
			return -E2BIG;
		t = &r->threads[r->nthreads];
		memset(t, 0, sizeof(*t));
		snprintf(t->role, sizeof(t->role), "%s", f[1]);
		if (parse_u64(f[2], &t->ident))
			return -EINVAL;
		if (strcmp(f[3], "held") && strcmp(f[3], "released"))
			return -EINVAL;
		t->gil_held = !strcmp(f[3], "held");
		r->nthreads++;
		return 0;
	}
	if (!strcmp(f[0], "frame") && n == 4) {
		if (!r->nthreads)
			return -EINVAL;
		t = &r->threads[r->nthreads - 1];
		if (t->nframes >= RECORDING_MAX_FRAMES || parse_u64(f[3], &v) || v > INT32_MAX)
			return -EINVAL;
		fr = realloc(t->frames, (t->nframes + 1) * sizeof(*fr));
		if (!fr)
			return -ENOMEM;
		t->frames = fr;
		fr = &t->frames[t->nframes];
		fr->name = strdup(f[1]);
		fr->file = strdup(f[2]);
		fr->line = (int)v;
		if (!fr->name || !fr->file) {
			free(fr->name);
			free(fr->file);
			return -ENOMEM;
		}
		t->nframes++;
		return 0;
	}
	return 1;
}

int recording__parse_expect(struct recording *r, const char *path, char *err, size_t errlen)
{
	char line[RECORDING_MAX_LINE], *f[8];
	FILE *in = fopen(path, "r");
	int lineno = 0, e = 0;

	if (!in)
		return fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), in)) {
		int n = split(line, f, 8);

		lineno++;
		if (n < 1 || (e = parse_expect_line(r, f, n)) != 0) {
			fclose(in);
			return fail(err, errlen, e < 0 ? e : -EINVAL, "%s:%d: not an expectation",
				    path, lineno);
		}
	}
	fclose(in);
	if (!r->nthreads)
		return fail(err, errlen, -EINVAL, "%s: no threads", path);
	return 0;
}

int recording__load(const char *path, struct recording *r, char *err, size_t errlen)
{
	char line[RECORDING_MAX_LINE], *f[8];
	gzFile in = gzopen(path, "rb");
	uint64_t npages = 0, v[3];
	int lineno = 0, e = -EINVAL, n, ok = 0;
	uint8_t page[REPLAY_PAGE_SIZE];

	memset(r, 0, sizeof(*r));
	if (!in)
		return fail(err, errlen, -ENOENT, "%s: cannot open", path);
	if (!gzgets(in, line, sizeof(line)) || strncmp(line, MAGIC "\n", sizeof(MAGIC))) {
		e = fail(err, errlen, -EINVAL, "%s: not a recording", path);
		goto out;
	}
	lineno = 1;
	while (gzgets(in, line, sizeof(line))) {
		lineno++;
		n = split(line, f, 8);
		e = -EINVAL;
		if (n < 1)
			break;
		if (!strcmp(f[0], "label") && n == 2) {
			snprintf(r->label, sizeof(r->label), "%s", f[1]);
		} else if (!strcmp(f[0], "python") && n == 4) {
			if (parse_u64(f[1], &v[0]) || parse_u64(f[2], &v[1]) || v[0] > 9 ||
			    v[1] > 99)
				break;
			r->major = (unsigned)v[0];
			r->minor = (unsigned)v[1];
			snprintf(r->python, sizeof(r->python), "%s", f[3]);
		} else if (!strcmp(f[0], "target") && n == 4) {
			if (parse_u64(f[1], &r->interp_head_addr) ||
			    parse_u64(f[2], &r->runtime_addr) || parse_u64(f[3], &r->code_type))
				break;
		} else if (!strcmp(f[0], "task") && n == 3) {
			if (r->ntasks >= RECORDING_MAX_TASKS || parse_u64(f[1], &v[0]) ||
			    v[0] > UINT32_MAX || parse_u64(f[2], &v[1]))
				break;
			r->tasks[r->ntasks++] = (struct rec_task){(uint32_t)v[0], v[1]};
		} else if (!strcmp(f[0], "pages") && n == 2) {
			if (parse_u64(f[1], &npages) || npages > RECORDING_MAX_PAGES)
				break;
			ok = 1;
			break;
		} else if ((e = parse_expect_line(r, f, n)) != 0) {
			break;
		}
	}
	if (!ok) {
		e = fail(err, errlen, e < 0 ? e : -EINVAL, "%s:%d: bad header line", path, lineno);
		goto out;
	}
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t addr;

		if (gzread(in, &addr, sizeof(addr)) != sizeof(addr) ||
		    gzread(in, page, sizeof(page)) != (int)sizeof(page)) {
			e = fail(err, errlen, -EINVAL, "%s: %" PRIu64 " of %" PRIu64 " pages", path,
				 i, npages);
			goto out;
		}
		if ((e = replay_mem__add(&r->mem, addr, page))) {
			fail(err, errlen, e, "%s: page %#" PRIx64 " not page-aligned", path, addr);
			goto out;
		}
	}
	e = 0;
	if (!r->nthreads || !r->ntasks || !r->major)
		e = fail(err, errlen, -EINVAL, "%s: no threads, tasks or version", path);
out:
	gzclose(in);
	if (e)
		recording__free(r);
	return e;
}

int recording__save(const struct recording *r, const char *path)
{
	gzFile out = gzopen(path, "wb9");
	int bad = 0;

	if (!out)
		return -errno;
	gzprintf(out, MAGIC "\nlabel\t%s\npython\t%u\t%u\t%s\n", r->label, r->major, r->minor,
		 r->python);
	gzprintf(out, "target\t%#" PRIx64 "\t%#" PRIx64 "\t%#" PRIx64 "\n", r->interp_head_addr,
		 r->runtime_addr, r->code_type);
	for (size_t i = 0; i < r->ntasks; i++)
		gzprintf(out, "task\t%u\t%#" PRIx64 "\n", r->tasks[i].tid, r->tasks[i].fsbase);
	gzprintf(out, "tasks\t%u\n", r->expect_tasks);
	for (size_t i = 0; i < r->nthreads; i++) {
		const struct rec_thread *t = &r->threads[i];

		gzprintf(out, "thread\t%s\t%" PRIu64 "\t%s\n", t->role, t->ident,
			 t->gil_held ? "held" : "released");
		for (size_t j = 0; j < t->nframes; j++)
			gzprintf(out, "frame\t%s\t%s\t%d\n", t->frames[j].name, t->frames[j].file,
				 t->frames[j].line);
	}
	gzprintf(out, "pages\t%zu\n", r->mem.n);
	for (size_t i = 0; i < r->mem.n; i++) {
		uint64_t addr = r->mem.pages[i].addr;

		bad |= gzwrite(out, &addr, sizeof(addr)) != sizeof(addr);
		bad |=
		    gzwrite(out, r->mem.pages[i].data, REPLAY_PAGE_SIZE) != (int)REPLAY_PAGE_SIZE;
	}
	if (gzclose(out) != Z_OK || bad)
		return -EIO;
	return 0;
}

void recording__free(struct recording *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nthreads; i++) {
		for (size_t j = 0; j < r->threads[i].nframes; j++) {
			free(r->threads[i].frames[j].name);
			free(r->threads[i].frames[j].file);
		}
		free(r->threads[i].frames);
	}
	replay_mem__free(&r->mem);
	memset(r, 0, sizeof(*r));
}
