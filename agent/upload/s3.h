/* SPDX-License-Identifier: MIT */
/* An S3 client for what the agent needs: PUT an object (and GET one, or a listing, for the
 * readers of the store), signed with AWS Signature Version 4 (libcurl's
 * CURLOPT_AWS_SIGV4) over the payload's SHA-256. Plus what goes with it: credentials from the
 * environment or a shared-credentials file, object keys and URLs, the store's XML errors.
 * It does not log: every failure comes back as a struct s3_result whose text holds no secret. */
#ifndef PYPROF_S3_H
#define PYPROF_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct curl_slist;

/* ---- credentials ---- */

struct s3_credentials {
	char access_key_id[256];
	char secret_access_key[256];
	char session_token[4096]; /* "" for none */
	char source[300];	  /* where they came from: "environment", "FILE [PROFILE]" */
};

/* The AWS_* environment variables, read once (NULL when unset). */
struct s3_env {
	const char *access_key_id;     /* AWS_ACCESS_KEY_ID */
	const char *secret_access_key; /* AWS_SECRET_ACCESS_KEY */
	const char *session_token;     /* AWS_SESSION_TOKEN */
	const char *profile;	       /* AWS_PROFILE; "default" when NULL or empty */
};

/* The environment's keys when AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are both set, else the
 * profile of file (AWS shared-credentials format: "[name]" sections of "key = value" lines,
 * '#' and ';' comments; aws_access_key_id, aws_secret_access_key, aws_session_token). Returns
 * 0, or -ENOENT (none configured), -EINVAL (incomplete or malformed) or another -errno, with a
 * message that names variables, files, profiles and lines, never a value. */
int s3__credentials(const struct s3_env *env, const char *file, struct s3_credentials *ret,
		    char *err, size_t errlen);
/* Overwrites the secrets in c. */
void s3__credentials_wipe(struct s3_credentials *c);

/* ---- keys and URLs ---- */

/* Where objects go. */
struct s3_target {
	const char *endpoint; /* http:// or https:// URL without user info */
	const char *region;
	const char *bucket;
	bool path_style;
	const char *ca_file; /* extra PEM CA bundle, or "" / NULL */
};

/* Checks what the client needs of a target beyond the config loader's checks: region and
 * bucket usable in a signature and a host name, an endpoint without query or fragment, a
 * readable ca_file with at least one certificate. Message names the key. */
int s3__check_target(const struct s3_target *t, char *err, size_t errlen);

/* "PREFIX/HOST/YYYY/MM/DD/HHMMSSZ-MODE.folded.gz", start in UTC. PREFIX is taken without
 * leading or trailing '/' ("pyprof/" and "pyprof" give the same keys; "" gives none). */
int s3__object_key(const char *prefix, const char *host, int64_t start_s, const char *mode,
		   char *buf, size_t size);
/* The object's URL: ENDPOINT/BUCKET/KEY (path style) or SCHEME://BUCKET.HOST[/PATH]/KEY, the
 * key percent-encoded except for unreserved characters and '/' (as SigV4 canonical URIs are). */
int s3__object_url(const struct s3_target *t, const char *key, char *buf, size_t size);

/* ---- requests ---- */

struct s3_meta {
	const char *name; /* after "x-amz-meta-": lowercase letters, digits, '-' */
	const char *value;
};

struct s3_object {
	const char *key;
	const void *body;
	size_t len;
	const char *content_type;
	const char *content_encoding; /* NULL: none */
	const struct s3_meta *meta;
	size_t n_meta;
};

/* The request headers that go with the object (all signed by libcurl): x-amz-content-sha256,
 * Content-Type, Content-Encoding, x-amz-meta-*, and x-amz-security-token when session_token is
 * not empty. NULL on allocation failure or a value that cannot be a header. */
struct curl_slist *s3__headers(const struct s3_object *o, const char *payload_sha256_hex,
			       const char *session_token);
/* SHA-256 of data as 64 lowercase hex digits (OpenSSL EVP). */
int s3__sha256_hex(const void *data, size_t len, char ret_hex[65]);

enum s3_status {
	S3_OK = 0,
	S3_ERR_NETWORK,	    /* connect, DNS, reset, ...: retried with backoff */
	S3_ERR_TIMEOUT,	    /* retried with backoff */
	S3_ERR_TLS,	    /* handshake or certificate verification: retried with backoff */
	S3_ERR_SERVER,	    /* 5xx, 408, 429 (SlowDown): retried with backoff */
	S3_ERR_REFUSED,	    /* other 3xx/4xx (NoSuchBucket, AccessDenied, ...): needs a person */
	S3_ERR_CREDENTIALS, /* none found, or unusable */
	S3_ERR_LOCAL,	    /* the request could not be made (memory, bad target) */
	S3_ERR_ABORTED,	    /* the abort callback said stop */
	S3_STATUS_MAX,
};

/* Metric label of each status: "ok", "network", "timeout", "tls", "server_error", "refused",
 * "credentials", "local", "aborted". */
extern const char *const s3_status_names[S3_STATUS_MAX];

static inline bool s3__retry_soon(enum s3_status s)
{
	return s == S3_ERR_NETWORK || s == S3_ERR_TIMEOUT || s == S3_ERR_TLS || s == S3_ERR_SERVER;
}

struct s3_result {
	enum s3_status status;
	long http_status;  /* 0 when no response */
	char code[64];	   /* the store's <Code>, "" if none */
	char message[256]; /* the store's <Message>, "" if none */
	char detail[256];  /* libcurl's error text (scrubbed), or "" */
};

/* Classifies a response with its <Code> ("" if none). */
enum s3_status s3__classify(long http_status, const char *code);
/* Finds <Code> and <Message> of an S3 XML error body (entities decoded, control characters
 * replaced, truncated to fit). Returns 0 if a <Code> was found, else -ENOENT (both set ""). */
int s3__parse_error(const char *body, size_t len, char *code, size_t code_size, char *message,
		    size_t message_size);
/* Replaces every occurrence of the credentials' secret key, session token and access key, and
 * any "user:password@" of a URL, with "[redacted]", in place. */
void s3__scrub(char *text, size_t size, const struct s3_credentials *c);
/* One line describing a failed result, e.g. "HTTP 404 NoSuchBucket: The specified bucket does
 * not exist" or "connection failed: Failed to connect to 127.0.0.1 port 9000". */
void s3__describe(const struct s3_result *r, char *buf, size_t size);

struct s3_client;

/* A client (one libcurl handle: connections are reused). Call s3__global_init() first, from
 * one thread, before any other thread may use libcurl. */
int s3__global_init(void);
void s3__global_cleanup(void);
struct s3_client *s3_client__new(void);
void s3_client__free(struct s3_client *c);
/* PUTs o under o->key in t's bucket; waits for the answer. abort(ctx), when given, is polled
 * (about once a second and during transfers) and stops the request when it returns non-zero.
 * Returns 0 and *ret filled in, status S3_OK on a 2xx answer. */
int s3_client__put(struct s3_client *c, const struct s3_target *t,
		   const struct s3_credentials *cred, const struct s3_object *o,
		   int (*abort)(void *ctx), void *ctx, struct s3_result *ret);

/* GETs key (an object; "" for the bucket itself) with query (already encoded, parameters in
 * sorted order as SigV4 signs them; NULL for none), keeping at most max_bytes of the answer.
 * On S3_OK, *ret_body (NUL-terminated, free() it) and *ret_len hold the body; an answer larger
 * than max_bytes is S3_ERR_REFUSED. Returns 0 and *ret filled in. */
int s3_client__get(struct s3_client *c, const struct s3_target *t,
		   const struct s3_credentials *cred, const char *key, const char *query,
		   size_t max_bytes, struct s3_result *ret, char **ret_body, size_t *ret_len);
/* Percent-encodes s for a query string: all but unreserved characters (as SigV4 does). */
void s3__query_encode(const char *s, char *out, size_t size);

/* ---- ListObjectsV2 answers ---- */

/* The text of the next <tag> (Key, or Prefix inside CommonPrefixes) of body from *pos on,
 * entities decoded, into out; values with control characters or too long are skipped.
 * Returns 0, or -ENOENT when there are no more. */
int s3__list_next(const char *body, size_t len, size_t *pos, const char *tag, char *out,
		  size_t size);
/* 1 with the continuation token in token when the listing goes on, 0 when it is complete,
 * -EINVAL when truncated without a token. */
int s3__list_truncated(const char *body, size_t len, char *token, size_t token_size);

#endif
