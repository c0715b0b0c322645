// SPDX-License-Identifier: MIT
/* libFuzzer harness: /proc/PID/maps text (procmaps__parse; a target chooses its file names,
 * newlines and " (deleted)" included) and CPU lists (procfs__parse_cpu_list). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "os/procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct procmaps maps = {0};
	char *text = malloc(size + 1);
	unsigned char *online = NULL;
	int n = 0;

	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	if (!procmaps__parse(text, size, &maps)) {
		for (size_t i = 0; i < maps.n; i++) {
			const struct procmaps_entry *e = &maps.entries[i];

			if (!e->path || strlen(e->perms) > 4 || e->end < e->start)
				abort();
		}
	}
	procmaps__free(&maps);
	if (size < 256 && !procfs__parse_cpu_list(text, &online, &n)) {
		if (n <= 0 || n > 65536)
			abort();
		for (int i = 0; i < n; i++)
			(void)online[i];
	}
	free(online);
	free(text);
	return 0;
}
