// SPDX-License-Identifier: MIT
/* libFuzzer harness: qualified names derived from a target's source file (qualname__derive),
 * which the agent reads from processes it does not control. Input: co_firstlineno (2 bytes,
 * little-endian), the length of co_name (1 byte), co_name, then the source text. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "python/qualname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char ret[256], *src, co_name[256];
	size_t nlen, skip;
	int first, rc;

	if (size < 3)
		return 0;
	first = data[0] | data[1] << 8;
	nlen = data[2];
	if (size < 3 + nlen)
		return 0;
	memcpy(co_name, data + 3, nlen);
	co_name[nlen] = '\0';
	skip = 3 + nlen;
	src = malloc(size - skip ? size - skip : 1); /* not NUL-terminated, exact size */
	if (!src)
		abort();
	memcpy(src, data + skip, size - skip);
	memset(ret, 'x', sizeof(ret));
	rc = qualname__derive(src, size - skip, first, co_name, ret, sizeof(ret));
	if (!memchr(ret, '\0', sizeof(ret)))
		abort();
	if (rc == 0) {
		size_t n = strlen(co_name), l = strlen(ret);

		/* the qualified name ends with co_name */
		if (l < n || strcmp(ret + l - n, co_name))
			abort();
	} else if (ret[0]) {
		abort(); /* never a guess */
	}
	/* a buffer too small is refused, not overrun */
	rc = qualname__derive(src, size - skip, first, co_name, ret, 4);
	if (rc == 0 && strlen(ret) >= 4)
		abort();
	free(src);
	return 0;
}
