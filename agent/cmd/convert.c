// SPDX-License-Identifier: MIT
/* agentctl convert / diff / merge: read stored profiles (folded plain or gzipped, or pprof),
 * then write them in another format, compare two, or sum many. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd/convert.h"
#include "format/flamegraph.h"
#include "format/input.h"
#include "format/output.h"
#include "profile/diff.h"
#include "util/log.h"
#include "util/text.h"

#define DIFF_DEFAULT_TOP 10

static int parse_rate(const char *s, unsigned *ret)
{
	uint64_t v;

	if (text__parse_u64(s, strlen(s), 1000000, &v) || !v)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

/* Every option of the three commands, in this order: merge takes the first MERGE_NOPTS, convert
 * adds --title, diff adds --fail-above and --top. --format is kept as given: each command has
 * its own formats. */
static const struct option cmd_longopts[] = {
    {"format", required_argument, NULL, 'f'},
    {"output", required_argument, NULL, 'o'},
    {"from", required_argument, NULL, 'F'},
    {"kind", required_argument, NULL, 'k'},
    {"rate", required_argument, NULL, 'r'},
    {"title", required_argument, NULL, 't'},
    {"fail-above", required_argument, NULL, 'a'},
    {"top", required_argument, NULL, 'n'},
    {},
};
static const char cmd_shortopts[] = "f:o:F:k:r:t:a:n:";

enum { MERGE_NOPTS = 5, CONVERT_NOPTS = 6, DIFF_NOPTS = 8 };

struct cmd_opts {
	struct input_opts in;
	const char *format, *output, *title;
	double fail_above; /* -1: not given */
	unsigned long top;
};

static int bad_value(const char *cmd, const char *opt, const char *expected, const char *value)
{
	fprintf(stderr, "agentctl %s: %s: expected %s, got '%s'\n", cmd, opt, expected, value);
	return -EINVAL;
}

/* Parses the first nopts of cmd_longopts from argv, leaving optind at the first operand. */
static int parse_cmd_options(int argc, char **argv, const char *cmd, int nopts,
			     struct cmd_opts *ret_opts)
{
	struct option longopts[sizeof(cmd_longopts) / sizeof(cmd_longopts[0])] = {};
	char shortopts[sizeof(cmd_shortopts)] = "";
	struct cmd_opts *o = ret_opts;
	char *end;
	int c;

	memcpy(longopts, cmd_longopts, nopts * sizeof(longopts[0]));
	memcpy(shortopts, cmd_shortopts, 2 * nopts); /* each short option is "x:" */
	*o = (struct cmd_opts){.fail_above = -1, .top = DIFF_DEFAULT_TOP};
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->format = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 't':
			o->title = optarg;
			break;
		case 'F':
			if (!strcmp(optarg, "auto"))
				o->in.from = INPUT_AUTO;
			else if (!strcmp(optarg, "folded"))
				o->in.from = INPUT_FOLDED;
			else if (!strcmp(optarg, "pprof"))
				o->in.from = INPUT_PPROF;
			else
				return bad_value(cmd, "--from", "auto, folded or pprof", optarg);
			break;
		case 'k':
			if (profile__parse_kind(optarg, &o->in.kind))
				return bad_value(cmd, "--kind", "cpu, offcpu or wall", optarg);
			o->in.kind_set = 1;
			break;
		case 'r':
			if (parse_rate(optarg, &o->in.rate_hz))
				return bad_value(cmd, "--rate", "a rate in Hz", optarg);
			o->in.rate_set = 1;
			break;
		case 'a':
			o->fail_above = strtod(optarg, &end);
			if (end == optarg || *end || !(o->fail_above >= 0) || o->fail_above > 100)
				return bad_value(cmd, "--fail-above",
						 "percentage points in [0, 100]", optarg);
			break;
		case 'n':
			o->top = strtoul(optarg, &end, 10);
			if (end == optarg || *end || !o->top || optarg[0] == '-')
				return bad_value(cmd, "--top", "a count", optarg);
			break;
		default: /* getopt_long has said what is wrong */
			return -EINVAL;
		}
	}
	return 0;
}

/* convert and merge write any output__ format; NULL (not given) leaves *ret_format as it is. */
static int parse_output_format(const char *cmd, const char *s, enum output_format *ret_format)
{
	if (s && output__parse_format(s, ret_format))
		return bad_value(cmd, "--format", "folded, pprof, speedscope or svg", s);
	return 0;
}

/* load_profile, saying on failure which input could not be read and why. */
static int load_input(const char *cmd, const char *path, const struct input_opts *in,
		      struct profile *p, struct profile_meta *ret_meta)
{
	char err[512] = "";
	int ret = input__load(path, in, p, ret_meta, err, sizeof(err));

	if (ret)
		log_error("agentctl %s: %s: %s", cmd, path, err[0] ? err : strerror(-ret));
	return ret;
}

static int write_profile(const char *cmd, const struct profile *p, const struct profile_meta *meta,
			 enum output_format format, const char *output)
{
	int err;

	if (!output || !strcmp(output, "-"))
		err = output__write(p, meta, format, stdout);
	else
		err = output__write_path(p, meta, format, output);
	if (err) {
		log_error("agentctl %s: cannot write %s: %s", cmd, output ? output : "stdout",
			  strerror(-err));
		return CONVERT_FAILED;
	}
	return CONVERT_OK;
}

int convert__cmd_convert(int argc, char **argv)
{
	enum output_format format = OUTPUT_FORMAT_MAX;
	struct profile_meta meta;
	struct cmd_opts o;
	struct profile p;
	int ret;

	if (parse_cmd_options(argc, argv, "convert", CONVERT_NOPTS, &o) ||
	    parse_output_format("convert", o.format, &format))
		return CONVERT_USAGE;
	if (optind != argc - 1 || format == OUTPUT_FORMAT_MAX) {
		fprintf(stderr, "agentctl convert: usage: agentctl convert INPUT --format "
				"folded|pprof|speedscope|svg [-o OUTPUT]\n");
		return CONVERT_USAGE;
	}
	profile__init(&p);
	if (load_input("convert", argv[optind], &o.in, &p, &meta)) {
		profile__free(&p);
		return CONVERT_FAILED;
	}
	meta.title = o.title;
	ret = write_profile("convert", &p, &meta, format, o.output);
	profile__free(&p);
	return ret;
}

int convert__cmd_merge(int argc, char **argv)
{
	enum output_format format = OUTPUT_FOLDED;
	struct profile_meta meta;
	struct cmd_opts o;
	struct profile p;
	char err[512] = "";
	int ret;

	if (parse_cmd_options(argc, argv, "merge", MERGE_NOPTS, &o) ||
	    parse_output_format("merge", o.format, &format))
		return CONVERT_USAGE;
	if (optind >= argc) {
		fprintf(stderr, "agentctl merge: usage: agentctl merge INPUT... [-o OUTPUT]\n");
		return CONVERT_USAGE;
	}
	profile__init(&p);
	/* Every input is summed into p: folded and pprof stacks alike become stacks of frames. */
	if (input__load_merged((const char *const *)argv + optind, argc - optind, &o.in, &p, &meta,
			       err, sizeof(err))) {
		log_error("agentctl merge: %s", err);
		ret = CONVERT_FAILED;
	} else {
		ret = write_profile("merge", &p, &meta, format, o.output);
	}
	profile__free(&p);
	return ret;
}

int convert__report_diff(const char *cmd, const struct profile *base, const struct profile *new,
			 const struct profile_meta *new_meta, const struct diff_report_opts *o)
{
	struct diff d = {0};
	int ret = CONVERT_FAILED, err;
	FILE *out = stdout;

	err = diff__compute(base, new, &d);
	if (err) {
		log_error("agentctl %s: %s", cmd,
			  err == -ENODATA ? "a profile has no samples" : strerror(-err));
		goto out;
	}
	if (o->output && strcmp(o->output, "-")) {
		out = fopen(o->output, "w");
		if (!out) {
			log_error("agentctl %s: cannot write %s: %s", cmd, o->output,
				  strerror(errno));
			out = stdout;
			goto out;
		}
	}
	err = o->svg ? flamegraph__write_diff(base, new, new_meta, out)
		     : diff__write_text(&d, o->top, out);
	if (!err && fflush(out))
		err = -errno;
	if (err) {
		log_error("agentctl %s: cannot write %s: %s", cmd, o->output ? o->output : "stdout",
			  strerror(-err));
		goto out;
	}
	ret = CONVERT_OK;
	if (o->fail_above >= 0) {
		const struct diff_function *g = diff__max_growth(&d);
		double grew = g ? g->new_total - g->base_total : 0;

		if (g && grew > o->fail_above) {
			fprintf(stderr,
				"agentctl %s: FAIL: '%s' total share grew by %.2f percentage "
				"points (%.2f%% -> %.2f%%), above --fail-above %g\n",
				cmd, g->name, grew, g->base_total, g->new_total, o->fail_above);
			ret = CONVERT_FAILED;
		} else {
			fprintf(stderr,
				"agentctl %s: ok: no function's total share grew by more than %g "
				"percentage points (largest growth: %.2f%s%s%s)\n",
				cmd, o->fail_above, grew, g ? ", '" : "", g ? g->name : "",
				g ? "'" : "");
		}
	}
out:
	if (out != stdout && fclose(out) && ret == CONVERT_OK) {
		log_error("agentctl %s: cannot write %s: %s", cmd, o->output, strerror(errno));
		ret = CONVERT_FAILED;
	}
	diff__free(&d);
	return ret;
}

int convert__cmd_diff(int argc, char **argv)
{
	struct profile_meta base_meta, new_meta;
	struct profile base, new;
	struct cmd_opts o;
	struct diff_report_opts r;
	int svg = 0, ret = CONVERT_FAILED;

	if (parse_cmd_options(argc, argv, "diff", DIFF_NOPTS, &o))
		return CONVERT_USAGE;
	if (o.format) {
		if (strcmp(o.format, "text") && strcmp(o.format, "svg")) {
			bad_value("diff", "--format", "text or svg", o.format);
			return CONVERT_USAGE;
		}
		svg = !strcmp(o.format, "svg");
	}
	if (optind != argc - 2) {
		fprintf(stderr, "agentctl diff: usage: agentctl diff BASE NEW [--format text|svg] "
				"[--fail-above PERCENT] [-o OUTPUT]\n");
		return CONVERT_USAGE;
	}
	profile__init(&base);
	profile__init(&new);
	if (load_input("diff", argv[optind], &o.in, &base, &base_meta) ||
	    load_input("diff", argv[optind + 1], &o.in, &new, &new_meta))
		goto out;
	new_meta.title = o.title;
	r = (struct diff_report_opts){
	    .svg = svg, .top = o.top, .fail_above = o.fail_above, .output = o.output};
	ret = convert__report_diff("diff", &base, &new, &new_meta, &r);
out:
	profile__free(&base);
	profile__free(&new);
	return ret;
}
