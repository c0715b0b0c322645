// SPDX-License-Identifier: MIT
/* Stored windows fetched from S3 into a local cache directory (s3store.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "config/config.h"
#include "store/s3store.h"
#include "upload/s3.h"
#include "util/atomicfile.h"
#include "util/hashmap.h"

#define LIST_MAX_BYTES (8UL << 20) /* one ListObjectsV2 page (1,000 keys) is far less */
#define LIST_MAX_PAGES 100	   /* one day of a host: 100,000 keys */
/* Objects fetched at once: a request's latency, not its bandwidth, bounds one connection. */
#define FETCH_THREADS 8

struct s3store {
	char bucket[64];
	char prefix[1024]; /* without leading or trailing '/' */
	char endpoint[1024], region[64], ca_file[1024];
	struct s3_target target;
	struct s3_credentials cred;
	struct s3_client *client;		   /* listings */
	struct s3_client *fetchers[FETCH_THREADS]; /* made on first use, kept for their
						    * connections */
	int curl_ready;
};

int s3store__is_url(const char *from)
{
	return !strncmp(from, "s3://", 5);
}

static int env_copy(const char *name, const char *fallback, char *buf, size_t size)
{
	const char *v = getenv(name);

	if (!v || !*v)
		v = fallback;
	return snprintf(buf, size, "%s", v ? v : "") >= (int)size ? -ENAMETOOLONG : 0;
}

static int str_copy(const char *v, char *buf, size_t size)
{
	return snprintf(buf, size, "%s", v) >= (int)size ? -ENAMETOOLONG : 0;
}

/* Endpoint, region, CA bundle and credentials file of s, from cfg's upload.s3 or the environment;
 * *ret_path_style. */
static int settings(struct s3store *s, const struct agent_config *cfg, char *cred_file,
		    size_t cred_size, bool *ret_path_style, char *err, size_t err_len)
{
	if (cfg) {
		if (str_copy(cfg->upload.s3.endpoint, s->endpoint, sizeof(s->endpoint)) ||
		    str_copy(cfg->upload.s3.region, s->region, sizeof(s->region)) ||
		    str_copy(cfg->upload.s3.ca_file, s->ca_file, sizeof(s->ca_file)) ||
		    str_copy(cfg->upload.s3.credentials.file, cred_file, cred_size)) {
			snprintf(err, err_len,
				 "upload.s3's endpoint, region, ca_file or "
				 "credentials.file is too long");
			return -ENAMETOOLONG;
		}
		*ret_path_style = cfg->upload.s3.path_style;
		return 0;
	}
	if (env_copy("AWS_ENDPOINT_URL", NULL, s->endpoint, sizeof(s->endpoint)) ||
	    env_copy("AWS_REGION", getenv("AWS_DEFAULT_REGION"), s->region, sizeof(s->region)) ||
	    env_copy("AWS_CA_BUNDLE", NULL, s->ca_file, sizeof(s->ca_file))) {
		snprintf(err, err_len, "AWS_ENDPOINT_URL, AWS_REGION or AWS_CA_BUNDLE is too long");
		return -ENAMETOOLONG;
	}
	*ret_path_style = s->endpoint[0] != '\0';
	if (!s->endpoint[0])
		strcpy(s->endpoint, "https://s3.amazonaws.com");
	if (!s->region[0])
		strcpy(s->region, "us-east-1");
	if (env_copy("AWS_SHARED_CREDENTIALS_FILE", NULL, cred_file, cred_size))
		cred_file[0] = '\0';
	if (!cred_file[0])
		snprintf(cred_file, cred_size, "%s/.aws/credentials",
			 getenv("HOME") ? getenv("HOME") : "/root");
	return 0;
}

struct s3store *s3store__open(const char *url, const struct agent_config *cfg, char *err,
			      size_t err_len)
{
	struct s3store *s = calloc(1, sizeof(*s));
	struct s3_env env = {
	    .access_key_id = getenv("AWS_ACCESS_KEY_ID"),
	    .secret_access_key = getenv("AWS_SECRET_ACCESS_KEY"),
	    .session_token = getenv("AWS_SESSION_TOKEN"),
	    .profile = getenv("AWS_PROFILE"),
	};
	const char *b = url + 5, *slash;
	char cred_file[1024], why[512];
	bool path_style;
	size_t blen, plen;

	if (!s) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	slash = strchr(b, '/');
	blen = slash ? (size_t)(slash - b) : strlen(b);
	if (!s3store__is_url(url) || !blen || blen >= sizeof(s->bucket)) {
		snprintf(err, err_len, "expected s3://BUCKET/PREFIX/, got '%s'", url);
		goto fail;
	}
	memcpy(s->bucket, b, blen);
	if (slash) {
		while (*slash == '/')
			slash++;
		plen = strlen(slash);
		while (plen && slash[plen - 1] == '/')
			plen--;
		if (plen >= sizeof(s->prefix)) {
			snprintf(err, err_len, "the prefix of '%s' is too long", url);
			goto fail;
		}
		memcpy(s->prefix, slash, plen);
	}
	if (settings(s, cfg, cred_file, sizeof(cred_file), &path_style, err, err_len))
		goto fail;
	s->target = (struct s3_target){
	    .endpoint = s->endpoint,
	    .region = s->region,
	    .bucket = s->bucket,
	    .path_style = path_style,
	    .ca_file = s->ca_file,
	};
	if (s3__check_target(&s->target, why, sizeof(why))) {
		snprintf(err, err_len, "%s", why);
		goto fail;
	}
	if (s3__credentials(&env, cred_file, &s->cred, why, sizeof(why))) {
		snprintf(err, err_len, "credentials: %s", why);
		goto fail;
	}
	if (s3__global_init()) {
		snprintf(err, err_len, "libcurl cannot start (7.87 or newer is needed)");
		goto fail;
	}
	s->curl_ready = 1;
	s->client = s3_client__new();
	if (!s->client) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	return s;
fail:
	s3store__close(s);
	return NULL;
}

void s3store__close(struct s3store *s)
{
	if (!s)
		return;
	s3_client__free(s->client);
	for (int i = 0; i < FETCH_THREADS; i++)
		s3_client__free(s->fetchers[i]);
	if (s->curl_ready)
		s3__global_cleanup();
	s3__credentials_wipe(&s->cred);
	free(s);
}

int s3store__default_cache(const struct s3store *s, char *buf, size_t size)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	uint64_t h = hash__bytes(s->prefix, strlen(s->prefix), 0x5eed);
	int n;

	if (xdg && *xdg == '/')
		n = snprintf(buf, size, "%s/pyprof-agent/s3/%s-%016llx", xdg, s->bucket,
			     (unsigned long long)h);
	else
		n = snprintf(buf, size, "%s/.cache/pyprof-agent/s3/%s-%016llx",
			     home && *home ? home : "/root", s->bucket, (unsigned long long)h);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* "YYYY/MM/DD/HHMMSSZ-KIND.folded.gz", a key after its host's folder -> start and kind. */
static int parse_rest(const char *rest, enum profile_kind *ret_kind, int64_t *ret_start)
{
	static const char ext[] = ".folded.gz";
	const char *leaf = rest + 11;
	size_t len, klen;
	char kind[16], stamp[24];
	int y, mo, d, h, m, sec;
	struct tm tm = {0};
	time_t t;

	if (strlen(rest) < 11 || rest[4] != '/' || rest[7] != '/' || rest[10] != '/' ||
	    strspn(rest, "0123456789") != 4 || strspn(rest + 5, "0123456789") != 2 ||
	    strspn(rest + 8, "0123456789") != 2)
		return -EINVAL;
	len = strlen(leaf);
	if (len < 8 + sizeof(ext) || leaf[6] != 'Z' || leaf[7] != '-' ||
	    strcmp(leaf + len - (sizeof(ext) - 1), ext) || strspn(leaf, "0123456789") != 6)
		return -EINVAL;
	snprintf(stamp, sizeof(stamp), "%.4s%.2s%.2s%.6s", rest, rest + 5, rest + 8, leaf);
	if (sscanf(stamp, "%4d%2d%2d%2d%2d%2d", &y, &mo, &d, &h, &m, &sec) != 6 || y < 1970 ||
	    mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || m > 59 || sec > 59)
		return -EINVAL;
	tm = (struct tm){.tm_year = y - 1900,
			 .tm_mon = mo - 1,
			 .tm_mday = d,
			 .tm_hour = h,
			 .tm_min = m,
			 .tm_sec = sec};
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != d)
		return -EINVAL;
	klen = len - 8 - (sizeof(ext) - 1);
	if (!klen || klen >= sizeof(kind))
		return -EINVAL;
	memcpy(kind, leaf + 8, klen);
	kind[klen] = '\0';
	if (profile__parse_kind(kind, ret_kind))
		return -EINVAL;
	*ret_start = (int64_t)t;
	return 0;
}

static void describe(const struct s3_result *res, char *buf, size_t size)
{
	char d[600];

	s3__describe(res, d, sizeof(d));
	snprintf(buf, size, "%s", d);
}

/* GETs key into cache_dir/name, whole or not at all. */
static int fetch(struct s3store *s, struct s3_client *client, const char *key,
		 const char *cache_dir, const char *name, char *err, size_t err_len)
{
	struct s3_result res;
	struct atomic_file a;
	char path[4096], why[600];
	size_t len = 0;
	char *body = NULL;
	int ret;

	if (snprintf(path, sizeof(path), "%s/%s", cache_dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	s3_client__get(client, &s->target, &s->cred, key, NULL, S3STORE_MAX_OBJECT, &res, &body,
		       &len);
	if (res.status != S3_OK) {
		describe(&res, why, sizeof(why));
		snprintf(err, err_len, "s3://%s/%s: %s", s->bucket, key, why);
		free(body);
		return -EIO;
	}
	ret = atomicfile__open(&a, path, NULL);
	if (!ret) {
		if (fwrite(body, 1, len, a.f) != len) {
			atomicfile__abort(&a);
			ret = -EIO;
		} else {
			ret = atomicfile__commit(&a, 0600);
		}
	}
	free(body);
	if (ret)
		snprintf(err, err_len, "cannot write %s: %s", path, strerror(-ret));
	return ret;
}

/* Lists prefix (with delimiter '/' when delim) page by page, calling on_page for each until it
 * returns non-zero (a -errno, or 1: enough). Returns 0 or -errno with a message in err. */
static int list_prefix(struct s3store *s, const char *prefix, int delim,
		       int (*on_page)(void *ctx, const char *body, size_t len), void *ctx,
		       char *err, size_t err_len)
{
	char query[8192], enc_prefix[4200], enc_token[1600], token[1100] = "";

	s3__query_encode(prefix, enc_prefix, sizeof(enc_prefix));
	for (int page = 0; page < LIST_MAX_PAGES; page++) {
		struct s3_result res;
		char *body = NULL, why[600];
		size_t len = 0;
		int more, ret;

		/* parameters in sorted order: SigV4 signs the canonical query */
		s3__query_encode(token, enc_token, sizeof(enc_token));
		snprintf(query, sizeof(query), "%s%s%s%slist-type=2&prefix=%s",
			 token[0] ? "continuation-token=" : "", enc_token, token[0] ? "&" : "",
			 delim ? "delimiter=%2F&" : "", enc_prefix);
		s3_client__get(s->client, &s->target, &s->cred, "", query, LIST_MAX_BYTES, &res,
			       &body, &len);
		if (res.status != S3_OK) {
			describe(&res, why, sizeof(why));
			snprintf(err, err_len, "cannot list s3://%s/%s: %s", s->bucket, prefix,
				 why);
			free(body);
			return -EIO;
		}
		ret = on_page(ctx, body, len);
		more = ret ? 0 : s3__list_truncated(body, len, token, sizeof(token));
		free(body);
		if (ret)
			return ret < 0 ? ret : 0;
		if (more < 0) {
			snprintf(err, err_len, "s3://%s/%s: a truncated listing without a token",
				 s->bucket, prefix);
			return -EIO;
		}
		if (!more)
			return 0;
	}
	snprintf(err, err_len, "s3://%s/%s: more than %d pages of keys", s->bucket, prefix,
		 LIST_MAX_PAGES);
	return -E2BIG;
}

struct fetch_job {
	char key[1500];
	char name[STORE_HOST_MAX + 64];
};

struct sync_ctx {
	struct s3store *s;
	const char *host, *cache_dir;
	enum profile_kind kind;
	const struct store_range *r;
	char host_prefix[1400];
	size_t fetched, seen;
	struct fetch_job *jobs; /* what the listings found missing from the cache */
	size_t njobs, jobs_cap, next_job;
	pthread_mutex_t lock; /* next_job, fetched, failed, err */
	int failed;
	char *err;
	size_t err_len;
};

/* Fetches the windows of one listing page that are wanted and not in the cache yet. */
static int sync_page(void *ctx, const char *body, size_t len)
{
	struct sync_ctx *c = ctx;
	size_t pos = 0, hlen = strlen(c->host_prefix);
	char key[1500];

	while (!s3__list_next(body, len, &pos, "Key", key, sizeof(key))) {
		char name[STORE_HOST_MAX + 64], stamp[32], path[4096];
		enum profile_kind k;
		struct stat st;
		int64_t start;
		time_t t;
		struct tm tm;

		/* nothing outside the host's folder, nothing but the uploader's key layout */
		if (strncmp(key, c->host_prefix, hlen) || parse_rest(key + hlen, &k, &start) ||
		    k != c->kind || (c->r && (start < c->r->start_s || start >= c->r->end_s)))
			continue;
		if (++c->seen > STORE_MAX_WINDOWS) {
			snprintf(c->err, c->err_len, "more than %d windows of %s",
				 STORE_MAX_WINDOWS, c->host);
			return -E2BIG;
		}
		t = (time_t)start;
		gmtime_r(&t, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(name, sizeof(name), "%s_%s_%s.folded.gz", c->host, stamp,
			 profile__kind_name(k));
		snprintf(path, sizeof(path), "%s/%s", c->cache_dir, name);
		if (!stat(path, &st))
			continue; /* a window's key is written once */
		if (c->njobs == c->jobs_cap) {
			size_t cap = c->jobs_cap ? c->jobs_cap * 2 : 64;
			struct fetch_job *bigger = realloc(c->jobs, cap * sizeof(*bigger));

			if (!bigger)
				return -ENOMEM;
			c->jobs = bigger;
			c->jobs_cap = cap;
		}
		snprintf(c->jobs[c->njobs].key, sizeof(c->jobs[0].key), "%s", key);
		snprintf(c->jobs[c->njobs].name, sizeof(c->jobs[0].name), "%s", name);
		c->njobs++;
	}
	return 0;
}

struct fetcher {
	struct sync_ctx *c;
	struct s3_client *client;
};

/* Takes jobs until none are left or one failed; the first failure's message is kept. */
static void *fetch_worker(void *arg)
{
	struct fetcher *f = arg;
	struct sync_ctx *c = f->c;
	char err[4800];

	for (;;) {
		struct fetch_job *job;
		int ret;

		pthread_mutex_lock(&c->lock);
		job = !c->failed && c->next_job < c->njobs ? &c->jobs[c->next_job++] : NULL;
		pthread_mutex_unlock(&c->lock);
		if (!job)
			return NULL;
		ret = fetch(c->s, f->client, job->key, c->cache_dir, job->name, err, sizeof(err));
		pthread_mutex_lock(&c->lock);
		if (ret && !c->failed) {
			c->failed = ret;
			snprintf(c->err, c->err_len, "%s", err);
		} else if (!ret) {
			c->fetched++;
		}
		pthread_mutex_unlock(&c->lock);
	}
}

/* Fetches c's jobs on up to FETCH_THREADS connections. Returns 0 or the first failure. */
static int fetch_all(struct sync_ctx *c)
{
	struct fetcher f[FETCH_THREADS];
	pthread_t tid[FETCH_THREADS];
	size_t n = c->njobs < FETCH_THREADS ? c->njobs : FETCH_THREADS, started = 0;

	for (size_t i = 0; i < n; i++) {
		if (!c->s->fetchers[i])
			c->s->fetchers[i] = s3_client__new();
		if (!c->s->fetchers[i])
			break;
		f[i] = (struct fetcher){.c = c, .client = c->s->fetchers[i]};
		if (pthread_create(&tid[i], NULL, fetch_worker, &f[i]))
			break;
		started++;
	}
	if (!started && c->njobs) {
		/* no thread to spare: this one does the work */
		struct fetcher one = {.c = c, .client = c->s->client};

		fetch_worker(&one);
	}
	for (size_t i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	return c->failed;
}

int s3store__sync(struct s3store *s, const char *host, enum profile_kind kind,
		  const struct store_range *r, const char *cache_dir, size_t *ret_fetched,
		  char *err, size_t err_len)
{
	struct sync_ctx c = {.s = s,
			     .host = host,
			     .cache_dir = cache_dir,
			     .kind = kind,
			     .r = r,
			     .err = err,
			     .err_len = err_len};
	int ret;

	*ret_fetched = 0;
	if (!store__host_valid(host)) {
		snprintf(err, err_len, "not a host name: '%s'", host);
		return -EINVAL;
	}
	ret = atomicfile__make_dirs(cache_dir);
	if (ret) {
		snprintf(err, err_len, "cannot create %s: %s", cache_dir, strerror(-ret));
		return ret;
	}
	snprintf(c.host_prefix, sizeof(c.host_prefix), "%s%s%s/", s->prefix,
		 s->prefix[0] ? "/" : "", host);
	if (!r) {
		ret = list_prefix(s, c.host_prefix, 0, sync_page, &c, err, err_len);
	} else {
		/* the uploader keys windows by their start's UTC day: list only those days */
		for (int64_t day = r->start_s - r->start_s % 86400; day < r->end_s && !ret;
		     day += 86400) {
			char day_prefix[1500];
			time_t t = (time_t)day;
			struct tm tm;

			gmtime_r(&t, &tm);
			snprintf(day_prefix, sizeof(day_prefix), "%s%04d/%02d/%02d/", c.host_prefix,
				 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
			ret = list_prefix(s, day_prefix, 1, sync_page, &c, err, err_len);
		}
	}
	if (!ret) {
		pthread_mutex_init(&c.lock, NULL);
		ret = fetch_all(&c);
		pthread_mutex_destroy(&c.lock);
	}
	free(c.jobs);
	*ret_fetched = c.fetched;
	return ret;
}

struct hosts_ctx {
	const char *prefix;
	char (*names)[STORE_HOST_MAX + 1];
	size_t n, max;
};

static int hosts_page(void *ctx, const char *body, size_t len)
{
	struct hosts_ctx *c = ctx;
	size_t pos = 0, plen = strlen(c->prefix);
	char p[1500];

	/* CommonPrefixes' <Prefix>PREFIX/HOST/</Prefix>; the request's own <Prefix> is shorter */
	while (!s3__list_next(body, len, &pos, "Prefix", p, sizeof(p))) {
		size_t l = strlen(p);

		if (l <= plen + 1 || strncmp(p, c->prefix, plen) || p[l - 1] != '/')
			continue;
		p[l - 1] = '\0';
		if (!store__host_valid(p + plen))
			continue;
		if (c->n == c->max)
			return -E2BIG;
		snprintf(c->names[c->n++], STORE_HOST_MAX + 1, "%s", p + plen);
	}
	return 0;
}

int s3store__list_hosts(struct s3store *s, size_t max, char (**ret)[STORE_HOST_MAX + 1],
			size_t *ret_n, char *err, size_t err_len)
{
	char prefix[1100];
	struct hosts_ctx c = {.prefix = prefix, .max = max};
	int rc;

	snprintf(prefix, sizeof(prefix), "%s%s", s->prefix, s->prefix[0] ? "/" : "");
	c.names = calloc(max ? max : 1, sizeof(*c.names));
	if (!c.names)
		return -ENOMEM;
	rc = list_prefix(s, prefix, 1, hosts_page, &c, err, err_len);
	if (rc == -E2BIG)
		snprintf(err, err_len, "more than %zu hosts under s3://%s/%s", max, s->bucket,
			 prefix);
	if (rc) {
		free(c.names);
		return rc;
	}
	*ret = c.names;
	*ret_n = c.n;
	return 0;
}
