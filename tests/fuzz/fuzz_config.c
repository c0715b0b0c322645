// SPDX-License-Identifier: MIT
/* libFuzzer harness: the daemon's YAML configuration loader (config__parse). Beyond "no crash,
 * no leak": an accepted file describes itself as YAML that parses back to the same description,
 * and a rejected one always says why. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/config.h"

static char *describe(const struct agent_config *cfg, size_t *ret_len)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	if (config__describe(cfg, f))
		abort();
	fclose(f);
	*ret_len = len;
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config *cfg = NULL, *again = NULL;
	char err[512], *d1, *d2;
	size_t l1, l2;
	int rc;

	rc = config__parse((const char *)data, size, "fuzz.yaml", &cfg, err, sizeof(err));
	if (rc) {
		if (cfg)
			abort(); /* nothing is returned on failure */
		if (!err[0] || !memchr(err, '\0', sizeof(err)))
			abort(); /* every rejection carries a message */
		return 0;
	}
	/* config__describe promises YAML that loads back to an equal configuration */
	d1 = describe(cfg, &l1);
	rc = config__parse(d1, l1, "described.yaml", &again, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "described configuration rejected: %s\n%s\n", err, d1);
		abort();
	}
	d2 = describe(again, &l2);
	if (l1 != l2 || memcmp(d1, d2, l1)) {
		fprintf(stderr, "description changed on reload:\n%s\n---\n%s\n", d1, d2);
		abort();
	}
	free(d1);
	free(d2);
	config__free(again);
	config__free(cfg);
	return 0;
}
