/* SPDX-License-Identifier: MIT */
/* YAML text to a bounded tree (the configuration's first phase), and the error sentences of the
 * loader, each naming a key path and a position. Private to agent/config/. */
#ifndef PYPROF_CONFIG_YAML_H
#define PYPROF_CONFIG_YAML_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Bounds on the tree, so a hostile or broken file cannot make parsing unbounded. */
#define CONFIG_MAX_DEPTH  16   /* nested maps and lists */
#define CONFIG_MAX_STRING 4096 /* bytes in one scalar (key or value) */
#define CONFIG_MAX_ITEMS  4096 /* items of one list, or keys of one map */

/* Where an error is reported: the dotted key path and a 1-based position. */
struct errctx {
	const char *file;
	char *buf;
	size_t len;
};

/* Writes "PATH: message (FILE:LINE:COL)" into e (path, line: when known); returns -EINVAL. */
int config_yaml__verrf(const struct errctx *e, const char *path, unsigned line, unsigned col,
		       const char *fmt, va_list ap);
int config_yaml__errf(const struct errctx *e, const char *path, unsigned line, unsigned col,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Appends s to buf (at *off) with non-printable bytes, quotes and backslashes escaped, and at
 * most max source bytes ("..." after). */
void config_yaml__escape(char *buf, size_t len, size_t *off, const char *s, size_t slen,
			 size_t max);
/* Appends ".key" (quoted when it holds '.' or '[') or "[idx]" to a key path at *off. */
void config_yaml__path_key(char *buf, size_t len, size_t *off, const char *key, size_t klen);
void config_yaml__path_index(char *buf, size_t len, size_t *off, size_t idx);

enum ynode_kind { YN_SCALAR, YN_SEQ, YN_MAP };

struct ynode {
	enum ynode_kind kind;
	unsigned line, col; /* 1-based, of the node's first character */
	bool plain;	    /* unquoted scalar: only these can be numbers, booleans or null */
	char *str;	    /* scalar text, NUL-terminated; len counts embedded NULs too */
	size_t len;
	struct ynode **items; /* seq: items; map: key0, value0, key1, value1, ... */
	size_t n, cap;
};

/* Parses text (one document at most; an empty one is a NULL root) into *ret_root; errors,
 * with their position, go to err. Returns 0 or -EINVAL/-ENOMEM. */
int ynode__parse(const char *text, size_t len, const struct errctx *err, struct ynode **ret_root);
void ynode__free(struct ynode *n);
/* Whether n is absent or a YAML null ("", "~", "null"). */
bool ynode__is_null(const struct ynode *n);

#endif
