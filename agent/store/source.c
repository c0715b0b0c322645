// SPDX-License-Identifier: MIT
/* Where a command's stored windows come from (source.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "config/config.h"
#include "store/source.h"
#include "util/log.h"

static int copy(const char *cmd, const char *what, const char *v, char *buf, size_t size)
{
	if (snprintf(buf, size, "%s", v) < (int)size)
		return 0;
	log_error("%s: %s is too long", cmd, what);
	return -ENAMETOOLONG;
}

/* src->from from config_path's upload.s3, or from itself; S3 opened with cfg's settings. */
static int open_s3(struct store_source *src, const char *cmd, const struct agent_config *cfg,
		   const char *cache)
{
	char err[1024] = "";

	src->s3 = s3store__open(src->from, cfg, err, sizeof(err));
	if (!src->s3) {
		log_error("%s: %s: %s", cmd, src->from, err);
		return -EINVAL;
	}
	if (cache)
		return copy(cmd, "--cache", cache, src->dir, sizeof(src->dir));
	if (s3store__default_cache(src->s3, src->dir, sizeof(src->dir))) {
		log_error("%s: the cache directory's path is too long", cmd);
		return -ENAMETOOLONG;
	}
	return 0;
}

int store_source__open(struct store_source *src, const char *cmd, const char *from,
		       const char *config_path, const char *cache)
{
	struct agent_config *cfg = NULL;
	char err[1024] = "";
	struct stat st;
	int ret = 0;

	memset(src, 0, sizeof(*src));
	if (!from && !config_path) {
		log_error("%s: --from DIR|s3://BUCKET/PREFIX/ or --config FILE is required", cmd);
		return -EINVAL;
	}
	if (config_path) {
		ret = config__load(config_path, &cfg, err, sizeof(err));
		if (ret) {
			log_error("%s: --config: %s", cmd, err);
			return ret;
		}
	}
	if (from)
		ret = copy(cmd, "--from", from, src->from, sizeof(src->from));
	else if (snprintf(src->from, sizeof(src->from), "s3://%s/%s", cfg->upload.s3.bucket,
			  cfg->upload.s3.prefix) >= (int)sizeof(src->from)) {
		log_error("%s: upload.s3's bucket and prefix are too long", cmd);
		ret = -ENAMETOOLONG;
	}
	if (!ret && s3store__is_url(src->from))
		ret = open_s3(src, cmd, cfg, cache);
	else if (!ret && cfg)
		log_warn("%s: --config is for S3, and --from is a directory: its settings are "
			 "not used",
			 cmd);
	if (!ret && !src->s3) {
		ret = copy(cmd, "--from", src->from, src->dir, sizeof(src->dir));
		if (!ret && stat(src->dir, &st)) {
			ret = -errno;
			log_error("%s: %s: %s", cmd, src->dir, strerror(errno));
		} else if (!ret && !S_ISDIR(st.st_mode)) {
			ret = -ENOTDIR;
			log_error("%s: %s: not a directory", cmd, src->dir);
		}
	}
	config__free(cfg);
	if (ret)
		store_source__close(src);
	return ret;
}

void store_source__close(struct store_source *src)
{
	s3store__close(src->s3);
	src->s3 = NULL;
}
