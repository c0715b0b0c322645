/* SPDX-License-Identifier: MIT */
/* Where a command's stored windows come from (agentctl compare, serve): a directory, or an S3
 * prefix whose windows are fetched into a local cache directory, named by --from or by the
 * upload.s3 section of the daemon's config file (--config). Logs why it cannot open. */
#ifndef PYPROF_STORE_SOURCE_H
#define PYPROF_STORE_SOURCE_H

#include "store/s3store.h"

struct store_source {
	char from[1200];    /* as shown: DIR, or s3://BUCKET/PREFIX/ */
	char dir[4096];	    /* the directory read: DIR itself, or S3's local cache (made by the
			     * first fetch) */
	struct s3store *s3; /* NULL for a directory */
};

/* Opens from (DIR or s3://BUCKET/PREFIX/) or, when from is NULL, the bucket and prefix of
 * config_path's upload.s3. S3 settings come from config_path's upload.s3 when it is given,
 * else from the environment (s3store__open). cache: S3's cache directory (NULL: the default).
 * cmd prefixes the messages logged. Returns 0, or -errno after logging why. */
int store_source__open(struct store_source *src, const char *cmd, const char *from,
		       const char *config_path, const char *cache);
void store_source__close(struct store_source *src);

#endif
