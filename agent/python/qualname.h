/* SPDX-License-Identifier: MIT */
/* Qualified names (__qualname__) of CPython < 3.11 code objects, which carry only co_name,
 * derived from the source file the way the compiler builds them. */
#ifndef PYPROF_QUALNAME_H
#define PYPROF_QUALNAME_H

#include <stddef.h>

/* Largest source accepted (bytes); larger returns -EFBIG. */
#define QUALNAME_MAX_SRC (16u << 20)

/*
 * Derive the __qualname__ of the code object (co_name, co_firstlineno) compiled from src.
 *
 * src, len:     the source text (bytes, UTF-8; need not be NUL-terminated).
 * firstlineno:  co_firstlineno, 1-based: the line of the first decorator, or of the def/class
 *               line if undecorated (every version 3.6-3.12 agrees on this); for lambdas and
 *               comprehensions the line where the expression starts (3.6/3.7 may report the line
 *               of a generator expression's first element instead of its parenthesis: both are
 *               accepted).
 * co_name:      NUL-terminated UTF-8: a def/class name, "<lambda>", "<listcomp>", "<setcomp>",
 *               "<dictcomp>", "<genexpr>" or "<module>".
 * ret, retlen:  receives the NUL-terminated qualified name, e.g. "Cls.meth",
 *               "outer.<locals>.inner", "f.<locals>.<listcomp>".
 *
 * The rules are those of CPython 3.6-3.10 (compiler_set_qualname): comprehensions are their own
 * scopes (3.12 inlines list/set/dict comprehensions, which changes the qualname of lambdas and
 * generator expressions nested in them: the caller of 3.11+ reads co_qualname instead).
 *
 * Work: the source is lexed from its start up to the target's logical line (linear in the bytes
 * before it); the caller caches results per (file, firstlineno, co_name).
 *
 * Returns 0, or a negative errno (ret is then ""; never a guess):
 *   -ENOENT  no def/class of that name starts at firstlineno (after its decorators), no
 *            lambda/comprehension of that kind starts on that line, or the candidates on that
 *            line disagree (nested lambdas/comprehensions on one line, e.g. `lambda: lambda: 0`,
 *            cannot be told apart by line and name), or the source cannot be parsed safely
 *            (unterminated string, limits, non-ASCII enclosing names, 3.12 type parameters):
 *            the caller falls back to co_name.
 *   -ERANGE  the name does not fit in retlen.
 *   -EFBIG   len > QUALNAME_MAX_SRC.
 *   -EINVAL  NULL arguments, firstlineno < 1, retlen 0.
 *   -ENOMEM  allocation failed.
 */
int qualname__derive(const char *src, size_t len, int firstlineno, const char *co_name, char *ret,
		     size_t retlen);

#endif /* PYPROF_QUALNAME_H */
