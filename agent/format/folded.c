// SPDX-License-Identifier: MIT
/* Folded text ("root;...;leaf COUNT" lines): written from a profile, and read back by an
 * incremental parser. Each frame is its text form, written and read by frame.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "format/folded.h"
#include "util/text.h"

/* ---- writing ---- */

/* The text of every frame of p, rendered once: a window's stacks share their frames. */
struct frame_texts {
	char *buf;
	size_t *off; /* by frame id */
};

static int frame_texts__init(struct frame_texts *t, const struct profile *p)
{
	size_t used = 0, cap = 4096 + p->nframes * 64;

	t->buf = malloc(cap);
	t->off = malloc((p->nframes ? p->nframes : 1) * sizeof(*t->off));
	if (!t->buf || !t->off)
		return -ENOMEM;
	for (size_t i = 0; i < p->nframes; i++) {
		size_t n = frame__format(&p->frames[i], t->buf + used, cap - used);

		if (n + 1 > cap - used) {
			char *bigger;

			while (n + 1 > cap - used)
				cap *= 2;
			bigger = realloc(t->buf, cap);
			if (!bigger)
				return -ENOMEM;
			t->buf = bigger;
			frame__format(&p->frames[i], t->buf + used, cap - used);
		}
		t->off[i] = used;
		used += n + 1;
	}
	return 0;
}

static void frame_texts__free(struct frame_texts *t)
{
	free(t->buf);
	free(t->off);
}

/* The byte at position *at of stack s's folded text ("f0;f1;...;fn"), moving *at on: frame
 * texts are walked in place, never joined into a string. */
struct text_pos {
	uint32_t frame;
	const char *c; /* in the current frame's text, NULL before the first read */
};

static int next_char(const struct frame_texts *t, const struct profile_stack *s,
		     struct text_pos *at)
{
	if (at->frame >= s->n)
		return 0;
	if (!at->c)
		at->c = t->buf + t->off[s->ids[at->frame]];
	if (*at->c)
		return (unsigned char)*at->c++;
	at->c = NULL;
	return ++at->frame < s->n ? ';' : 0;
}

/* Orders stacks as strcmp orders their folded lines. */
static int cmp_stacks(const void *a, const void *b, void *ctx)
{
	const struct profile_stack *x = *(const struct profile_stack *const *)a;
	const struct profile_stack *y = *(const struct profile_stack *const *)b;
	struct text_pos px = {0}, py = {0};
	int cx, cy;

	do {
		cx = next_char(ctx, x, &px);
		cy = next_char(ctx, y, &py);
	} while (cx == cy && cx);
	return cx - cy;
}

/* Lines sorted (equal profiles give equal files) without building them: a window of deep
 * stacks as text is tens of megabytes the agent would hold for a moment every window. Two
 * stacks of distinct frames that read the same (frame.h says which) are one line. */
int folded__write(const struct profile *p, FILE *out)
{
	struct profile_stack **sorted = calloc(p->nstacks ? p->nstacks : 1, sizeof(*sorted));
	struct frame_texts t = {0};
	struct profile_stack *s;
	size_t it = 0, n = 0;
	int err = 0;

	if (!sorted)
		return -ENOMEM;
	err = frame_texts__init(&t, p);
	if (err)
		goto out;
	while (hashmap__next(&p->stacks, &it, NULL, (void **)&s)) {
		for (; s; s = s->next_same_hash) {
			if (s->weight && n < p->nstacks)
				sorted[n++] = s;
		}
	}
	qsort_r(sorted, n, sizeof(*sorted), cmp_stacks, &t);
	for (size_t i = 0; i < n && !err; i++) {
		uint64_t weight = sorted[i]->weight;

		s = sorted[i];
		while (i + 1 < n && !cmp_stacks(&sorted[i], &sorted[i + 1], &t))
			weight += sorted[++i]->weight;
		for (uint32_t f = 0; f < s->n && !err; f++) {
			if ((f && fputc(';', out) == EOF) ||
			    fputs(t.buf + t.off[s->ids[f]], out) == EOF)
				err = -EIO;
		}
		if (!err && fprintf(out, " %llu\n", (unsigned long long)weight) < 0)
			err = -EIO;
	}
	if (!err && fflush(out))
		err = -errno;
out:
	frame_texts__free(&t);
	free(sorted);
	return err;
}

/* ---- reading ---- */

void folded_memo__init(struct folded_memo *m)
{
	memset(m, 0, sizeof(*m));
	hashmap__init(&m->stacks);
}

void folded_memo__free(struct folded_memo *m)
{
	hashmap__free(&m->stacks);
}

void folded_parser__init(struct folded_parser *fp, struct profile *p)
{
	memset(fp, 0, sizeof(*fp));
	fp->profile = p;
}

void folded_parser__free(struct folded_parser *fp)
{
	if (!fp)
		return;
	free(fp->buf);
	free(fp->ids);
	fp->buf = NULL;
	fp->ids = NULL;
}

static int fail(struct folded_parser *fp, int err, char *msg, size_t msg_len, const char *fmt, ...)
{
	va_list ap;
	int o;

	fp->failed = err;
	if (!msg || !msg_len)
		return err;
	o = snprintf(msg, msg_len, "line %lu: ", fp->line);
	if (o < 0 || (size_t)o >= msg_len)
		return err;
	va_start(ap, fmt);
	vsnprintf(msg + o, msg_len - o, fmt, ap);
	va_end(ap);
	return err;
}

/* A short printable excerpt of s, for messages. */
static const char *excerpt(const char *s, size_t n, char *buf, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 4 < size; i++)
		buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (o + 4 >= size && n > o) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

static int push_id(struct folded_parser *fp, uint32_t *n, const char *frame)
{
	int64_t id = profile__frame_text(fp->profile, frame, *n);

	if (id < 0)
		return (int)id;
	if (*n == fp->ids_cap) {
		size_t cap = fp->ids_cap ? fp->ids_cap * 2 : 256;
		uint32_t *ids = realloc(fp->ids, cap * sizeof(*ids));

		if (!ids)
			return -ENOMEM;
		fp->ids = ids;
		fp->ids_cap = cap;
	}
	fp->ids[(*n)++] = (uint32_t)id;
	return 0;
}

/* Parses fp->buf[0 .. fp->len) as one line (no newline); may write into the buffer. */
static int parse_line(struct folded_parser *fp, char *msg, size_t msg_len)
{
	char *s = fp->buf, *sp, *count, *end, tmp[48];
	struct profile_stack *st = NULL;
	struct hkey key = {0};
	size_t n = fp->len;
	unsigned long long w;
	uint32_t nids = 0;
	int err;

	fp->line++;
	if (n && s[n - 1] == '\r')
		n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(fp, -EINVAL, msg, msg_len,
				    "binary data (byte 0x%02x at column %zu): not folded text", c,
				    i + 1);
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (!n)
		return 0; /* blank lines are allowed */
	s[n] = '\0';
	sp = strrchr(s, ' ');
	if (!sp || strrchr(s, '\t') > sp)
		sp = strrchr(s, '\t');
	if (!sp)
		return fail(fp, -EINVAL, msg, msg_len,
			    "no count at the end of the line (expected 'frame;...;frame COUNT')");
	count = sp + 1;
	if (count[0] == '-' && count[1] >= '0' && count[1] <= '9')
		return fail(fp, -EINVAL, msg, msg_len, "negative count '%s'",
			    excerpt(count, strlen(count), tmp, sizeof(tmp)));
	if (count[0] < '0' || count[0] > '9')
		return fail(fp, -EINVAL, msg, msg_len,
			    "no count at the end of the line: '%s' is not a count",
			    excerpt(count, strlen(count), tmp, sizeof(tmp)));
	errno = 0;
	w = strtoull(count, &end, 10);
	if (*end)
		return fail(fp, -EINVAL, msg, msg_len,
			    "no count at the end of the line: '%s' is not a count",
			    excerpt(count, strlen(count), tmp, sizeof(tmp)));
	if (errno == ERANGE || w > INT64_MAX)
		return fail(fp, -EOVERFLOW, msg, msg_len, "count '%s' is out of range",
			    excerpt(count, strlen(count), tmp, sizeof(tmp)));
	while (sp > s && (sp[-1] == ' ' || sp[-1] == '\t'))
		sp--;
	*sp = '\0';
	if (sp == s)
		return fail(fp, -EINVAL, msg, msg_len, "no stack before the count");
	if (!w)
		return 0;
	if (fp->profile->total + w < fp->profile->total || fp->profile->total + w > INT64_MAX)
		return fail(fp, -EOVERFLOW, msg, msg_len, "the counts add up to more than %lld",
			    (long long)INT64_MAX);
	if (fp->totals_only) {
		fp->profile->total += w;
		return 0;
	}
	if (fp->memo) {
		key = hash__text(s, sp - s);
		st = hashmap__get(&fp->memo->stacks, key);
		if (st) {
			fp->memo->hits++;
			profile__add_weight(fp->profile, st, w);
			return 0;
		}
		fp->memo->misses++;
	}
	for (char *f = s;;) {
		char *semi = strchr(f, ';');

		if (semi)
			*semi = '\0';
		err = push_id(fp, &nids, f);
		if (err)
			return fail(fp, err, msg, msg_len, "%s", strerror(-err));
		if (!semi)
			break;
		f = semi + 1;
	}
	err = profile__add_stack(fp->profile, fp->ids, nids, w, &st);
	if (!err && fp->memo)
		err = hashmap__put(&fp->memo->stacks, key, st, NULL);
	if (err)
		return fail(fp, err, msg, msg_len, "%s", strerror(-err));
	return 0;
}

static int append(struct folded_parser *fp, const char *data, size_t n, char *msg, size_t msg_len)
{
	if (fp->len + n > FOLDED_MAX_LINE) {
		fp->line++;
		return fail(fp, -E2BIG, msg, msg_len, "longer than %d bytes, not a folded stack",
			    FOLDED_MAX_LINE);
	}
	if (fp->len + n + 1 > fp->cap) {
		size_t cap = fp->cap ? fp->cap : 4096;
		char *b;

		while (cap < fp->len + n + 1)
			cap *= 2;
		b = realloc(fp->buf, cap);
		if (!b)
			return fail(fp, -ENOMEM, msg, msg_len, "out of memory");
		fp->buf = b;
		fp->cap = cap;
	}
	memcpy(fp->buf + fp->len, data, n);
	fp->len += n;
	return 0;
}

int folded_parser__feed(struct folded_parser *fp, const char *data, size_t len, char *err,
			size_t err_len)
{
	int ret;

	if (fp->failed)
		return fp->failed;
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;

		ret = append(fp, data, n, err, err_len);
		if (ret)
			return ret;
		if (!nl)
			break;
		ret = parse_line(fp, err, err_len);
		if (ret)
			return ret;
		fp->len = 0;
		data += n + 1;
		len -= n + 1;
	}
	return 0;
}

int folded_parser__finish(struct folded_parser *fp, char *err, size_t err_len)
{
	int ret;

	if (fp->failed)
		return fp->failed;
	if (!fp->len)
		return 0;
	ret = parse_line(fp, err, err_len);
	fp->len = 0;
	return ret;
}

int folded__gz_failed(gzFile gz, int n)
{
	int zerr = Z_OK;

	if (n < 0)
		return 1;
	gzerror(gz, &zerr); /* a truncated stream reads as an early end of file: ask */
	return zerr != Z_OK;
}

int folded__gz_error(gzFile gz, unsigned long line, char *err, size_t err_len)
{
	int zerr;
	const char *msg = gzerror(gz, &zerr);

	if (zerr == Z_ERRNO) {
		snprintf(err, err_len, "read error after line %lu: %s", line, strerror(errno));
		return -EIO;
	}
	if (!strncmp(msg, "<fd:", 4) && strstr(msg, ": "))
		msg = strstr(msg, ": ") + 2; /* zlib names the file "<fd:N>" */
	snprintf(err, err_len, "after line %lu: truncated or corrupt gzip data (%s)", line, msg);
	return -EINVAL;
}

int folded__read_gz(struct folded_parser *fp, gzFile gz, const void *head, size_t head_len,
		    char *err, size_t err_len)
{
	char *chunk = malloc(1 << 16);
	int ret, n = 0;

	if (!chunk) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	ret = head_len ? folded_parser__feed(fp, head, head_len, err, err_len) : 0;
	while (!ret && (n = gzread(gz, chunk, 1 << 16)) > 0)
		ret = folded_parser__feed(fp, chunk, n, err, err_len);
	if (!ret && folded__gz_failed(gz, n))
		ret = folded__gz_error(gz, fp->line, err, err_len);
	if (!ret)
		ret = folded_parser__finish(fp, err, err_len);
	free(chunk);
	return ret;
}

int folded__gz_open(const char *path, gzFile *ret, char *err, size_t err_len)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : dup(0);

	if (fd < 0) {
		int e = errno;

		snprintf(err, err_len, "cannot open: %s", strerror(e));
		return -e;
	}
	*ret = gzdopen(fd, "rb"); /* reads plain files as they are */
	if (!*ret) {
		close(fd);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int folded__read_path(const char *path, struct profile *p, char *err, size_t err_len)
{
	struct folded_parser fp;
	gzFile gz;
	int ret = folded__gz_open(path, &gz, err, err_len);

	if (ret)
		return ret;
	folded_parser__init(&fp, p);
	ret = folded__read_gz(&fp, gz, NULL, 0, err, err_len);
	folded_parser__free(&fp);
	gzclose(gz);
	return ret;
}
