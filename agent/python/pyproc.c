// SPDX-License-Identifier: MIT
/* CPython detection by ELF symbols (never by process name): the executable or a loaded
 * libpython defines _PyRuntime (3.7+) or interp_head (3.6). Files are opened through
 * /proc/PID/map_files (works for deleted and other-namespace files) or /proc/PID/root. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "os/elfsym.h"
#include "os/memread.h"
#include "os/procfs.h"
#include "python/pyobj.h"
#include "python/pyoffsets.h"
#include "python/pyproc.h"
#include "util/errbuf.h"
#include "util/hashmap.h"
#include "util/lru.h"

#define MAX_CANDIDATES	   512
#define DEBUG_OFFSETS_READ 4096

enum { SYM_RUNTIME, SYM_VERSION, SYM_CODE_TYPE, SYM_INTERP_HEAD, SYM_COUNT };

int pyproc__version_from_hex(uint32_t hex, unsigned *ret_major, unsigned *ret_minor)
{
	unsigned major = (hex >> 24) & 0xff, minor = (hex >> 16) & 0xff;

	if (major < 2 || major > 9)
		return -EINVAL;
	*ret_major = major;
	*ret_minor = minor;
	return 0;
}

/* Version from a file name like libpython3.9.so.1.0 or libpython3.6m.so. */
static int version_from_name(const char *path, unsigned *ret_major, unsigned *ret_minor)
{
	const char *base = strrchr(path, '/');
	unsigned major, minor;

	base = base ? base + 1 : path;
	if (sscanf(base, "libpython%u.%u", &major, &minor) == 2 && major >= 2 && major <= 9) {
		*ret_major = major;
		*ret_minor = minor;
		return 0;
	}
	return -ENOENT;
}

static int open_mapped_elf(pid_t pid, const struct procmaps_entry *e, struct elf_file **ret)
{
	char path[1024];
	int err;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", pid,
		 (unsigned long long)e->start, (unsigned long long)e->end);
	err = elffile__open(path, ret);
	if (!err || err == -ENOEXEC)
		return err;
	snprintf(path, sizeof(path), "/proc/%d/root%s", pid, e->path);
	return elffile__open(path, ret);
}

/* The mapping of this file with the lowest file offset: its start anchors the load bias. */
static const struct procmaps_entry *first_mapping(const struct procmaps *maps, const char *path,
						  uint64_t inode)
{
	const struct procmaps_entry *best = NULL;

	for (size_t i = 0; i < maps->n; i++) {
		const struct procmaps_entry *e = &maps->entries[i];

		if (e->inode != inode || strcmp(e->path, path))
			continue;
		if (!best || e->offset < best->offset)
			best = e;
	}
	return best;
}

static int rank_candidate(const struct procmaps_entry *e, const char *exe)
{
	const char *base = strrchr(e->path, '/');

	base = base ? base + 1 : e->path;
	if (!strcmp(e->path, exe))
		return 0;
	if (strstr(base, "python"))
		return 1;
	return 2;
}

struct candidate {
	const struct procmaps_entry *map;
	int rank;
};

static int collect_candidates(const struct procmaps *maps, const char *exe, struct candidate *c,
			      size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < maps->n && n < max; i++) {
		const struct procmaps_entry *e = &maps->entries[i], *first;
		int dup = 0;

		if (e->path[0] != '/' || !e->inode || !strncmp(e->path, "/dev/", 5))
			continue;
		first = first_mapping(maps, e->path, e->inode);
		for (size_t j = 0; j < n && !dup; j++)
			dup = c[j].map == first;
		if (dup)
			continue;
		c[n].map = first;
		c[n].rank = rank_candidate(e, exe);
		n++;
	}
	/* stable order: the executable, then *python* libraries, then the rest */
	for (size_t i = 1; i < n; i++) {
		struct candidate t = c[i];
		size_t j = i;

		while (j > 0 && c[j - 1].rank > t.rank) {
			c[j] = c[j - 1];
			j--;
		}
		c[j] = t;
	}
	return n;
}

static int detect_version(struct elf_file *ef, const struct procmaps_entry *map,
			  const struct elf_symbol_query *q, unsigned *ret_major,
			  unsigned *ret_minor)
{
	if (q[SYM_VERSION].found) {
		uint32_t hex;

		if (!elffile__read(ef, q[SYM_VERSION].value, &hex, sizeof(hex)) &&
		    !pyproc__version_from_hex(hex, ret_major, ret_minor))
			return 0;
	}
	if (!version_from_name(map->path, ret_major, ret_minor))
		return 0;
	return elffile__find_version_string(ef, ret_major, ret_minor);
}

/* "3.15.2", "3.15.0b4", "3.14.0rc1t"-style name of a PY_VERSION_HEX, for messages. */
static void version_name(uint64_t hex, int free_threaded, char *buf, size_t len)
{
	static const char *const levels[16] = {[0xa] = "a", [0xb] = "b", [0xc] = "rc"};
	unsigned level = (hex >> 4) & 0xf, serial = hex & 0xf;

	if (level != 0xf && levels[level])
		snprintf(buf, len, "%u.%u.%u%s%u%s", (unsigned)(hex >> 24) & 0xff,
			 (unsigned)(hex >> 16) & 0xff, (unsigned)(hex >> 8) & 0xff, levels[level],
			 serial, free_threaded ? "t" : "");
	else
		snprintf(buf, len, "%u.%u.%u%s", (unsigned)(hex >> 24) & 0xff,
			 (unsigned)(hex >> 16) & 0xff, (unsigned)(hex >> 8) & 0xff,
			 free_threaded ? "t" : "");
}

/* Bounds of the live check of a guessed layout. */
#define CHECK_MAX_INTERPS 8
#define CHECK_MAX_THREADS 256
#define CHECK_MAX_FRAMES  64
#define CHECK_FRAME_MAX	  256
#define TID_MAX		  (1 << 22) /* PID_MAX_LIMIT */

/* Whether a frame of the thread state at tstate holds a code object that reads as one: type
 * PyCode_Type, name and file name strings. */
static int check_thread_frames(const struct mem_reader *r, const struct pyproc *p,
			       const struct py_offsets *o, uint64_t tstate)
{
	uint64_t frame = 0;

	if (mem_read(r, tstate + o->tstate_frame, &frame, sizeof(frame)))
		return 0;
	for (int i = 0; i < CHECK_MAX_FRAMES && frame; i++) {
		uint8_t buf[CHECK_FRAME_MAX];
		uint64_t code, prev;
		struct py_code c;
		enum pyobj_error reason;

		if (o->frame_size > sizeof(buf) || mem_read(r, frame, buf, o->frame_size))
			return 0;
		memcpy(&prev, buf + o->frame_previous, sizeof(prev));
		memcpy(&code, buf + o->frame_code, sizeof(code));
		code &= o->frame_code_mask;
		if (prev == frame)
			return 0;
		frame = prev;
		if (o->frame_owner_cstack != PYOFF_NONE &&
		    buf[o->frame_owner] >= o->frame_owner_cstack)
			continue;
		if (!code || pyobj__read_code(r, o, p->code_type_addr, code, &c, &reason))
			continue;
		pyobj__code_free(&c);
		return 1;
	}
	return 0;
}

/* Checks offsets guessed for a newer version against the live process: the interpreter list
 * reaches a thread state that names a thread, and some thread's frame holds a code object
 * whose type, name and file name read as they should. Returns 0, or -EPROTO with the reason
 * that failed first in why. */
static int check_layout_live(const struct pyproc *p, const struct py_offsets *o, char *why,
			     size_t whylen)
{
	struct mem_reader r = memread__for_pid(p->pid);
	uint64_t interp = 0;
	int threads = 0;

	if (!p->code_type_addr) {
		snprintf(why, whylen, "PyCode_Type not found");
		return -EPROTO;
	}
	if (mem_read(&r, p->runtime_addr + o->runtime_interpreters_head, &interp, sizeof(interp)) ||
	    !interp) {
		snprintf(why, whylen, "no interpreter in _PyRuntime");
		return -EPROTO;
	}
	for (int i = 0; i < CHECK_MAX_INTERPS && interp; i++) {
		uint64_t ts = 0;

		if (mem_read(&r, interp + o->interp_threads_head, &ts, sizeof(ts)))
			break;
		for (int j = 0; j < CHECK_MAX_THREADS && ts; j++) {
			uint64_t thread_id = 0, native = 0, next = 0;

			if (mem_read(&r, ts + o->tstate_thread_id, &thread_id, sizeof(thread_id)) ||
			    mem_read(&r, ts + o->tstate_native_thread_id, &native,
				     sizeof(native)) ||
			    mem_read(&r, ts + o->tstate_next, &next, sizeof(next)))
				break;
			/* a thread state names its pthread (an address) and its kernel tid */
			if (thread_id && native && native < TID_MAX) {
				threads++;
				if (check_thread_frames(&r, p, o, ts))
					return 0;
			}
			if (next == ts)
				break;
			ts = next;
		}
		if (mem_read(&r, interp + o->interp_next, &interp, sizeof(interp)))
			break;
	}
	snprintf(why, whylen,
		 threads ? "no frame of its %d threads holds a code object"
			 : "its thread list reaches no thread",
		 threads);
	return -EPROTO;
}

/* For a minor version newer than every known layout: the newest layout, if the debug offsets
 * fit it and it checks out against the process (flagged in p, for the caller to say). */
static int guess_layout(struct pyproc *p, const unsigned char *buf, __u64 version, char *errbuf,
			size_t errlen)
{
	struct py_offsets guess;
	char name[32], why[128];
	unsigned from = 0;
	int err;

	version_name(version, 0, name, sizeof(name));
	err = pyoffsets__guess_from_debug_offsets(buf, DEBUG_OFFSETS_READ, &guess, &from);
	if (err)
		snprintf(why, sizeof(why), "its _Py_DebugOffsets do not fit that layout");
	else
		err = check_layout_live(p, &guess, why, sizeof(why));
	if (err) {
		errbuf__set(
		    errbuf, errlen,
		    "CPython %s is not supported: no layout is known for 3.%u, and the newest "
		    "known (3.%u) does not fit the process (%s)",
		    name, (unsigned)(version >> 16) & 0xff, pyoffsets__newest_debug_minor(), why);
		return -EPROTONOSUPPORT;
	}
	p->offsets = guess;
	p->layout_from_debug_offsets = 1;
	p->layout_guessed_from = from;
	return 0;
}

/* The layout from the _Py_DebugOffsets at the start of _PyRuntime (3.13+). Returns 0, an
 * error with a sentence in errbuf when the version is refused, or -ENOENT when the debug
 * offsets could not be used and the built-in table, if any, is to be tried. */
static int load_debug_offsets(struct pyproc *p, int have_table, char *errbuf, size_t errlen)
{
	struct mem_reader r = memread__for_pid(p->pid);
	unsigned char *buf = malloc(DEBUG_OFFSETS_READ);
	__u64 version = 0;
	int free_threaded = 0, err;
	char name[32];

	if (!buf)
		return -ENOMEM;
	if (mem_read(&r, p->runtime_addr, buf, DEBUG_OFFSETS_READ) ||
	    pyoffsets__debug_header(buf, DEBUG_OFFSETS_READ, &version, &free_threaded)) {
		free(buf);
		return -ENOENT;
	}
	if (free_threaded) {
		/* other object headers, thread-local bytecode and no GIL: the 3.13 table would
		 * misread it */
		version_name(version, 1, name, sizeof(name));
		errbuf__set(errbuf, errlen,
			    "CPython %s is a free-threaded build, which is not supported (only "
			    "default builds are)",
			    name);
		err = -EPROTONOSUPPORT;
	} else if (!(err = pyoffsets__from_debug_offsets(buf, DEBUG_OFFSETS_READ, &p->offsets))) {
		p->layout_from_debug_offsets = 1;
	} else if (((version >> 16) & 0xff) > pyoffsets__newest_debug_minor()) {
		err = guess_layout(p, buf, version, errbuf, errlen);
	} else if (err == -ENOTSUP && !have_table) {
		version_name(version, 0, name, sizeof(name));
		errbuf__set(
		    errbuf, errlen,
		    "CPython %s is not supported (a pre-release: its _Py_DebugOffsets layout "
		    "is not the final one of 3.%u)",
		    name, (unsigned)(version >> 16) & 0xff);
		err = -EPROTONOSUPPORT;
	} else {
		err = -ENOENT;
	}
	free(buf);
	return err;
}

static int load_layout(struct pyproc *p, char *errbuf, size_t errlen)
{
	const struct py_offsets *table = pyoffsets__table(p->major, p->minor);
	int err;

	if (p->runtime_addr && (p->major > 3 || (p->major == 3 && p->minor >= 13))) {
		err = load_debug_offsets(p, table != NULL, errbuf, errlen);
		if (err != -ENOENT)
			return err;
	}
	if (table) {
		p->offsets = *table;
		return 0;
	}
	errbuf__set(
	    errbuf, errlen, "CPython %u.%u is not supported (no layout table%s)", p->major,
	    p->minor,
	    p->runtime_addr && p->minor >= 13 ? " and its _Py_DebugOffsets could not be used" : "");
	return -EPROTONOSUPPORT;
}

/* What one ELF file says about CPython, cached per file so that discovery parses each
 * distinct file once, however many processes map it (up to PYPROC_CACHE_FILES files, the least
 * recently used forgotten: parsed again if seen again). */
struct elf_facts {
	int python;	 /* defines the runtime symbols */
	int version_err; /* the version could not be determined */
	int placed;	 /* seg_vaddr is known (always for ET_EXEC) */
	unsigned major, minor;
	int is_exec;
	uint64_t seg_vaddr; /* link-time address of the first mapped segment */
	struct elf_symbol_query q[SYM_COUNT];
};

struct facts_entry {
	struct lru_node node;
	struct hkey key;
	struct elf_facts facts;
};

struct pyproc_cache {
	struct hashmap files; /* (dev, inode, first mapping offset) -> facts_entry */
	struct lru lru;
};

struct pyproc_cache *pyproc__cache_new(void)
{
	struct pyproc_cache *c = calloc(1, sizeof(*c));

	if (c) {
		hashmap__init(&c->files);
		lru__init(&c->lru, PYPROC_CACHE_FILES, SIZE_MAX);
	}
	return c;
}

void pyproc__cache_free(struct pyproc_cache *c)
{
	size_t it = 0;
	void *v;

	if (!c)
		return;
	while (hashmap__next(&c->files, &it, NULL, &v))
		free(v);
	hashmap__free(&c->files);
	free(c);
}

size_t pyproc__cache_size(const struct pyproc_cache *c)
{
	return c ? c->files.n : 0;
}

const struct lru *pyproc__cache_lru(const struct pyproc_cache *c)
{
	return &c->lru;
}

static struct hkey facts_key(const struct procmaps_entry *m)
{
	return (struct hkey){m->inode, ((uint64_t)m->dev_major << 48) ^
					   ((uint64_t)m->dev_minor << 32) ^ m->offset};
}

/* Examines one mapped file; returns 0 with facts, or an open error. */
static int examine_elf(pid_t pid, const struct procmaps_entry *m, struct elf_facts *f)
{
	struct elf_file *ef = NULL;
	int err;

	memset(f, 0, sizeof(*f));
	f->q[SYM_RUNTIME].name = "_PyRuntime";
	f->q[SYM_VERSION].name = "Py_Version";
	f->q[SYM_CODE_TYPE].name = "PyCode_Type";
	f->q[SYM_INTERP_HEAD].name = "interp_head";
	err = open_mapped_elf(pid, m, &ef);
	if (err == -ENOEXEC)
		return 0; /* not an ELF: not Python, and worth remembering */
	if (err)
		return err;
	if (elffile__lookup(ef, f->q, SYM_COUNT) > 0 && f->q[SYM_CODE_TYPE].found &&
	    (f->q[SYM_RUNTIME].found || f->q[SYM_INTERP_HEAD].found)) {
		f->python = 1;
		f->version_err = detect_version(ef, m, f->q, &f->major, &f->minor);
		f->is_exec = elffile__is_exec(ef);
		f->placed = f->is_exec || !elffile__segment_vaddr(ef, m->offset, &f->seg_vaddr);
	}
	elffile__close(ef);
	return 0;
}

static int facts_get(struct pyproc_cache *cache, pid_t pid, const struct procmaps_entry *m,
		     struct elf_facts *ret)
{
	struct hkey k = facts_key(m);
	struct facts_entry *cached = cache ? hashmap__get(&cache->files, k) : NULL;
	struct lru_node *n;
	int err;

	if (cached) {
		cache->lru.stats[LRU_HITS]++;
		lru__touch(&cache->lru, &cached->node);
		*ret = cached->facts;
		return 0;
	}
	err = examine_elf(pid, m, ret);
	if (err || !cache)
		return err;
	cache->lru.stats[LRU_MISSES]++;
	cached = malloc(sizeof(*cached));
	if (!cached)
		return 0;
	cached->key = k;
	cached->facts = *ret;
	if (hashmap__put(&cache->files, k, cached, NULL)) {
		free(cached);
		return 0;
	}
	lru__insert(&cache->lru, &cached->node, sizeof(*cached));
	while ((n = lru__over(&cache->lru, 1))) {
		struct facts_entry *old = lru__entry(n, struct facts_entry, node);

		hashmap__del(&cache->files, old->key);
		lru__unlink(&cache->lru, n);
		lru__evicted(&cache->lru);
		free(old);
	}
	return 0;
}

/* Fills p from the facts of the ELF that holds the runtime. */
static int describe(struct pyproc *p, const struct procmaps_entry *m, const struct elf_facts *f,
		    char *errbuf, size_t errlen)
{
	int err;

	snprintf(p->elf_path, sizeof(p->elf_path), "%s", m->path);
	if (f->version_err) {
		errbuf__set(errbuf, errlen, "pid %d runs CPython from %s, of unknown version",
			    p->pid, m->path);
		return -EPROTONOSUPPORT;
	}
	p->major = f->major;
	p->minor = f->minor;
	if (!f->placed) {
		errbuf__set(errbuf, errlen, "cannot place %s in pid %d's memory", m->path, p->pid);
		return -ENOEXEC;
	}
	p->bias = f->is_exec ? 0 : m->start - f->seg_vaddr;
	if (p->major != 3 || p->minor < 6) {
		errbuf__set(errbuf, errlen,
			    "pid %d runs CPython %u.%u, which is not supported (3.6 and newer are)",
			    p->pid, p->major, p->minor);
		return -EPROTONOSUPPORT;
	}
	if (f->q[SYM_RUNTIME].found)
		p->runtime_addr = f->q[SYM_RUNTIME].value + p->bias;
	p->code_type_addr = f->q[SYM_CODE_TYPE].value + p->bias;
	err = load_layout(p, errbuf, errlen);
	if (err)
		return err;
	if (p->runtime_addr && p->offsets.runtime_interpreters_head != PYOFF_NONE) {
		p->interp_head_addr = p->runtime_addr + p->offsets.runtime_interpreters_head;
	} else if (f->q[SYM_INTERP_HEAD].found) {
		p->interp_head_addr = f->q[SYM_INTERP_HEAD].value + p->bias;
	} else {
		errbuf__set(
		    errbuf, errlen,
		    "pid %d: CPython %u.%u's interpreter list not found (stripped library?)",
		    p->pid, p->major, p->minor);
		return -ENOEXEC;
	}
	return 0;
}

int pyproc__open(pid_t pid, struct pyproc_cache *cache, struct pyproc **ret, char *errbuf,
		 size_t errlen)
{
	struct procmaps maps = {0};
	struct candidate *cands = NULL;
	struct pyproc *p = NULL;
	char exe[512] = "";
	int err, n;

	err = procmaps__read(pid, &maps);
	if (err) {
		if (err == -ESRCH)
			errbuf__set(errbuf, errlen, "no process with pid %d", pid);
		else
			errbuf__set(errbuf, errlen, "cannot read /proc/%d/maps: %s", pid,
				    strerror(-err));
		return err;
	}
	procfs__exe(pid, exe, sizeof(exe));
	cands = calloc(MAX_CANDIDATES, sizeof(*cands));
	p = calloc(1, sizeof(*p));
	if (!cands || !p) {
		err = -ENOMEM;
		goto out;
	}
	p->pid = pid;
	n = collect_candidates(&maps, exe, cands, MAX_CANDIDATES);
	for (int i = 0; i < n; i++) {
		const struct procmaps_entry *m = cands[i].map;
		struct elf_facts f;

		err = facts_get(cache, pid, m, &f);
		if (err) {
			if ((err == -EACCES || err == -EPERM) && cands[i].rank < 2) {
				errbuf__set(errbuf, errlen, "not allowed to read %s of pid %d: %s",
					    m->path, pid, strerror(-err));
				goto out;
			}
			if (err == -ENOENT && procfs__exists(pid) != 0) {
				err = -ESRCH; /* gone while we looked */
				errbuf__set(errbuf, errlen, "no process with pid %d", pid);
				goto out;
			}
			continue;
		}
		if (!f.python)
			continue;
		err = describe(p, m, &f, errbuf, errlen);
		goto out;
	}
	err = -ENOEXEC;
	errbuf__set(
	    errbuf, errlen,
	    "pid %d is not a CPython process (no _PyRuntime in its executable or libraries)", pid);
out:
	free(cands);
	procmaps__free(&maps);
	if (err) {
		free(p);
		return err;
	}
	*ret = p;
	return 0;
}

void pyproc__free(struct pyproc *p)
{
	free(p);
}
