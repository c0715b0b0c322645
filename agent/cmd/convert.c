// SPDX-License-Identifier: MIT
/* agentctl convert / diff / merge: read stored profiles (folded plain or gzipped, or pprof),
 * then write them in another format, compare two, or sum many. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "cmd/convert.h"
#include "format/flamegraph.h"
#include "format/folded.h"
#include "format/output.h"
#include "format/pprof.h"
#include "profile/diff.h"
#include "util/log.h"
#include "util/text.h"

#define SNIFF_SIZE	 (64 * 1024)
#define PPROF_MAX_INPUT	 (1ULL << 30)
#define DEFAULT_RATE_HZ	 99 /* agentctl snapshot's default, assumed for folded input */
#define DIFF_DEFAULT_TOP 10

enum input_format { INPUT_AUTO, INPUT_FOLDED, INPUT_PPROF };

struct input_opts {
	enum input_format from;
	int kind_set, rate_set;
	enum profile_kind kind;
	unsigned rate_hz;
};

/* Folded text never holds control characters other than tab, CR and LF; protobuf always does. */
static int looks_binary(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((b[i] < 0x20 && b[i] != '\t' && b[i] != '\n' && b[i] != '\r') || b[i] == 0x7f)
			return 1;
	return 0;
}

/* zlib reports a truncated stream as an early end of file, with the error kept aside. */
/* Reads what is left of gz after the first `have` bytes already in *buf. */
static int read_rest(gzFile gz, unsigned char **buf, size_t *have, size_t *cap, char *err,
		     size_t err_len)
{
	for (;;) {
		int n;

		if (*have == *cap) {
			unsigned char *bigger;

			if (*cap >= PPROF_MAX_INPUT) {
				snprintf(err, err_len, "larger than %llu bytes",
					 (unsigned long long)PPROF_MAX_INPUT);
				return -EFBIG;
			}
			bigger = realloc(*buf, *cap * 2);
			if (!bigger)
				return -ENOMEM;
			*buf = bigger;
			*cap *= 2;
		}
		n = gzread(gz, *buf + *have,
			   (unsigned)(*cap - *have > (1u << 30) ? (1u << 30) : *cap - *have));
		if (folded__gz_failed(gz, n))
			return folded__gz_error(gz, 0, err, err_len);
		if (!n)
			return 0;
		*have += n;
	}
}

/* Loads path ("-": stdin), folded or pprof, plain or gzipped, into p (initialised, empty).
 * ret_meta is filled from a pprof file and from opts. */
static int load_profile(const char *path, const struct input_opts *opts, struct profile *p,
			struct profile_meta *ret_meta, char *err, size_t err_len)
{
	size_t have = 0, cap = SNIFF_SIZE;
	unsigned char *buf = malloc(cap);
	struct folded_parser fp;
	int ret = 0, n = 0, sniff_failed, binary;
	gzFile gz = NULL;

	memset(ret_meta, 0, sizeof(*ret_meta));
	folded_parser__init(&fp, p);
	if (!buf)
		return -ENOMEM;
	ret = folded__gz_open(path, &gz, err, err_len);
	if (ret)
		goto out;
	while (have < cap && (n = gzread(gz, buf + have, (unsigned)(cap - have))) > 0)
		have += n;
	sniff_failed = have < cap && folded__gz_failed(gz, n);
	binary = opts->from == INPUT_PPROF || (opts->from == INPUT_AUTO && looks_binary(buf, have));
	if (sniff_failed && !binary) {
		/* count the whole lines that did arrive, so the error says where it broke */
		const unsigned char *nl = memrchr(buf, '\n', have);

		ret = nl ? folded_parser__feed(&fp, (const char *)buf, nl - buf + 1, err, err_len)
			 : 0;
		if (!ret)
			ret = folded__gz_error(gz, fp.line, err, err_len);
		goto out;
	}
	if (sniff_failed) {
		ret = folded__gz_error(gz, 0, err, err_len);
		goto out;
	}
	if (binary) {
		char perr[256] = "";

		ret = read_rest(gz, &buf, &have, &cap, err, err_len);
		if (ret)
			goto out;
		ret = pprof__read(buf, have, p, ret_meta, perr, sizeof(perr));
		if (ret && opts->from == INPUT_AUTO) {
			/* neither: say where the text would have been malformed */
			struct profile scratch;
			struct folded_parser sp;

			profile__init(&scratch);
			folded_parser__init(&sp, &scratch);
			if (folded_parser__feed(&sp, (const char *)buf, have, err, err_len) ||
			    folded_parser__finish(&sp, err, err_len)) {
				size_t l = strlen(err);

				snprintf(err + l, err_len - l, " (nor a pprof profile: %s)", perr);
			} else {
				snprintf(err, err_len, "%s", perr);
			}
			folded_parser__free(&sp);
			profile__free(&scratch);
			ret = -EINVAL;
		} else if (ret) {
			snprintf(err, err_len, "%s", perr);
		}
		goto meta;
	}
	ret = folded__read_gz(&fp, gz, buf, have, err, err_len);
	if (!ret)
		ret_meta->kind = PROFILE_CPU;
meta:
	if (opts->kind_set)
		ret_meta->kind = opts->kind;
	if (opts->rate_set)
		ret_meta->rate_hz = opts->rate_hz;
	else if (!ret_meta->rate_hz && ret_meta->kind == PROFILE_CPU)
		ret_meta->rate_hz = DEFAULT_RATE_HZ;
out:
	folded_parser__free(&fp);
	if (gz)
		gzclose(gz);
	free(buf);
	return ret;
}

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
	int ret = load_profile(path, in, p, ret_meta, err, sizeof(err));

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
	struct profile_meta meta = {0}, m;
	struct cmd_opts o;
	struct profile p;
	uint64_t end = 0;
	int ret = CONVERT_OK, kind_known = 0;

	if (parse_cmd_options(argc, argv, "merge", MERGE_NOPTS, &o) ||
	    parse_output_format("merge", o.format, &format))
		return CONVERT_USAGE;
	if (optind >= argc) {
		fprintf(stderr, "agentctl merge: usage: agentctl merge INPUT... [-o OUTPUT]\n");
		return CONVERT_USAGE;
	}
	profile__init(&p);
	/* Every input is summed into p: folded and pprof stacks alike become stacks of frames. */
	for (int i = optind; i < argc; i++) {
		if (load_input("merge", argv[i], &o.in, &p, &m)) {
			ret = CONVERT_FAILED;
			goto out;
		}
		if (kind_known && m.kind != meta.kind) {
			log_error(
			    "agentctl merge: %s: a %s profile cannot be added to a %s profile",
			    argv[i], profile__kind_name(m.kind), profile__kind_name(meta.kind));
			ret = CONVERT_FAILED;
			goto out;
		}
		if (!kind_known) {
			meta = m;
			kind_known = 1;
		}
		if (m.start_ns && (!meta.start_ns || m.start_ns < meta.start_ns))
			meta.start_ns = m.start_ns;
		if (m.start_ns && m.start_ns + m.duration_ns > end)
			end = m.start_ns + m.duration_ns;
	}
	meta.duration_ns = meta.start_ns && end > meta.start_ns ? end - meta.start_ns : 0;
	ret = write_profile("merge", &p, &meta, format, o.output);
out:
	profile__free(&p);
	return ret;
}

int convert__cmd_diff(int argc, char **argv)
{
	struct profile_meta base_meta, new_meta;
	struct profile base, new;
	struct diff d = {0};
	struct cmd_opts o;
	int svg = 0, ret = CONVERT_FAILED, err;
	FILE *out = stdout;

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
	err = diff__compute(&base, &new, &d);
	if (err) {
		log_error("agentctl diff: %s",
			  err == -ENODATA ? "a profile has no samples" : strerror(-err));
		goto out;
	}
	if (o.output && strcmp(o.output, "-")) {
		out = fopen(o.output, "w");
		if (!out) {
			log_error("agentctl diff: cannot write %s: %s", o.output, strerror(errno));
			out = stdout;
			goto out;
		}
	}
	new_meta.title = o.title;
	err = svg ? flamegraph__write_diff(&base, &new, &new_meta, out)
		  : diff__write_text(&d, o.top, out);
	if (!err && fflush(out))
		err = -errno;
	if (err) {
		log_error("agentctl diff: cannot write %s: %s", o.output ? o.output : "stdout",
			  strerror(-err));
		goto out;
	}
	ret = CONVERT_OK;
	if (o.fail_above >= 0) {
		const struct diff_function *g = diff__max_growth(&d);
		double grew = g ? g->new_total - g->base_total : 0;

		if (g && grew > o.fail_above) {
			fprintf(stderr,
				"agentctl diff: FAIL: '%s' total share grew by %.2f percentage "
				"points (%.2f%% -> %.2f%%), above --fail-above %g\n",
				g->name, grew, g->base_total, g->new_total, o.fail_above);
			ret = CONVERT_FAILED;
		} else {
			fprintf(stderr,
				"agentctl diff: ok: no function's total share grew by more than %g "
				"percentage points (largest growth: %.2f%s%s%s)\n",
				o.fail_above, grew, g ? ", '" : "", g ? g->name : "", g ? "'" : "");
		}
	}
out:
	if (out != stdout && fclose(out) && ret == CONVERT_OK) {
		log_error("agentctl diff: cannot write %s: %s", o.output, strerror(errno));
		ret = CONVERT_FAILED;
	}
	diff__free(&d);
	profile__free(&base);
	profile__free(&new);
	return ret;
}
