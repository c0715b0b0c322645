// SPDX-License-Identifier: MIT
/* The uploader thread and its schedule. The daemon thread only spools (uploader__spool) and
 * reads figures; settings change only while the thread is stopped; the figures are shared
 * under a mutex. This thread is where upload outcomes are decided, so it is what logs them. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "upload/s3.h"
#include "upload/spool.h"
#include "upload/uploader.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/version.h"

#define NS_PER_MS	  1000000ULL
#define NS_PER_S	  1000000000ULL
#define BACKOFF_BASE_MS	  1000ULL
#define BACKOFF_MAX_CAP_S 300U
#define CONTENT_TYPE	  "text/plain; charset=utf-8"
#define CONTENT_ENCODING  "gzip"
#define LAST_ERROR_MAX	  400

/* What the uploader keeps of the configuration (the config is freed on reload). */
struct upload_settings {
	char *endpoint, *region, *bucket, *prefix, *ca_file, *cred_file, *spool_dir;
	bool path_style;
	uint32_t interval_s;
	uint64_t max_bytes;
};

struct uploader {
	struct upload_settings set; /* changed only while the thread is stopped */
	struct spool *spool;
	struct s3_client *client; /* the thread's */
	struct s3_env env;	  /* AWS_* variables, copied at creation */
	char *env_copy[4];

	pthread_t thread;
	bool running;
	pthread_mutex_t lock; /* guards what follows */
	pthread_cond_t cond;
	bool stop;
	uint64_t stop_deadline_ns; /* monotonic: in-flight work may go on until then */
	uint64_t uploaded, failures[S3_STATUS_MAX], retries, spool_errors;
	int64_t last_success_s; /* wall clock; 0: never */
	int64_t last_error_s;
	char last_error[LAST_ERROR_MAX + 40];

	/* the thread's own state */
	char failed_name[SPOOL_NAME_MAX]; /* the window whose last attempt failed */
	unsigned attempt;		  /* consecutive retryable failures */
	uint64_t last_log_ns;		  /* last failure logged */
	uint64_t evictions_logged;
	bool failing;
	uint64_t failed_since_s;
};

uint64_t uploader__backoff_ms(unsigned attempt, uint32_t interval_s, uint32_t rnd)
{
	uint64_t cap =
	    (uint64_t)(interval_s < BACKOFF_MAX_CAP_S ? interval_s : BACKOFF_MAX_CAP_S) * 1000;
	uint64_t d = BACKOFF_BASE_MS << (attempt < 20 ? attempt : 20);

	if (d > cap)
		d = cap;
	return d - d / 2 + rnd % (d / 2 + 1);
}

/* ---- settings ---- */

static void settings_free(struct upload_settings *s)
{
	free(s->endpoint);
	free(s->region);
	free(s->bucket);
	free(s->prefix);
	free(s->ca_file);
	free(s->cred_file);
	free(s->spool_dir);
	memset(s, 0, sizeof(*s));
}

static int settings_from(const struct agent_config *cfg, struct upload_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->endpoint = strdup(cfg->upload.s3.endpoint);
	s->region = strdup(cfg->upload.s3.region);
	s->bucket = strdup(cfg->upload.s3.bucket);
	s->prefix = strdup(cfg->upload.s3.prefix);
	s->ca_file = strdup(cfg->upload.s3.ca_file);
	s->cred_file = strdup(cfg->upload.s3.credentials.file);
	s->spool_dir = strdup(cfg->upload.spool.directory);
	s->path_style = cfg->upload.s3.path_style;
	s->interval_s = cfg->upload.s3.interval_seconds ? cfg->upload.s3.interval_seconds : 60;
	s->max_bytes = cfg->upload.spool.max_bytes;
	if (!s->endpoint || !s->region || !s->bucket || !s->prefix || !s->ca_file ||
	    !s->cred_file || !s->spool_dir) {
		settings_free(s);
		return -ENOMEM;
	}
	return 0;
}

static bool settings_equal(const struct upload_settings *a, const struct upload_settings *b)
{
	return !strcmp(a->endpoint, b->endpoint) && !strcmp(a->region, b->region) &&
	       !strcmp(a->bucket, b->bucket) && !strcmp(a->prefix, b->prefix) &&
	       !strcmp(a->ca_file, b->ca_file) && !strcmp(a->cred_file, b->cred_file) &&
	       !strcmp(a->spool_dir, b->spool_dir) && a->path_style == b->path_style &&
	       a->interval_s == b->interval_s && a->max_bytes == b->max_bytes;
}

static struct s3_target target_of(const struct upload_settings *s)
{
	return (struct s3_target){.endpoint = s->endpoint,
				  .region = s->region,
				  .bucket = s->bucket,
				  .path_style = s->path_style,
				  .ca_file = s->ca_file};
}

/* ---- the thread ---- */

static bool stopping_now(struct uploader *up)
{
	bool r;

	pthread_mutex_lock(&up->lock);
	r = up->stop && clock__mono_ns() >= up->stop_deadline_ns;
	pthread_mutex_unlock(&up->lock);
	return r;
}

static int abort_cb(void *ctx)
{
	return stopping_now(ctx);
}

static void iso_time(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *windows_stay(uint64_t n)
{
	return n == 1 ? "window stays" : "windows stay";
}

/* Records a failed attempt; logs it unless one was logged less than an interval ago. */
static void failed(struct uploader *up, enum s3_status status, const char *what, uint64_t delay_ms)
{
	struct spool_stats st;
	uint64_t now = clock__mono_ns();

	spool__stats(up->spool, &st);
	pthread_mutex_lock(&up->lock);
	up->failures[status]++;
	up->last_error_s = (int64_t)time(NULL);
	snprintf(up->last_error, sizeof(up->last_error), "%.*s", LAST_ERROR_MAX, what);
	pthread_mutex_unlock(&up->lock);
	if (!up->failing) {
		up->failing = true;
		up->failed_since_s = (uint64_t)time(NULL);
	}
	if (up->last_log_ns && now - up->last_log_ns < (uint64_t)up->set.interval_s * NS_PER_S)
		return;
	up->last_log_ns = now;
	if (s3__retry_soon(status))
		log_warn("%s; %" PRIu64 " %s spooled, retrying in %.1f s", what, st.windows,
			 windows_stay(st.windows), delay_ms / 1000.0);
	else
		log_error("%s; %" PRIu64 " %s spooled in %s, next attempt in %u s", what,
			  st.windows, windows_stay(st.windows), spool__dir(up->spool),
			  up->set.interval_s);
}

static void log_evictions(struct uploader *up)
{
	struct spool_stats st;

	spool__stats(up->spool, &st);
	if (st.evictions == up->evictions_logged)
		return;
	log_warn("spool %s exceeded upload.spool.max_bytes (%" PRIu64 " bytes): the %" PRIu64
		 " oldest windows were deleted unsent (%" PRIu64 " since start)",
		 spool__dir(up->spool), up->set.max_bytes, st.evictions - up->evictions_logged,
		 st.evictions);
	up->evictions_logged = st.evictions;
}

/* Uploads one spooled window. Returns its status (S3_OK: deleted from the spool). */
static enum s3_status upload_one(struct uploader *up, const struct s3_credentials *cred,
				 const char *name, uint64_t *ret_delay_ms)
{
	struct s3_target t = target_of(&up->set);
	struct spool_window w;
	struct s3_result res;
	char key[1024], what[3072], desc[400], num[3][24];
	void *body = NULL;
	size_t len = 0;
	uint32_t rnd = 0;
	int rc;

	rc = spool__read(up->spool, name, &body, &len, &w);
	if (rc == -ENOENT) { /* evicted meanwhile */
		spool__done(up->spool, name, 0);
		return S3_OK;
	}
	if (rc == -EBADMSG) { /* not a window we wrote, or damaged: never uploaded */
		spool__quarantine(up->spool, name);
		log_error("spooled window %s/%s is unreadable (%s): renamed to %s.corrupt and "
			  "skipped",
			  spool__dir(up->spool), name, strerror(-rc), name);
		return S3_OK;
	}
	if (rc) { /* memory, I/O, permissions: the window may be fine, try again later */
		spool__done(up->spool, name, 0);
		snprintf(what, sizeof(what), "cannot read the spooled window %s/%s: %s",
			 spool__dir(up->spool), name, strerror(-rc));
		*ret_delay_ms = (uint64_t)up->set.interval_s * 1000;
		failed(up, S3_ERR_LOCAL, what, *ret_delay_ms);
		return S3_ERR_LOCAL;
	}
	rc = s3__object_key(up->set.prefix, w.host, w.start_s, w.mode, key, sizeof(key));
	if (rc) {
		free(body);
		spool__quarantine(up->spool, name);
		log_error("spooled window %s/%s has no usable key (%s): renamed to %s.corrupt and "
			  "skipped",
			  spool__dir(up->spool), name, strerror(-rc), name);
		return S3_OK;
	}
	snprintf(num[0], sizeof(num[0]), "%" PRIu32, w.window_seconds);
	snprintf(num[1], sizeof(num[1]), "%" PRIu32, w.frequency_hz);
	snprintf(num[2], sizeof(num[2]), "%" PRIu64, w.duration_ms);
	{
		const struct s3_meta meta[] = {
		    {"agent-version", w.agent_version[0] ? w.agent_version : PYPROF_VERSION},
		    {"host", w.host},
		    {"mode", w.mode},
		    {"window-seconds", num[0]},
		    {"frequency-hz", num[1]},
		    {"duration-ms", num[2]},
		};
		const struct s3_object o = {
		    .key = key,
		    .body = body,
		    .len = len,
		    .content_type = CONTENT_TYPE,
		    .content_encoding = CONTENT_ENCODING,
		    .meta = meta,
		    .n_meta = sizeof(meta) / sizeof(meta[0]),
		};

		if (!strcmp(up->failed_name, name)) {
			pthread_mutex_lock(&up->lock);
			up->retries++;
			pthread_mutex_unlock(&up->lock);
		}
		s3_client__put(up->client, &t, cred, &o, abort_cb, up, &res);
	}
	free(body);
	if (res.status == S3_OK) {
		spool__done(up->spool, name, 1);
		pthread_mutex_lock(&up->lock);
		up->uploaded++;
		up->last_success_s = (int64_t)time(NULL);
		pthread_mutex_unlock(&up->lock);
		log_debug("uploaded %s as s3://%s/%s (%zu bytes)", name, up->set.bucket, key, len);
		if (up->failing) {
			char since[32];

			iso_time((int64_t)up->failed_since_s, since, sizeof(since));
			log_info("uploads to bucket \"%s\" work again (failing since %s)",
				 up->set.bucket, since);
		}
		up->failing = false;
		up->attempt = 0;
		up->failed_name[0] = '\0';
		return S3_OK;
	}
	spool__done(up->spool, name, 0);
	if (res.status == S3_ERR_ABORTED)
		return res.status;
	snprintf(up->failed_name, sizeof(up->failed_name), "%s", name);
	if (s3__retry_soon(res.status)) {
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = (uint32_t)clock__mono_ns();
		*ret_delay_ms = uploader__backoff_ms(up->attempt++, up->set.interval_s, rnd);
	} else {
		*ret_delay_ms = (uint64_t)up->set.interval_s * 1000;
	}
	s3__describe(&res, desc, sizeof(desc));
	snprintf(what, sizeof(what),
		 "upload to bucket \"%s\" %s: %s (object %s, endpoint %s, "
		 "region %s)",
		 up->set.bucket, res.status == S3_ERR_REFUSED ? "refused" : "failed", desc, key,
		 up->set.endpoint, up->set.region);
	failed(up, res.status, what, *ret_delay_ms);
	return res.status;
}

/* Uploads pending windows, oldest first, until the spool is empty or one fails. Returns the
 * delay before the next pass, in ms. */
static uint64_t upload_pass(struct uploader *up)
{
	uint64_t delay_ms = (uint64_t)up->set.interval_s * 1000;
	struct s3_credentials cred;
	char name[SPOOL_NAME_MAX], err[512], what[700];
	int rc;

	log_evictions(up);
	rc = s3__credentials(&up->env, up->set.cred_file, &cred, err, sizeof(err));
	if (rc) {
		if (spool__next(up->spool, name) == 0) { /* only worth saying with work to do */
			spool__done(up->spool, name, 0);
			snprintf(what, sizeof(what), "cannot upload to bucket \"%s\": %s",
				 up->set.bucket, err);
			failed(up, S3_ERR_CREDENTIALS, what, delay_ms);
		}
		return delay_ms;
	}
	while (!stopping_now(up) && spool__next(up->spool, name) == 0) {
		uint64_t d = 0;
		enum s3_status s = upload_one(up, &cred, name, &d);

		if (s != S3_OK) {
			if (d)
				delay_ms = d;
			break;
		}
	}
	s3__credentials_wipe(&cred);
	return delay_ms;
}

static void *uploader_main(void *arg)
{
	struct uploader *up = arg;
	uint64_t next = clock__mono_ns(); /* windows left by an earlier run go at once */
	struct spool_stats st;
	bool flush;

	spool__stats(up->spool, &st);
	log_info("uploading windows to bucket \"%s\" at %s (region %s, %s), prefix \"%s\", every "
		 "%u s; spool %s holds %" PRIu64 " windows",
		 up->set.bucket, up->set.endpoint, up->set.region,
		 up->set.path_style ? "path style" : "virtual-hosted style", up->set.prefix,
		 up->set.interval_s, up->set.spool_dir, st.windows);
	for (;;) {
		pthread_mutex_lock(&up->lock);
		while (!up->stop && clock__mono_ns() < next) {
			struct timespec ts = {.tv_sec = (time_t)(next / NS_PER_S),
					      .tv_nsec = (long)(next % NS_PER_S)};

			pthread_cond_timedwait(&up->cond, &up->lock, &ts);
		}
		flush = up->stop;
		pthread_mutex_unlock(&up->lock);
		if (flush)
			break;
		next = clock__mono_ns() + upload_pass(up) * NS_PER_MS;
	}
	/* stopping: one more pass while the flush time lasts (the daemon's final window) */
	if (!stopping_now(up))
		upload_pass(up);
	log_evictions(up);
	spool__stats(up->spool, &st);
	if (st.windows)
		log_info("uploads stopped: %" PRIu64 " %s spooled in %s for the next start",
			 st.windows, windows_stay(st.windows), up->set.spool_dir);
	return NULL;
}

static int thread_start(struct uploader *up, char *err, size_t errlen)
{
	int rc;

	up->stop = false;
	up->failing = false;
	up->attempt = 0;
	up->failed_name[0] = '\0';
	up->last_log_ns = 0;
	rc = pthread_create(&up->thread, NULL, uploader_main, up);
	if (rc) {
		snprintf(err, errlen, "cannot start the upload thread: %s", strerror(rc));
		return -rc;
	}
	pthread_setname_np(up->thread, "pyprof-upload");
	up->running = true;
	return 0;
}

static void thread_stop(struct uploader *up, unsigned flush_ms)
{
	if (!up->running)
		return;
	pthread_mutex_lock(&up->lock);
	up->stop = true;
	up->stop_deadline_ns = clock__mono_ns() + (uint64_t)flush_ms * NS_PER_MS;
	pthread_cond_signal(&up->cond);
	pthread_mutex_unlock(&up->lock);
	pthread_join(up->thread, NULL);
	up->running = false;
}

/* ---- life cycle ---- */

static void env_copy(struct uploader *up)
{
	static const char *const names[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
					    "AWS_SESSION_TOKEN", "AWS_PROFILE"};

	for (int i = 0; i < 4; i++) {
		const char *v = getenv(names[i]);

		up->env_copy[i] = v ? strdup(v) : NULL;
	}
	up->env.access_key_id = up->env_copy[0];
	up->env.secret_access_key = up->env_copy[1];
	up->env.session_token = up->env_copy[2];
	up->env.profile = up->env_copy[3];
}

static void destroy(struct uploader *up)
{
	spool__free(up->spool);
	s3_client__free(up->client);
	settings_free(&up->set);
	for (int i = 0; i < 4; i++) {
		if (up->env_copy[i]) {
			explicit_bzero(up->env_copy[i], strlen(up->env_copy[i]));
			free(up->env_copy[i]);
		}
	}
	pthread_cond_destroy(&up->cond);
	pthread_mutex_destroy(&up->lock);
	s3__global_cleanup();
	free(up);
}

static int check(const struct upload_settings *s, char *err, size_t errlen)
{
	struct s3_target t = target_of(s);

	return s3__check_target(&t, err, errlen);
}

static int create(const struct agent_config *cfg, struct uploader **ret, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	struct uploader *up;
	int rc;

	rc = s3__global_init();
	if (rc) {
		snprintf(err, errlen,
			 rc == -ENOTSUP ? "uploads need libcurl 7.87.0 or newer (it signs "
					  "x-amz-content-sha256 as the payload hash)"
					: "cannot initialise libcurl");
		return rc;
	}
	up = calloc(1, sizeof(*up));
	if (!up) {
		s3__global_cleanup();
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&up->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&up->cond, &ca);
	pthread_condattr_destroy(&ca);
	env_copy(up);
	rc = settings_from(cfg, &up->set);
	if (rc) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	rc = check(&up->set, err, errlen);
	if (rc)
		goto fail;
	up->client = s3_client__new();
	if (!up->client) {
		rc = -ENOMEM;
		snprintf(err, errlen, "cannot create an HTTP client (libcurl)");
		goto fail;
	}
	rc = spool__open(up->set.spool_dir, up->set.max_bytes, &up->spool, err, errlen);
	if (rc)
		goto fail;
	rc = thread_start(up, err, errlen);
	if (rc)
		goto fail;
	*ret = up;
	return 0;
fail:
	destroy(up);
	return rc;
}

static int reconfigure(struct uploader *up, const struct agent_config *cfg, char *err,
		       size_t errlen)
{
	struct upload_settings fresh;
	struct spool *sp = NULL;
	int rc;

	rc = settings_from(cfg, &fresh);
	if (rc) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	if (settings_equal(&fresh, &up->set)) {
		settings_free(&fresh);
		return 0;
	}
	rc = check(&fresh, err, errlen);
	if (!rc && strcmp(fresh.spool_dir, up->set.spool_dir))
		rc = spool__open(fresh.spool_dir, fresh.max_bytes, &sp, err, errlen);
	if (rc) {
		settings_free(&fresh);
		return rc;
	}
	thread_stop(up, 0);
	if (sp) {
		/* windows left in the old directory are sent when it is configured again */
		spool__free(up->spool);
		up->spool = sp;
		up->evictions_logged = 0;
	} else if (fresh.max_bytes != up->set.max_bytes) {
		spool__set_max_bytes(up->spool, fresh.max_bytes);
	}
	settings_free(&up->set);
	up->set = fresh;
	return thread_start(up, err, errlen);
}

int uploader__apply(struct uploader **up, const struct agent_config *cfg, char *err, size_t errlen)
{
	if (!cfg->upload.s3.enabled) {
		uploader__free(*up, 0);
		*up = NULL;
		return 0;
	}
	if (!*up)
		return create(cfg, up, err, errlen);
	return reconfigure(*up, cfg, err, errlen);
}

void uploader__free(struct uploader *up, unsigned flush_ms)
{
	if (!up)
		return;
	thread_stop(up, flush_ms);
	destroy(up);
}

/* ---- the daemon thread's side ---- */

int uploader__spool(struct uploader *up, const char *folded, size_t len,
		    const struct profile_meta *meta, const char *host, uint32_t window_seconds,
		    char *err, size_t errlen)
{
	struct spool_window w = {
	    .start_s = (int64_t)(meta->start_ns / NS_PER_S),
	    .duration_ms = meta->duration_ns / NS_PER_MS,
	    .window_seconds = window_seconds,
	    .frequency_hz = meta->rate_hz,
	};
	int rc;

	snprintf(w.host, sizeof(w.host), "%s", host);
	snprintf(w.mode, sizeof(w.mode), "%s", profile__kind_name(meta->kind));
	snprintf(w.agent_version, sizeof(w.agent_version), "%s", PYPROF_VERSION);
	rc = spool__put(up->spool, &w, folded, len, err, errlen);
	if (rc) {
		pthread_mutex_lock(&up->lock);
		up->spool_errors++;
		pthread_mutex_unlock(&up->lock);
	}
	return rc;
}

void uploader__gather(struct uploader *up, struct stat_list *l)
{
	uint64_t failures[S3_STATUS_MAX], uploaded, retries, spool_errors;
	int64_t last_ok, last_err_s;
	char last_err[LAST_ERROR_MAX + 40], when[32];
	struct spool_stats st;

	if (!up) {
		statlist__info(l, "upload", "disabled");
		return;
	}
	spool__stats(up->spool, &st);
	pthread_mutex_lock(&up->lock);
	memcpy(failures, up->failures, sizeof(failures));
	uploaded = up->uploaded;
	retries = up->retries;
	spool_errors = up->spool_errors;
	last_ok = up->last_success_s;
	last_err_s = up->last_error_s;
	snprintf(last_err, sizeof(last_err), "%s", up->last_error);
	pthread_mutex_unlock(&up->lock);

	statlist__info(l, "upload", "bucket \"%s\" at %s, prefix \"%s\", every %u s",
		       up->set.bucket, up->set.endpoint, up->set.prefix, up->set.interval_s);
	statlist__info(l, "spool",
		       "%s: %" PRIu64 " windows pending, %" PRIu64 " of %" PRIu64 " bytes, %" PRIu64
		       " evicted",
		       up->set.spool_dir, st.windows, st.bytes, up->set.max_bytes, st.evictions);
	if (last_ok)
		iso_time(last_ok, when, sizeof(when));
	statlist__info(l, "last upload", "%s", last_ok ? when : "none yet");
	if (last_err_s)
		iso_time(last_err_s, when, sizeof(when));
	statlist__info(l, "last upload error", "%s%s%s", last_err_s ? when : "none",
		       last_err_s ? " " : "", last_err_s ? last_err : "");

	statlist__add(l, "uploads_total", STAT_COUNTER, "Windows uploaded to the object store.",
		      NULL, NULL, uploaded);
	for (int i = S3_OK + 1; i < S3_STATUS_MAX; i++) {
		if (i == S3_ERR_ABORTED) /* a stop, not a failure: never counted */
			continue;
		statlist__add(l, "upload_failures_total", STAT_COUNTER,
			      "Upload attempts that failed, by reason.", "reason",
			      s3_status_names[i], failures[i]);
	}
	statlist__add(l, "upload_retries_total", STAT_COUNTER,
		      "Upload attempts of a window whose previous attempt failed.", NULL, NULL,
		      retries);
	statlist__add(l, "last_upload_success_timestamp_seconds", STAT_GAUGE,
		      "Wall-clock time of the last successful upload (0: none yet).", NULL, NULL,
		      last_ok);
	statlist__add(l, "spool_windows", STAT_GAUGE, "Windows waiting in the spool for upload.",
		      NULL, NULL, st.windows);
	statlist__add(l, "spool_bytes", STAT_GAUGE, "Bytes of the windows waiting in the spool.",
		      NULL, NULL, st.bytes);
	statlist__add(l, "spool_max_bytes", STAT_GAUGE, "The spool's cap (upload.spool.max_bytes).",
		      NULL, NULL, up->set.max_bytes);
	statlist__add(l, "spool_evictions_total", STAT_COUNTER,
		      "Windows deleted unsent, oldest first, to keep the spool under its cap.",
		      NULL, NULL, st.evictions);
	statlist__add(l, "spool_write_errors_total", STAT_COUNTER,
		      "Closed windows that could not be spooled (so are not uploaded).", NULL, NULL,
		      spool_errors);
	statlist__add(l, "spool_corrupt_total", STAT_COUNTER,
		      "Spooled windows found unreadable and set aside as NAME.corrupt.", NULL, NULL,
		      st.quarantined);
}
