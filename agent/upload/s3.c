// SPDX-License-Identifier: MIT
/* S3 PUT with libcurl's SigV4 signer. The payload hash is ours (OpenSSL EVP SHA-256, sent as
 * x-amz-content-sha256, which libcurl >= 7.87 signs as the payload hash); everything else about
 * the signature is libcurl's. Errors come back classified, with the store's code and message. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "upload/s3.h"
#include "util/errbuf.h"
#include "util/version.h"

#define CREDENTIALS_MAX_BYTES (1u << 20)
#define RESPONSE_MAX_BYTES    (64u * 1024)
#define CONNECT_TIMEOUT_S     10L
/* A PUT that moves less than 1 KiB/s for 30 s is given up (then retried). */
#define LOW_SPEED_BYTES	  1024L
#define LOW_SPEED_SECONDS 30L
#define TOTAL_TIMEOUT_S	  300L

const char *const s3_status_names[S3_STATUS_MAX] = {
    [S3_OK] = "ok",
    [S3_ERR_NETWORK] = "network",
    [S3_ERR_TIMEOUT] = "timeout",
    [S3_ERR_TLS] = "tls",
    [S3_ERR_SERVER] = "server_error",
    [S3_ERR_REFUSED] = "refused",
    [S3_ERR_CREDENTIALS] = "credentials",
    [S3_ERR_LOCAL] = "local",
    [S3_ERR_ABORTED] = "aborted",
};

/* ---- credentials ---- */

/* A key or token: printable ASCII without spaces, so it can sit in a header. */
static int token_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n >= max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	}
	return 1;
}

void s3__credentials_wipe(struct s3_credentials *c)
{
	/* volatile stores: not optimised away as dead */
	volatile char *p = (volatile char *)c;

	for (size_t i = 0; i < sizeof(*c); i++)
		p[i] = 0;
}

static int from_env(const struct s3_env *env, struct s3_credentials *ret, char *err, size_t errlen)
{
	if (!token_ok(env->access_key_id, sizeof(ret->access_key_id))) {
		errbuf__set(err, errlen,
			    "AWS_ACCESS_KEY_ID is not a usable key (empty, too long, or "
			    "with spaces or control characters)");
		return -EINVAL;
	}
	if (!env->secret_access_key || !*env->secret_access_key) {
		errbuf__set(err, errlen,
			    "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
		return -EINVAL;
	}
	if (!token_ok(env->secret_access_key, sizeof(ret->secret_access_key))) {
		errbuf__set(err, errlen,
			    "AWS_SECRET_ACCESS_KEY is not a usable key (too long, or "
			    "with spaces or control characters)");
		return -EINVAL;
	}
	if (env->session_token && *env->session_token &&
	    !token_ok(env->session_token, sizeof(ret->session_token))) {
		errbuf__set(err, errlen,
			    "AWS_SESSION_TOKEN is not a usable token (too long, or with "
			    "spaces or control characters)");
		return -EINVAL;
	}
	snprintf(ret->access_key_id, sizeof(ret->access_key_id), "%s", env->access_key_id);
	snprintf(ret->secret_access_key, sizeof(ret->secret_access_key), "%s",
		 env->secret_access_key);
	snprintf(ret->session_token, sizeof(ret->session_token), "%s",
		 env->session_token ? env->session_token : "");
	snprintf(ret->source, sizeof(ret->source), "environment");
	return 0;
}

static char *trim(char *s)
{
	char *end = s + strlen(s);

	while (*s == ' ' || *s == '\t')
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* Where a shared-credentials key goes, and its room; NULL for keys we do not use. */
static char *credential_field(struct s3_credentials *c, const char *key, size_t *ret_max)
{
	if (!strcasecmp(key, "aws_access_key_id")) {
		*ret_max = sizeof(c->access_key_id);
		return c->access_key_id;
	}
	if (!strcasecmp(key, "aws_secret_access_key")) {
		*ret_max = sizeof(c->secret_access_key);
		return c->secret_access_key;
	}
	if (!strcasecmp(key, "aws_session_token")) {
		*ret_max = sizeof(c->session_token);
		return c->session_token;
	}
	return NULL;
}

/* The profile's keys from the text of a shared-credentials file. Lines of other sections are
 * not looked at, so a file that serves other tools too is fine. */
static int parse_credentials(char *text, const char *file, const char *profile,
			     struct s3_credentials *ret, char *err, size_t errlen)
{
	int in_profile = 0, seen_profile = 0;
	unsigned long lineno = 0;
	char *next;

	for (char *line = text; line; line = next) {
		char *s, *eq, *key, *val, *dst;
		size_t max;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		s = trim(line);
		lineno++;
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');

			if (!close) {
				errbuf__set(err, errlen, "%s:%lu: a section header without ']'",
					    file, lineno);
				return -EINVAL;
			}
			*close = '\0';
			in_profile = !strcmp(trim(s + 1), profile);
			seen_profile |= in_profile;
			continue;
		}
		if (!in_profile)
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			/* the line is not quoted: it may hold a key */
			errbuf__set(err, errlen, "%s:%lu: expected \"key = value\" in profile [%s]",
				    file, lineno, profile);
			return -EINVAL;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		dst = credential_field(ret, key, &max);
		if (!dst)
			continue; /* region, output, ...: not ours */
		if (!token_ok(val, max)) {
			errbuf__set(
			    err, errlen,
			    "%s:%lu: %s in profile [%s] is not usable (empty, too long, or with "
			    "spaces or control characters)",
			    file, lineno, key, profile);
			return -EINVAL;
		}
		snprintf(dst, max, "%s", val);
	}
	if (!seen_profile) {
		errbuf__set(err, errlen, "%s: no profile [%s]%s", file, profile,
			    strcmp(profile, "default") ? " (chosen by AWS_PROFILE)" : "");
		return -ENOENT;
	}
	if (!ret->access_key_id[0] || !ret->secret_access_key[0]) {
		errbuf__set(err, errlen, "%s: profile [%s] lacks %s", file, profile,
			    !ret->access_key_id[0] ? "aws_access_key_id" : "aws_secret_access_key");
		return -EINVAL;
	}
	snprintf(ret->source, sizeof(ret->source), "%s [%s]", file, profile);
	return 0;
}

int s3__credentials(const struct s3_env *env, const char *file, struct s3_credentials *ret,
		    char *err, size_t errlen)
{
	const char *profile = env->profile && *env->profile ? env->profile : "default";
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	memset(ret, 0, sizeof(*ret));
	if ((env->access_key_id && *env->access_key_id) ||
	    (env->secret_access_key && *env->secret_access_key)) {
		if (!env->access_key_id || !*env->access_key_id) {
			errbuf__set(err, errlen,
				    "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
			return -EINVAL;
		}
		rc = from_env(env, ret, err, errlen);
		if (rc)
			s3__credentials_wipe(ret);
		return rc;
	}
	if (!file || !*file) {
		errbuf__set(
		    err, errlen,
		    "no credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are unset and "
		    "upload.s3.credentials.file is empty");
		return -ENOENT;
	}
	f = fopen(file, "re");
	if (!f) {
		rc = -errno;
		errbuf__set(err, errlen, "cannot read the credentials file %s: %s", file,
			    strerror(-rc));
		return rc;
	}
	text = malloc(CREDENTIALS_MAX_BYTES + 1);
	if (text)
		len = fread(text, 1, CREDENTIALS_MAX_BYTES + 1, f);
	rc = !text ? -ENOMEM : ferror(f) ? -EIO : len > CREDENTIALS_MAX_BYTES ? -EFBIG : 0;
	fclose(f);
	if (rc) {
		errbuf__set(err, errlen, "cannot read the credentials file %s: %s", file,
			    strerror(-rc));
	} else {
		text[len] = '\0';
		if (memchr(text, '\0', len)) {
			errbuf__set(err, errlen, "%s: not a text file", file);
			rc = -EINVAL;
		} else {
			rc = parse_credentials(text, file, profile, ret, err, errlen);
		}
	}
	if (text) {
		memset(text, 0, len);
		free(text);
	}
	if (rc)
		s3__credentials_wipe(ret);
	return rc;
}

/* ---- targets, keys, URLs ---- */

static int chars_in(const char *s, const char *extra)
{
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return 0;
	}
	return 1;
}

int s3__check_target(const struct s3_target *t, char *err, size_t errlen)
{
	size_t blen = strlen(t->bucket);

	if (!*t->region || strlen(t->region) > 64 ||
	    !chars_in(t->region, "-_ABCDEFGHIJKLMNOPQRSTUVWXYZ")) {
		errbuf__set(
		    err, errlen,
		    "upload.s3.region: expected letters, digits, '-' and '_' (like us-east-1), "
		    "got \"%.64s\"",
		    t->region);
		return -EINVAL;
	}
	/* S3's rules: 3..63 lowercase letters, digits, '.', '-'; old buckets and other stores
	 * also take capitals and '_', which work in path-style requests only */
	if (!blen || blen > 255 ||
	    !chars_in(t->bucket, t->path_style ? ".-_ABCDEFGHIJKLMNOPQRSTUVWXYZ" : ".-") ||
	    t->bucket[0] == '.' || t->bucket[0] == '-') {
		errbuf__set(err, errlen,
			    "upload.s3.bucket: \"%.64s\" cannot be used as a bucket name%s",
			    t->bucket, t->path_style ? "" : " in a host name (path_style: false)");
		return -EINVAL;
	}
	if (strpbrk(t->endpoint, "?#")) {
		errbuf__set(err, errlen,
			    "upload.s3.endpoint: a query or fragment is not supported");
		return -EINVAL;
	}
	if (t->ca_file && *t->ca_file) {
		BIO *bio = BIO_new_file(t->ca_file, "r");
		X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

		if (!x) {
			errbuf__set(err, errlen, "upload.s3.ca_file: %s: %s", t->ca_file,
				    bio ? "no PEM certificate in it"
					: strerror(errno ? errno : EIO));
			BIO_free(bio);
			return -EINVAL;
		}
		X509_free(x);
		BIO_free(bio);
	}
	return 0;
}

int s3__object_key(const char *prefix, const char *host, int64_t start_s, const char *mode,
		   char *buf, size_t size)
{
	time_t t = (time_t)start_s;
	size_t plen;
	struct tm tm;
	int n;

	while (*prefix == '/')
		prefix++;
	plen = strlen(prefix);
	while (plen && prefix[plen - 1] == '/')
		plen--;
	if (!*host || !*mode || !gmtime_r(&t, &tm) || tm.tm_year < 0 || tm.tm_year > 8099)
		return -EINVAL;
	n = snprintf(buf, size, "%.*s%s%s/%04d/%02d/%02d/%02d%02d%02dZ-%s.folded.gz", (int)plen,
		     prefix, plen ? "/" : "", host, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		     tm.tm_hour, tm.tm_min, tm.tm_sec, mode);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int s3__object_url(const struct s3_target *t, const char *key, char *buf, size_t size)
{
	const char *rest, *slash;
	size_t scheme_len, auth_len, path_len, off;
	int n;

	if (!strncmp(t->endpoint, "https://", 8))
		scheme_len = 8;
	else if (!strncmp(t->endpoint, "http://", 7))
		scheme_len = 7;
	else
		return -EINVAL;
	rest = t->endpoint + scheme_len;
	slash = strchr(rest, '/');
	auth_len = slash ? (size_t)(slash - rest) : strlen(rest);
	path_len = slash ? strlen(slash) : 0;
	while (path_len && slash[path_len - 1] == '/')
		path_len--;
	if (!auth_len)
		return -EINVAL;
	if (t->path_style)
		n = snprintf(buf, size, "%.*s%.*s%.*s/%s/", (int)scheme_len, t->endpoint,
			     (int)auth_len, rest, (int)path_len, slash ? slash : "", t->bucket);
	else
		n = snprintf(buf, size, "%.*s%s.%.*s%.*s/", (int)scheme_len, t->endpoint, t->bucket,
			     (int)auth_len, rest, (int)path_len, slash ? slash : "");
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	off = (size_t)n;
	for (const unsigned char *k = (const unsigned char *)key; *k; k++) {
		if (off + 4 > size)
			return -ENAMETOOLONG;
		if (unreserved(*k) || *k == '/')
			buf[off++] = (char)*k;
		else
			off += (size_t)snprintf(buf + off, 4, "%%%02X", *k);
	}
	buf[off] = '\0';
	return 0;
}

/* ---- headers, hashes ---- */

static int header_value_ok(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return 0;
	}
	return 1;
}

static struct curl_slist *append(struct curl_slist *l, int *failed, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static struct curl_slist *append(struct curl_slist *l, int *failed, const char *fmt, ...)
{
	char line[8192];
	struct curl_slist *n;
	va_list ap;
	int len;

	if (*failed)
		return l;
	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(line) || !header_value_ok(line)) {
		*failed = 1;
		return l;
	}
	n = curl_slist_append(l, line);
	if (!n) {
		*failed = 1;
		return l;
	}
	return n;
}

struct curl_slist *s3__headers(const struct s3_object *o, const char *payload_sha256_hex,
			       const char *session_token)
{
	struct curl_slist *l = NULL;
	int failed = 0;

	l = append(l, &failed, "x-amz-content-sha256: %s", payload_sha256_hex);
	l = append(l, &failed, "Content-Type: %s", o->content_type);
	if (o->content_encoding)
		l = append(l, &failed, "Content-Encoding: %s", o->content_encoding);
	for (size_t i = 0; i < o->n_meta; i++) {
		if (!*o->meta[i].name || !chars_in(o->meta[i].name, "-"))
			failed = 1;
		l = append(l, &failed, "x-amz-meta-%s: %s", o->meta[i].name, o->meta[i].value);
	}
	if (session_token && *session_token)
		l = append(l, &failed, "x-amz-security-token: %s", session_token);
	if (failed) {
		curl_slist_free_all(l);
		return NULL;
	}
	return l;
}

int s3__sha256_hex(const void *data, size_t len, char ret_hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) || md_len != 32)
		return -EIO;
	for (unsigned i = 0; i < 32; i++)
		snprintf(ret_hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* ---- errors ---- */

enum s3_status s3__classify(long http_status, const char *code)
{
	if (http_status >= 200 && http_status < 300)
		return S3_OK;
	if (http_status >= 500 || http_status == 408 || http_status == 429 ||
	    !strcmp(code, "SlowDown") || !strcmp(code, "RequestTimeout") ||
	    !strcmp(code, "InternalError") || !strcmp(code, "ServiceUnavailable"))
		return S3_ERR_SERVER;
	return S3_ERR_REFUSED;
}

/* Decodes XML text [s, e) into out with its five entities; sanitize makes it one line of
 * ASCII (for messages). Returns 0, or -EINVAL (not sanitizing: a control character) or
 * -ENAMETOOLONG (does not fit). */
static int xml_decode(const char *s, const char *e, char *out, size_t size, int sanitize)
{
	size_t o = 0;

	while (s < e && o + 1 < size) {
		static const struct {
			const char *ent;
			char c;
		} ents[] = {{"&amp;", '&'},
			    {"&lt;", '<'},
			    {"&gt;", '>'},
			    {"&quot;", '"'},
			    {"&apos;", '\''}};
		char c = *s++;

		if (c == '&') {
			for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
				size_t n = strlen(ents[i].ent) - 1;

				if ((size_t)(e - s) >= n && !memcmp(s, ents[i].ent + 1, n)) {
					c = ents[i].c;
					s += n;
					break;
				}
			}
		}
		if (!sanitize && ((unsigned char)c < ' ' || c == 0x7f))
			return -EINVAL;
		if (c == '\n' || c == '\r' || c == '\t')
			c = ' ';
		else if ((unsigned char)c < ' ' || (unsigned char)c >= 0x7f)
			c = '?'; /* keep log lines one line of ASCII */
		out[o++] = c;
	}
	out[o] = '\0';
	return s < e ? -ENAMETOOLONG : 0;
}

/* Finds the next <tag>...</tag> in body[*pos, len), moving *pos past it. Returns pointers to
 * its text in *ret_s, *ret_e, or -ENOENT. */
static int xml_find(const char *body, size_t len, size_t *pos, const char *tag, const char **ret_s,
		    const char **ret_e)
{
	char open[40], close[40];
	const char *s, *e, *end = body + len;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	if (*pos >= len)
		return -ENOENT;
	s = memmem(body + *pos, len - *pos, open, strlen(open));
	if (!s)
		return -ENOENT;
	s += strlen(open);
	e = memmem(s, (size_t)(end - s), close, strlen(close));
	if (!e)
		return -ENOENT;
	*pos = (size_t)(e - body) + strlen(close);
	*ret_s = s;
	*ret_e = e;
	return 0;
}

/* Copies the text of <tag>...</tag> (first occurrence), entities decoded, as one line. */
static int xml_text(const char *body, size_t len, const char *tag, char *out, size_t size)
{
	const char *s, *e;
	size_t pos = 0;

	if (!size || xml_find(body, len, &pos, tag, &s, &e))
		return -ENOENT;
	xml_decode(s, e, out, size, 1);
	return 0;
}

int s3__list_next(const char *body, size_t len, size_t *pos, const char *tag, char *out,
		  size_t size)
{
	const char *s, *e;
	int ret;

	while (!(ret = xml_find(body, len, pos, tag, &s, &e))) {
		/* a <Prefix> of the request itself sits outside <CommonPrefixes>: the caller asks
		 * for Key or Prefix and filters; a value that cannot be a key is skipped */
		if (!xml_decode(s, e, out, size, 0))
			return 0;
	}
	return ret;
}

int s3__list_truncated(const char *body, size_t len, char *token, size_t token_size)
{
	char flag[8] = "";

	token[0] = '\0';
	if (xml_text(body, len, "IsTruncated", flag, sizeof(flag)) || strcmp(flag, "true"))
		return 0;
	return xml_text(body, len, "NextContinuationToken", token, token_size) ? -EINVAL : 1;
}

int s3__parse_error(const char *body, size_t len, char *code, size_t code_size, char *message,
		    size_t message_size)
{
	if (code_size)
		code[0] = '\0';
	if (message_size)
		message[0] = '\0';
	if (!body || xml_text(body, len, "Code", code, code_size)) {
		if (code_size)
			code[0] = '\0';
		return -ENOENT;
	}
	if (xml_text(body, len, "Message", message, message_size) && message_size)
		message[0] = '\0';
	return 0;
}

static void replace_all(char *text, size_t size, const char *what)
{
	static const char red[] = "[redacted]";
	size_t wlen = strlen(what), rlen = sizeof(red) - 1;
	char *p = text;

	if (!wlen)
		return;
	while ((p = strstr(p, what))) {
		size_t tail = strlen(p + wlen);

		if ((size_t)(p - text) + rlen + tail + 1 > size) {
			memset(p, '*', wlen); /* no room to say it: mask in place */
			p += wlen;
			continue;
		}
		memmove(p + rlen, p + wlen, tail + 1);
		memcpy(p, red, rlen);
		p += rlen; /* on past it: what may occur in "[redacted]" itself */
	}
}

void s3__scrub(char *text, size_t size, const struct s3_credentials *c)
{
	char *p = text;

	if (c) {
		replace_all(text, size, c->secret_access_key);
		replace_all(text, size, c->session_token);
		replace_all(text, size, c->access_key_id);
	}
	/* "scheme://user:password@host": the user info goes */
	while ((p = strstr(p, "://"))) {
		char *host = p + 3, *at, *stop;

		stop = host + strcspn(host, "/ \t\"'<>");
		at = memchr(host, '@', (size_t)(stop - host));
		if (at && (size_t)(at - host) >= 1) {
			static const char red[] = "[redacted]";
			size_t tail = strlen(at);

			if ((size_t)(host - text) + sizeof(red) - 1 + tail + 1 <= size) {
				memmove(host + sizeof(red) - 1, at, tail + 1);
				memcpy(host, red, sizeof(red) - 1);
			} else {
				memset(host, '*', (size_t)(at - host));
			}
		}
		p = host;
	}
}

void s3__describe(const struct s3_result *r, char *buf, size_t size)
{
	static const char *const what[S3_STATUS_MAX] = {
	    [S3_ERR_NETWORK] = "connection failed",
	    [S3_ERR_TIMEOUT] = "timed out",
	    [S3_ERR_TLS] = "TLS failed",
	    [S3_ERR_CREDENTIALS] = "no usable credentials",
	    [S3_ERR_LOCAL] = "request not made",
	    [S3_ERR_ABORTED] = "stopped",
	};

	if (r->http_status) {
		snprintf(buf, size, "HTTP %ld%s%s%s%s", r->http_status, r->code[0] ? " " : "",
			 r->code, r->message[0] ? ": " : "", r->message);
		return;
	}
	snprintf(buf, size, "%s%s%s", what[r->status] ? what[r->status] : "failed",
		 r->detail[0] ? ": " : "", r->detail);
}

/* ---- the client ---- */

struct s3_client {
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
	char *resp;
	size_t resp_len, resp_max;
	int resp_truncated;
	const uint8_t *body;
	size_t body_len, body_off;
	int (*abort)(void *);
	void *abort_ctx;
	const char *ca_file;
};

int s3__global_init(void)
{
	const curl_version_info_data *vi;

	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -ENOMEM;
	vi = curl_version_info(CURLVERSION_NOW);
	/* 7.87.0 is the first to sign x-amz-content-sha256 as the payload hash */
	if (!vi || vi->version_num < 0x075700) {
		curl_global_cleanup();
		return -ENOTSUP;
	}
	return 0;
}

void s3__global_cleanup(void)
{
	curl_global_cleanup();
}

struct s3_client *s3_client__new(void)
{
	struct s3_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return NULL;
	}
	return c;
}

void s3_client__free(struct s3_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c->resp);
	free(c);
}

static size_t on_read(char *buf, size_t size, size_t n, void *ctx)
{
	struct s3_client *c = ctx;
	size_t want = size * n, left = c->body_len - c->body_off;

	if (want > left)
		want = left;
	memcpy(buf, c->body + c->body_off, want);
	c->body_off += want;
	return want;
}

/* A retried request (after a redirect or reused connection closing) starts over. */
static int on_seek(void *ctx, curl_off_t off, int origin)
{
	struct s3_client *c = ctx;

	if (origin != SEEK_SET || off < 0 || (size_t)off > c->body_len)
		return CURL_SEEKFUNC_FAIL;
	c->body_off = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *data, size_t size, size_t n, void *ctx)
{
	struct s3_client *c = ctx;
	size_t len = size * n, keep = len;
	char *grown;

	if (c->resp_len + keep > c->resp_max) {
		keep = c->resp_max - c->resp_len; /* an error's head is enough */
		c->resp_truncated = 1;
	}
	if (keep) {
		grown = realloc(c->resp, c->resp_len + keep + 1);
		if (!grown) {
			c->resp_truncated = 1; /* a GET's body is then incomplete: not OK */
			return len;
		}
		memcpy(grown + c->resp_len, data, keep);
		c->resp = grown;
		c->resp_len += keep;
		c->resp[c->resp_len] = '\0';
	}
	return len;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct s3_client *c = ctx;

	return c->abort && c->abort(c->abort_ctx);
}

/* Trusts the extra CA bundle besides the system's (CURLOPT_CAINFO would replace them). */
static CURLcode on_ssl_ctx(CURL *curl, void *ssl_ctx, void *ctx)
{
	struct s3_client *c = ctx;
	X509_STORE *store = SSL_CTX_get_cert_store(ssl_ctx);

	if (!store || !X509_STORE_load_file(store, c->ca_file))
		return CURLE_SSL_CACERT_BADFILE;
	return CURLE_OK;
}

static enum s3_status classify_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return S3_ERR_TIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return S3_ERR_TLS;
	case CURLE_ABORTED_BY_CALLBACK:
		return S3_ERR_ABORTED;
	case CURLE_OUT_OF_MEMORY:
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_NOT_BUILT_IN:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
		return S3_ERR_LOCAL;
	default:
		return S3_ERR_NETWORK;
	}
}

/* Performs one signed request to url: a PUT of c->body when upload, else a GET whose answer
 * (up to resp_max bytes) is left in c->resp. Fills ret; returns 0. */
static int request(struct s3_client *c, const struct s3_target *t,
		   const struct s3_credentials *cred, const char *url, struct curl_slist *headers,
		   int upload, size_t resp_max, int (*abort)(void *ctx), void *ctx,
		   struct s3_result *ret)
{
	char sigv4[128], ua[64];
	CURL *h = c->curl;
	CURLcode rc;

	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", t->region);
	snprintf(ua, sizeof(ua), "pyprof-agent/%s", PYPROF_VERSION);
	free(c->resp);
	c->resp = NULL;
	c->resp_len = 0;
	c->resp_max = resp_max;
	c->resp_truncated = 0;
	c->errbuf[0] = '\0';
	c->body_off = 0;
	c->abort = abort;
	c->abort_ctx = ctx;
	c->ca_file = t->ca_file;

	curl_easy_reset(h); /* keeps the connection cache */
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_URL, url);
	if (upload) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->body_len);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, c);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, c);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_USERAGENT, ua);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
	curl_easy_setopt(h, CURLOPT_USERNAME, cred->access_key_id);
	curl_easy_setopt(h, CURLOPT_PASSWORD, cred->secret_access_key);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* never send the keys elsewhere */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_BYTES);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_SECONDS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, TOTAL_TIMEOUT_S);
	if (t->ca_file && *t->ca_file) {
		rc = curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, c);
		if (rc != CURLE_OK) {
			ret->status = S3_ERR_TLS;
			snprintf(ret->detail, sizeof(ret->detail),
				 "upload.s3.ca_file needs libcurl built with OpenSSL");
			return 0;
		}
	}

	rc = curl_easy_perform(h);
	/* the handle keeps its own copy of the secret: drop it now */
	curl_easy_setopt(h, CURLOPT_PASSWORD, "");
	if (rc != CURLE_OK) {
		ret->status = classify_curl(rc);
		snprintf(ret->detail, sizeof(ret->detail), "%s",
			 c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
		s3__scrub(ret->detail, sizeof(ret->detail), cred);
		return 0;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ret->http_status);
	s3__parse_error(c->resp, c->resp_len, ret->code, sizeof(ret->code), ret->message,
			sizeof(ret->message));
	s3__scrub(ret->code, sizeof(ret->code), cred);
	s3__scrub(ret->message, sizeof(ret->message), cred);
	ret->status = s3__classify(ret->http_status, ret->code);
	return 0;
}

int s3_client__put(struct s3_client *c, const struct s3_target *t,
		   const struct s3_credentials *cred, const struct s3_object *o,
		   int (*abort)(void *ctx), void *ctx, struct s3_result *ret)
{
	char url[4096], sha[65];
	struct curl_slist *headers = NULL;
	int err;

	memset(ret, 0, sizeof(*ret));
	ret->status = S3_ERR_LOCAL;
	err = s3__object_url(t, o->key, url, sizeof(url));
	if (!err)
		err = s3__sha256_hex(o->body, o->len, sha);
	if (err) {
		snprintf(ret->detail, sizeof(ret->detail), "cannot build the request for %s: %s",
			 o->key, strerror(-err));
		return 0;
	}
	headers = s3__headers(o, sha, cred->session_token);
	if (!headers) {
		snprintf(ret->detail, sizeof(ret->detail), "cannot build the headers for %s",
			 o->key);
		return 0;
	}
	c->body = o->body;
	c->body_len = o->len;
	err = request(c, t, cred, url, headers, 1, RESPONSE_MAX_BYTES, abort, ctx, ret);
	curl_slist_free_all(headers);
	return err;
}

int s3_client__get(struct s3_client *c, const struct s3_target *t,
		   const struct s3_credentials *cred, const char *key, const char *query,
		   size_t max_bytes, struct s3_result *ret, char **ret_body, size_t *ret_len)
{
	/* SHA-256 of the empty payload */
	static const char empty_sha[] =
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	char url[8192];
	struct curl_slist *headers = NULL;
	size_t n;
	int failed = 0;

	memset(ret, 0, sizeof(*ret));
	ret->status = S3_ERR_LOCAL;
	*ret_body = NULL;
	*ret_len = 0;
	if (s3__object_url(t, key, url, sizeof(url)) ||
	    (query && (n = strlen(url)) + 1 + strlen(query) >= sizeof(url))) {
		snprintf(ret->detail, sizeof(ret->detail), "cannot build the request for %s", key);
		return 0;
	}
	if (query)
		snprintf(url + n, sizeof(url) - n, "?%s", query);
	headers = append(headers, &failed, "x-amz-content-sha256: %s", empty_sha);
	if (cred->session_token[0])
		headers = append(headers, &failed, "x-amz-security-token: %s", cred->session_token);
	if (failed) {
		curl_slist_free_all(headers);
		snprintf(ret->detail, sizeof(ret->detail), "cannot build the headers for %s", key);
		return 0;
	}
	c->body = NULL;
	c->body_len = 0;
	request(c, t, cred, url, headers, 0, max_bytes, NULL, NULL, ret);
	curl_slist_free_all(headers);
	if (ret->status == S3_OK && c->resp_truncated) {
		ret->status = S3_ERR_REFUSED;
		snprintf(ret->detail, sizeof(ret->detail), "%s is larger than %zu bytes", key,
			 max_bytes);
	}
	if (ret->status == S3_OK) {
		*ret_body = c->resp;
		*ret_len = c->resp_len;
		c->resp = NULL;
		c->resp_len = 0;
	}
	return 0;
}

void s3__query_encode(const char *s, char *out, size_t size)
{
	size_t o = 0;

	for (; *s && o + 4 < size; s++) {
		if (unreserved((unsigned char)*s))
			out[o++] = *s;
		else
			o += snprintf(out + o, size - o, "%%%02X", (unsigned char)*s);
	}
	out[o] = '\0';
}
