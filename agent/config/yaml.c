// SPDX-License-Identifier: MIT
/* The configuration's first phase: YAML text, through libyaml's events, to a small bounded tree
 * of scalars, sequences and maps with their positions (yaml.h); and the error sentences both
 * phases write. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "config/yaml.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

int config_yaml__verrf(const struct errctx *e, const char *path, unsigned line, unsigned col,
		       const char *fmt, va_list ap)
{
	size_t off = 0;
	int n;

	if (!e->len)
		return -EINVAL;
	e->buf[0] = '\0';
	if (path && *path) {
		n = snprintf(e->buf, e->len, "%s: ", path);
		off = n < 0 ? 0 : (size_t)n;
	}
	if (off < e->len) {
		n = vsnprintf(e->buf + off, e->len - off, fmt, ap);
		off += n < 0 ? 0 : (size_t)n;
	}
	if (line && off < e->len)
		snprintf(e->buf + off, e->len - off, " (%s:%u:%u)", e->file, line, col);
	return -EINVAL;
}

int config_yaml__errf(const struct errctx *e, const char *path, unsigned line, unsigned col,
		      const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = config_yaml__verrf(e, path, line, col, fmt, ap);
	va_end(ap);
	return rc;
}

/* Appends s to buf (at *off) with non-printable bytes, quotes and backslashes escaped, and
 * at most max source bytes ("..." after). */
void config_yaml__escape(char *buf, size_t len, size_t *off, const char *s, size_t slen, size_t max)
{
	size_t i;
	int n;

	for (i = 0; i < slen && i < max && *off + 1 < len; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\')
			n = snprintf(buf + *off, len - *off, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			n = snprintf(buf + *off, len - *off, "\\x%02x", c);
		else
			n = snprintf(buf + *off, len - *off, "%c", c);
		*off += n < 0 ? 0 : (size_t)n;
	}
	if (i < slen && *off + 1 < len) {
		n = snprintf(buf + *off, len - *off, "...");
		*off += n < 0 ? 0 : (size_t)n;
	}
	if (*off >= len)
		*off = len - 1;
}

void ynode__free(struct ynode *n)
{
	size_t i;

	if (!n)
		return;
	/* depth is bounded by CONFIG_MAX_DEPTH, so recursion is too */
	for (i = 0; i < n->n; i++)
		ynode__free(n->items[i]);
	free(n->items);
	free(n->str);
	free(n);
}

bool ynode__is_null(const struct ynode *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	size_t i;

	if (!n)
		return true;
	if (n->kind != YN_SCALAR || !n->plain)
		return false;
	for (i = 0; i < ARRAY_SIZE(nulls); i++)
		if (!strcmp(n->str, nulls[i]))
			return true;
	return false;
}

struct builder {
	struct errctx err;
	struct ynode *root;
	struct ynode *stack[CONFIG_MAX_DEPTH];
	unsigned depth;
};

/* Keys that would read as path syntax ("a.b", "a[0]", "") are quoted in paths. */
void config_yaml__path_key(char *buf, size_t len, size_t *off, const char *key, size_t klen)
{
	bool quote = !klen || memchr(key, '.', klen) || memchr(key, '[', klen);

	if (*off && *off + 1 < len)
		buf[(*off)++] = '.';
	if (quote && *off + 1 < len)
		buf[(*off)++] = '"';
	buf[*off] = '\0';
	config_yaml__escape(buf, len, off, key, klen, 64);
	if (quote && *off + 1 < len)
		buf[(*off)++] = '"';
	buf[*off] = '\0';
}

void config_yaml__path_index(char *buf, size_t len, size_t *off, size_t idx)
{
	int n = snprintf(buf + *off, len - *off, "[%zu]", idx);

	*off += n < 0 ? 0 : (size_t)n;
	if (*off >= len)
		*off = len - 1;
}

/* The path of the node about to be added to the top of the stack; with pending false, the
 * path of the top collection itself. */
static void builder__path(const struct builder *b, bool pending, char *buf, size_t len)
{
	size_t off = 0;
	unsigned i;

	buf[0] = '\0';
	for (i = 0; i < b->depth; i++) {
		const struct ynode *c = b->stack[i];
		bool top = i + 1 == b->depth;

		if (top && !pending)
			break;
		if (c->kind == YN_SEQ) {
			config_yaml__path_index(buf, len, &off, top ? c->n : c->n - 1);
		} else if (top) {
			if (c->n % 2) /* a key waits for its value */
				config_yaml__path_key(buf, len, &off, c->items[c->n - 1]->str,
						      c->items[c->n - 1]->len);
		} else {
			config_yaml__path_key(buf, len, &off, c->items[c->n - 2]->str,
					      c->items[c->n - 2]->len);
		}
	}
}

static int __attribute__((format(printf, 4, 5)))
builder__fail(const struct builder *b, const yaml_mark_t *mark, bool pending, const char *fmt, ...)
{
	char path[512];
	va_list ap;
	int rc;

	builder__path(b, pending, path, sizeof(path));
	va_start(ap, fmt);
	rc = config_yaml__verrf(&b->err, path, mark->line + 1, mark->column + 1, fmt, ap);
	va_end(ap);
	return rc;
}

static int builder__check_tag(const struct builder *b, const yaml_event_t *ev,
			      const yaml_char_t *tag)
{
	const char *t = (const char *)tag;
	const char *std = "tag:yaml.org,2002:";
	char shown[80];
	size_t off = 0;

	if (!tag)
		return 0;
	if (!strncmp(t, std, strlen(std))) {
		snprintf(shown, sizeof(shown), "!!");
		off = 2;
		t += strlen(std);
	}
	config_yaml__escape(shown, sizeof(shown), &off, t, strlen(t), 40);
	shown[off] = '\0';
	return builder__fail(b, &ev->start_mark, true,
			     "tags (%s) are not supported; remove the tag and write a plain value",
			     shown);
}

/* Adds a new node (scalar or freshly started collection) under the top of the stack. */
static int builder__attach(struct builder *b, const yaml_event_t *ev, struct ynode *n)
{
	struct ynode *parent;

	if (!b->depth) {
		b->root = n;
		return 0;
	}
	parent = b->stack[b->depth - 1];
	if (parent->kind == YN_MAP && parent->n % 2 == 0) {
		if (n->kind != YN_SCALAR)
			return builder__fail(b, &ev->start_mark, true,
					     "keys must be plain strings, got a %s",
					     n->kind == YN_MAP ? "map" : "list");
		if (parent->n / 2 >= CONFIG_MAX_ITEMS)
			return builder__fail(b, &ev->start_mark, false, "map has more than %d keys",
					     CONFIG_MAX_ITEMS);
	}
	if (parent->kind == YN_SEQ && parent->n >= CONFIG_MAX_ITEMS)
		return builder__fail(b, &ev->start_mark, false, "list has more than %d items",
				     CONFIG_MAX_ITEMS);
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct ynode **items = realloc(parent->items, cap * sizeof(*items));

		if (!items)
			return -ENOMEM;
		parent->items = items;
		parent->cap = cap;
	}
	parent->items[parent->n++] = n;
	return 0;
}

static int builder__node(struct builder *b, const yaml_event_t *ev, enum ynode_kind kind)
{
	struct ynode *n = calloc(1, sizeof(*n));
	int rc;

	if (!n)
		return -ENOMEM;
	n->kind = kind;
	n->line = ev->start_mark.line + 1;
	n->col = ev->start_mark.column + 1;
	if (kind == YN_SCALAR) {
		n->len = ev->data.scalar.length;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->str = malloc(n->len + 1);
		if (!n->str) {
			free(n);
			return -ENOMEM;
		}
		memcpy(n->str, ev->data.scalar.value, n->len);
		n->str[n->len] = '\0';
	}
	rc = builder__attach(b, ev, n);
	if (rc) {
		ynode__free(n);
		return rc;
	}
	if (kind != YN_SCALAR)
		b->stack[b->depth++] = n;
	return 0;
}

static int builder__event(struct builder *b, const yaml_event_t *ev, unsigned *ndocs)
{
	const yaml_char_t *tag = NULL;
	enum ynode_kind kind;
	int rc;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++*ndocs > 1)
			return config_yaml__errf(&b->err, "", ev->start_mark.line + 1,
						 ev->start_mark.column + 1,
						 "expected one YAML document, found a second one");
		return 0;
	case YAML_ALIAS_EVENT:
		return builder__fail(b, &ev->start_mark, true,
				     "aliases (*%s) are not supported; write the value out",
				     (const char *)ev->data.alias.anchor);
	case YAML_SCALAR_EVENT:
		rc = builder__check_tag(b, ev, ev->data.scalar.tag);
		if (rc)
			return rc;
		if (ev->data.scalar.length > CONFIG_MAX_STRING)
			return builder__fail(b, &ev->start_mark, true,
					     "string of %zu bytes is longer than the %d-byte limit",
					     ev->data.scalar.length, CONFIG_MAX_STRING);
		return builder__node(b, ev, YN_SCALAR);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (ev->type == YAML_SEQUENCE_START_EVENT) {
			kind = YN_SEQ;
			tag = ev->data.sequence_start.tag;
		} else {
			kind = YN_MAP;
			tag = ev->data.mapping_start.tag;
		}
		rc = builder__check_tag(b, ev, tag);
		if (rc)
			return rc;
		if (b->depth >= CONFIG_MAX_DEPTH)
			return builder__fail(b, &ev->start_mark, true,
					     "nesting deeper than %d levels", CONFIG_MAX_DEPTH);
		return builder__node(b, ev, kind);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (b->depth)
			b->depth--;
		return 0;
	default: /* stream start/end, document end, and no-event */
		return 0;
	}
}

/* Line and column (1-based) of a byte offset, for reader errors that carry only an offset. */
static void offset_position(const char *text, size_t len, size_t offset, unsigned *ret_line,
			    unsigned *ret_col)
{
	unsigned line = 1, col = 1;
	size_t i;

	for (i = 0; i < offset && i < len; i++) {
		if (text[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	*ret_line = line;
	*ret_col = col;
}

/* The byte at a 1-based line and column, counting columns in bytes (exact for ASCII lines). */
static int byte_at(const char *text, size_t len, unsigned line, unsigned col)
{
	size_t i = 0;

	for (; line > 1 && i < len; i++)
		if (text[i] == '\n')
			line--;
	i += col - 1;
	return i < len ? (unsigned char)text[i] : -1;
}

static int syntax_error(const struct builder *b, const yaml_parser_t *p, const char *text,
			size_t len)
{
	const char *problem = p->problem ? p->problem : "invalid YAML";
	char context[128] = "";
	unsigned line, col;

	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (p->error == YAML_READER_ERROR) {
		offset_position(text, len, p->problem_offset, &line, &col);
		return config_yaml__errf(&b->err, "", line, col, "YAML syntax error: %s", problem);
	}
	line = p->problem_mark.line + 1;
	col = p->problem_mark.column + 1;
	if (byte_at(text, len, line, col) == '\t')
		return config_yaml__errf(&b->err, "", line, col,
					 "YAML syntax error: tabs cannot indent YAML; use spaces");
	if (p->context && p->context_mark.line != p->problem_mark.line)
		snprintf(context, sizeof(context), " %s started at line %zu", p->context,
			 p->context_mark.line + 1);
	else if (p->context)
		snprintf(context, sizeof(context), " %s", p->context);
	return config_yaml__errf(&b->err, "", line, col, "YAML syntax error: %s%s", problem,
				 context);
}

int ynode__parse(const char *text, size_t len, const struct errctx *err, struct ynode **ret_root)
{
	struct builder b = {.err = *err};
	yaml_parser_t parser;
	yaml_event_t ev;
	unsigned ndocs = 0;
	bool done = false;
	int rc = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)(len ? text : ""), len);
	while (!done && !rc) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = syntax_error(&b, &parser, text, len);
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = builder__event(&b, &ev, &ndocs);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (rc) {
		ynode__free(b.root);
		return rc;
	}
	*ret_root = b.root;
	return 0;
}
