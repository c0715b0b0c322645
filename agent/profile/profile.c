// SPDX-License-Identifier: MIT
/* Stack aggregation over a table of interned frames. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "profile/profile.h"

void profile__init(struct profile *p)
{
	memset(p, 0, sizeof(*p));
	strtab__init(&p->strs);
	hashmap__init(&p->frame_index);
	hashmap__init(&p->stacks);
}

void profile__free(struct profile *p)
{
	struct profile_stack *s;
	size_t it = 0;

	while (hashmap__next(&p->stacks, &it, NULL, (void **)&s)) {
		while (s) {
			struct profile_stack *next = s->next_same_hash;

			free(s);
			s = next;
		}
	}
	hashmap__free(&p->stacks);
	hashmap__free(&p->frame_index);
	free(p->frames);
	free(p->frame_next);
	strtab__free(&p->strs);
}

/* The id of the first n bytes of s (n <= strlen(s)), reserved characters replaced and the
 * length bounded; the string is copied only when it must change. */
static int64_t intern_str(struct profile *p, const char *s, size_t n)
{
	char buf[PROFILE_NAME_MAX];

	if (n < sizeof(buf) && !s[n] && strcspn(s, ";\n\r") == n)
		return strtab__intern(&p->strs, s);
	if (n > sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		buf[i] = (c == ';' || c == '\n' || c == '\r') ? '?' : c;
	}
	buf[n] = '\0';
	return strtab__intern(&p->strs, buf);
}

/* Interns the record of kind, strings ids name and file (-1: none) and number. */
static int64_t intern_record(struct profile *p, enum frame_kind kind, int64_t name, int64_t file,
			     int64_t number)
{
	const uint64_t words[4] = {kind, (uint64_t)name, (uint64_t)file, (uint64_t)number};
	struct hkey k = {hash__words(words, 4, 0), kind};
	uintptr_t head = (uintptr_t)hashmap__get(&p->frame_index, k);
	const char *name_s = strtab__str(&p->strs, (uint32_t)name);
	const char *file_s = file < 0 ? NULL : strtab__str(&p->strs, (uint32_t)file);
	struct frame *f;
	int err;

	/* interned strings are equal exactly when their pointers are */
	for (uintptr_t id1 = head; id1; id1 = p->frame_next[id1 - 1]) {
		f = &p->frames[id1 - 1];
		if (f->kind == kind && f->name == name_s && f->file == file_s &&
		    f->number == number)
			return (int64_t)(id1 - 1);
	}
	if (p->nframes == p->frames_cap) {
		size_t cap = p->frames_cap ? p->frames_cap * 2 : 256;
		struct frame *fs = realloc(p->frames, cap * sizeof(*fs));
		uint32_t *next;

		if (!fs)
			return -ENOMEM;
		p->frames = fs;
		next = realloc(p->frame_next, cap * sizeof(*next));
		if (!next)
			return -ENOMEM;
		p->frame_next = next;
		p->frames_cap = cap;
	}
	if (p->nframes >= UINT32_MAX)
		return -E2BIG;
	f = &p->frames[p->nframes];
	f->kind = kind;
	f->name = name_s;
	f->file = file_s;
	f->number = number;
	p->frame_next[p->nframes] = (uint32_t)head;
	err = hashmap__put(&p->frame_index, k, (void *)(uintptr_t)(p->nframes + 1), NULL);
	if (err)
		return err;
	return (int64_t)p->nframes++;
}

/* Interns the parts of a frame: name[0 .. name_len), file[0 .. file_len) if file. */
static int64_t intern_parts(struct profile *p, enum frame_kind kind, const char *name,
			    size_t name_len, const char *file, size_t file_len, int64_t number)
{
	int64_t name_id, file_id = -1;

	if (kind != FRAME_PYTHON) {
		file = NULL;
		if (kind != FRAME_PROCESS && kind != FRAME_THREAD)
			number = 0;
	} else if (!file) {
		file = "";
		file_len = 0;
	}
	name_id = intern_str(p, name, name_len);
	if (name_id < 0)
		return name_id;
	if (file) {
		file_id = intern_str(p, file, file_len);
		if (file_id < 0)
			return file_id;
	}
	return intern_record(p, kind, name_id, file_id, number);
}

int64_t profile__intern_frame(struct profile *p, const struct frame *f)
{
	const char *name = f->name ? f->name : "";
	const char *file = f->kind == FRAME_PYTHON && f->file ? f->file : NULL;

	return intern_parts(p, f->kind, name, strnlen(name, PROFILE_NAME_MAX), file,
			    file ? strnlen(file, PROFILE_NAME_MAX) : 0, f->number);
}

int64_t profile__frame_python(struct profile *p, const char *qualname, const char *file,
			      int64_t line)
{
	const struct frame f = {FRAME_PYTHON, qualname, file, line};

	return profile__intern_frame(p, &f);
}

int64_t profile__frame_kernel(struct profile *p, const char *symbol)
{
	const struct frame f = {FRAME_KERNEL, symbol, NULL, 0};

	return profile__intern_frame(p, &f);
}

int64_t profile__frame_marker(struct profile *p, const char *text)
{
	const struct frame f = {FRAME_MARKER, text, NULL, 0};

	return profile__intern_frame(p, &f);
}

int64_t profile__frame_native(struct profile *p, const char *name)
{
	const struct frame f = {FRAME_NATIVE, name, NULL, 0};

	return profile__intern_frame(p, &f);
}

int64_t profile__frame_process(struct profile *p, const char *comm, int64_t pid)
{
	const struct frame f = {FRAME_PROCESS, comm, NULL, pid};

	return profile__intern_frame(p, &f);
}

int64_t profile__frame_thread(struct profile *p, int64_t tid, const char *name)
{
	const struct frame f = {FRAME_THREAD, name, NULL, tid};

	return profile__intern_frame(p, &f);
}

int64_t profile__frame_container(struct profile *p, const char *id)
{
	const struct frame f = {FRAME_CONTAINER, id, NULL, 0};

	return profile__intern_frame(p, &f);
}

int64_t profile__frame_text(struct profile *p, const char *text, uint32_t depth)
{
	struct frame_parts fp;

	frame__parse(text, depth, &fp);
	return intern_parts(p, fp.kind, fp.name, fp.name_len, fp.file, fp.file_len, fp.number);
}

int profile__add_stack(struct profile *p, const uint32_t *ids, uint32_t n, uint64_t weight,
		       struct profile_stack **ret)
{
	struct hkey k = {hash__bytes(ids, n * sizeof(*ids), 0), n};
	struct profile_stack *head = hashmap__get(&p->stacks, k), *s;
	int err;

	for (s = head; s; s = s->next_same_hash) {
		if (s->n == n && !memcmp(s->ids, ids, n * sizeof(*ids)))
			goto found;
	}
	s = malloc(sizeof(*s) + n * sizeof(*ids));
	if (!s)
		return -ENOMEM;
	s->next_same_hash = head;
	s->weight = 0;
	s->n = n;
	memcpy(s->ids, ids, n * sizeof(*ids));
	err = hashmap__put(&p->stacks, k, s, NULL);
	if (err) {
		free(s);
		return err;
	}
	p->nstacks++;
found:
	profile__add_weight(p, s, weight);
	if (ret)
		*ret = s;
	return 0;
}

int profile__add(struct profile *p, const uint32_t *ids, uint32_t n, uint64_t weight)
{
	return profile__add_stack(p, ids, n, weight, NULL);
}

int profile_filter__empty(const struct profile_filter *f)
{
	return (!f->comm || !*f->comm) && (!f->thread || !*f->thread) &&
	       (!f->container || !*f->container);
}

/* Whether want (NULL or "": anything) is in the name of a frame of kind in the stack. */
static int stack_has(const struct profile *p, const struct profile_stack *s, enum frame_kind kind,
		     const char *want)
{
	if (!want || !*want)
		return 1;
	for (uint32_t d = 0; d < s->n; d++) {
		const struct frame *f = &p->frames[s->ids[d]];

		if (f->kind == kind && strstr(f->name, want))
			return 1;
	}
	return 0;
}

int profile__filter(const struct profile *src, const struct profile_filter *f, struct profile *dst)
{
	int64_t *map = malloc((src->nframes ? src->nframes : 1) * sizeof(*map));
	uint32_t *ids = NULL;
	size_t ids_cap = 0, it = 0;
	struct profile_stack *s;
	int ret = 0;

	if (!map)
		return -ENOMEM;
	for (size_t i = 0; i < src->nframes; i++)
		map[i] = -1; /* interned in dst on first use */
	while (!ret && hashmap__next(&src->stacks, &it, NULL, (void **)&s)) {
		for (; s && !ret; s = s->next_same_hash) {
			if (!s->weight || !stack_has(src, s, FRAME_PROCESS, f->comm) ||
			    !stack_has(src, s, FRAME_THREAD, f->thread) ||
			    !stack_has(src, s, FRAME_CONTAINER, f->container))
				continue;
			if (s->n > ids_cap) {
				uint32_t *bigger = realloc(ids, s->n * sizeof(*ids));

				if (!bigger) {
					ret = -ENOMEM;
					break;
				}
				ids = bigger;
				ids_cap = s->n;
			}
			for (uint32_t d = 0; d < s->n && !ret; d++) {
				uint32_t id = s->ids[d];

				if (map[id] < 0) {
					map[id] = profile__intern_frame(dst, &src->frames[id]);
					if (map[id] < 0)
						ret = (int)map[id];
				}
				ids[d] = (uint32_t)map[id];
			}
			if (!ret)
				ret = profile__add(dst, ids, s->n, s->weight);
		}
	}
	free(ids);
	free(map);
	return ret;
}

static const char *const kind_names[PROFILE_KIND_MAX] = {
    [PROFILE_CPU] = "cpu",
    [PROFILE_OFFCPU] = "offcpu",
    [PROFILE_WALL] = "wall",
};

int profile__parse_kind(const char *name, enum profile_kind *ret_kind)
{
	for (int i = 0; i < PROFILE_KIND_MAX; i++) {
		if (!strcmp(name, kind_names[i])) {
			*ret_kind = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *profile__kind_name(enum profile_kind kind)
{
	return kind < PROFILE_KIND_MAX ? kind_names[kind] : "unknown";
}
