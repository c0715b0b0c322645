/* SPDX-License-Identifier: MIT */
/* Stored windows in S3, as the uploader keys them (PREFIX/HOST/YYYY/MM/DD/HHMMSSZ-KIND.folded.gz):
 * the windows of a host and range are listed (ListObjectsV2, one day's prefix at a time) and
 * fetched (GET, SigV4 by upload/s3) into a local cache directory in the daemon's own layout
 * (HOST_YYYYmmddTHHMMSSZ_KIND.folded.gz), where agent/store reads them like any directory.
 * Objects are kept by key: a window's key is written once. Does not log. */
#ifndef PYPROF_S3STORE_H
#define PYPROF_S3STORE_H

#include <stddef.h>
#include "profile/profile.h"
#include "store/store.h"

/* The largest window object fetched. */
#define S3STORE_MAX_OBJECT (256UL << 20)

struct s3store;
struct agent_config;

/* Opens "s3://BUCKET[/PREFIX[/]]" with the daemon's S3 settings: those of cfg's upload.s3
 * (endpoint, region, path_style, ca_file, credentials.file) when cfg is given; else the
 * endpoint from AWS_ENDPOINT_URL (path-style requests; else AWS's virtual-hosted one), the
 * region from AWS_REGION or AWS_DEFAULT_REGION (default us-east-1), an extra CA bundle from
 * AWS_CA_BUNDLE and the shared credentials file AWS_SHARED_CREDENTIALS_FILE (default
 * ~/.aws/credentials). Keys in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY come first either
 * way, as the daemon takes them. NULL with a message in err. */
struct s3store *s3store__open(const char *url, const struct agent_config *cfg, char *err,
			      size_t err_len);
void s3store__close(struct s3store *s);

/* Whether from names S3 ("s3://..."). */
int s3store__is_url(const char *from);

/* The default cache directory for s: ${XDG_CACHE_HOME:-~/.cache}/pyprof-agent/s3/BUCKET-HASH,
 * HASH of the prefix (so two prefixes never share one). */
int s3store__default_cache(const struct s3store *s, char *buf, size_t size);

/* Fetches into cache_dir (created if need be) the windows of host and kind that start in r
 * (NULL: every one, at most STORE_MAX_WINDOWS) and that it does not hold yet. *ret_fetched: how
 * many were. Returns 0 or -errno with a message in err naming the key or the listing that failed.
 */
int s3store__sync(struct s3store *s, const char *host, enum profile_kind kind,
		  const struct store_range *r, const char *cache_dir, size_t *ret_fetched,
		  char *err, size_t err_len);

/* The hosts with a folder under the prefix (a delimited listing), at most max, as *ret (free()
 * it). Returns 0 or -errno with a message in err. */
int s3store__list_hosts(struct s3store *s, size_t max, char (**ret)[STORE_HOST_MAX + 1],
			size_t *ret_n, char *err, size_t err_len);

#endif
