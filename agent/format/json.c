// SPDX-License-Identifier: MIT
/* JSON string literals (json.h). */
#include <errno.h>
#include <stdio.h>
#include "format/json.h"

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is not valid. */
static int utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))
			return 0; /* overlong, surrogate */
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

int json__string(FILE *out, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	putc('"', out);
	while (*u) {
		int n = utf8_len(u);

		if (!n) {
			fputs("\\ufffd", out);
			u++;
			continue;
		}
		if (n > 1) {
			fwrite(u, 1, n, out);
			u += n;
			continue;
		}
		switch (*u) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		case '<':
		case '>':
		case '&':
			fprintf(out, "\\u%04x", *u);
			break;
		default:
			if (*u < 0x20 || *u == 0x7f)
				fprintf(out, "\\u%04x", *u);
			else
				putc(*u, out);
		}
		u++;
	}
	putc('"', out);
	return ferror(out) ? -EIO : 0;
}
