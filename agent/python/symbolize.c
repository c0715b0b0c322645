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
#include "os/procfs.h"
#include "python/linetable.h"
#include "python/pyobj.h"
#include "python/qualname.h"
#include "python/symbolize.h"
#include "util/clock.h"

#define SOURCE_MAX_BYTES (16 << 20)
/* Lines of a code object, by instruction: a few slots, chosen by the instruction's hash (a hot
 * function's samples hit a few instructions; a miss decodes the line table again). */
#define LINE_SLOTS 8
/* What an allocation costs beyond its bytes (malloc's header, rounding): counted in the budget
 * so that it tracks the memory really held. */
#define ALLOC_OVERHEAD 16

const char *const sym_stat_names[SYM_STAT_MAX] = {
    [SYM_STAT_FRAMES] = "frames",
    [SYM_STAT_CODE_READS] = "code_reads",
    [SYM_STAT_REVALIDATIONS] = "revalidations",
    [SYM_STAT_REUSED_ADDRESS] = "reused_address",
    [SYM_STAT_FROM_CACHE_DEAD] = "named_from_cache_after_exit",
    [SYM_STAT_UNREADABLE] = "code_unreadable",
    [SYM_STAT_CODE_REPLACED] = "code_replaced",
    [SYM_STAT_NOT_CODE] = "not_a_code_object",
    [SYM_STAT_BAD_STRING] = "bad_string",
    [SYM_STAT_BAD_LINETABLE] = "bad_linetable",
    [SYM_STAT_NO_LINE] = "no_line",
    [SYM_STAT_QUALNAME_DERIVED] = "qualname_derived",
};

struct line_slot {
	uint64_t instr;
	int32_t line_plus1; /* 0: empty */
};

struct code_entry {
	struct lru_node node; /* in the symcache's codes */
	struct symbolizer *owner;
	uint64_t addr;
	struct py_code code;
	char *display;	      /* qualified name shown */
	uint32_t checked_gen; /* period in which it was last validated */
	struct line_slot lines[LINE_SLOTS];
};

struct source_file {
	struct lru_node node; /* in the symcache's sources */
	struct symbolizer *owner;
	struct hkey key;
	char *text; /* NULL if unreadable */
	size_t len;
};

struct symcache {
	struct lru codes, sources;
	uint64_t stats[SYM_STAT_MAX];
};

struct symbolizer {
	pid_t pid; /* 0 with a custom reader */
	struct mem_reader reader;
	struct py_offsets off;
	uint64_t code_type;
	uint32_t gen;
	struct symcache *cache;
	int own_cache;		/* made for this symbolizer alone (none was given) */
	struct hashmap codes;	/* code address -> code_entry */
	struct hashmap sources; /* hash of file name -> source_file */
	struct strtab unknown;	/* "<unknown>"-style fixed strings */
};

struct symcache *symcache__new(size_t code_bytes, size_t source_bytes)
{
	struct symcache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	lru__init(&c->codes, SYMCACHE_CODE_ENTRIES, code_bytes);
	lru__init(&c->sources, SYMCACHE_SOURCE_ENTRIES, source_bytes);
	lru__set_now(&c->codes, clock__mono_ns() / CLOCK_NS_PER_S);
	lru__set_now(&c->sources, c->codes.now);
	return c;
}

void symcache__free(struct symcache *c)
{
	free(c);
}

const uint64_t *symcache__stats(const struct symcache *c)
{
	return c->stats;
}

const struct lru *symcache__codes(const struct symcache *c)
{
	return &c->codes;
}

const struct lru *symcache__sources(const struct symcache *c)
{
	return &c->sources;
}

static struct symbolizer *symbolizer__alloc(const struct py_offsets *off, uint64_t code_type,
					    struct symcache *cache)
{
	struct symbolizer *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (!cache) {
		cache = symcache__new(SYMCACHE_CODE_BYTES, SYMCACHE_SOURCE_BYTES);
		if (!cache) {
			free(s);
			return NULL;
		}
		s->own_cache = 1;
	}
	s->cache = cache;
	s->off = *off;
	s->code_type = code_type;
	s->gen = 1;
	hashmap__init(&s->codes);
	hashmap__init(&s->sources);
	strtab__init(&s->unknown);
	return s;
}

struct symbolizer *symbolizer__new(pid_t pid, const struct py_offsets *off, uint64_t code_type,
				   struct symcache *cache)
{
	struct symbolizer *s = symbolizer__alloc(off, code_type, cache);

	if (!s)
		return NULL;
	s->pid = pid;
	s->reader = memread__for_pid(pid);
	return s;
}

struct symbolizer *symbolizer__new_reader(const struct mem_reader *r, const struct py_offsets *off,
					  uint64_t code_type, struct symcache *cache)
{
	struct symbolizer *s = symbolizer__alloc(off, code_type, cache);

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

/* Takes e out of its symbolizer and of the budget, and frees it. */
static void code_drop(struct symbolizer *s, struct code_entry *e)
{
	hashmap__del(&s->codes, (struct hkey){e->addr, 0});
	lru__unlink(&s->cache->codes, &e->node);
	code_entry__free(e);
}

static void source_drop(struct symbolizer *s, struct source_file *sf)
{
	hashmap__del(&s->sources, sf->key);
	lru__unlink(&s->cache->sources, &sf->node);
	free(sf->text);
	free(sf);
}

/* Evicts the least recently used entries, of any symbolizer of the cache: while it is over its
 * budget, the most recent keep entries staying (their names are being handed out); or, with
 * idle, while they were last used idle seconds or more ago. */
static void evict(struct symcache *c, size_t keep, uint64_t idle)
{
	struct lru_node *n;

	while ((n = idle ? lru__idle(&c->codes, idle) : lru__over(&c->codes, keep))) {
		struct code_entry *e = lru__entry(n, struct code_entry, node);

		code_drop(e->owner, e);
		lru__evicted(&c->codes);
	}
	while ((n = idle ? lru__idle(&c->sources, idle) : lru__over(&c->sources, keep))) {
		struct source_file *sf = lru__entry(n, struct source_file, node);

		source_drop(sf->owner, sf);
		lru__evicted(&c->sources);
	}
}

void symcache__tick(struct symcache *c, uint64_t now_s)
{
	lru__set_now(&c->codes, now_s);
	lru__set_now(&c->sources, now_s);
	evict(c, 0, SYMCACHE_IDLE_S);
}

void symbolizer__free(struct symbolizer *s)
{
	size_t it = 0;
	void *v;

	if (!s)
		return;
	while (hashmap__next(&s->codes, &it, NULL, &v)) {
		lru__unlink(&s->cache->codes, &((struct code_entry *)v)->node);
		code_entry__free(v);
	}
	it = 0;
	while (hashmap__next(&s->sources, &it, NULL, &v)) {
		struct source_file *sf = v;

		lru__unlink(&s->cache->sources, &sf->node);
		free(sf->text);
		free(sf);
	}
	hashmap__free(&s->codes);
	hashmap__free(&s->sources);
	strtab__free(&s->unknown);
	if (s->own_cache)
		symcache__free(s->cache);
	free(s);
}

void symbolizer__tick(struct symbolizer *s)
{
	s->gen++;
}

const uint64_t *symbolizer__stats(const struct symbolizer *s)
{
	return s->cache->stats;
}

/* The target's source file, read through its own root (or cwd for relative names). */
static const struct source_file *source_get(struct symbolizer *s, const char *filename)
{
	struct hkey k = {hash__bytes(filename, strlen(filename), 1), 0};
	struct source_file *sf = hashmap__get(&s->sources, k);
	char path[4096];

	if (sf) {
		s->cache->sources.stats[LRU_HITS]++;
		lru__touch(&s->cache->sources, &sf->node);
		return sf;
	}
	s->cache->sources.stats[LRU_MISSES]++;
	sf = calloc(1, sizeof(*sf));
	if (!sf)
		return NULL;
	sf->owner = s;
	sf->key = k;
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
	lru__insert(&s->cache->sources, &sf->node,
		    sizeof(*sf) + ALLOC_OVERHEAD + (sf->text ? sf->len + 1 + ALLOC_OVERHEAD : 0));
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
		s->cache->stats[SYM_STAT_QUALNAME_DERIVED]++;
		return strdup(buf);
	}
	return strdup(c->name);
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
		s->cache->stats[SYM_STAT_NOT_CODE]++;
		break;
	case PYOBJ_BAD_STRING:
		s->cache->stats[SYM_STAT_BAD_STRING]++;
		break;
	case PYOBJ_BAD_LINETABLE:
		s->cache->stats[SYM_STAT_BAD_LINETABLE]++;
		break;
	default:
		s->cache->stats[SYM_STAT_UNREADABLE]++;
		break;
	}
}

static size_t code_bytes(const struct code_entry *e)
{
	const struct py_code *c = &e->code;
	size_t n = sizeof(*e) + ALLOC_OVERHEAD + strlen(e->display) + 1 + ALLOC_OVERHEAD;

	n += c->name ? strlen(c->name) + 1 + ALLOC_OVERHEAD : 0;
	n += c->qualname ? strlen(c->qualname) + 1 + ALLOC_OVERHEAD : 0;
	n += c->filename ? strlen(c->filename) + 1 + ALLOC_OVERHEAD : 0;
	return n + (c->linetable ? c->linetable_len + ALLOC_OVERHEAD : 0);
}

/* The cached entry for a code address, validated in this period; NULL if it cannot be named.
 * An entry evicted for the budget is read again: never a guess. */
static struct code_entry *code_get(struct symbolizer *s, uint64_t addr)
{
	struct symcache *c = s->cache;
	struct hkey k = {addr, 0};
	struct code_entry *e = hashmap__get(&s->codes, k), *fresh;
	enum pyobj_error reason;

	if (e && e->checked_gen == s->gen) {
		c->codes.stats[LRU_HITS]++;
		lru__touch(&c->codes, &e->node);
		return e;
	}
	if (e) {
		struct py_code_id id;

		c->stats[SYM_STAT_REVALIDATIONS]++;
		if (pyobj__read_code_id(&s->reader, &s->off, addr, &id)) {
			/* gone since the sample was taken: the cached name was right then */
			c->stats[SYM_STAT_FROM_CACHE_DEAD]++;
			c->codes.stats[LRU_HITS]++;
			lru__touch(&c->codes, &e->node);
			return e;
		}
		if (!memcmp(&id, &e->code.id, sizeof(id))) {
			e->checked_gen = s->gen;
			c->codes.stats[LRU_HITS]++;
			lru__touch(&c->codes, &e->node);
			return e;
		}
		c->stats[SYM_STAT_REUSED_ADDRESS]++;
		code_drop(s, e); /* its lines go with it */
	}
	c->codes.stats[LRU_MISSES]++;
	fresh = calloc(1, sizeof(*fresh));
	if (!fresh)
		return NULL;
	c->stats[SYM_STAT_CODE_READS]++;
	if (pyobj__read_code(&s->reader, &s->off, s->code_type, addr, &fresh->code, &reason)) {
		count_failure(s, reason);
		free(fresh);
		return NULL;
	}
	fresh->owner = s;
	fresh->addr = addr;
	fresh->display = display_name(s, &fresh->code);
	fresh->checked_gen = s->gen;
	if (!fresh->display || hashmap__put(&s->codes, k, fresh, NULL)) {
		code_entry__free(fresh);
		return NULL;
	}
	lru__insert(&c->codes, &fresh->node, code_bytes(fresh));
	evict(c, 1, 0); /* this entry stays: its name is handed out now */
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

static int line_of(struct symbolizer *s, struct code_entry *e, uint64_t instr)
{
	struct line_slot *slot = &e->lines[hash__words(&instr, 1, 0) % LINE_SLOTS];
	int64_t addrq;
	int line = 0, err;

	if (slot->line_plus1 && slot->instr == instr)
		return slot->line_plus1 - 1;
	addrq = frame_addrq(s, e, instr);
	if (addrq < 0) {
		/* the frame has not started its first instruction; a negative co_firstlineno (only
		 * a damaged object has one) is no line */
		line = e->code.firstlineno > 0 ? e->code.firstlineno : 0;
		if (e->code.firstlineno < 0)
			s->cache->stats[SYM_STAT_BAD_LINETABLE]++;
	} else if (addrq > (1 << 30)) {
		s->cache->stats[SYM_STAT_BAD_LINETABLE]++;
	} else {
		err = linetable__addr2line(s->off.version, e->code.linetable, e->code.linetable_len,
					   e->code.firstlineno, (int)addrq, &line);
		if (err == -ENOENT)
			s->cache->stats[SYM_STAT_NO_LINE]++;
		else if (err)
			s->cache->stats[SYM_STAT_BAD_LINETABLE]++;
		if (err || line < 0)
			line = 0;
	}
	slot->instr = instr;
	slot->line_plus1 = line + 1;
	return line;
}

/* Whether e is the code object the frame's check was taken from (see py_code_check). */
static int same_code(const struct symbolizer *s, const struct code_entry *e, uint64_t check)
{
	const struct py_code_id *id = &e->code.id;
	uint64_t third =
	    s->off.code_qualname == s->off.code_name + 8 ? id->qualname : id->linetable;

	return !check || py_code_check(id->filename, id->name, third) == check;
}

int symbolizer__resolve(struct symbolizer *s, const struct py_frame *f, struct frame_sym *ret)
{
	uint64_t addr = f->code & PY_CODE_ADDR_MASK, check = f->code >> PY_CODE_ADDR_BITS;
	struct code_entry *e;

	s->cache->stats[SYM_STAT_FRAMES]++;
	e = code_get(s, addr);
	if (e && !same_code(s, e, check)) {
		/* the cache held another object at this address: read what is there now */
		s->cache->stats[SYM_STAT_REUSED_ADDRESS]++;
		code_drop(s, e);
		e = code_get(s, addr);
		if (e && !same_code(s, e, check)) {
			/* freed since the sample was taken, and its memory reused */
			s->cache->stats[SYM_STAT_CODE_REPLACED]++;
			e = NULL;
		}
	}
	if (!e) {
		ret->name = fixed_str(s, "<unknown>");
		ret->filename = fixed_str(s, "?");
		ret->line = 0;
		ret->known = 0;
		return -ENOENT;
	}
	ret->name = e->display;
	ret->filename = e->code.filename;
	ret->line = line_of(s, e, f->instr);
	ret->known = 1;
	return 0;
}
