// SPDX-License-Identifier: MIT
/* Stored windows read back from the daemon's output directory (store.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "format/input.h"
#include "store/store.h"
#include "util/text.h"

#define STAMP_LEN 16 /* YYYYmmddTHHMMSSZ */

/* Extensions of the window files that hold a whole profile, most preferred first. */
static const char *const window_exts[] = {".folded", ".folded.gz", ".pb.gz"};

static int digits(const char *s, size_t n, int *ret)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return 0;
}

/* Fields to seconds, refusing what timegm would silently normalise (Feb 30, 25:00). */
static int civil_time(int y, int mo, int d, int h, int mi, int s, int64_t *ret_s)
{
	struct tm tm = {.tm_year = y - 1900,
			.tm_mon = mo - 1,
			.tm_mday = d,
			.tm_hour = h,
			.tm_min = mi,
			.tm_sec = s};
	time_t t;

	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    s > 59)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
		return -EINVAL;
	*ret_s = (int64_t)t;
	return 0;
}

int store__parse_time(const char *s, size_t len, int64_t *ret_s)
{
	int y, mo, d, h, mi, sec = 0;

	/* YYYY-MM-DDTHH:MMZ (17) or YYYY-MM-DDTHH:MM:SSZ (20) */
	if ((len != 17 && len != 20) || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[len - 1] != 'Z')
		return -EINVAL;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi))
		return -EINVAL;
	if (len == 20 && (s[16] != ':' || digits(s + 17, 2, &sec)))
		return -EINVAL;
	return civil_time(y, mo, d, h, mi, sec, ret_s);
}

int store__parse_range(const char *s, struct store_range *ret)
{
	const char *slash = strchr(s, '/');
	static const struct {
		char unit;
		int64_t seconds;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	int64_t start, unit = 0;
	uint64_t n;
	size_t dlen;

	if (!slash || store__parse_time(s, slash - s, &start))
		return -EINVAL;
	dlen = strlen(slash + 1);
	if (dlen < 2)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (slash[dlen] == units[i].unit)
			unit = units[i].seconds;
	if (!unit || text__parse_u64(slash + 1, dlen - 1, STORE_MAX_RANGE_S, &n) || !n ||
	    (int64_t)n * unit > STORE_MAX_RANGE_S)
		return -EINVAL;
	ret->start_s = start;
	ret->end_s = start + (int64_t)n * unit;
	return 0;
}

void store__format_range(const struct store_range *r, char *buf, size_t size)
{
	time_t t = (time_t)r->start_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ/%llds", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (long long)(r->end_s - r->start_s));
}

int store__host_valid(const char *host)
{
	size_t len = strnlen(host, STORE_HOST_MAX + 1);

	return len && len <= STORE_HOST_MAX && host[0] != '.' && host[0] != '-' &&
	       strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
		   len;
}

/* The index in window_exts of name's extension, or -1. */
static int window_ext(const char *name, size_t len, size_t *ret_ext_len)
{
	for (size_t i = 0; i < sizeof(window_exts) / sizeof(window_exts[0]); i++) {
		size_t e = strlen(window_exts[i]);

		if (len > e && !memcmp(name + len - e, window_exts[i], e)) {
			*ret_ext_len = e;
			return (int)i;
		}
	}
	return -1;
}

int store__parse_name(const char *name, char *host, struct store_window *ret)
{
	size_t len = strnlen(name, sizeof(ret->name)), elen, klen, hlen;
	const char *kind, *stamp;
	int y, mo, d, h, mi, s;
	char kbuf[8];

	if (len >= sizeof(ret->name) || window_ext(name, len, &elen) < 0)
		return -EINVAL;
	len -= elen;
	/* ..._KIND: the kind is the last '_'-separated field; host names may hold '_' */
	kind = memrchr(name, '_', len);
	if (!kind || kind - name < STAMP_LEN + 2)
		return -EINVAL;
	klen = name + len - kind - 1;
	if (!klen || klen >= sizeof(kbuf))
		return -EINVAL;
	memcpy(kbuf, kind + 1, klen);
	kbuf[klen] = '\0';
	if (profile__parse_kind(kbuf, &ret->kind))
		return -EINVAL;
	stamp = kind - STAMP_LEN;
	if (stamp[-1] != '_' || stamp[8] != 'T' || stamp[15] != 'Z' || digits(stamp, 4, &y) ||
	    digits(stamp + 4, 2, &mo) || digits(stamp + 6, 2, &d) || digits(stamp + 9, 2, &h) ||
	    digits(stamp + 11, 2, &mi) || digits(stamp + 13, 2, &s) ||
	    civil_time(y, mo, d, h, mi, s, &ret->start_s))
		return -EINVAL;
	hlen = stamp - 1 - name;
	if (hlen > STORE_HOST_MAX)
		return -EINVAL;
	memcpy(host, name, hlen);
	host[hlen] = '\0';
	if (!store__host_valid(host))
		return -EINVAL;
	memcpy(ret->name, name, len + elen);
	ret->name[len + elen] = '\0';
	return 0;
}

static int host_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_host *)a)->name, ((const struct store_host *)b)->name);
}

int store__list_hosts(const char *dir, size_t max, struct store_host **ret, size_t *ret_n)
{
	struct store_host *hosts = NULL;
	size_t n = 0, cap = 0;
	char host[STORE_HOST_MAX + 1];
	struct store_window w;
	struct dirent *e;
	DIR *dp = opendir(dir);
	int err = 0;

	if (!dp)
		return -errno;
	/* a directory holds few hosts (one per daemon writing there): a linear search will do */
	while ((e = readdir(dp))) {
		size_t i;

		if (store__parse_name(e->d_name, host, &w))
			continue;
		for (i = 0; i < n && strcmp(hosts[i].name, host); i++)
			;
		if (i == n) {
			if (n == max) {
				err = -E2BIG;
				break;
			}
			if (n == cap) {
				size_t c = cap ? cap * 2 : 8;
				struct store_host *bigger = realloc(hosts, c * sizeof(*bigger));

				if (!bigger) {
					err = -ENOMEM;
					break;
				}
				hosts = bigger;
				cap = c;
			}
			memset(&hosts[n], 0, sizeof(hosts[n]));
			strcpy(hosts[n].name, host);
			hosts[n].first_s = hosts[n].last_s = w.start_s;
			n++;
		}
		hosts[i].windows++;
		if (w.start_s < hosts[i].first_s)
			hosts[i].first_s = w.start_s;
		if (w.start_s > hosts[i].last_s)
			hosts[i].last_s = w.start_s;
	}
	closedir(dp);
	if (err) {
		free(hosts);
		return err;
	}
	if (n)
		qsort(hosts, n, sizeof(*hosts), host_cmp);
	*ret = hosts;
	*ret_n = n;
	return 0;
}

/* By start, then kind, then preference of the file's format (window_exts' order). */
static int window_cmp(const void *a, const void *b)
{
	const struct store_window *x = a, *y = b;
	size_t xe = 0, ye = 0;

	if (x->start_s != y->start_s)
		return x->start_s < y->start_s ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return window_ext(x->name, strlen(x->name), &xe) -
	       window_ext(y->name, strlen(y->name), &ye);
}

int store__list_windows(const char *dir, const char *host, enum profile_kind kind,
			const struct store_range *r, size_t max, struct store_window **ret,
			size_t *ret_n)
{
	struct store_window *ws = NULL, w;
	size_t n = 0, cap = 0, kept = 0;
	char name_host[STORE_HOST_MAX + 1];
	struct dirent *e;
	DIR *dp;
	int err = 0;

	if (!store__host_valid(host))
		return -EINVAL;
	dp = opendir(dir);
	if (!dp)
		return -errno;
	while ((e = readdir(dp))) {
		if (store__parse_name(e->d_name, name_host, &w) || strcmp(name_host, host) ||
		    (kind != PROFILE_KIND_MAX && w.kind != kind) ||
		    (r && (w.start_s < r->start_s || w.start_s >= r->end_s)))
			continue;
		/* the same window in several formats counts once, so allow for all of them */
		if (n == max * (sizeof(window_exts) / sizeof(window_exts[0]))) {
			err = -E2BIG;
			break;
		}
		if (n == cap) {
			size_t c = cap ? cap * 2 : 64;
			struct store_window *bigger = realloc(ws, c * sizeof(*bigger));

			if (!bigger) {
				err = -ENOMEM;
				break;
			}
			ws = bigger;
			cap = c;
		}
		ws[n++] = w;
	}
	closedir(dp);
	if (!err && n) {
		qsort(ws, n, sizeof(*ws), window_cmp);
		for (size_t i = 0; i < n; i++)
			if (!kept || ws[i].start_s != ws[kept - 1].start_s ||
			    ws[i].kind != ws[kept - 1].kind)
				ws[kept++] = ws[i];
		if (kept > max)
			err = -E2BIG;
	}
	if (err) {
		free(ws);
		return err;
	}
	*ret = ws;
	*ret_n = kept;
	return 0;
}

/* Loads w[0..n) with opts (their kind set here) into p. */
static int load(const char *dir, const struct store_window *w, size_t n, struct input_opts *opts,
		struct profile *p, struct profile_meta *ret_meta, uint64_t *ret_totals, char *err,
		size_t err_len)
{
	char **paths;
	int ret = 0;

	if (!n) {
		snprintf(err, err_len, "no windows");
		return -ENOENT;
	}
	paths = calloc(n, sizeof(*paths));
	if (!paths)
		return -ENOMEM;
	opts->kind_set = 1;
	opts->kind = w[0].kind;
	for (size_t i = 0; i < n && !ret; i++) {
		if (w[i].kind != w[0].kind) {
			snprintf(err, err_len, "%s: a %s window among %s windows", w[i].name,
				 profile__kind_name(w[i].kind), profile__kind_name(w[0].kind));
			ret = -EINVAL;
		} else if (asprintf(&paths[i], "%s/%s", dir, w[i].name) < 0) {
			paths[i] = NULL;
			ret = -ENOMEM;
		}
	}
	if (!ret)
		ret = input__load_merged_totals((const char *const *)paths, n, opts, p, ret_meta,
						ret_totals, err, err_len);
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return ret;
}

int store__load(const char *dir, const struct store_window *w, size_t n, struct profile *p,
		struct profile_meta *ret_meta, uint64_t *ret_totals, char *err, size_t err_len)
{
	struct input_opts opts = {.from = INPUT_AUTO};

	return load(dir, w, n, &opts, p, ret_meta, ret_totals, err, err_len);
}

int store__total(const char *dir, const struct store_window *w, uint64_t *ret_total, char *err,
		 size_t err_len)
{
	struct input_opts opts = {.from = INPUT_AUTO, .totals_only = 1};
	struct profile_meta meta;
	struct profile p;
	int ret;

	profile__init(&p);
	ret = load(dir, w, 1, &opts, &p, &meta, NULL, err, err_len);
	*ret_total = p.total;
	profile__free(&p);
	return ret;
}
