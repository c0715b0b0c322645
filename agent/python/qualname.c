// SPDX-License-Identifier: MIT
/* __qualname__ of CPython < 3.11 code objects, derived from their source file: a small Python
 * lexer that follows logical lines and indentation (def/class scopes), and inside one logical line
 * the lambda and comprehension scopes, then applies compiler_set_qualname()'s rule. The source is
 * read from the target's filesystem: untrusted, every loop is bounded by its length. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "python/qualname.h"

#define QN_MAX_SCOPES  100	  /* nested def/class on the path to the target */
#define QN_MAX_GLOBALS 64	  /* names of `global` statements remembered per scope */
#define QN_MAX_DEPTH   200	  /* bracket nesting, CPython's tokenizer MAXLEVEL */
#define QN_MAX_FSTRING 16	  /* f-strings nested in f-string fields */
#define QN_MAX_TOKENS  (1u << 16) /* tokens kept for one logical line */

enum tok_kind {
	TK_NAME,
	TK_NUMBER,
	TK_STRING,
	TK_OP,
};

/* Multi-character operators that matter, as one op code; other ops keep their first char. */
#define OP_WALRUS 'W' /* := */
#define OP_ARROW  'A' /* -> */
#define OP_OTHER  'E' /* ==, <=, +=, **=, ... */

struct tok {
	uint32_t off, len; /* in the source; f-string field braces stand for '(' and ')' */
	int line;
	int alt_line; /* in an f-string field: the line 3.6-3.8 report, else 0 */
	int depth;    /* brackets around the token (for a bracket: around the pair) */
	uint8_t kind;
	char op;
};

struct lexer {
	const char *s;
	size_t len, pos;
	int line;
	int depth;
	struct tok *toks;
	size_t ntoks, cap;
	bool overflow; /* more tokens than QN_MAX_TOKENS on this logical line */
	/* 3.6-3.8 place f-string field expressions from the line of the first string of an implicit
	 * concatenation (bpo-30465): the line of that string and of the field's '{' */
	int group_line, field_line;
	bool prev_string, in_field;
};

struct logical {
	int start_line, end_line, indent;
	bool eof;
};

/* A def or class whose body encloses the lines being read. */
struct scope {
	int indent;
	bool is_class;
	uint32_t name_off, name_len;
	int nglobals;
	bool globals_overflow;
	uint32_t global_off[QN_MAX_GLOBALS], global_len[QN_MAX_GLOBALS];
};

/* Output buffer; -ERANGE when the name does not fit. */
struct sbuf {
	char *p;
	size_t cap, len;
	bool overflow;
};

static void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->overflow || b->len + n + 1 > b->cap) {
		b->overflow = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void sbuf_adds(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

/* ---- lexer ---- */

static bool is_name_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool is_name_char(unsigned char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int peek(const struct lexer *lx, size_t ahead)
{
	return lx->pos + ahead < lx->len ? (unsigned char)lx->s[lx->pos + ahead] : -1;
}

static bool at_newline(const struct lexer *lx)
{
	int c = peek(lx, 0);

	return c == '\n' || c == '\r';
}

/* Consumes "\n", "\r\n" or "\r" (universal newlines, as CPython reads source files). */
static void eat_newline(struct lexer *lx)
{
	if (peek(lx, 0) == '\r' && peek(lx, 1) == '\n')
		lx->pos++;
	lx->pos++;
	lx->line++;
}

static void skip_comment(struct lexer *lx)
{
	while (lx->pos < lx->len && !at_newline(lx))
		lx->pos++;
}

static int emit(struct lexer *lx, enum tok_kind kind, size_t off, size_t len, char op, int line)
{
	struct tok *t;

	if (lx->ntoks >= QN_MAX_TOKENS) {
		lx->overflow = true;
		return 0;
	}
	if (lx->ntoks == lx->cap) {
		size_t cap = lx->cap ? lx->cap * 2 : 256;
		struct tok *n = realloc(lx->toks, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		lx->toks = n;
		lx->cap = cap;
	}
	t = &lx->toks[lx->ntoks++];
	t->off = (uint32_t)off;
	t->len = (uint32_t)len;
	t->line = line;
	t->alt_line = lx->in_field ? lx->group_line + (line - lx->field_line) : 0;
	t->depth = lx->depth;
	t->kind = kind;
	t->op = op;
	return 0;
}

static int open_bracket(struct lexer *lx, char op, size_t off)
{
	int err;

	if (lx->depth >= QN_MAX_DEPTH)
		return -ENOENT;
	err = emit(lx, TK_OP, off, 1, op, lx->line);
	lx->depth++;
	return err;
}

static int close_bracket(struct lexer *lx, char op, size_t off)
{
	if (lx->depth <= 0)
		return -ENOENT;
	lx->depth--;
	return emit(lx, TK_OP, off, 1, op, lx->line);
}

static int lex_token(struct lexer *lx, int nest);
static int lex_fstring_field_body(struct lexer *lx, int nest);

/*
 * One replacement field of an f-string, from its '{': the expression is lexed into tokens (so
 * lambdas and comprehensions in it are seen, CPython compiles it as "(expr)"), then the
 * conversion and the format spec, whose nested fields are lexed the same way.
 */
static int lex_fstring_field(struct lexer *lx, int nest)
{
	bool outer = !lx->in_field;
	int err;

	if (nest >= QN_MAX_FSTRING)
		return -ENOENT;
	if (outer) {
		lx->in_field = true;
		lx->field_line = lx->line;
	}
	err = lex_fstring_field_body(lx, nest);
	if (outer)
		lx->in_field = false;
	return err;
}

static int lex_fstring_field_body(struct lexer *lx, int nest)
{
	int base, err;

	err = open_bracket(lx, '(', lx->pos);
	if (err)
		return err;
	lx->pos++;
	base = lx->depth;
	for (;;) {
		int c = peek(lx, 0);

		if (c < 0)
			return -ENOENT;
		if (c == ' ' || c == '\t' || c == '\f') {
			lx->pos++;
		} else if (c == '\n' || c == '\r') {
			eat_newline(lx);
		} else if (c == '#') {
			skip_comment(lx);
		} else if (c == '\\' && (peek(lx, 1) == '\n' || peek(lx, 1) == '\r')) {
			lx->pos++;
			eat_newline(lx);
		} else if (lx->depth == base && c == '}') {
			err = close_bracket(lx, ')', lx->pos);
			lx->pos++;
			return err;
		} else if (lx->depth == base && c == '!' && peek(lx, 1) != '=') {
			lx->pos++;
			while (lx->pos < lx->len && is_name_char((unsigned char)lx->s[lx->pos]))
				lx->pos++;
		} else if (lx->depth == base && c == ':') {
			/* format spec: literal text with nested fields, up to the closing brace */
			lx->pos++;
			for (;;) {
				c = peek(lx, 0);
				if (c < 0)
					return -ENOENT;
				if (c == '{') {
					err = lex_fstring_field(lx, nest + 1);
					if (err)
						return err;
				} else if (c == '}') {
					err = close_bracket(lx, ')', lx->pos);
					lx->pos++;
					return err;
				} else if (c == '\n' || c == '\r') {
					eat_newline(lx);
				} else if (c == '\\' && lx->pos + 1 < lx->len) {
					lx->pos++;
					if (at_newline(lx))
						eat_newline(lx);
					else
						lx->pos++;
				} else {
					lx->pos++;
				}
			}
		} else {
			err = lex_token(lx, nest + 1);
			if (err)
				return err;
		}
	}
}

/* A string literal from its opening quote; f-string fields are lexed into tokens. */
static int lex_string_body(struct lexer *lx, bool is_f, bool is_raw, int nest)
{
	char q = lx->s[lx->pos];
	bool triple = peek(lx, 1) == q && peek(lx, 2) == q;
	int err;

	lx->pos += triple ? 3 : 1;
	for (;;) {
		int c = peek(lx, 0);

		if (c < 0)
			return -ENOENT; /* unterminated */
		if (c == '\\') {
			int n = peek(lx, 1);

			if (is_f && (n == '{' || n == '}')) {
				lx->pos++; /* the brace is still a field delimiter */
			} else if (is_f && !is_raw && n == 'N' && peek(lx, 2) == '{') {
				lx->pos += 3; /* \N{NAME}: braces of the escape, not a field */
				while (lx->pos < lx->len && lx->s[lx->pos] != '}' &&
				       lx->s[lx->pos] != q && !at_newline(lx))
					lx->pos++;
			} else {
				lx->pos++;
				if (at_newline(lx))
					eat_newline(lx);
				else if (lx->pos < lx->len)
					lx->pos++;
			}
		} else if (c == '\n' || c == '\r') {
			if (!triple)
				return -ENOENT;
			eat_newline(lx);
		} else if (c == q) {
			if (!triple) {
				lx->pos++;
				return 0;
			}
			if (peek(lx, 1) == q && peek(lx, 2) == q) {
				lx->pos += 3;
				return 0;
			}
			lx->pos++;
		} else if (is_f && c == '{') {
			if (peek(lx, 1) == '{') {
				lx->pos += 2;
			} else {
				err = lex_fstring_field(lx, nest);
				if (err)
					return err;
			}
		} else {
			lx->pos++;
		}
	}
}

/* A string token from its prefix at start; consecutive strings form one concatenation group. */
static int lex_string(struct lexer *lx, size_t start, bool is_f, bool is_raw, int nest)
{
	int err;

	if (!nest && !lx->prev_string)
		lx->group_line = lx->line;
	err = emit(lx, TK_STRING, start, 0, 0, lx->line);
	if (err)
		return err;
	err = lex_string_body(lx, is_f, is_raw, nest);
	if (!nest)
		lx->prev_string = true;
	return err;
}

/* Is s[off, off+n) a string prefix (r, b, u, f and their pairs)? */
static bool string_prefix(const char *s, size_t n, bool *is_f, bool *is_raw)
{
	size_t i;

	if (n > 2)
		return false;
	*is_f = *is_raw = false;
	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case 'f':
		case 'F':
			*is_f = true;
			break;
		case 'r':
		case 'R':
			*is_raw = true;
			break;
		case 'b':
		case 'B':
		case 'u':
		case 'U':
			break;
		default:
			return false;
		}
	}
	return true;
}

static char op_code(struct lexer *lx, size_t *ret_n)
{
	int c = peek(lx, 0), n = peek(lx, 1), n2 = peek(lx, 2);

	*ret_n = 1;
	if (c == ':' && n == '=') {
		*ret_n = 2;
		return OP_WALRUS;
	}
	if (c == '-' && n == '>') {
		*ret_n = 2;
		return OP_ARROW;
	}
	if ((c == '*' || c == '/' || c == '<' || c == '>') && n == c) {
		*ret_n = n2 == '=' ? 3 : 2;
		return OP_OTHER;
	}
	if (n == '=' && c >= 0 && strchr("=!<>+-*/%&|^@", c)) {
		*ret_n = 2;
		return OP_OTHER;
	}
	return (char)c;
}

/* One token at lx->pos (not whitespace, comment or newline). */
static int lex_token(struct lexer *lx, int nest)
{
	size_t start = lx->pos, n;
	int c = peek(lx, 0), line = lx->line;
	bool is_f, is_raw;
	char op;

	if (is_name_start((unsigned char)c)) {
		while (lx->pos < lx->len && is_name_char((unsigned char)lx->s[lx->pos]))
			lx->pos++;
		c = peek(lx, 0);
		if ((c == '\'' || c == '"') &&
		    string_prefix(lx->s + start, lx->pos - start, &is_f, &is_raw))
			return lex_string(lx, start, is_f, is_raw, nest);
		lx->prev_string &= nest > 0;
		return emit(lx, TK_NAME, start, lx->pos - start, 0, line);
	}
	if (c == '\'' || c == '"')
		return lex_string(lx, start, false, false, nest);
	lx->prev_string &= nest > 0;
	if (is_digit((unsigned char)c) || (c == '.' && peek(lx, 1) >= 0 && is_digit(peek(lx, 1)))) {
		if (c == '0' && peek(lx, 1) > 0 && strchr("xXoObB", peek(lx, 1))) {
			lx->pos += 2;
			while (lx->pos < lx->len &&
			       (isxdigit((unsigned char)lx->s[lx->pos]) || lx->s[lx->pos] == '_'))
				lx->pos++;
		} else {
			while (lx->pos < lx->len &&
			       (is_digit((unsigned char)lx->s[lx->pos]) || lx->s[lx->pos] == '_' ||
				lx->s[lx->pos] == '.'))
				lx->pos++;
			c = peek(lx, 0);
			if (c == 'e' || c == 'E') {
				lx->pos++;
				if (peek(lx, 0) == '+' || peek(lx, 0) == '-')
					lx->pos++;
				while (lx->pos < lx->len &&
				       (is_digit((unsigned char)lx->s[lx->pos]) ||
					lx->s[lx->pos] == '_'))
					lx->pos++;
			}
			if (peek(lx, 0) == 'j' || peek(lx, 0) == 'J')
				lx->pos++;
		}
		return emit(lx, TK_NUMBER, start, lx->pos - start, 0, line);
	}
	if (c == '(' || c == '[' || c == '{') {
		lx->pos++;
		return open_bracket(lx, (char)c, start);
	}
	if (c == ')' || c == ']' || c == '}') {
		lx->pos++;
		return close_bracket(lx, (char)c, start);
	}
	if (c <= 0 || !strchr("=!<>+-*/%&|^@~:;,.", c))
		return -ENOENT; /* not Python: do not guess */
	op = op_code(lx, &n);
	lx->pos += n;
	return emit(lx, TK_OP, start, n, op, line);
}

/*
 * The next logical line: blank and comment-only lines are skipped, brackets and backslashes
 * join physical lines. Its tokens replace lx->toks.
 */
static int lex_logical_line(struct lexer *lx, struct logical *ll)
{
	int col = 0, err;

	lx->ntoks = 0;
	lx->overflow = false;
	lx->depth = 0;
	lx->prev_string = false;
	ll->eof = false;
	for (;;) {
		int c;

		col = 0;
		while (lx->pos < lx->len) {
			c = (unsigned char)lx->s[lx->pos];
			if (c == ' ')
				col++;
			else if (c == '\t')
				col = (col / 8 + 1) * 8;
			else if (c == '\f')
				col = 0;
			else
				break;
			lx->pos++;
		}
		if (lx->pos >= lx->len) {
			ll->eof = true;
			return 0;
		}
		if (peek(lx, 0) == '#')
			skip_comment(lx);
		if (lx->pos >= lx->len) {
			ll->eof = true;
			return 0;
		}
		if (!at_newline(lx))
			break;
		eat_newline(lx);
	}
	ll->indent = col;
	ll->start_line = lx->line;
	for (;;) {
		int c = peek(lx, 0);

		if (c < 0) {
			if (lx->depth)
				return -ENOENT;
			ll->end_line = lx->line;
			return 0;
		}
		if (c == ' ' || c == '\t' || c == '\f') {
			lx->pos++;
		} else if (c == '#') {
			skip_comment(lx);
		} else if (c == '\\') {
			lx->pos++;
			if (!at_newline(lx))
				return -ENOENT;
			eat_newline(lx);
		} else if (c == '\n' || c == '\r') {
			eat_newline(lx);
			if (!lx->depth) {
				ll->end_line = lx->line - 1;
				return 0;
			}
		} else {
			err = lex_token(lx, 0);
			if (err)
				return err;
		}
	}
}

/* ---- scopes ---- */

static bool tok_is(const struct lexer *lx, size_t i, const char *word)
{
	const struct tok *t;
	size_t n = strlen(word);

	if (i >= lx->ntoks)
		return false;
	t = &lx->toks[i];
	return t->kind == TK_NAME && t->len == n && memcmp(lx->s + t->off, word, n) == 0;
}

static bool tok_op(const struct lexer *lx, size_t i, char op)
{
	return i < lx->ntoks && lx->toks[i].kind == TK_OP && lx->toks[i].op == op;
}

static bool is_ascii(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

static bool scope_declares_global(const struct lexer *lx, const struct scope *sc, uint32_t off,
				  uint32_t len)
{
	int i;

	for (i = 0; i < sc->nglobals; i++)
		if (sc->global_len[i] == len &&
		    memcmp(lx->s + sc->global_off[i], lx->s + off, len) == 0)
			return true;
	return false;
}

/*
 * Qualified name of scopes[0..n): compiler_set_qualname(). A name declared global in its parent
 * starts afresh; a function parent adds ".<locals>". Names of enclosing scopes must be ASCII:
 * CPython NFKC-normalizes identifiers and we would not reproduce it (the target's own name was
 * compared with co_name, which is normalized already).
 */
static int scopes_qualname(const struct lexer *lx, const struct scope *scopes, int n,
			   bool last_is_target, struct sbuf *b)
{
	int i;

	b->len = 0;
	b->p[0] = 0;
	for (i = 0; i < n; i++) {
		const struct scope *sc = &scopes[i];

		if (!(last_is_target && i == n - 1) &&
		    !is_ascii(lx->s + sc->name_off, sc->name_len))
			return -ENOENT;
		if (i > 0 && scopes[i - 1].globals_overflow)
			return -ENOENT;
		if (i == 0 ||
		    scope_declares_global(lx, &scopes[i - 1], sc->name_off, sc->name_len)) {
			b->len = 0;
			b->p[0] = 0;
		} else {
			sbuf_adds(b, scopes[i - 1].is_class ? "." : ".<locals>.");
		}
		sbuf_add(b, lx->s + sc->name_off, sc->name_len);
	}
	return b->overflow ? -ERANGE : 0;
}

/* Record the names of `global` statements of this logical line in the innermost scope; they may
 * follow a `;` or a one-line `if x:`, `global` is a keyword wherever it appears. */
static void note_globals(const struct lexer *lx, struct scope *sc)
{
	size_t i;

	for (i = 0; i < lx->ntoks; i++) {
		if (!tok_is(lx, i, "global"))
			continue;
		for (i++; i < lx->ntoks; i++) {
			const struct tok *t = &lx->toks[i];

			if (tok_op(lx, i, ','))
				continue;
			if (t->kind != TK_NAME)
				break;
			if (sc->nglobals >= QN_MAX_GLOBALS) {
				sc->globals_overflow = true;
				return;
			}
			sc->global_off[sc->nglobals] = t->off;
			sc->global_len[sc->nglobals] = t->len;
			sc->nglobals++;
		}
	}
}

/* Index of the def/class name token if this logical line is a def or class header. */
static int header_name(const struct lexer *lx, bool *is_class)
{
	size_t i = 0;

	*is_class = false;
	if (tok_is(lx, 0, "async") && tok_is(lx, 1, "def"))
		i = 1;
	if (tok_is(lx, i, "class"))
		*is_class = true;
	else if (!tok_is(lx, i, "def"))
		return -1;
	if (i + 1 >= lx->ntoks || lx->toks[i + 1].kind != TK_NAME)
		return -1;
	return (int)(i + 1);
}

/* The colon that ends a def/class header: the first one outside brackets not closing a lambda's
 * parameters (a return annotation may hold a lambda). */
static size_t header_colon(const struct lexer *lx, size_t name_idx)
{
	int lambdas = 0;
	size_t i;

	for (i = name_idx + 1; i < lx->ntoks; i++) {
		if (lx->toks[i].depth)
			continue;
		if (tok_is(lx, i, "lambda"))
			lambdas++;
		else if (tok_op(lx, i, ':') && lambdas-- == 0)
			return i;
	}
	return lx->ntoks;
}

/* ---- expression scopes of one logical line ---- */

enum expr_kind {
	EX_NONE,
	EX_LAMBDA,
	EX_LISTCOMP,
	EX_SETCOMP,
	EX_DICTCOMP,
	EX_GENEXPR,
};

static const char *const expr_names[] = {
    [EX_LAMBDA] = "<lambda>",	  [EX_LISTCOMP] = "<listcomp>", [EX_SETCOMP] = "<setcomp>",
    [EX_DICTCOMP] = "<dictcomp>", [EX_GENEXPR] = "<genexpr>",
};

/* Per token: the scope it opens, if any, and the token range of that scope. */
struct expr_info {
	uint8_t kind;
	uint32_t scope_begin, scope_end; /* tokens inside the scope: (scope_begin, scope_end) */
	uint32_t iter_begin, iter_end;	 /* comprehension's first iterable, in the outer scope */
};

/* The colon ending the parameters of the lambda at i: nested lambdas at the same depth (in
 * defaults) take theirs first. */
static size_t lambda_colon(const struct lexer *lx, size_t i)
{
	int d = lx->toks[i].depth, pending = 1;
	size_t k;

	for (k = i + 1; k < lx->ntoks && lx->toks[k].depth >= d; k++) {
		if (lx->toks[k].depth != d)
			continue;
		if (tok_is(lx, k, "lambda"))
			pending++;
		else if (tok_op(lx, k, ':') && --pending == 0)
			return k;
	}
	return lx->ntoks;
}

/* Where the body of the lambda whose parameters end at colon stops: a comma, colon, semicolon or
 * `for` at its own depth, or the bracket that encloses it. */
static size_t lambda_end(const struct lexer *lx, size_t colon)
{
	int d = lx->toks[colon].depth, pending = 0;
	size_t k;

	for (k = colon + 1; k < lx->ntoks; k++) {
		const struct tok *t = &lx->toks[k];

		if (t->depth < d)
			return k;
		if (t->depth != d)
			continue;
		if (tok_is(lx, k, "lambda")) {
			pending++;
		} else if (tok_op(lx, k, ':')) {
			if (pending == 0)
				return k;
			pending--;
		} else if (tok_op(lx, k, ',') || tok_op(lx, k, ';') || tok_is(lx, k, "for") ||
			   (tok_is(lx, k, "async") && tok_is(lx, k + 1, "for"))) {
			return k;
		}
	}
	return lx->ntoks;
}

/* If the bracket at i (closing at close) holds a comprehension, its kind and first iterable. */
static void classify_bracket(const struct lexer *lx, size_t i, size_t close, struct expr_info *e)
{
	int d = lx->toks[i].depth + 1, lambdas = 0;
	bool dict = false;
	size_t k, f = 0;

	for (k = i + 1; k < close; k++) {
		if (lx->toks[k].depth != d)
			continue;
		if (tok_is(lx, k, "for")) {
			f = k;
			break;
		}
		if (tok_is(lx, k, "lambda"))
			lambdas++;
		else if (tok_op(lx, k, ':') && lambdas > 0)
			lambdas--;
		else if (tok_op(lx, k, ':'))
			dict = true;
	}
	if (!f)
		return;
	switch (lx->toks[i].op) {
	case '[':
		e->kind = EX_LISTCOMP;
		break;
	case '(':
		e->kind = EX_GENEXPR;
		break;
	default:
		e->kind = dict ? EX_DICTCOMP : EX_SETCOMP;
	}
	e->scope_begin = (uint32_t)i;
	e->scope_end = (uint32_t)close;
	/* the first `in` after the first `for`, up to the next clause */
	for (k = f + 1; k < close && !(lx->toks[k].depth == d && tok_is(lx, k, "in")); k++)
		;
	e->iter_begin = (uint32_t)k;
	for (k++; k < close; k++) {
		if (lx->toks[k].depth == d &&
		    (tok_is(lx, k, "for") || tok_is(lx, k, "async") || tok_is(lx, k, "if")))
			break;
	}
	e->iter_end = (uint32_t)k;
}

/* Does the scope opened at token s hold token p? */
static bool scope_holds(const struct expr_info *e, size_t p)
{
	if (e->kind == EX_NONE || p <= e->scope_begin || p >= e->scope_end)
		return false;
	if (e->kind != EX_LAMBDA && p > e->iter_begin && p < e->iter_end)
		return false;
	return true;
}

static bool is_function_like(enum expr_kind k)
{
	return k == EX_LAMBDA;
}

/*
 * Qualified name of the expression scope opened at token p: the statement's scope (base, a
 * function or not) then every lambda/comprehension around p, outer first (their token ranges
 * nest, so increasing start index is outer to inner).
 */
static int expr_qualname(const struct lexer *lx, const struct expr_info *info, size_t p,
			 const char *base, bool base_is_function, struct sbuf *b)
{
	bool function_parent = base_is_function;
	size_t k;

	b->len = 0;
	b->p[0] = 0;
	sbuf_adds(b, base);
	for (k = 0; k <= p; k++) {
		const struct expr_info *e = &info[k];

		if (k != p && !scope_holds(e, p))
			continue;
		if (b->len)
			sbuf_adds(b, function_parent ? ".<locals>." : ".");
		sbuf_adds(b, expr_names[e->kind]);
		function_parent = is_function_like(e->kind);
	}
	return b->overflow ? -ERANGE : 0;
}

static enum expr_kind expr_kind_of(const char *co_name)
{
	enum expr_kind k;

	for (k = EX_LAMBDA; k <= EX_GENEXPR; k++)
		if (strcmp(co_name, expr_names[k]) == 0)
			return k;
	return EX_NONE;
}

/*
 * The lambda or comprehension of kind `want` starting on line `line` of the current logical
 * line. stmt/stmt_fn: qualname of the statement's scope and whether it is a function; for a
 * def/class header, tokens after its colon are in the new scope hdr/hdr_fn.
 */
static int derive_expr(const struct lexer *lx, enum expr_kind want, int line, size_t colon,
		       const char *stmt, bool stmt_fn, const char *hdr, bool hdr_fn,
		       struct sbuf *out, struct sbuf *tmp)
{
	struct expr_info *info;
	size_t *stack, sp = 0, i;
	int found = 0, err = 0;

	if (lx->overflow)
		return -ENOENT;
	info = calloc(lx->ntoks + 1, sizeof(*info));
	stack = calloc(lx->ntoks + 1, sizeof(*stack));
	if (!info || !stack) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < lx->ntoks; i++) {
		const struct tok *t = &lx->toks[i];

		if (t->kind == TK_OP && (t->op == '(' || t->op == '[' || t->op == '{')) {
			stack[sp++] = i;
		} else if (t->kind == TK_OP && (t->op == ')' || t->op == ']' || t->op == '}')) {
			if (!sp) {
				err = -ENOENT;
				goto out;
			}
			sp--;
			classify_bracket(lx, stack[sp], i, &info[stack[sp]]);
		} else if (tok_is(lx, i, "lambda")) {
			size_t c = lambda_colon(lx, i);

			info[i].kind = EX_LAMBDA;
			info[i].scope_begin = (uint32_t)c;
			info[i].scope_end = (uint32_t)(c < lx->ntoks ? lambda_end(lx, c) : c);
		}
	}
	for (i = 0; i < lx->ntoks; i++) {
		const struct expr_info *e = &info[i];
		bool in_hdr = colon < lx->ntoks && i > colon;
		bool on_line;

		if (e->kind != want)
			continue;
		/* 3.8+ report a comprehension's bracket, 3.6/3.7 its first element */
		on_line = lx->toks[i].line == line || lx->toks[i].alt_line == line ||
			  (want != EX_LAMBDA && i + 1 < lx->ntoks &&
			   (lx->toks[i + 1].line == line || lx->toks[i + 1].alt_line == line));
		if (!on_line)
			continue;
		err = expr_qualname(lx, info, i, in_hdr ? hdr : stmt, in_hdr ? hdr_fn : stmt_fn,
				    found ? tmp : out);
		if (err)
			goto out;
		if (found && strcmp(tmp->p, out->p) != 0) {
			err = -ENOENT; /* two candidates, two answers */
			goto out;
		}
		found++;
	}
	err = found ? 0 : -ENOENT;
out:
	free(info);
	free(stack);
	return err;
}

int qualname__derive(const char *src, size_t len, int firstlineno, const char *co_name, char *ret,
		     size_t retlen)
{
	struct lexer lx = {.s = src, .len = len, .line = 1};
	struct scope *scopes = NULL;
	struct sbuf out = {.p = ret, .cap = retlen};
	struct sbuf stmt = {0}, hdr = {0}, tmp = {0};
	enum expr_kind want;
	size_t name_len;
	int nscopes = 0, err = -ENOENT;
	bool in_decorators = false;

	if (ret && retlen)
		ret[0] = 0; /* "" on every failure, as documented */
	if (!src || !co_name || !ret || !retlen || firstlineno < 1)
		return -EINVAL;
	if (len > QUALNAME_MAX_SRC)
		return -EFBIG;
	if (strcmp(co_name, "<module>") == 0) {
		sbuf_adds(&out, co_name);
		return out.overflow ? -ERANGE : 0;
	}
	want = expr_kind_of(co_name);
	name_len = strlen(co_name);
	if (want == EX_NONE && (!name_len || !is_name_start((unsigned char)co_name[0])))
		return -ENOENT;

	scopes = calloc(QN_MAX_SCOPES + 1, sizeof(*scopes));
	stmt.p = malloc(retlen);
	hdr.p = malloc(retlen);
	tmp.p = malloc(retlen);
	if (!scopes || !stmt.p || !hdr.p || !tmp.p) {
		err = -ENOMEM;
		goto out;
	}
	stmt.cap = hdr.cap = tmp.cap = retlen;
	if (len >= 3 && memcmp(src, "\xef\xbb\xbf", 3) == 0)
		lx.pos = 3;

	for (;;) {
		struct logical ll;
		bool is_class;
		int name_idx;

		err = lex_logical_line(&lx, &ll);
		if (err)
			goto out;
		err = -ENOENT;
		if (ll.eof || (ll.start_line > firstlineno && !in_decorators))
			goto out;
		while (nscopes && scopes[nscopes - 1].indent >= ll.indent)
			nscopes--;
		name_idx = header_name(&lx, &is_class);

		if (want == EX_NONE) {
			/* the def/class itself: at firstlineno, or after the decorators there */
			if (ll.start_line == firstlineno && tok_op(&lx, 0, '@')) {
				in_decorators = true;
				continue;
			}
			if (in_decorators && tok_op(&lx, 0, '@'))
				continue;
			if (ll.start_line != firstlineno && !in_decorators)
				goto next_line;
			if (name_idx < 0 || lx.toks[name_idx].len != name_len ||
			    memcmp(src + lx.toks[name_idx].off, co_name, name_len) != 0)
				goto out;
			if (nscopes >= QN_MAX_SCOPES)
				goto out;
			scopes[nscopes].name_off = lx.toks[name_idx].off;
			scopes[nscopes].name_len = lx.toks[name_idx].len;
			err = scopes_qualname(&lx, scopes, nscopes + 1, true, &out);
			goto out;
		}

		if (ll.end_line >= firstlineno) {
			/* the logical line holding the lambda/comprehension */
			size_t colon = lx.ntoks;
			bool stmt_fn = nscopes && !scopes[nscopes - 1].is_class;

			/* 3.12 type parameters and `type X = ...` add scopes of their own */
			if ((name_idx >= 0 && tok_op(&lx, (size_t)name_idx + 1, '[')) ||
			    (tok_is(&lx, 0, "type") && lx.ntoks > 2 && lx.toks[1].kind == TK_NAME &&
			     (tok_op(&lx, 2, '=') || tok_op(&lx, 2, '[')))) {
				err = -ENOENT;
				goto out;
			}

			err = scopes_qualname(&lx, scopes, nscopes, false, &stmt);
			if (err)
				goto out;
			hdr.len = 0;
			hdr.p[0] = 0;
			if (name_idx >= 0) {
				if (nscopes >= QN_MAX_SCOPES) {
					err = -ENOENT;
					goto out;
				}
				colon = header_colon(&lx, (size_t)name_idx);
				scopes[nscopes].name_off = lx.toks[name_idx].off;
				scopes[nscopes].name_len = lx.toks[name_idx].len;
				scopes[nscopes].is_class = is_class;
				scopes[nscopes].nglobals = 0;
				scopes[nscopes].globals_overflow = false;
				err = scopes_qualname(&lx, scopes, nscopes + 1, false, &hdr);
				if (err)
					goto out;
			}
			err = derive_expr(&lx, want, firstlineno, colon, stmt.p, stmt_fn, hdr.p,
					  !is_class, &out, &tmp);
			goto out;
		}
	next_line:
		if (name_idx >= 0) {
			struct scope *sc;

			if (nscopes >= QN_MAX_SCOPES)
				goto out;
			sc = &scopes[nscopes++];
			sc->indent = ll.indent;
			sc->is_class = is_class;
			sc->name_off = lx.toks[name_idx].off;
			sc->name_len = lx.toks[name_idx].len;
			sc->nglobals = 0;
			sc->globals_overflow = false;
		}
		/* on a header line, a `global` is in the new scope's one-line body */
		if (nscopes)
			note_globals(&lx, &scopes[nscopes - 1]);
	}
out:
	if (err)
		ret[0] = 0;
	free(lx.toks);
	free(scopes);
	free(stmt.p);
	free(hdr.p);
	free(tmp.p);
	return err;
}
