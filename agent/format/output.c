// SPDX-License-Identifier: MIT
/* Output format names and the dispatch to each format's writer. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util/errbuf.h"
#include "format/flamegraph.h"
#include "format/folded.h"
#include "util/atomicfile.h"
#include "format/output.h"
#include "format/pprof.h"
#include "format/speedscope.h"

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

int output__write(const struct profile *p, const struct profile_meta *meta,
		  enum output_format format, FILE *out)
{
	static const struct profile_meta defaults = {.kind = PROFILE_CPU};
	int err;

	if (!meta)
		meta = &defaults;
	switch (format) {
	case OUTPUT_FOLDED:
		return folded__write(p, out);
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

int output__write_text_path(const char *text, size_t len, const char *path)
{
	struct atomic_file af;
	int err = atomicfile__open(&af, path, NULL);

	if (err)
		return err;
	if (fwrite(text, 1, len, af.f) != len) {
		atomicfile__abort(&af);
		return -EIO;
	}
	return atomicfile__commit(&af, 0644);
}

int output__write_path(const struct profile *p, const struct profile_meta *meta,
		       enum output_format format, const char *path)
{
	struct atomic_file af;
	struct stat st;
	FILE *f;
	int err;

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
	err = atomicfile__open(&af, path, NULL);
	if (err)
		return err;
	err = output__write(p, meta, format, af.f);
	if (err) {
		atomicfile__abort(&af);
		return err;
	}
	/* profiles are as readable as any other output */
	return atomicfile__commit(&af, 0644);
}
