// SPDX-License-Identifier: MIT
/* Output format names and the dispatch to each format's writer. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "errbuf.h"
#include "flamegraph.h"
#include "output.h"
#include "pprof.h"
#include "speedscope.h"

static const char *const format_names[OUTPUT_FORMAT_MAX] = {
    [OUTPUT_FOLDED] = "folded",
    [OUTPUT_PPROF] = "pprof",
    [OUTPUT_SPEEDSCOPE] = "speedscope",
    [OUTPUT_SVG] = "svg",
};

static const char *const format_exts[OUTPUT_FORMAT_MAX] = {
    [OUTPUT_FOLDED] = ".folded",
    [OUTPUT_PPROF] = ".pb.gz",
    [OUTPUT_SPEEDSCOPE] = ".speedscope.json",
    [OUTPUT_SVG] = ".svg",
};

static const char *const kind_names[PROFILE_KIND_MAX] = {
    [PROFILE_CPU] = "cpu",
    [PROFILE_OFFCPU] = "offcpu",
    [PROFILE_WALL] = "wall",
};

int output__parse_format(const char *name, enum output_format *ret_format)
{
	for (int i = 0; i < OUTPUT_FORMAT_MAX; i++) {
		if (!strcmp(name, format_names[i])) {
			*ret_format = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *output__format_name(enum output_format format)
{
	return format < OUTPUT_FORMAT_MAX ? format_names[format] : "unknown";
}

const char *output__extension(enum output_format format)
{
	return format < OUTPUT_FORMAT_MAX ? format_exts[format] : "";
}

int output__parse_kind(const char *name, enum profile_kind *ret_kind)
{
	for (int i = 0; i < PROFILE_KIND_MAX; i++) {
		if (!strcmp(name, kind_names[i])) {
			*ret_kind = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *output__kind_name(enum profile_kind kind)
{
	return kind < PROFILE_KIND_MAX ? kind_names[kind] : "unknown";
}

int output__write(const struct profile *p, const struct profile_meta *meta,
		  enum output_format format, FILE *out)
{
	static const struct profile_meta defaults = {.kind = PROFILE_CPU};
	int err;

	if (!meta)
		meta = &defaults;
	switch (format) {
	case OUTPUT_FOLDED:
		return profile__write_folded(p, out);
	case OUTPUT_PPROF:
		err = pprof__write(p, meta, out);
		break;
	case OUTPUT_SPEEDSCOPE:
		err = speedscope__write(p, meta, out);
		break;
	case OUTPUT_SVG:
		err = flamegraph__write(p, meta, out);
		break;
	default:
		return -EINVAL;
	}
	if (!err && fflush(out))
		err = -errno;
	if (!err && ferror(out))
		err = -EIO;
	return err;
}

/* Makes a rename in the directory of path durable (best effort). */
static void output__fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path ? slash - path : 1), path);
	errbuf__fsync_dir(dir);
}

int output__write_path(const struct profile *p, const struct profile_meta *meta,
		       enum output_format format, const char *path)
{
	char tmp[PATH_MAX];
	struct stat st;
	FILE *f;
	int fd, err;

	if (!stat(path, &st) && !S_ISREG(st.st_mode)) {
		/* /dev/stdout, a FIFO, /dev/null: write into it, never rename over it */
		f = fopen(path, "w");
		if (!f)
			return -errno;
		err = output__write(p, meta, format, f);
		if (fclose(f) && !err)
			err = -errno;
		return err;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	err = output__write(p, meta, format, f);
	/* mkstemp makes 0600 files; profiles are as readable as any other output */
	if (!err && fchmod(fd, 0644))
		err = -errno;
	/* on disk before it has its name, so a crash leaves the old file or the whole new one */
	if (!err && (fflush(f) || fsync(fd)))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	else
		output__fsync_dir(path);
	return err;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is not valid. */
static int utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))
			return 0; /* overlong, surrogate */
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

int output__json_string(FILE *out, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	putc('"', out);
	while (*u) {
		int n = utf8_len(u);

		if (!n) {
			fputs("\\ufffd", out);
			u++;
			continue;
		}
		if (n > 1) {
			fwrite(u, 1, n, out);
			u += n;
			continue;
		}
		switch (*u) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		case '<':
		case '>':
		case '&':
			fprintf(out, "\\u%04x", *u);
			break;
		default:
			if (*u < 0x20 || *u == 0x7f)
				fprintf(out, "\\u%04x", *u);
			else
				putc(*u, out);
		}
		u++;
	}
	putc('"', out);
	return ferror(out) ? -EIO : 0;
}
