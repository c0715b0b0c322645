// SPDX-License-Identifier: MIT
/* agentctl serve (web.h): libmicrohttpd serves the page (web.html, embedded) and a JSON API over
 * agent/store; the profiles are rendered by the writers agentctl convert and diff use. Every
 * parameter of a request is validated, and the work of one request is bounded by
 * STORE_MAX_WINDOWS windows. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <pthread.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "cmd/web.h"
#include "format/flamegraph.h"
#include "format/json.h"
#include "format/output.h"
#include "profile/diff.h"
#include "store/s3store.h"
#include "store/source.h"
#include "store/store.h"
#include "store/wincache.h"
#include "util/log.h"

#define WEB_DEFAULT_LISTEN "127.0.0.1:8080"
#define WEB_MAX_PARAM	   256	       /* bytes of one query parameter */
#define WEB_MAX_URL	   2048	       /* bytes of a request's path and query */
#define WEB_CONN_MEMORY	   (32 * 1024) /* per connection: headers beyond it are refused */
#define WEB_MAX_CONNS	   32
#define WEB_THREADS	   2 /* concurrent requests: each may merge many windows */
#define WEB_DEFAULT_TOP	   500
#define WEB_MAX_TOP	   10000

/* The page, from web.html, NUL-terminated (the Makefile makes web.o depend on it). */
__asm__(".section .rodata\n"
	".global web_page\n"
	".type web_page, @object\n"
	"web_page:\n"
	".incbin \"agent/cmd/web.html\"\n"
	".byte 0\n"
	".previous\n");
extern const char web_page[];

/* Kept between requests: a day of windows merged a few times over, and totals of a year of
 * 60 s windows; the bytes are an estimate of the merged profiles' memory. */
#define WEB_CACHE_MERGES 16
#define WEB_CACHE_BYTES	 (512UL << 20)
#define WEB_CACHE_TOTALS 600000

struct web {
	const char *dir; /* the store, or the local cache of the S3 one */
	struct wincache *cache;
	struct s3store *s3;	 /* NULL: a directory */
	pthread_mutex_t s3_lock; /* s3store has one connection */
};

/* A response under construction: its body, status and type. */
struct reply {
	char *buf;
	size_t len;
	FILE *f;
	unsigned status;
	const char *type;
	char disposition[STORE_HOST_MAX + 128];
};

static int reply__open(struct reply *r, const char *type)
{
	memset(r, 0, sizeof(*r));
	r->status = MHD_HTTP_OK;
	r->type = type;
	r->f = open_memstream(&r->buf, &r->len);
	return r->f ? 0 : -ENOMEM;
}

/* Drops what was written and makes r a JSON error; the message is logged once, here. */
static void reply__error(struct reply *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply__error(struct reply *r, unsigned status, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("agentctl serve: %u: %s", status, msg);
	if (r->f) {
		fflush(r->f);
		rewind(r->f);
		r->len = 0;
	}
	r->status = status;
	r->type = "application/json";
	r->disposition[0] = '\0';
	if (r->f) {
		fputs("{\"error\":", r->f);
		json__string(r->f, msg);
		fputs("}\n", r->f);
	}
}

static enum MHD_Result reply__send(struct MHD_Connection *c, struct reply *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!r->f || fclose(r->f)) {
		free(r->buf);
		return MHD_NO;
	}
	r->f = NULL;
	resp = MHD_create_response_from_buffer(r->len, r->buf, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(r->buf);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", r->type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	/* nothing the page or a flame graph does may reach beyond this server */
	MHD_add_response_header(resp, "Content-Security-Policy",
				"default-src 'self'; script-src 'self' 'unsafe-inline'; "
				"style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
				"frame-ancestors 'self'");
	if (r->disposition[0])
		MHD_add_response_header(resp, "Content-Disposition", r->disposition);
	ret = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* From S3: fetches what the request needs (host and kind; range NULL: all) into the cache.
 * Returns 0, or fills r with the error. */
static int web_sync(struct web *w, struct reply *r, const char *host, enum profile_kind kind,
		    const struct store_range *range)
{
	char err[1024] = "";
	size_t n = 0;
	int ret;

	if (!w->s3)
		return 0;
	pthread_mutex_lock(&w->s3_lock);
	ret = s3store__sync(w->s3, host, kind, range, w->dir, &n, err, sizeof(err));
	pthread_mutex_unlock(&w->s3_lock);
	if (ret)
		reply__error(r, ret == -E2BIG ? MHD_HTTP_CONTENT_TOO_LARGE : MHD_HTTP_BAD_GATEWAY,
			     "the store: %s", err);
	else if (n)
		log_info("agentctl serve: %zu windows of %s fetched", n, host);
	return ret;
}

/* A query parameter, NULL when absent; -E2BIG through *ret_err when too long. */
static const char *param(struct MHD_Connection *c, const char *name, int *ret_err)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);

	if (v && strnlen(v, WEB_MAX_PARAM + 1) > WEB_MAX_PARAM)
		*ret_err = -E2BIG;
	return v;
}

/* What most requests name: a host, a kind and (want_range) a range. Returns 0, or fills r with
 * the error and returns -EINVAL. */
static int read_selection(struct MHD_Connection *c, struct reply *r, const char *range_name,
			  const char **ret_host, enum profile_kind *ret_kind,
			  struct store_range *ret_range)
{
	int big = 0;
	const char *host = param(c, "host", &big), *kind = param(c, "kind", &big);
	const char *range = range_name ? param(c, range_name, &big) : NULL;

	if (big) {
		reply__error(r, MHD_HTTP_CONTENT_TOO_LARGE, "a parameter is longer than %d bytes",
			     WEB_MAX_PARAM);
		return -EINVAL;
	}
	if (!host || !store__host_valid(host)) {
		reply__error(r, MHD_HTTP_BAD_REQUEST,
			     "host: expected a host name ([A-Za-z0-9._-], not starting with '.')");
		return -EINVAL;
	}
	*ret_kind = PROFILE_CPU;
	if (kind && profile__parse_kind(kind, ret_kind)) {
		reply__error(r, MHD_HTTP_BAD_REQUEST, "kind: expected cpu, offcpu or wall");
		return -EINVAL;
	}
	if (range_name && (!range || store__parse_range(range, ret_range))) {
		reply__error(r, MHD_HTTP_BAD_REQUEST,
			     "%s: expected START/DURATION as 2026-12-01T10:00Z/1h (s, m, h, d; at "
			     "most a year)",
			     range_name);
		return -EINVAL;
	}
	*ret_host = host;
	return 0;
}

/* The windows of a selection, merged (from the cache when it holds them). Returns the merge
 * (wincache__put it), or NULL with r filled with the error. */
static const struct wincache_merge *load_selection(struct web *w, struct reply *r, const char *host,
						   enum profile_kind kind,
						   const struct store_range *range)
{
	const struct wincache_merge *m = NULL;
	struct store_window *ws = NULL;
	char rs[64], err[768] = "";
	size_t n = 0, dlen = strlen(w->dir);
	int ret;

	store__format_range(range, rs, sizeof(rs));
	if (web_sync(w, r, host, kind, range))
		return NULL;
	ret = store__list_windows(w->dir, host, kind, range, STORE_MAX_WINDOWS, &ws, &n);
	if (ret == -E2BIG) {
		reply__error(r, MHD_HTTP_CONTENT_TOO_LARGE,
			     "%s: more than %d windows of %s; choose a shorter range", rs,
			     STORE_MAX_WINDOWS, host);
	} else if (ret) {
		reply__error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read the store: %s",
			     strerror(-ret));
	} else if (!n) {
		reply__error(r, MHD_HTTP_NOT_FOUND, "no %s windows of host %s in %s",
			     profile__kind_name(kind), host, rs);
	} else {
		m = wincache__merge(w->cache, w->dir, ws, n, err, sizeof(err), &ret);
		/* the page is told the window's name, not where the store lives */
		if (!m)
			reply__error(
			    r, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read window %s",
			    !strncmp(err, w->dir, dlen) && err[dlen] == '/' ? err + dlen + 1 : err);
	}
	free(ws);
	return m;
}

static void json_time(FILE *f, int64_t s)
{
	struct store_range one = {s, s + 1};
	char buf[64];

	store__format_range(&one, buf, sizeof(buf));
	*strchr(buf, '/') = '\0';
	json__string(f, buf);
}

/* From S3: the hosts' folders; what is in them is known once a host is asked for. */
static void api_hosts_s3(struct web *w, struct reply *r)
{
	char(*names)[STORE_HOST_MAX + 1] = NULL, err[1024] = "";
	size_t n = 0;
	int ret;

	pthread_mutex_lock(&w->s3_lock);
	ret = s3store__list_hosts(w->s3, 4096, &names, &n, err, sizeof(err));
	pthread_mutex_unlock(&w->s3_lock);
	if (ret) {
		reply__error(r, MHD_HTTP_BAD_GATEWAY, "the store: %s", err);
		return;
	}
	fputs("{\"hosts\":[", r->f);
	for (size_t i = 0; i < n; i++) {
		fprintf(r->f, "%s{\"name\":", i ? "," : "");
		json__string(r->f, names[i]);
		fputs(",\"files\":null,\"first\":null,\"last\":null}", r->f);
	}
	fputs("]}\n", r->f);
	free(names);
}

static void api_hosts(struct web *w, struct reply *r)
{
	struct store_host *h = NULL;
	size_t n = 0;
	int ret;

	if (w->s3) {
		api_hosts_s3(w, r);
		return;
	}
	ret = store__list_hosts(w->dir, 4096, &h, &n);
	if (ret) {
		reply__error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot list hosts: %s",
			     strerror(-ret));
		return;
	}
	fputs("{\"hosts\":[", r->f);
	for (size_t i = 0; i < n; i++) {
		fprintf(r->f, "%s{\"name\":", i ? "," : "");
		json__string(r->f, h[i].name);
		fprintf(r->f, ",\"files\":%zu,\"first\":", h[i].windows);
		json_time(r->f, h[i].first_s);
		fputs(",\"last\":", r->f);
		json_time(r->f, h[i].last_s);
		fputs("}", r->f);
	}
	fputs("]}\n", r->f);
	free(h);
}

/* Every window of a host and kind (or in a range), with its samples: the timeline. */
static void api_windows(struct web *w, struct MHD_Connection *c, struct reply *r)
{
	struct store_range range, *rp = NULL;
	struct store_window *ws = NULL;
	enum profile_kind kind;
	const char *host;
	size_t n = 0;
	int ret;

	if (read_selection(c, r, NULL, &host, &kind, NULL))
		return;
	if (MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "range")) {
		if (read_selection(c, r, "range", &host, &kind, &range))
			return;
		rp = &range;
	}
	if (web_sync(w, r, host, kind, rp))
		return;
	ret = store__list_windows(w->dir, host, kind, rp, STORE_MAX_WINDOWS, &ws, &n);
	if (ret) {
		reply__error(
		    r, ret == -E2BIG ? MHD_HTTP_CONTENT_TOO_LARGE : MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "cannot list the windows of %s: %s", host,
		    ret == -E2BIG ? "too many; give a range" : strerror(-ret));
		return;
	}
	fputs("{\"host\":", r->f);
	json__string(r->f, host);
	fprintf(r->f, ",\"kind\":\"%s\",\"windows\":[", profile__kind_name(kind));
	for (size_t i = 0; i < n; i++) {
		uint64_t total = 0;

		ret = wincache__total(w->cache, w->dir, &ws[i], &total);
		fprintf(r->f, "%s{\"start\":", i ? "," : "");
		json_time(r->f, ws[i].start_s);
		fprintf(r->f, ",\"start_s\":%lld,\"name\":", (long long)ws[i].start_s);
		json__string(r->f, ws[i].name);
		if (ret)
			fputs(",\"samples\":null,\"error\":\"unreadable\"}", r->f);
		else
			fprintf(r->f, ",\"samples\":%llu}", (unsigned long long)total);
	}
	fputs("]}\n", r->f);
	free(ws);
}

static int by_total(const void *a, const void *b)
{
	const struct diff_function *x = a, *y = b;

	if (x->base_total != y->base_total)
		return x->base_total > y->base_total ? -1 : 1;
	return strcmp(x->name, y->name);
}

static unsigned long read_top(struct MHD_Connection *c)
{
	const char *t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "top");
	char *end;
	unsigned long v;

	if (!t)
		return WEB_DEFAULT_TOP;
	v = strtoul(t, &end, 10);
	return end == t || *end || !v || t[0] == '-' ? WEB_DEFAULT_TOP
	       : v > WEB_MAX_TOP		     ? WEB_MAX_TOP
						     : v;
}

/* The request's filter (comm, thread, container). Returns 0, or fills r with the error. */
static int read_filter(struct MHD_Connection *c, struct reply *r, struct profile_filter *ret)
{
	int big = 0;

	ret->comm = param(c, "comm", &big);
	ret->thread = param(c, "thread", &big);
	ret->container = param(c, "container", &big);
	if (big) {
		reply__error(r, MHD_HTTP_CONTENT_TOO_LARGE, "a parameter is longer than %d bytes",
			     WEB_MAX_PARAM);
		return -EINVAL;
	}
	return 0;
}

/* The stacks of m that f keeps, in scratch (initialised; freed by the caller), or m's own
 * profile when f keeps everything. NULL, with r filled, when nothing is left. */
static const struct profile *apply_filter(const struct wincache_merge *m,
					  const struct profile_filter *f, struct profile *scratch,
					  struct reply *r)
{
	if (profile_filter__empty(f))
		return &m->p;
	if (profile__filter(&m->p, f, scratch)) {
		reply__error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return NULL;
	}
	if (!scratch->total) {
		reply__error(r, MHD_HTTP_NOT_FOUND, "no stacks of the selection match the filter");
		return NULL;
	}
	return scratch;
}

/* The function table: the diff of a profile with itself gives each function's self and total
 * share by the same rules as agentctl diff (lines aggregated, process and thread frames out). */
static void write_functions(FILE *f, const struct profile *p, unsigned long top)
{
	struct diff d;

	if (diff__compute(p, p, &d)) {
		fputs("[]", f);
		return;
	}
	qsort(d.fns, d.n, sizeof(*d.fns), by_total);
	fputc('[', f);
	for (size_t i = 0; i < d.n && i < top; i++) {
		fprintf(f, "%s{\"name\":", i ? "," : "");
		json__string(f, d.fns[i].name);
		fprintf(f, ",\"self\":%.6f,\"total\":%.6f}", d.fns[i].base_self,
			d.fns[i].base_total);
	}
	fprintf(f, "],\"functions_count\":%zu", d.n);
	diff__free(&d);
}

static void api_profile(struct web *w, struct MHD_Connection *c, struct reply *r)
{
	const char *host, *fmt = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
	enum output_format of = OUTPUT_FORMAT_MAX;
	const struct wincache_merge *m;
	const struct profile *p;
	struct profile_filter filter;
	struct profile scratch;
	struct store_range range;
	struct profile_meta meta;
	enum profile_kind kind;
	char rs[64];

	if (fmt && strcmp(fmt, "json") && output__parse_format(fmt, &of)) {
		reply__error(r, MHD_HTTP_BAD_REQUEST,
			     "format: expected json, folded, pprof, speedscope or svg");
		return;
	}
	if (read_selection(c, r, "range", &host, &kind, &range) || read_filter(c, r, &filter))
		return;
	m = load_selection(w, r, host, kind, &range);
	if (!m)
		return;
	profile__init(&scratch);
	p = apply_filter(m, &filter, &scratch, r);
	if (!p)
		goto out;
	meta = m->meta;
	store__format_range(&range, rs, sizeof(rs));
	if (of == OUTPUT_FORMAT_MAX) {
		fputs("{\"host\":", r->f);
		json__string(r->f, host);
		fprintf(r->f, ",\"kind\":\"%s\",\"range\":", profile__kind_name(kind));
		json__string(r->f, rs);
		fprintf(r->f, ",\"windows\":%zu,\"total\":%llu,\"functions\":", m->windows,
			(unsigned long long)p->total);
		write_functions(r->f, p, read_top(c));
		fputs("}\n", r->f);
		goto out;
	}
	meta.title = NULL;
	r->type = of == OUTPUT_SVG	    ? "image/svg+xml"
		  : of == OUTPUT_SPEEDSCOPE ? "application/json"
		  : of == OUTPUT_PPROF	    ? "application/octet-stream"
					    : "text/plain; charset=utf-8";
	if (MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "download")) {
		char stamp[32];

		snprintf(stamp, sizeof(stamp), "%lld-%llds", (long long)range.start_s,
			 (long long)(range.end_s - range.start_s));
		snprintf(r->disposition, sizeof(r->disposition),
			 "attachment; filename=\"%s_%s_%s%s\"", host, stamp,
			 profile__kind_name(kind), output__extension(of));
	}
	if (output__write(p, &meta, of, r->f))
		reply__error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render %s", fmt);
out:
	profile__free(&scratch);
	wincache__put(w->cache, m);
}

static void write_ranked(FILE *f, const struct diff *d, enum diff_order order, size_t top,
			 const struct diff_function **sorted)
{
	size_t shown = diff__rank(d, order, top, sorted);

	fputc('[', f);
	for (size_t i = 0; i < shown; i++) {
		const struct diff_function *fn = sorted[i];

		fprintf(f, "%s{\"name\":", i ? "," : "");
		json__string(f, fn->name);
		fprintf(f,
			",\"base_total\":%.6f,\"new_total\":%.6f,\"base_self\":%.6f,"
			"\"new_self\":%.6f,\"total_change\":%.6f,\"self_change\":%.6f}",
			fn->base_total, fn->new_total, fn->base_self, fn->new_self,
			fn->new_total - fn->base_total, fn->new_self - fn->base_self);
	}
	fputc(']', f);
}

static void api_compare(struct web *w, struct MHD_Connection *c, struct reply *r)
{
	const char *host, *new_host,
	    *fmt = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
	const struct diff_function **sorted = NULL;
	const struct wincache_merge *base = NULL, *new = NULL;
	const struct profile *bp = NULL, *np = NULL;
	struct profile base_scratch, new_scratch;
	struct profile_filter filter;
	struct store_range base_r, new_r;
	struct profile_meta new_meta;
	enum profile_kind kind;
	struct diff d = {0};
	int svg = fmt && !strcmp(fmt, "svg");

	if (fmt && !svg && strcmp(fmt, "json")) {
		reply__error(r, MHD_HTTP_BAD_REQUEST, "format: expected json or svg");
		return;
	}
	if (read_selection(c, r, "base", &host, &kind, &base_r) ||
	    read_selection(c, r, "new", &host, &kind, &new_r) || read_filter(c, r, &filter))
		return;
	/* two ranges of a host, or two hosts (new_host) */
	new_host = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "new_host");
	if (!new_host || !*new_host) {
		new_host = host;
	} else if (!store__host_valid(new_host)) {
		reply__error(r, MHD_HTTP_BAD_REQUEST,
			     "new_host: expected a host name "
			     "([A-Za-z0-9._-], not starting with '.')");
		return;
	}
	profile__init(&base_scratch);
	profile__init(&new_scratch);
	base = load_selection(w, r, host, kind, &base_r);
	new = base ? load_selection(w, r, new_host, kind, &new_r) : NULL;
	bp = new ? apply_filter(base, &filter, &base_scratch, r) : NULL;
	np = bp ? apply_filter(new, &filter, &new_scratch, r) : NULL;
	if (!np)
		goto out;
	if (svg) {
		r->type = "image/svg+xml";
		new_meta = new->meta;
		new_meta.title = NULL;
		if (flamegraph__write_diff(bp, np, &new_meta, r->f))
			reply__error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render the diff");
		goto out;
	}
	if (diff__compute(bp, np, &d) || !(sorted = calloc(d.n ? d.n : 1, sizeof(*sorted)))) {
		reply__error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot compare: %s",
			     d.base_weight && d.new_weight ? "out of memory" : "no samples");
		goto out;
	}
	fprintf(r->f,
		"{\"kind\":\"%s\",\"base\":{\"windows\":%zu,\"total\":%llu},"
		"\"new\":{\"windows\":%zu,\"total\":%llu},\"total_grew\":",
		profile__kind_name(kind), base->windows, (unsigned long long)d.base_weight,
		new->windows, (unsigned long long)d.new_weight);
	write_ranked(r->f, &d, DIFF_TOTAL_GREW, read_top(c), sorted);
	fputs(",\"total_shrank\":", r->f);
	write_ranked(r->f, &d, DIFF_TOTAL_SHRANK, read_top(c), sorted);
	fputs("}\n", r->f);
out:
	free(sorted);
	diff__free(&d);
	profile__free(&base_scratch);
	profile__free(&new_scratch);
	wincache__put(w->cache, base);
	wincache__put(w->cache, new);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	static int first_call, had_body;
	struct web *w = cls;
	struct reply r;

	/* the first call is for the headers alone; a body of any size is refused (read-only) */
	if (!*con_cls) {
		*con_cls = &first_call;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		*con_cls = &had_body;
		return MHD_YES;
	}
	if (reply__open(&r, "application/json"))
		return MHD_NO;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		reply__error(&r, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only: GET only");
	else if (*con_cls == &had_body)
		reply__error(&r, MHD_HTTP_CONTENT_TOO_LARGE, "a request has no body here");
	else if (strlen(url) > WEB_MAX_URL)
		reply__error(&r, MHD_HTTP_URI_TOO_LONG, "request too long");
	else if (!strcmp(url, "/")) {
		r.type = "text/html; charset=utf-8";
		fputs(web_page, r.f);
	} else if (!strcmp(url, "/api/hosts"))
		api_hosts(w, &r);
	else if (!strcmp(url, "/api/windows"))
		api_windows(w, c, &r);
	else if (!strcmp(url, "/api/profile"))
		api_profile(w, c, &r);
	else if (!strcmp(url, "/api/compare"))
		api_compare(w, c, &r);
	else
		reply__error(&r, MHD_HTTP_NOT_FOUND, "no such page");
	return reply__send(c, &r);
}

/* HOST:PORT, numeric (no name lookups), IPv6 in brackets, into ret. Returns 0 or -EINVAL. */
static int parse_listen(const char *s, struct sockaddr_storage *ret, int *ret_loopback)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
				 .ai_socktype = SOCK_STREAM},
			*ai = NULL;
	const char *colon = strrchr(s, ':');
	char host[64];
	size_t hlen;

	if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    atoi(colon + 1) > 65535)
		return -EINVAL;
	hlen = colon - s;
	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		s++;
		hlen -= 2;
	}
	if (!hlen || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &ai) || !ai)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	memcpy(ret, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (ret->ss_family == AF_INET)
		*ret_loopback = (ntohl(((struct sockaddr_in *)ret)->sin_addr.s_addr) >> 24) == 127;
	else
		*ret_loopback = !memcmp(&((struct sockaddr_in6 *)ret)->sin6_addr, &in6addr_loopback,
					sizeof(in6addr_loopback));
	return 0;
}

int web__cmd_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"from", required_argument, NULL, 'F'},
	    {"listen", required_argument, NULL, 'l'},
	    {"cache", required_argument, NULL, 'c'},
	    {"config", required_argument, NULL, 'C'},
	    {},
	};
	const char *listen = WEB_DEFAULT_LISTEN, *from = NULL, *cache = NULL, *config = NULL;
	struct store_source src;
	struct web w = {0};
	struct sockaddr_storage addr;
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	char shown[INET6_ADDRSTRLEN + 2] = "[";
	sigset_t stop;
	int c, loopback, sig;

	while ((c = getopt_long(argc, argv, "F:l:c:C:", longopts, NULL)) != -1) {
		if (c == 'F')
			from = optarg;
		else if (c == 'C')
			config = optarg;
		else if (c == 'l')
			listen = optarg;
		else if (c == 'c')
			cache = optarg;
		else
			goto usage;
	}
	if (optind != argc || (!from && !config))
		goto usage;
	if (parse_listen(listen, &addr, &loopback)) {
		fprintf(stderr,
			"agentctl serve: --listen: expected ADDRESS:PORT (numeric, IPv6 in "
			"brackets), got '%s'\n",
			listen);
		return 2;
	}
	if (store_source__open(&src, "agentctl serve", from, config, cache))
		return 1;
	w.dir = src.dir;
	w.s3 = src.s3;
	if (w.s3)
		pthread_mutex_init(&w.s3_lock, NULL);
	if (!loopback)
		log_warn("agentctl serve: listening on %s, beyond loopback: there is no "
			 "authentication, anyone who can reach it reads every stored profile",
			 listen);
	w.cache = wincache__new(WEB_CACHE_MERGES, WEB_CACHE_BYTES, WEB_CACHE_TOTALS);
	if (!w.cache) {
		log_error("agentctl serve: out of memory");
		store_source__close(&src);
		return 1;
	}
	/* the server's threads inherit the mask: the signals come to sigwait below */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
				 (addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
			     0, NULL, NULL, handle, &w, MHD_OPTION_SOCK_ADDR, &addr,
			     MHD_OPTION_THREAD_POOL_SIZE, (unsigned)WEB_THREADS,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_MAX_CONNS,
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)WEB_CONN_MEMORY,
			     MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
	if (!d) {
		log_error("agentctl serve: cannot listen on %s: %s", listen, strerror(errno));
		wincache__free(w.cache);
		store_source__close(&src);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (addr.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&addr)->sin6_addr, shown + 1,
			  sizeof(shown) - 2);
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&addr)->sin_addr, shown, sizeof(shown));
	if (addr.ss_family == AF_INET6)
		strcat(shown, "]");
	fprintf(stderr, "agentctl serve: serving %s read-only on http://%s:%u/\n", src.from, shown,
		info ? info->port : 0);
	do {
		if (sigwait(&stop, &sig))
			break;
	} while (sig != SIGINT && sig != SIGTERM);
	MHD_stop_daemon(d);
	wincache__free(w.cache);
	store_source__close(&src);
	return 0;
usage:
	fprintf(
	    stderr,
	    "agentctl serve: usage: agentctl serve --from DIR|s3://BUCKET/PREFIX/ [--config FILE] "
	    "[--listen ADDRESS:PORT] [--cache DIR]\n"
	    "       --config: S3 settings (and, without --from, bucket and prefix) from the "
	    "daemon's config file's upload.s3\n");
	return 2;
}
