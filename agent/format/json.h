/* SPDX-License-Identifier: MIT */
/* JSON text for the writers that produce it (speedscope, the flame graph's embedded data). */
#ifndef PYPROF_JSON_H
#define PYPROF_JSON_H

#include <stdio.h>

/* Writes s as a JSON string literal (quotes included). Invalid UTF-8 becomes U+FFFD; '<', '>'
 * and '&' are escaped too, so the literal can sit inside HTML or an XML CDATA section. */
int json__string(FILE *out, const char *s);

#endif
