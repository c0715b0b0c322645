// SPDX-License-Identifier: MIT
/* libFuzzer harness: the control-socket request parser (control__parse), fed as the daemon
 * feeds it: the bytes up to and including the first newline, at most NETSERVER_MAX_REQUEST.
 * An accepted request formats (control__format) to a line that parses to the same request. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/control.h"
#include "daemon/netserver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_request req, again;
	const char *err = NULL;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t len = nl ? (size_t)(nl - data) + 1 : size;
	char *line, buf[256];
	int rc;

	if (len > NETSERVER_MAX_REQUEST)
		len = NETSERVER_MAX_REQUEST;
	line = malloc(len + 1); /* NUL-terminated like the daemon's buffer, exact size for ASan */
	if (!line)
		abort();
	memcpy(line, data, len);
	line[len] = '\0';
	memset(&req, 0xa5, sizeof(req));
	rc = control__parse(line, len, &req, &err);
	if (rc) {
		if ((rc != -EINVAL && rc != -EPROTO) || !err || !err[0])
			abort(); /* rejected with a message */
		free(line);
		return 0;
	}
	if (err)
		abort();
	switch (req.cmd) {
	case CONTROL_STATUS:
	case CONTROL_PING:
		break;
	case CONTROL_SNAPSHOT:
		if (req.pid <= 0 || !req.duration_ms || req.duration_ms > 86400000 ||
		    req.mode < 0 || req.mode > 2 || (unsigned)req.threads > 1 ||
		    (unsigned)req.kernel > 1 || (unsigned)req.gil_only > 1)
			abort();
		break;
	default:
		abort();
	}
	if (control__format(&req, buf, sizeof(buf)))
		abort();
	memset(&again, 0x5a, sizeof(again));
	if (control__parse(buf, strlen(buf), &again, &err) || memcmp(&req, &again, sizeof(req)))
		abort();
	free(line);
	return 0;
}
