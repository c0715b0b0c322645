/* SPDX-License-Identifier: MIT */
/* Stored windows, read back: the daemon's output directory (HOST_YYYYmmddTHHMMSSZ_KIND.EXT, one
 * file per host, window and kind), listed by host, selected by a time range, loaded and merged.
 * What `agentctl compare` and `agentctl serve` read. Names, hosts and ranges may come from a
 * request: everything is validated and bounded here. */
#ifndef PYPROF_STORE_H
#define PYPROF_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "profile/profile.h"

/* As the configuration accepts (a DNS name; Kubernetes node names can be that long). */
#define STORE_HOST_MAX 253
/* Windows one selection may hold: a week of 60 s windows, with room to spare. */
#define STORE_MAX_WINDOWS 20000
/* The longest range accepted: a year. */
#define STORE_MAX_RANGE_S (366LL * 86400)

/* [start_s, end_s), seconds since the Unix epoch. */
struct store_range {
	int64_t start_s, end_s;
};

/* "2026-12-01T10:00Z" or "2026-12-01T10:00:30Z" (UTC) -> seconds. Returns 0 or -EINVAL. */
int store__parse_time(const char *s, size_t len, int64_t *ret_s);
/* "TIME/DURATION", DURATION a positive count of s, m, h or d ("2026-12-01T10:00Z/1h"), at most
 * STORE_MAX_RANGE_S. Returns 0 or -EINVAL. */
int store__parse_range(const char *s, struct store_range *ret);
/* Writes r as parse_range reads it (in seconds), for messages and links. */
void store__format_range(const struct store_range *r, char *buf, size_t size);

/* Whether host is a name the daemon writes: [A-Za-z0-9._-], not starting with '.' or '-', at
 * most STORE_HOST_MAX bytes. So it is one path component, never "." or "..". */
int store__host_valid(const char *host);

struct store_window {
	int64_t start_s;
	enum profile_kind kind;
	char name[STORE_HOST_MAX + 64]; /* the file name in the directory */
};

/* Parses a file name HOST_YYYYmmddTHHMMSSZ_KIND.EXT, EXT one of .folded, .folded.gz, .pb.gz;
 * the host into host (size >= STORE_HOST_MAX + 1). Returns 0, or -EINVAL if it is no window. */
int store__parse_name(const char *name, char *host, struct store_window *ret);

struct store_host {
	char name[STORE_HOST_MAX + 1];
	size_t windows; /* of every kind */
	int64_t first_s, last_s;
};

/* The hosts with windows in dir, by name (at most max). Returns 0 or -errno. */
int store__list_hosts(const char *dir, size_t max, struct store_host **ret, size_t *ret_n);
/* The windows of host in dir of kind (PROFILE_KIND_MAX: any) starting in r (NULL: any), by start
 * time; one file per window and kind (folded preferred over pprof). Returns 0, -EINVAL (host not
 * valid), -E2BIG (more than max), or -errno reading dir. */
int store__list_windows(const char *dir, const char *host, enum profile_kind kind,
			const struct store_range *r, size_t max, struct store_window **ret,
			size_t *ret_n);
/* Loads windows w[0..n) of dir, summed into p (initialised), the meta of the merge in ret_meta,
 * each window's total weight in ret_totals[0..n) (NULL: not wanted). On failure err names the
 * file and what is wrong with it. Returns 0 or -errno. */
int store__load(const char *dir, const struct store_window *w, size_t n, struct profile *p,
		struct profile_meta *ret_meta, uint64_t *ret_totals, char *err, size_t err_len);
/* The total weight of window w of dir: folded text checked line by line and counted, no stack
 * kept. Returns 0 or -errno with a message in err. */
int store__total(const char *dir, const struct store_window *w, uint64_t *ret_total, char *err,
		 size_t err_len);

#endif
