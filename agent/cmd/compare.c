// SPDX-License-Identifier: MIT
/* agentctl compare: a deploy gate over the store (compare.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd/compare.h"
#include "cmd/convert.h"
#include "store/source.h"
#include "store/store.h"
#include "util/log.h"

#define COMPARE_DEFAULT_TOP 10

static const char compare_usage[] =
    "agentctl compare: usage: agentctl compare --from DIR|s3://BUCKET/PREFIX/ [--config FILE]\n"
    "       --host HOST --base START/DURATION --new START/DURATION [--new-host HOST]\n"
    "       [--kind cpu|offcpu|wall] [--fail-above PERCENT]\n"
    "       [--format text|svg] [--top N] [--output FILE] [--cache DIR]\n"
    "       START as 2026-12-01T10:00Z (UTC), DURATION as 30s, 15m, 1h or 2d;\n"
    "       --config: S3 settings (and, without --from, bucket and prefix) from the daemon's\n"
    "       config file's upload.s3\n";

static int usage_error(const char *fmt, const char *opt, const char *value)
{
	fprintf(stderr, "agentctl compare: ");
	fprintf(stderr, fmt, opt, value);
	fprintf(stderr, "\n%s", compare_usage);
	return CONVERT_USAGE;
}

/* The windows of one range, merged into p. Returns 0, or logs why not and returns -errno. */
static int load_range(const char *dir, const char *host, enum profile_kind kind, const char *what,
		      const struct store_range *r, struct profile *p, struct profile_meta *ret_meta)
{
	struct store_window *w = NULL;
	char range[64], err[512] = "";
	size_t n = 0;
	int ret;

	store__format_range(r, range, sizeof(range));
	ret = store__list_windows(dir, host, kind, r, STORE_MAX_WINDOWS, &w, &n);
	if (ret == -E2BIG)
		log_error("agentctl compare: %s range %s: more than %d windows of %s", what, range,
			  STORE_MAX_WINDOWS, host);
	else if (ret)
		log_error("agentctl compare: cannot read %s: %s", dir, strerror(-ret));
	else if (!n) {
		log_error("agentctl compare: %s range %s: no %s windows of host %s in %s", what,
			  range, profile__kind_name(kind), host, dir);
		ret = -ENOENT;
	} else {
		ret = store__load(dir, w, n, p, ret_meta, NULL, err, sizeof(err));
		if (ret)
			log_error("agentctl compare: %s range %s: %s", what, range,
				  err[0] ? err : strerror(-ret));
	}
	free(w);
	return ret;
}

/* Fetches both ranges' windows from S3 into src's cache directory. Returns 0, or logs why not
 * and returns -errno. */
static int sync_ranges(struct store_source *src, const char *host, const char *new_host,
		       enum profile_kind kind, const struct store_range *base,
		       const struct store_range *new)
{
	char err[1024] = "";
	size_t nb = 0, nn = 0;
	int ret;

	ret = s3store__sync(src->s3, host, kind, base, src->dir, &nb, err, sizeof(err));
	if (!ret)
		ret = s3store__sync(src->s3, new_host, kind, new, src->dir, &nn, err, sizeof(err));
	if (ret)
		log_error("agentctl compare: %s", err[0] ? err : strerror(-ret));
	else
		log_info("agentctl compare: %zu windows fetched from %s into %s", nb + nn,
			 src->from, src->dir);
	return ret;
}

int compare__cmd(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"from", required_argument, NULL, 'F'},	  {"host", required_argument, NULL, 'H'},
	    {"new-host", required_argument, NULL, 'h'},	  {"base", required_argument, NULL, 'b'},
	    {"new", required_argument, NULL, 'N'},	  {"kind", required_argument, NULL, 'k'},
	    {"fail-above", required_argument, NULL, 'a'}, {"format", required_argument, NULL, 'f'},
	    {"top", required_argument, NULL, 'n'},	  {"output", required_argument, NULL, 'o'},
	    {"title", required_argument, NULL, 't'},	  {"cache", required_argument, NULL, 'c'},
	    {"config", required_argument, NULL, 'C'},	  {},
	};
	struct diff_report_opts r = {.top = COMPARE_DEFAULT_TOP, .fail_above = -1};
	const char *from = NULL, *host = NULL, *new_host = NULL, *title = NULL, *cache = NULL;
	const char *config = NULL;
	struct store_source src;
	struct store_range base_r = {0}, new_r = {0};
	enum profile_kind kind = PROFILE_CPU;
	struct profile_meta base_meta, new_meta;
	struct profile base, new;
	int c, have_base = 0, have_new = 0, ret = CONVERT_FAILED;
	char *end;

	while ((c = getopt_long(argc, argv, "F:H:h:b:N:k:a:f:n:o:t:c:C:", longopts, NULL)) != -1) {
		switch (c) {
		case 'F':
			from = optarg;
			break;
		case 'C':
			config = optarg;
			break;
		case 'H':
		case 'h':
			*(c == 'H' ? &host : &new_host) = optarg;
			if (!store__host_valid(optarg))
				return usage_error("%s: expected a host name ([A-Za-z0-9._-]), got "
						   "'%s'",
						   c == 'H' ? "--host" : "--new-host", optarg);
			break;
		case 'b':
		case 'N':
			if (store__parse_range(optarg, c == 'b' ? &base_r : &new_r))
				return usage_error("%s: expected START/DURATION, got '%s'",
						   c == 'b' ? "--base" : "--new", optarg);
			*(c == 'b' ? &have_base : &have_new) = 1;
			break;
		case 'k':
			if (profile__parse_kind(optarg, &kind))
				return usage_error("%s: expected cpu, offcpu or wall, got '%s'",
						   "--kind", optarg);
			break;
		case 'a':
			r.fail_above = strtod(optarg, &end);
			if (end == optarg || *end || !(r.fail_above >= 0) || r.fail_above > 100)
				return usage_error("%s: expected percentage points in [0, 100], "
						   "got '%s'",
						   "--fail-above", optarg);
			break;
		case 'f':
			if (strcmp(optarg, "text") && strcmp(optarg, "svg"))
				return usage_error("%s: expected text or svg, got '%s'", "--format",
						   optarg);
			r.svg = !strcmp(optarg, "svg");
			break;
		case 'n':
			r.top = strtoul(optarg, &end, 10);
			if (end == optarg || *end || !r.top || optarg[0] == '-')
				return usage_error("%s: expected a count, got '%s'", "--top",
						   optarg);
			break;
		case 'o':
			r.output = optarg;
			break;
		case 't':
			title = optarg;
			break;
		case 'c':
			cache = optarg;
			break;
		default: /* getopt_long has said what is wrong */
			fputs(compare_usage, stderr);
			return CONVERT_USAGE;
		}
	}
	if (optind != argc || (!from && !config) || !host || !have_base || !have_new) {
		fprintf(stderr, "agentctl compare: %s\n%s",
			optind != argc	   ? "unexpected operand"
			: !from && !config ? "--from DIR|s3://BUCKET/PREFIX/ or --config FILE is "
					     "required"
			: !host		   ? "--host is required"
					   : "--base and --new are required",
			compare_usage);
		return CONVERT_USAGE;
	}
	if (!new_host)
		new_host = host;
	if (store_source__open(&src, "agentctl compare", from, config, cache))
		return CONVERT_FAILED;
	if (src.s3 && sync_ranges(&src, host, new_host, kind, &base_r, &new_r)) {
		store_source__close(&src);
		return CONVERT_FAILED;
	}
	store_source__close(&src);
	profile__init(&base);
	profile__init(&new);
	if (!load_range(src.dir, host, kind, "base", &base_r, &base, &base_meta) &&
	    !load_range(src.dir, new_host, kind, "new", &new_r, &new, &new_meta)) {
		new_meta.title = title;
		ret = convert__report_diff("compare", &base, &new, &new_meta, &r);
	}
	profile__free(&base);
	profile__free(&new);
	return ret;
}
