// SPDX-License-Identifier: MIT
/* Frame symbolization: code object -> (qualified name, file), (code, instruction) -> line.
 * Code objects are cached by address; each cached entry is revalidated (one small read of its
 * identifying fields) the first time it is used in each period, so an address reused by another
 * code object is noticed. When the object or the process is gone, the cached name is used. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "linetable.h"
#include "procfs.h"
#include "pyobj.h"
#include "qualname.h"
#include "symbolize.h"

#define SOURCE_MAX_BYTES (16 << 20)

const char *const sym_stat_names[SYM_STAT_MAX] = {
    [SYM_STAT_FRAMES] = "frames",
    [SYM_STAT_CODE_READS] = "code_reads",
    [SYM_STAT_REVALIDATIONS] = "revalidations",
    [SYM_STAT_REUSED_ADDRESS] = "reused_address",
    [SYM_STAT_FROM_CACHE_DEAD] = "named_from_cache_after_exit",
    [SYM_STAT_UNREADABLE] = "code_unreadable",
    [SYM_STAT_NOT_CODE] = "not_a_code_object",
    [SYM_STAT_BAD_STRING] = "bad_string",
    [SYM_STAT_BAD_LINETABLE] = "bad_linetable",
    [SYM_STAT_NO_LINE] = "no_line",
    [SYM_STAT_QUALNAME_DERIVED] = "qualname_derived",
};

struct code_entry {
	struct py_code code;
	char *display;	      /* qualified name shown */
	uint32_t checked_gen; /* period in which it was last validated */
};

struct source_file {
	char *text; /* NULL if unreadable */
	size_t len;
};

struct symbolizer {
	pid_t pid; /* 0 with a custom reader */
	struct mem_reader reader;
	struct py_offsets off;
	uint64_t code_type;
	uint32_t gen;
	struct hashmap codes;	     /* code address -> code_entry */
	struct hashmap lines;	     /* (code address, instr) -> line + 1 */
	struct hashmap sources;	     /* hash of file name -> source_file */
	struct strtab unknown;	     /* "<unknown>"-style fixed strings */
	struct code_entry **retired; /* replaced entries: names handed out stay valid */
	size_t nretired, cap_retired;
	uint64_t stats[SYM_STAT_MAX];
};

static struct symbolizer *symbolizer__alloc(const struct py_offsets *off, uint64_t code_type)
{
	struct symbolizer *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->off = *off;
	s->code_type = code_type;
	s->gen = 1;
	hashmap__init(&s->codes);
	hashmap__init(&s->lines);
	hashmap__init(&s->sources);
	strtab__init(&s->unknown);
	return s;
}

struct symbolizer *symbolizer__new(pid_t pid, const struct py_offsets *off, uint64_t code_type)
{
	struct symbolizer *s = symbolizer__alloc(off, code_type);

	if (!s)
		return NULL;
	s->pid = pid;
	s->reader = memread__for_pid(pid);
	return s;
}

struct symbolizer *symbolizer__new_reader(const struct mem_reader *r, const struct py_offsets *off,
					  uint64_t code_type)
{
	struct symbolizer *s = symbolizer__alloc(off, code_type);

	if (!s)
		return NULL;
	s->reader = *r;
	return s;
}

static void code_entry__free(struct code_entry *e)
{
	if (!e)
		return;
	pyobj__code_free(&e->code);
	free(e->display);
	free(e);
}

void symbolizer__free(struct symbolizer *s)
{
	size_t it = 0;
	void *v;

	if (!s)
		return;
	while (hashmap__next(&s->codes, &it, NULL, &v))
		code_entry__free(v);
	it = 0;
	while (hashmap__next(&s->sources, &it, NULL, &v)) {
		struct source_file *sf = v;

		free(sf->text);
		free(sf);
	}
	for (size_t i = 0; i < s->nretired; i++)
		code_entry__free(s->retired[i]);
	free(s->retired);
	hashmap__free(&s->codes);
	hashmap__free(&s->lines);
	hashmap__free(&s->sources);
	strtab__free(&s->unknown);
	free(s);
}

void symbolizer__tick(struct symbolizer *s)
{
	s->gen++;
}

const uint64_t *symbolizer__stats(const struct symbolizer *s)
{
	return s->stats;
}

/* The target's source file, read through its own root (or cwd for relative names). */
static const struct source_file *source_get(struct symbolizer *s, const char *filename)
{
	struct hkey k = {hash__bytes(filename, strlen(filename), 1), 0};
	struct source_file *sf = hashmap__get(&s->sources, k);
	char path[4096];

	if (sf)
		return sf;
	sf = calloc(1, sizeof(*sf));
	if (!sf)
		return NULL;
	if (s->pid && filename[0] != '<') {
		if (filename[0] == '/')
			snprintf(path, sizeof(path), "/proc/%d/root%s", s->pid, filename);
		else
			snprintf(path, sizeof(path), "/proc/%d/cwd/%s", s->pid, filename);
		if (procfs__read_file(path, SOURCE_MAX_BYTES, &sf->text, &sf->len))
			sf->text = NULL;
	}
	if (hashmap__put(&s->sources, k, sf, NULL)) {
		free(sf->text);
		free(sf);
		return NULL;
	}
	return sf;
}

static char *display_name(struct symbolizer *s, const struct py_code *c)
{
	const struct source_file *sf;
	char buf[1024];

	if (c->qualname)
		return strdup(c->qualname);
	sf = source_get(s, c->filename);
	if (sf && sf->text &&
	    !qualname__derive(sf->text, sf->len, c->firstlineno, c->name, buf, sizeof(buf))) {
		s->stats[SYM_STAT_QUALNAME_DERIVED]++;
		return strdup(buf);
	}
	return strdup(c->name);
}

static void drop_lines_of(struct symbolizer *s, uint64_t code)
{
	struct hkey k;
	size_t it = 0;

	/* rare (an address reused by another code object): a full scan is fine */
	while (hashmap__next(&s->lines, &it, &k, NULL)) {
		if (k.a == code) {
			hashmap__del(&s->lines, k);
			it = 0;
		}
	}
}

static const char *fixed_str(struct symbolizer *s, const char *str)
{
	int64_t id = strtab__intern(&s->unknown, str);

	return id < 0 ? "<unknown>" : strtab__str(&s->unknown, id);
}

static void count_failure(struct symbolizer *s, enum pyobj_error reason)
{
	switch (reason) {
	case PYOBJ_NOT_CODE:
		s->stats[SYM_STAT_NOT_CODE]++;
		break;
	case PYOBJ_BAD_STRING:
		s->stats[SYM_STAT_BAD_STRING]++;
		break;
	case PYOBJ_BAD_LINETABLE:
		s->stats[SYM_STAT_BAD_LINETABLE]++;
		break;
	default:
		s->stats[SYM_STAT_UNREADABLE]++;
		break;
	}
}

/* Keeps a replaced entry until symbolizer__free, since callers may still hold its names; an
 * address is reused rarely, and if memory runs short the entry is simply freed. */
static void retire(struct symbolizer *s, struct code_entry *e)
{
	if (s->nretired == s->cap_retired) {
		size_t cap = s->cap_retired ? s->cap_retired * 2 : 16;
		struct code_entry **n = realloc(s->retired, cap * sizeof(*n));

		if (!n) {
			code_entry__free(e);
			return;
		}
		s->retired = n;
		s->cap_retired = cap;
	}
	s->retired[s->nretired++] = e;
}

/* The cached entry for a code address, validated in this period; NULL if it cannot be named. */
static struct code_entry *code_get(struct symbolizer *s, uint64_t addr)
{
	struct hkey k = {addr, 0};
	struct code_entry *e = hashmap__get(&s->codes, k), *fresh;
	enum pyobj_error reason;

	if (e && e->checked_gen == s->gen)
		return e;
	if (e) {
		struct py_code_id id;

		s->stats[SYM_STAT_REVALIDATIONS]++;
		if (pyobj__read_code_id(&s->reader, &s->off, addr, &id)) {
			/* gone since the sample was taken: the cached name was right then */
			s->stats[SYM_STAT_FROM_CACHE_DEAD]++;
			return e;
		}
		if (!memcmp(&id, &e->code.id, sizeof(id))) {
			e->checked_gen = s->gen;
			return e;
		}
		s->stats[SYM_STAT_REUSED_ADDRESS]++;
		hashmap__del(&s->codes, k);
		retire(s, e);
		drop_lines_of(s, addr);
	}
	fresh = calloc(1, sizeof(*fresh));
	if (!fresh)
		return NULL;
	s->stats[SYM_STAT_CODE_READS]++;
	if (pyobj__read_code(&s->reader, &s->off, s->code_type, addr, &fresh->code, &reason)) {
		count_failure(s, reason);
		free(fresh);
		return NULL;
	}
	fresh->display = display_name(s, &fresh->code);
	fresh->checked_gen = s->gen;
	if (!fresh->display || hashmap__put(&s->codes, k, fresh, NULL)) {
		code_entry__free(fresh);
		return NULL;
	}
	return fresh;
}

/* Byte offset of the instruction in CPython's PyCode_Addr2Line convention, < 0 if not started. */
static int64_t frame_addrq(const struct symbolizer *s, const struct code_entry *e, uint64_t instr)
{
	unsigned v = s->off.version;

	if (s->off.frame_kind == PY_FRAME_OBJECT) {
		int64_t lasti = (int64_t)instr;

		/* f_lasti is an int: anything wider did not come from a frame (no line) */
		if (lasti > INT32_MAX || lasti < INT32_MIN)
			return (int64_t)1 << 40;
		return v >= 0x030a ? lasti * 2 : lasti;
	}
	if (!e->code.code_start || instr < e->code.code_start)
		return -1;
	return (int64_t)(instr - e->code.code_start);
}

static int line_of(struct symbolizer *s, struct code_entry *e, uint64_t code, uint64_t instr)
{
	struct hkey k = {code, instr};
	uintptr_t cached = (uintptr_t)hashmap__get(&s->lines, k);
	int64_t addrq;
	int line = 0, err;

	if (cached)
		return (int)(cached - 1);
	addrq = frame_addrq(s, e, instr);
	if (addrq < 0) {
		/* the frame has not started its first instruction; a negative co_firstlineno (only
		 * a damaged object has one) is no line */
		line = e->code.firstlineno > 0 ? e->code.firstlineno : 0;
		if (e->code.firstlineno < 0)
			s->stats[SYM_STAT_BAD_LINETABLE]++;
	} else if (addrq > (1 << 30)) {
		s->stats[SYM_STAT_BAD_LINETABLE]++;
	} else {
		err = linetable__addr2line(s->off.version, e->code.linetable, e->code.linetable_len,
					   e->code.firstlineno, (int)addrq, &line);
		if (err == -ENOENT)
			s->stats[SYM_STAT_NO_LINE]++;
		else if (err)
			s->stats[SYM_STAT_BAD_LINETABLE]++;
		if (err || line < 0)
			line = 0;
	}
	hashmap__put(&s->lines, k, (void *)(uintptr_t)(line + 1), NULL);
	return line;
}

int symbolizer__resolve(struct symbolizer *s, const struct py_frame *f, struct frame_sym *ret)
{
	struct code_entry *e;

	s->stats[SYM_STAT_FRAMES]++;
	e = code_get(s, f->code);
	if (!e) {
		ret->name = fixed_str(s, "<unknown>");
		ret->filename = fixed_str(s, "?");
		ret->line = 0;
		ret->known = 0;
		return -ENOENT;
	}
	ret->name = e->display;
	ret->filename = e->code.filename;
	ret->line = line_of(s, e, f->code, f->instr);
	ret->known = 1;
	return 0;
}
