// SPDX-License-Identifier: MIT
/* libFuzzer harness: pprof profiles read by convert, diff and merge (pprof__read), gzipped or
 * not. An accepted profile written back as pprof reads back to the same stacks. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "format/folded.h"
#include "format/pprof.h"
#include "profile/profile.h"

static char *folded(const struct profile *p, size_t *ret_len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, ret_len);

	if (!f || folded__write(p, f))
		abort();
	fclose(f);
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct profile p, again;
	struct profile_meta meta, meta2;
	char err[256] = "", *out = NULL, *t1, *t2;
	size_t out_len = 0, l1, l2;
	uint8_t *copy = malloc(size ? size : 1);
	FILE *f;
	int rc;

	if (!copy)
		abort();
	memcpy(copy, data, size);
	profile__init(&p);
	rc = pprof__read(copy, size, &p, &meta, err, sizeof(err));
	if (rc) {
		if (rc == -EINVAL && !err[0])
			abort(); /* a rejection says why */
		goto out;
	}
	f = open_memstream(&out, &out_len);
	if (!f)
		abort();
	meta.container_id = NULL;
	meta.title = NULL;
	if (pprof__write(&p, &meta, f))
		abort();
	fclose(f);
	profile__init(&again);
	if (pprof__read(out, out_len, &again, &meta2, err, sizeof(err))) {
		fprintf(stderr, "written pprof rejected: %s\n", err);
		abort();
	}
	t1 = folded(&p, &l1);
	t2 = folded(&again, &l2);
	if (p.total != again.total || l1 != l2 || memcmp(t1, t2, l1)) {
		fprintf(stderr, "pprof round trip changed the profile:\n%s---\n%s", t1, t2);
		abort();
	}
	free(t1);
	free(t2);
	free(out);
	profile__free(&again);
out:
	profile__free(&p);
	free(copy);
	return 0;
}
