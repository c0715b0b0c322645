// SPDX-License-Identifier: MIT
/* The configuration loader: the tree of config/yaml.c -> struct agent_config, checked against
 * one table of keys. Does not log: every error names the key and position. The printer is in
 * describe.c. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config/config.h"
#include "config/yaml.h"
#include "format/output.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define DEFAULT_OUTPUT_DIR "/var/lib/pyprof-agent/profiles"
#define PID_MAX_LIMIT	   4194304 /* the kernel's ceiling for /proc/sys/kernel/pid_max */
#define HOST_NAME_MAX_LEN  253	   /* a DNS name; Kubernetes node names can be that long */

/* ---- phase 2: the tree against the table of keys ---- */

struct walk {
	struct errctx err;
	struct agent_config *cfg;
	char path[512];
	size_t plen;
};

static int __attribute__((format(printf, 3, 4)))
walk__fail(const struct walk *w, const struct ynode *n, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = config_yaml__verrf(&w->err, w->path, n ? n->line : 0, n ? n->col : 0, fmt, ap);
	va_end(ap);
	return rc;
}

static size_t walk__push_key(struct walk *w, const char *key, size_t klen)
{
	size_t old = w->plen;

	config_yaml__path_key(w->path, sizeof(w->path), &w->plen, key, klen);
	return old;
}

static size_t walk__push_index(struct walk *w, size_t idx)
{
	size_t old = w->plen;

	config_yaml__path_index(w->path, sizeof(w->path), &w->plen, idx);
	return old;
}

static void walk__pop(struct walk *w, size_t old)
{
	w->plen = old;
	w->path[old] = '\0';
}

/* What a node is, for "got ..." in messages. */
static const char *describe_node(const struct ynode *n, char *buf, size_t len)
{
	size_t off = 0;

	if (ynode__is_null(n))
		return "an empty value";
	if (n->kind == YN_MAP)
		return "a map";
	if (n->kind == YN_SEQ)
		return "a list";
	buf[off++] = '"';
	config_yaml__escape(buf, len - 8, &off, n->str, n->len, 64);
	buf[off++] = '"';
	buf[off] = '\0';
	return buf;
}

/* For values that must be plain: a quoted "99" is a string, which YAML users trip over. */
static const char *quoted_note(const struct ynode *n)
{
	return n->kind == YN_SCALAR && !n->plain ? " (quoted, so a string)" : "";
}

struct field;
typedef int (*field_fn)(struct walk *w, const struct ynode *n, const struct field *f);
/* Cross-checks of a map's keys once all are read; vals[i] is the value given for children[i]. */
typedef int (*map_check_fn)(struct walk *w, const struct ynode *const *vals);

enum field_type { F_MAP, F_BOOL, F_U32, F_U64, F_STR, F_CUSTOM };

#define STR_NONEMPTY 1u

struct field {
	const char *name;
	enum field_type type;
	size_t off;		      /* into struct agent_config */
	uint64_t min, max;	      /* F_U32, F_U64 */
	unsigned flags;		      /* F_STR */
	const struct field *children; /* F_MAP; ends with a NULL name */
	field_fn fn;		      /* F_CUSTOM: parses and stores; F_STR: checks after storing */
	map_check_fn check;	      /* F_MAP */
};

#define CFG_AT(w, f, type) ((type *)((char *)(w)->cfg + (f)->off))

static int parse_bool(const struct walk *w, const struct ynode *n, bool *ret)
{
	static const char *const yes[] = {"true", "True", "TRUE"};
	static const char *const no[] = {"false", "False", "FALSE"};
	static const char *const yaml11[] = {"yes", "no", "on", "off", "y", "n"};
	char got[128];
	size_t i;

	if (n->kind == YN_SCALAR && n->plain) {
		for (i = 0; i < ARRAY_SIZE(yes); i++) {
			if (!strcmp(n->str, yes[i])) {
				*ret = true;
				return 0;
			}
			if (!strcmp(n->str, no[i])) {
				*ret = false;
				return 0;
			}
		}
		for (i = 0; i < ARRAY_SIZE(yaml11); i++)
			if (!strcasecmp(n->str, yaml11[i]))
				return walk__fail(w, n,
						  "expected true or false, got \"%s\" (YAML 1.1 "
						  "yes/no/on/off are not booleans here)",
						  n->str);
	}
	return walk__fail(w, n, "expected true or false, got %s%s",
			  describe_node(n, got, sizeof(got)), quoted_note(n));
}

/* A decimal integer in [min, max] from a plain scalar. */
static int parse_uint(const struct walk *w, const struct ynode *n, uint64_t min, uint64_t max,
		      uint64_t *ret)
{
	const char *s = n->str;
	bool neg = false, overflow = false;
	uint64_t v = 0;
	char got[128];
	size_t i = 0;

	if (n->kind == YN_SCALAR && n->plain && s[0] == '-') {
		neg = true;
		i = 1;
	}
	if (n->kind != YN_SCALAR || !n->plain || i == n->len || (s[i] == '0' && i + 1 < n->len))
		goto bad;
	for (; i < n->len; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			overflow = true;
		else
			v = v * 10 + (uint64_t)(s[i] - '0');
	}
	neg = neg && (v || overflow); /* "-0" is zero */
	if (min == 1 && (neg || (!overflow && v == 0)))
		return walk__fail(w, n, "must be positive, got %s", s);
	if (neg || overflow || v < min || v > max)
		return walk__fail(w, n, "must be between %" PRIu64 " and %" PRIu64 ", got %s", min,
				  max, s);
	*ret = v;
	return 0;
bad:
	return walk__fail(w, n, "expected a %s integer, got %s%s",
			  min ? "positive" : "non-negative", describe_node(n, got, sizeof(got)),
			  quoted_note(n));
}

/* A scalar as a string; null is "". Maps, lists and NUL bytes are errors. */
static int parse_str(const struct walk *w, const struct ynode *n, const char **ret)
{
	char got[128];

	if (ynode__is_null(n)) {
		*ret = "";
		return 0;
	}
	if (n->kind != YN_SCALAR)
		return walk__fail(w, n, "expected a string, got %s",
				  describe_node(n, got, sizeof(got)));
	if (strlen(n->str) != n->len)
		return walk__fail(w, n, "strings must not contain NUL characters");
	*ret = n->str;
	return 0;
}

static int set_str(char **dst, const char *s)
{
	char *copy = strdup(s);

	if (!copy)
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

/* A list node (null is the empty list); scalars get a hint on list syntax. */
static int expect_list(const struct walk *w, const struct ynode *n, const char *example)
{
	char got[128];

	if (ynode__is_null(n) || n->kind == YN_SEQ)
		return 0;
	return walk__fail(w, n, "expected a list such as %s, got %s", example,
			  describe_node(n, got, sizeof(got)));
}

static size_t list_len(const struct ynode *n)
{
	return ynode__is_null(n) ? 0 : n->n;
}

static int walk_map(struct walk *w, const struct ynode *n, const struct field *fields,
		    map_check_fn check);

static int walk_field(struct walk *w, const struct ynode *n, const struct field *f)
{
	const char *s;
	uint64_t v;
	int rc;

	switch (f->type) {
	case F_MAP:
		return walk_map(w, n, f->children, f->check);
	case F_BOOL:
		return parse_bool(w, n, CFG_AT(w, f, bool));
	case F_U32:
		rc = parse_uint(w, n, f->min, f->max, &v);
		if (!rc)
			*CFG_AT(w, f, uint32_t) = (uint32_t)v;
		return rc;
	case F_U64:
		rc = parse_uint(w, n, f->min, f->max, &v);
		if (!rc)
			*CFG_AT(w, f, uint64_t) = v;
		return rc;
	case F_STR:
		rc = parse_str(w, n, &s);
		if (rc)
			return rc;
		if ((f->flags & STR_NONEMPTY) && !*s)
			return walk__fail(w, n, "must not be empty");
		rc = set_str(CFG_AT(w, f, char *), s);
		if (!rc && f->fn)
			rc = f->fn(w, n, f);
		return rc;
	case F_CUSTOM:
		return f->fn(w, n, f);
	}
	return -EINVAL;
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65], i, j;

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost =
			    tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			size_t best = diag + cost;

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static int unknown_key(const struct walk *w, const struct ynode *key, const struct field *fields)
{
	size_t best = SIZE_MAX, d, off = 0;
	const char *suggestion = NULL;
	char known[256];
	const struct field *f;

	if (strlen(key->str) == key->len) {
		for (f = fields; f->name; f++) {
			d = edit_distance(key->str, f->name);
			if (d < best) {
				best = d;
				suggestion = f->name;
			}
		}
	}
	if (memchr(key->str, '.', key->len))
		return walk__fail(w, key,
				  "unknown key; write nested keys as nested maps, not as "
				  "one dotted key");
	if (suggestion && best <= 2 && best * 2 < strlen(suggestion))
		return walk__fail(w, key, "unknown key; did you mean %s?", suggestion);
	known[0] = '\0';
	for (f = fields; f->name && off < sizeof(known); f++) {
		int n = snprintf(known + off, sizeof(known) - off, "%s%s", f == fields ? "" : ", ",
				 f->name);

		off += n < 0 ? 0 : (size_t)n;
	}
	return walk__fail(w, key, "unknown key; expected one of: %s", known);
}

#define MAX_FIELDS 16 /* keys in one map of the table below */

static int walk_map(struct walk *w, const struct ynode *n, const struct field *fields,
		    map_check_fn check)
{
	const struct ynode *vals[MAX_FIELDS] = {0};
	const struct ynode *keys[MAX_FIELDS] = {0};
	char got[128];
	size_t i, old;
	int rc;

	if (ynode__is_null(n))
		return check ? check(w, vals) : 0;
	if (n->kind != YN_MAP)
		return walk__fail(w, n, "expected a map, got %s",
				  describe_node(n, got, sizeof(got)));
	for (i = 0; i + 1 < n->n; i += 2) {
		const struct ynode *k = n->items[i], *v = n->items[i + 1];
		const struct field *f;
		size_t idx;

		for (f = fields; f->name; f++)
			if (strlen(f->name) == k->len && !memcmp(f->name, k->str, k->len))
				break;
		old = walk__push_key(w, k->str, k->len);
		if (!f->name)
			return unknown_key(w, k, fields);
		idx = (size_t)(f - fields);
		if (idx >= MAX_FIELDS) /* a table longer than MAX_FIELDS: a bug here */
			return -E2BIG;
		if (keys[idx])
			return walk__fail(w, k, "duplicate key, first given at line %u",
					  keys[idx]->line);
		keys[idx] = k;
		vals[idx] = v;
		rc = walk_field(w, v, f);
		if (rc)
			return rc;
		walk__pop(w, old);
	}
	return check ? check(w, vals) : 0;
}

/* ---- the keys with their own syntax ---- */

static int set_pids(struct walk *w, const struct ynode *n, const struct field *f)
{
	struct agent_config *cfg = w->cfg;
	size_t i, cnt = list_len(n), old;
	uint64_t v;
	pid_t *pids;
	int rc;

	rc = expect_list(w, n, "[1234, 5678]");
	if (rc)
		return rc;
	pids = calloc(cnt ? cnt : 1, sizeof(*pids));
	if (!pids)
		return -ENOMEM;
	for (i = 0; i < cnt; i++) {
		old = walk__push_index(w, i);
		rc = parse_uint(w, n->items[i], 1, PID_MAX_LIMIT, &v);
		if (rc) {
			free(pids);
			return rc;
		}
		walk__pop(w, old);
		pids[i] = (pid_t)v;
	}
	free(cfg->targets.pids);
	cfg->targets.pids = pids;
	cfg->targets.n_pids = cnt;
	return 0;
}

static void regexes_free(struct config_regex *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		regfree(&r[i].re);
		free(r[i].pattern);
	}
	free(r);
}

/* glibc's regcomp copies a subexpression once per repetition operator applied to it, so
 * "a++++..." or "((a{255}){255}){255}" compiles to a number of states exponential in the
 * pattern's length (gigabytes from a 300-byte line), and backreferences make matching against
 * a target's command line (which the target chooses) exponential in time. Patterns are refused
 * beyond these bounds, before regcomp runs. */
#define REGEX_MAX_STATES       1024  /* estimated states of one pattern */
#define REGEX_MAX_TOTAL_STATES 16384 /* of all the patterns of the list together */
#define REGEX_MAX_DEPTH	       64    /* nested groups */

/* An upper estimate of the states regcomp makes for an ERE: each atom counts 1, a group the sum
 * of its parts plus 1, and a repetition multiplies what it repeats (by 2 for *, + and ?, by
 * m + 1 for {n,m}). Saturates at REGEX_MAX_STATES + 1. Returns -1 for a backreference. */
static long regex_cost(const char *s)
{
	long total[REGEX_MAX_DEPTH + 1] = {0}, last[REGEX_MAX_DEPTH + 1] = {0};
	const long cap = REGEX_MAX_STATES + 1;
	int depth = 0;

	for (const char *p = s; *p; p++) {
		long factor = 0, atom = 1;

		switch (*p) {
		case '\\':
			if (p[1] >= '1' && p[1] <= '9')
				return -1;
			if (p[1])
				p++;
			break;
		case '[': /* a bracket expression is one atom: "[]a]", "[^]a]", "[[:alpha:]]" */
			p++;
			if (*p == '^')
				p++;
			if (*p == ']')
				p++;
			while (*p && *p != ']') {
				if (*p == '[' && (p[1] == ':' || p[1] == '=' || p[1] == '.')) {
					char close = p[1];

					for (p += 2; *p && !(p[0] == close && p[1] == ']'); p++)
						;
					if (*p)
						p++;
				}
				if (*p)
					p++;
			}
			if (!*p)
				p--; /* unterminated: regcomp rejects it */
			break;
		case '(':
			if (depth == REGEX_MAX_DEPTH)
				return cap;
			depth++;
			total[depth] = last[depth] = 0;
			continue;
		case ')':
			if (!depth)
				break; /* a literal, or an error regcomp reports */
			atom = total[depth] < cap ? total[depth] + 1 : cap;
			depth--;
			break;
		case '*':
		case '+':
		case '?':
			factor = 2;
			break;
		case '{': {
			unsigned long lo, hi;
			char *end;

			if (p[1] < '0' || p[1] > '9')
				break; /* a literal brace */
			lo = hi = strtoul(p + 1, &end, 10);
			if (*end == ',') {
				end++;
				hi = (*end >= '0' && *end <= '9') ? strtoul(end, &end, 10) : lo + 1;
			}
			if (*end != '}')
				break; /* not an interval: regcomp decides */
			if (hi < lo)
				hi = lo;
			factor = (long)(hi < (unsigned long)cap ? hi : (unsigned long)cap) + 1;
			p = end;
			break;
		}
		default:
			break;
		}
		if (factor) {
			total[depth] -= last[depth];
			last[depth] = last[depth] * factor > cap ? cap : last[depth] * factor;
		} else {
			last[depth] = atom;
		}
		total[depth] = total[depth] + last[depth] > cap ? cap : total[depth] + last[depth];
	}
	while (depth > 0) { /* unclosed groups: regcomp rejects them */
		long g = total[depth] < cap ? total[depth] + 1 : cap;

		depth--;
		total[depth] = total[depth] + g > cap ? cap : total[depth] + g;
	}
	return total[0];
}

static int set_regexes(struct walk *w, const struct ynode *n, const struct field *f)
{
	struct agent_config *cfg = w->cfg;
	size_t i, cnt = list_len(n), old;
	struct config_regex *r;
	const char *s;
	char why[256], got[128];
	long cost, total_cost = 0;
	int rc = 0, rerr;

	rc = expect_list(w, n, "[\"gunicorn\", \"manage\\\\.py runserver\"]");
	if (rc)
		return rc;
	r = calloc(cnt ? cnt : 1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (i = 0; i < cnt; i++) {
		old = walk__push_index(w, i);
		rc = parse_str(w, n->items[i], &s);
		if (!rc && !*s)
			rc = walk__fail(w, n->items[i],
					"an empty regular expression would match "
					"every process; use all_python instead");
		if (rc)
			goto fail;
		cost = regex_cost(s);
		if (cost < 0)
			rc = walk__fail(w, n->items[i],
					"backreferences (\\1 to \\9) are not supported: matching "
					"them can take exponential time");
		else if (cost > REGEX_MAX_STATES || (total_cost += cost) > REGEX_MAX_TOTAL_STATES)
			rc = walk__fail(
			    w, n->items[i],
			    "too complex (nested or stacked repetitions would compile to "
			    "more than %s states)",
			    cost > REGEX_MAX_STATES ? "1024" : "16384 (all patterns together)");
		if (rc)
			goto fail;
		rerr = regcomp(&r[i].re, s, REG_EXTENDED | REG_NOSUB);
		if (rerr) {
			regerror(rerr, &r[i].re, why, sizeof(why));
			rc = walk__fail(w, n->items[i], "invalid regular expression %s: %s",
					describe_node(n->items[i], got, sizeof(got)), why);
			goto fail;
		}
		r[i].pattern = strdup(s);
		if (!r[i].pattern) {
			regfree(&r[i].re);
			rc = -ENOMEM;
			goto fail;
		}
		walk__pop(w, old);
	}
	regexes_free(cfg->targets.cmdline_regex, cfg->targets.n_cmdline_regex);
	cfg->targets.cmdline_regex = r;
	cfg->targets.n_cmdline_regex = cnt;
	return 0;
fail:
	regexes_free(r, i);
	return rc;
}

static void strs_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int set_container_ids(struct walk *w, const struct ynode *n, const struct field *f)
{
	struct agent_config *cfg = w->cfg;
	size_t i, j, cnt = list_len(n), old, len;
	const char *s;
	char **ids, got[128];
	int rc;

	rc = expect_list(w, n, "[4f1c0e2a9b7d]");
	if (rc)
		return rc;
	ids = calloc(cnt ? cnt : 1, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (i = 0; i < cnt; i++) {
		old = walk__push_index(w, i);
		rc = parse_str(w, n->items[i], &s);
		if (rc)
			goto fail;
		len = strlen(s);
		for (j = 0; j < len && isxdigit((unsigned char)s[j]); j++)
			;
		if (len < 12 || len > 64 || j != len) {
			rc = walk__fail(w, n->items[i],
					"expected a container id (12 to 64 hex digits), got %s",
					describe_node(n->items[i], got, sizeof(got)));
			goto fail;
		}
		ids[i] = strdup(s);
		if (!ids[i]) {
			rc = -ENOMEM;
			goto fail;
		}
		for (j = 0; j < len; j++) /* runtimes print ids in lowercase */
			ids[i][j] = (char)tolower((unsigned char)ids[i][j]);
		walk__pop(w, old);
	}
	strs_free(cfg->targets.container_ids, cfg->targets.n_container_ids);
	cfg->targets.container_ids = ids;
	cfg->targets.n_container_ids = cnt;
	return 0;
fail:
	strs_free(ids, i);
	return rc;
}

/* output.formats is a set of enum output_format, one bit each: the names are output's */
_Static_assert(CONFIG_FORMAT_FOLDED == 1u << OUTPUT_FOLDED &&
		   CONFIG_FORMAT_PPROF == 1u << OUTPUT_PPROF &&
		   CONFIG_FORMAT_SPEEDSCOPE == 1u << OUTPUT_SPEEDSCOPE &&
		   CONFIG_FORMAT_SVG == 1u << OUTPUT_SVG && OUTPUT_FORMAT_MAX == 4,
	       "config_output_format bits are 1 << enum output_format");

const char *config__format_name(enum config_output_format format)
{
	for (int i = 0; i < OUTPUT_FORMAT_MAX; i++)
		if (format == 1u << i)
			return output__format_name(i);
	return NULL;
}

static int set_formats(struct walk *w, const struct ynode *n, const struct field *f)
{
	size_t i, j, cnt = list_len(n), old;
	unsigned formats = 0;
	char got[128];
	int rc;

	rc = expect_list(w, n, "[folded, svg]");
	if (rc)
		return rc;
	if (!cnt)
		return walk__fail(w, n,
				  "at least one format is required: folded, pprof, "
				  "speedscope or svg");
	for (i = 0; i < cnt; i++) {
		const struct ynode *it = n->items[i];

		old = walk__push_index(w, i);
		for (j = 0; j < OUTPUT_FORMAT_MAX; j++)
			if (it->kind == YN_SCALAR && !strcmp(it->str, output__format_name(j)) &&
			    strlen(it->str) == it->len)
				break;
		if (j == OUTPUT_FORMAT_MAX)
			return walk__fail(w, it,
					  "expected folded, pprof, speedscope or svg, got %s",
					  describe_node(it, got, sizeof(got)));
		formats |= 1u << j;
		walk__pop(w, old);
	}
	w->cfg->output.formats = formats;
	return 0;
}

static int set_log_level(struct walk *w, const struct ynode *n, const struct field *f)
{
	enum log_level level;
	char got[128];

	if (n->kind != YN_SCALAR || ynode__is_null(n) || strlen(n->str) != n->len ||
	    log__parse_level(n->str, &level))
		return walk__fail(w, n, "expected error, warning, info or debug, got %s",
				  describe_node(n, got, sizeof(got)));
	w->cfg->log.level = level;
	return 0;
}

/* metrics.listen: "" or HOST:PORT, IPv6 hosts in brackets. */
static int check_listen(struct walk *w, const struct ynode *n, const struct field *f)
{
	struct agent_config *cfg = w->cfg;
	const char *s = cfg->metrics.listen, *colon, *p;
	size_t hlen;
	char got[128];
	unsigned long port = 0;

	cfg->metrics.listen_port = 0;
	if (!*s)
		return set_str(&cfg->metrics.listen_host, "");
	colon = strrchr(s, ':');
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close == s + 1 || close + 1 != colon)
			colon = NULL;
	} else if (colon && memchr(s, ':', (size_t)(colon - s))) {
		colon = NULL; /* a bare IPv6 address: the port would be ambiguous */
	}
	if (!colon || colon == s || strpbrk(s, " \t/"))
		return walk__fail(w, n,
				  "expected HOST:PORT such as 127.0.0.1:9464 or [::1]:9464, or "
				  "\"\" for off, got %s",
				  describe_node(n, got, sizeof(got)));
	for (p = colon + 1; *p >= '0' && *p <= '9' && port <= 65535; p++)
		port = port * 10 + (unsigned long)(*p - '0');
	if (p == colon + 1 || *p || port < 1 || port > 65535)
		return walk__fail(w, n, "port must be a number in 1..65535, got \"%s\"", colon + 1);
	hlen = (size_t)(colon - s);
	if (s[0] == '[') {
		s++;
		hlen -= 2;
	}
	free(cfg->metrics.listen_host);
	cfg->metrics.listen_host = strndup(s, hlen);
	if (!cfg->metrics.listen_host)
		return -ENOMEM;
	cfg->metrics.listen_port = (uint16_t)port;
	return 0;
}

/* Expands ${VAR} from the environment; a '$' not followed by '{' is literal. */
static int expand_env(struct walk *w, const struct ynode *n, const char *s, char **ret)
{
	size_t cap = strlen(s) + 1, len = 0;
	char *out = malloc(cap), *grown;
	const char *val;

	if (!out)
		return -ENOMEM;
	while (*s) {
		const char *add = s, *end;
		size_t alen = 1;
		char name[128];

		if (s[0] == '$' && s[1] == '{') {
			end = strchr(s + 2, '}');
			alen = end ? (size_t)(end - s - 2) : 0;
			if (!end || !alen || alen >= sizeof(name) ||
			    !(isalpha((unsigned char)s[2]) || s[2] == '_') ||
			    strspn(s + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					  "0123456789_") != alen) {
				free(out);
				return walk__fail(w, n,
						  "expected ${NAME} with NAME an environment "
						  "variable name, got \"%s\"",
						  s);
			}
			memcpy(name, s + 2, alen);
			name[alen] = '\0';
			val = getenv(name);
			if (!val) {
				free(out);
				return walk__fail(w, n, "environment variable %s is not set", name);
			}
			add = val;
			s = end + 1;
			alen = strlen(val);
		} else {
			s++;
		}
		if (len + alen + 1 > cap) {
			cap = (len + alen + 1) * 2;
			grown = realloc(out, cap);
			if (!grown) {
				free(out);
				return -ENOMEM;
			}
			out = grown;
		}
		memcpy(out + len, add, alen);
		len += alen;
	}
	out[len] = '\0';
	*ret = out;
	return 0;
}

/* Whether name is safe as one path component and in an S3 key. */
static bool host_name_valid(const char *name)
{
	size_t len = strlen(name);

	return len && len <= HOST_NAME_MAX_LEN && name[0] != '.' && name[0] != '-' &&
	       strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
		   len;
}

static int resolve_host_name(char **name)
{
	char buf[HOST_NAME_MAX_LEN + 2] = "";

	if (**name)
		return 0;
	if (gethostname(buf, sizeof(buf) - 1))
		return -errno;
	if (!*buf)
		return -ENOENT;
	return set_str(name, buf);
}

static int check_host_name(struct walk *w, const struct ynode *n, const struct field *f)
{
	char **name = &w->cfg->host.name, *expanded = NULL;
	char got[128];
	int rc;

	rc = expand_env(w, n, *name, &expanded);
	if (rc)
		return rc;
	free(*name);
	*name = expanded;
	rc = resolve_host_name(name);
	if (rc == -ENOMEM)
		return rc;
	if (rc)
		return walk__fail(w, n, "empty, and gethostname() failed: %s", strerror(-rc));
	if (!host_name_valid(*name)) {
		size_t off = 0;

		got[off++] = '"';
		config_yaml__escape(got, sizeof(got) - 2, &off, *name, strlen(*name), 64);
		got[off++] = '"';
		got[off] = '\0';
		return walk__fail(w, n,
				  "%s may contain only letters, digits, '.', '_' and '-', must "
				  "not start with '.' or '-', and be at most %d bytes",
				  got, HOST_NAME_MAX_LEN);
	}
	return 0;
}

static int check_endpoint(struct walk *w, const struct ynode *n, const struct field *f)
{
	const char *s = w->cfg->upload.s3.endpoint, *host;
	size_t hlen;
	char got[128];

	if (!strncmp(s, "https://", 8))
		host = s + 8;
	else if (!strncmp(s, "http://", 7))
		host = s + 7;
	else
		return walk__fail(w, n, "expected an http:// or https:// URL, got %s",
				  describe_node(n, got, sizeof(got)));
	hlen = strcspn(host, "/?#");
	if (!hlen || strpbrk(s, " \t\r\n"))
		return walk__fail(w, n, "expected an http:// or https:// URL with a host, got %s",
				  describe_node(n, got, sizeof(got)));
	if (memchr(host, '@', hlen))
		return walk__fail(w, n,
				  "credentials in the URL are not accepted; use "
				  "upload.s3.credentials or the AWS_* environment variables");
	return 0;
}

/* targets: all_python with lists would silently ignore the lists; neither selects nothing. */
static int check_targets(struct walk *w, const struct ynode *const *vals)
{
	static const char *const lists[] = {"pids", "cmdline_regex", "container_ids"};
	const struct agent_config *cfg = w->cfg;
	const size_t counts[] = {cfg->targets.n_pids, cfg->targets.n_cmdline_regex,
				 cfg->targets.n_container_ids};
	size_t i, old;
	int rc;

	for (i = 0; i < ARRAY_SIZE(lists); i++) {
		if (!counts[i] || !cfg->targets.all_python)
			continue;
		old = walk__push_key(w, lists[i], strlen(lists[i]));
		rc = walk__fail(w, vals[i + 1],
				"has no effect while targets.all_python is true; set all_python: "
				"false to profile only the listed processes");
		walk__pop(w, old);
		return rc;
	}
	if (!cfg->targets.all_python && !counts[0] && !counts[1] && !counts[2]) {
		old = walk__push_key(w, "all_python", strlen("all_python"));
		rc = walk__fail(w, vals[0],
				"is false but no pids, cmdline_regex or container_ids are given, "
				"so no process would be profiled");
		walk__pop(w, old);
		return rc;
	}
	return 0;
}

/* check_sampling relies on the order of sampling_fields. */
static int check_sampling(struct walk *w, const struct ynode *const *vals)
{
	uint32_t mb = w->cfg->sampling.ring_buffer_mb;
	size_t old;
	int rc;

	if (!vals[2] || !(mb & (mb - 1)))
		return 0;
	old = walk__push_key(w, "ring_buffer_mb", strlen("ring_buffer_mb"));
	rc = walk__fail(w, vals[2], "expected a power of two (1, 2, 4, ... 256), got %" PRIu32, mb);
	walk__pop(w, old);
	return rc;
}

#define OFF(member) offsetof(struct agent_config, member)
/* One line per key macro: clang-format's layout of braces in macros hides the table. */
/* clang-format off */
#define KEY_MAP(n, ch, chk)    {.name = n, .type = F_MAP, .children = ch, .check = chk}
#define KEY_BOOL(n, m)         {.name = n, .type = F_BOOL, .off = OFF(m)}
#define KEY_U32(n, m, lo, hi)  {.name = n, .type = F_U32, .off = OFF(m), .min = lo, .max = hi}
#define KEY_U64(n, m, lo, hi)  {.name = n, .type = F_U64, .off = OFF(m), .min = lo, .max = hi}
#define KEY_STR(n, m, fl, chk) {.name = n, .type = F_STR, .off = OFF(m), .flags = fl, .fn = chk}
#define KEY_CUSTOM(n, f)       {.name = n, .type = F_CUSTOM, .fn = f}
#define KEY_END                {.name = NULL}
/* clang-format on */

static const struct field off_cpu_fields[] = {
    KEY_BOOL("enabled", sampling.off_cpu.enabled),
    KEY_U64("min_block_us", sampling.off_cpu.min_block_us, 0, 60000000),
    KEY_END,
};

static const struct field sampling_fields[] = {
    KEY_U32("frequency_hz", sampling.frequency_hz, 1, 10000),
    KEY_MAP("off_cpu", off_cpu_fields, NULL),
    KEY_U32("ring_buffer_mb", sampling.ring_buffer_mb, 1, 256),
    KEY_BOOL("code_checks", sampling.code_checks),
    KEY_END,
};

/* check_targets relies on this order: all_python, then the three lists. */
static const struct field targets_fields[] = {
    KEY_BOOL("all_python", targets.all_python),
    KEY_CUSTOM("pids", set_pids),
    KEY_CUSTOM("cmdline_regex", set_regexes),
    KEY_CUSTOM("container_ids", set_container_ids),
    KEY_END,
};

static const struct field window_fields[] = {
    KEY_U32("seconds", window.seconds, 1, 86400),
    KEY_END,
};

static const struct field output_fields[] = {
    KEY_STR("directory", output.directory, STR_NONEMPTY, NULL),
    KEY_CUSTOM("formats", set_formats),
    KEY_END,
};

static const struct field control_fields[] = {
    KEY_STR("socket", control.socket, STR_NONEMPTY, NULL),
    KEY_END,
};

static const struct field metrics_fields[] = {
    KEY_STR("listen", metrics.listen, 0, check_listen),
    KEY_END,
};

static const struct field log_fields[] = {
    KEY_CUSTOM("level", set_log_level),
    KEY_END,
};

static const struct field host_fields[] = {
    KEY_STR("name", host.name, 0, check_host_name),
    KEY_END,
};

static const struct field credentials_fields[] = {
    KEY_STR("file", upload.s3.credentials.file, 0, NULL),
    KEY_END,
};

static const struct field s3_fields[] = {
    KEY_BOOL("enabled", upload.s3.enabled),
    KEY_STR("endpoint", upload.s3.endpoint, STR_NONEMPTY, check_endpoint),
    KEY_STR("region", upload.s3.region, STR_NONEMPTY, NULL),
    KEY_STR("bucket", upload.s3.bucket, STR_NONEMPTY, NULL),
    KEY_STR("prefix", upload.s3.prefix, 0, NULL),
    KEY_BOOL("path_style", upload.s3.path_style),
    KEY_U32("interval_seconds", upload.s3.interval_seconds, 1, 86400),
    KEY_STR("ca_file", upload.s3.ca_file, 0, NULL),
    KEY_MAP("credentials", credentials_fields, NULL),
    KEY_END,
};

static const struct field spool_fields[] = {
    KEY_STR("directory", upload.spool.directory, STR_NONEMPTY, NULL),
    KEY_U64("max_bytes", upload.spool.max_bytes, 1, INT64_MAX),
    KEY_END,
};

static const struct field upload_fields[] = {
    KEY_MAP("s3", s3_fields, NULL),
    KEY_MAP("spool", spool_fields, NULL),
    KEY_END,
};

static const struct field root_fields[] = {
    KEY_MAP("sampling", sampling_fields, check_sampling),
    KEY_MAP("targets", targets_fields, check_targets),
    KEY_MAP("window", window_fields, NULL),
    KEY_MAP("output", output_fields, NULL),
    KEY_MAP("control", control_fields, NULL),
    KEY_MAP("metrics", metrics_fields, NULL),
    KEY_MAP("log", log_fields, NULL),
    KEY_MAP("host", host_fields, NULL),
    KEY_MAP("upload", upload_fields, NULL),
    KEY_END,
};

/* ---- public API ---- */

void config__free(struct agent_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->targets.pids);
	regexes_free(cfg->targets.cmdline_regex, cfg->targets.n_cmdline_regex);
	strs_free(cfg->targets.container_ids, cfg->targets.n_container_ids);
	free(cfg->output.directory);
	free(cfg->control.socket);
	free(cfg->metrics.listen);
	free(cfg->metrics.listen_host);
	free(cfg->host.name);
	free(cfg->upload.s3.endpoint);
	free(cfg->upload.s3.region);
	free(cfg->upload.s3.bucket);
	free(cfg->upload.s3.prefix);
	free(cfg->upload.s3.ca_file);
	free(cfg->upload.s3.credentials.file);
	free(cfg->upload.spool.directory);
	free(cfg);
}

struct agent_config *config__defaults(void)
{
	struct agent_config *cfg = calloc(1, sizeof(*cfg));
	char *const *strs[13];
	size_t i;

	if (!cfg)
		return NULL;
	cfg->sampling.frequency_hz = 99;
	cfg->sampling.ring_buffer_mb = 1; /* 2 MiB of RSS: mapped twice */
	cfg->sampling.code_checks = true;
	cfg->sampling.off_cpu.enabled = true;
	cfg->sampling.off_cpu.min_block_us = 1000;
	cfg->targets.all_python = true;
	cfg->window.seconds = 60;
	cfg->output.directory = strdup(DEFAULT_OUTPUT_DIR);
	cfg->output.formats = CONFIG_FORMAT_FOLDED;
	cfg->control.socket = strdup(CONFIG_DEFAULT_SOCKET);
	cfg->metrics.listen = strdup("");
	cfg->metrics.listen_host = strdup("");
	cfg->log.level = LOG_INFO;
	cfg->host.name = strdup("");
	cfg->upload.s3.endpoint = strdup("https://s3.us-east-1.amazonaws.com");
	cfg->upload.s3.region = strdup("us-east-1");
	cfg->upload.s3.bucket = strdup("my-profiles");
	cfg->upload.s3.prefix = strdup("pyprof/");
	cfg->upload.s3.interval_seconds = 60;
	cfg->upload.s3.ca_file = strdup("");
	cfg->upload.s3.credentials.file = strdup("");
	cfg->upload.spool.directory = strdup("/var/lib/pyprof-agent/spool");
	cfg->upload.spool.max_bytes = 268435456;

	strs[0] = &cfg->output.directory;
	strs[1] = &cfg->control.socket;
	strs[2] = &cfg->metrics.listen;
	strs[3] = &cfg->metrics.listen_host;
	strs[4] = &cfg->host.name;
	strs[5] = &cfg->upload.s3.endpoint;
	strs[6] = &cfg->upload.s3.region;
	strs[7] = &cfg->upload.s3.bucket;
	strs[8] = &cfg->upload.s3.prefix;
	strs[9] = &cfg->upload.s3.ca_file;
	strs[10] = &cfg->upload.s3.credentials.file;
	strs[11] = &cfg->upload.spool.directory;
	strs[12] = NULL;
	for (i = 0; strs[i]; i++) {
		if (!*strs[i]) {
			config__free(cfg);
			return NULL;
		}
	}
	/* A host whose name cannot be read keeps a fixed one rather than failing the defaults. */
	if (resolve_host_name(&cfg->host.name) == -ENOMEM ||
	    (!*cfg->host.name && set_str(&cfg->host.name, "localhost"))) {
		config__free(cfg);
		return NULL;
	}
	return cfg;
}

int config__parse(const char *text, size_t len, const char *display_name, struct agent_config **ret,
		  char *errbuf, size_t errlen)
{
	char scratch[1];
	struct errctx err = {
	    .file = display_name ? display_name : "<config>",
	    .buf = errlen ? errbuf : scratch,
	    .len = errlen ? errlen : sizeof(scratch),
	};
	struct walk w = {.err = err};
	struct ynode *root = NULL;
	char got[128];
	int rc;

	err.buf[0] = '\0';
	*ret = NULL;
	if (len > CONFIG_MAX_FILE_BYTES) {
		config_yaml__errf(&err, "", 0, 0,
				  "%s: %zu bytes is more than the %u-byte (1 MiB) limit", err.file,
				  len, CONFIG_MAX_FILE_BYTES);
		return -EFBIG;
	}
	rc = ynode__parse(text, len, &err, &root);
	if (rc)
		goto out;
	w.cfg = config__defaults();
	if (!w.cfg) {
		rc = -ENOMEM;
		goto out;
	}
	if (root && !ynode__is_null(root) && root->kind != YN_MAP) {
		rc = walk__fail(&w, root, "the top level must be a map of sections, got %s",
				describe_node(root, got, sizeof(got)));
		goto out;
	}
	rc = walk_map(&w, root, root_fields, NULL);
out:
	ynode__free(root);
	if (rc) {
		config__free(w.cfg);
		if (rc == -ENOMEM)
			config_yaml__errf(&err, "", 0, 0, "%s: out of memory", err.file);
		return rc;
	}
	*ret = w.cfg;
	return 0;
}

int config__load(const char *path, struct agent_config **ret, char *errbuf, size_t errlen)
{
	char scratch[1];
	struct errctx err = {
	    .file = path,
	    .buf = errlen ? errbuf : scratch,
	    .len = errlen ? errlen : sizeof(scratch),
	};
	size_t len = 0, cap = CONFIG_MAX_FILE_BYTES + 1;
	char *buf = NULL;
	ssize_t n;
	int fd, rc;

	*ret = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		config_yaml__errf(&err, "", 0, 0, "cannot read %s: %s", path, strerror(-rc));
		return rc;
	}
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	/* Read one byte past the limit to tell "exactly 1 MiB" from "more". */
	while (len < cap) {
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			config_yaml__errf(&err, "", 0, 0, "cannot read %s: %s", path,
					  strerror(-rc));
			free(buf);
			close(fd);
			return rc;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > CONFIG_MAX_FILE_BYTES) {
		config_yaml__errf(&err, "", 0, 0, "%s: larger than the %u-byte (1 MiB) limit", path,
				  CONFIG_MAX_FILE_BYTES);
		free(buf);
		return -EFBIG;
	}
	rc = config__parse(buf, len, path, ret, errbuf, errlen);
	free(buf);
	return rc;
}
