// SPDX-License-Identifier: MIT
/* libFuzzer harness: the folded-stack reader used by convert, diff and merge, plain and gzip
 * (folded_parser__feed/finish, folded__read_path), and the frame classifier. Properties: the
 * result does not depend on how the bytes are split into reads; an accepted profile written
 * back as folded text reads back to the same text, each frame with the same fields; the
 * gzip-aware path agrees with the plain parser on plain text. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "format/folded.h"
#include "profile/frame.h"
#include "profile/profile.h"

struct parsed {
	int rc;
	uint64_t total;
	size_t nstacks;
	char *text; /* written back, when accepted */
	size_t text_len;
};

static void write_back(const struct profile *p, struct parsed *ret)
{
	FILE *f = open_memstream(&ret->text, &ret->text_len);

	if (!f || folded__write(p, f))
		abort();
	fclose(f);
}

/* Every frame read from text, written as text and read again at the same depth, has the same
 * fields (frame.h), unless a name was cut to its bound (the cut can change how it reads). */
static void check_frames(const struct profile *p)
{
	static char text[4 * PROFILE_NAME_MAX];
	struct profile_stack *s;
	size_t it = 0;

	while (hashmap__next(&p->stacks, &it, NULL, (void **)&s)) {
		for (; s; s = s->next_same_hash) {
			for (uint32_t d = 0; d < s->n; d++) {
				const struct frame *f = profile__frame_at(p, s->ids[d]);
				struct frame_parts fp;

				if (!f || f->kind >= FRAME_KIND_MAX)
					abort();
				if (strlen(f->name) >= PROFILE_NAME_MAX - 1 ||
				    (f->file && strlen(f->file) >= PROFILE_NAME_MAX - 1))
					continue;
				if (frame__format(f, text, sizeof(text)) >= sizeof(text))
					abort();
				frame__parse(text, d, &fp);
				if (fp.kind != f->kind || fp.number != f->number ||
				    fp.name_len != strlen(f->name) ||
				    memcmp(fp.name, f->name, fp.name_len) || !fp.file != !f->file ||
				    (f->file && (fp.file_len != strlen(f->file) ||
						 memcmp(fp.file, f->file, fp.file_len)))) {
					fprintf(stderr,
						"frame '%s' at depth %u reads back otherwise\n",
						text, d);
					abort();
				}
			}
		}
	}
}

/* Parses data fed in pieces of the given sizes (cycled; 0 = all at once). */
static void parse(const uint8_t *data, size_t size, const uint8_t *chunks, size_t nchunks,
		  struct parsed *ret)
{
	struct folded_parser fp;
	struct profile p;
	char err[256] = "";
	size_t pos = 0, k = 0;
	int rc = 0;

	profile__init(&p);
	folded_parser__init(&fp, &p);
	while (!rc && pos < size) {
		size_t n = nchunks ? chunks[k++ % nchunks] + 1 : size;

		if (n > size - pos)
			n = size - pos;
		rc = folded_parser__feed(&fp, (const char *)data + pos, n, err, sizeof(err));
		pos += n;
	}
	if (!rc)
		rc = folded_parser__finish(&fp, err, sizeof(err));
	if (rc && strncmp(err, "line ", 5))
		abort(); /* every error names its line */
	ret->rc = rc;
	ret->total = p.total;
	ret->nstacks = p.nstacks;
	ret->text = NULL;
	ret->text_len = 0;
	if (!rc) {
		check_frames(&p);
		write_back(&p, ret);
	}
	folded_parser__free(&fp);
	profile__free(&p);
}

/* The same bytes through the file reader (gzip or plain), from a memory file. */
static int read_path(const uint8_t *data, size_t size, uint64_t *ret_total)
{
	struct profile p;
	char path[64], err[256] = "";
	int fd = memfd_create("fuzz", MFD_CLOEXEC), rc;

	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	profile__init(&p);
	rc = folded__read_path(path, &p, err, sizeof(err));
	*ret_total = p.total;
	profile__free(&p);
	close(fd);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct parsed whole, split, again;
	const uint8_t *chunks = data;
	size_t nchunks = size < 4 ? size : 4;
	uint64_t total;
	int rc;

	if (size > (4u << 20))
		return 0;
	parse(data, size, NULL, 0, &whole);
	parse(data, size, chunks, nchunks, &split);
	if (whole.rc != split.rc || whole.total != split.total || whole.nstacks != split.nstacks ||
	    whole.text_len != split.text_len ||
	    (whole.text && memcmp(whole.text, split.text, whole.text_len)))
		abort(); /* the way reads are split must not matter */
	if (!whole.rc) {
		parse((const uint8_t *)whole.text, whole.text_len, NULL, 0, &again);
		if (again.rc || again.total != whole.total || again.text_len != whole.text_len ||
		    memcmp(again.text, whole.text, whole.text_len)) {
			fprintf(stderr, "written profile does not read back the same\n");
			abort();
		}
		free(again.text);
	}
	rc = read_path(data, size, &total);
	if (size < 2 || data[0] != 0x1f || data[1] != 0x8b) {
		/* not gzip: zlib passes the bytes through, the answer must be the plain one */
		if (!rc != !whole.rc || (!rc && total != whole.total))
			abort();
	}
	free(whole.text);
	free(split.text);
	return 0;
}
