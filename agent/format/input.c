// SPDX-License-Identifier: MIT
/* Stored profiles in (input.h): sniffed as folded text or pprof, plain or gzipped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "format/folded.h"
#include "format/input.h"
#include "format/pprof.h"

#define SNIFF_SIZE	(64 * 1024)
#define PPROF_MAX_INPUT (1ULL << 30)

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

int input__load(const char *path, const struct input_opts *opts, struct profile *p,
		struct profile_meta *ret_meta, char *err, size_t err_len)
{
	size_t have = 0, cap = SNIFF_SIZE;
	unsigned char *buf = malloc(cap);
	struct folded_parser fp;
	int ret = 0, n = 0, sniff_failed, binary;
	gzFile gz = NULL;

	memset(ret_meta, 0, sizeof(*ret_meta));
	folded_parser__init(&fp, p);
	fp.totals_only = opts->totals_only;
	fp.memo = opts->memo;
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
		ret_meta->rate_hz = INPUT_DEFAULT_RATE_HZ;
out:
	folded_parser__free(&fp);
	if (gz)
		gzclose(gz);
	free(buf);
	return ret;
}

int input__load_merged(const char *const *paths, size_t n, const struct input_opts *opts,
		       struct profile *p, struct profile_meta *ret_meta, char *err, size_t err_len)
{
	return input__load_merged_totals(paths, n, opts, p, ret_meta, NULL, err, err_len);
}

int input__load_merged_totals(const char *const *paths, size_t n, const struct input_opts *opts,
			      struct profile *p, struct profile_meta *ret_meta,
			      uint64_t *ret_totals, char *err, size_t err_len)
{
	struct input_opts o = *opts;
	struct folded_memo memo;
	struct profile_meta m;
	uint64_t end = 0;
	int ret = 0;

	memset(ret_meta, 0, sizeof(*ret_meta));
	if (n > 1 && !o.memo && !o.totals_only) {
		folded_memo__init(&memo);
		o.memo = &memo;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		char why[448] = "";
		uint64_t before = p->total;

		ret = input__load(paths[i], &o, p, &m, why, sizeof(why));
		if (ret_totals)
			ret_totals[i] = p->total - before;
		if (ret) {
			snprintf(err, err_len, "%s: %s", paths[i], why[0] ? why : strerror(-ret));
			break;
		}
		if (i && m.kind != ret_meta->kind) {
			snprintf(err, err_len, "%s: a %s profile cannot be added to a %s profile",
				 paths[i], profile__kind_name(m.kind),
				 profile__kind_name(ret_meta->kind));
			ret = -EINVAL;
			break;
		}
		if (!i)
			*ret_meta = m;
		if (m.start_ns && (!ret_meta->start_ns || m.start_ns < ret_meta->start_ns))
			ret_meta->start_ns = m.start_ns;
		if (m.start_ns && m.start_ns + m.duration_ns > end)
			end = m.start_ns + m.duration_ns;
	}
	ret_meta->duration_ns =
	    ret_meta->start_ns && end > ret_meta->start_ns ? end - ret_meta->start_ns : 0;
	if (o.memo == &memo)
		folded_memo__free(&memo);
	return ret;
}
