// SPDX-License-Identifier: MIT
/* The upload spool: closed windows on disk, gzipped, oldest first. The daemon thread puts
 * windows in, the uploader thread takes them out; a mutex guards the in-memory index (names and
 * sizes), the files are the truth and survive restarts. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "upload/spool.h"
#include "util/atomicfile.h"
#include "util/errbuf.h"
#include "util/text.h"

/* A spooled window larger than this is not read back (S3 takes at most 5 GiB in one PUT; a
 * window of folded stacks is kilobytes to megabytes). */
#define SPOOL_MAX_FILE_BYTES (1ULL << 30)
#define GZIP_LEVEL	     6

struct spool_entry {
	char name[SPOOL_NAME_MAX];
	uint64_t size;
};

struct spool {
	pthread_mutex_t lock;
	char *dir;
	uint64_t max_bytes;
	struct spool_entry *e; /* sorted by name: oldest first */
	size_t n, cap;
	uint64_t bytes;
	char inflight[SPOOL_NAME_MAX]; /* being uploaded: spared by eviction; "" for none */
	uint64_t evictions, evicted_bytes, quarantined;
};

/* ---- names and the gzip container ---- */

int spool__name(int64_t start_s, const char *mode, char ret_name[SPOOL_NAME_MAX])
{
	time_t t = (time_t)start_s;
	char stamp[32];
	struct tm tm;
	size_t i, n = strlen(mode);

	if (!n || n > 15)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (mode[i] < 'a' || mode[i] > 'z')
			return -EINVAL;
	}
	if (!gmtime_r(&t, &tm) || tm.tm_year < 0 || tm.tm_year > 8099 ||
	    !strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm))
		return -EINVAL;
	snprintf(ret_name, SPOOL_NAME_MAX, "%s-%s%s", stamp, mode, SPOOL_SUFFIX);
	return 0;
}

int spool__is_window_name(const char *name)
{
	static const char shape[] = "########T######Z-"; /* '#': a digit */
	size_t i, len = strlen(name), slen = strlen(SPOOL_SUFFIX);

	if (len >= SPOOL_NAME_MAX || len < sizeof(shape) - 1 + 1 + slen)
		return 0;
	for (i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == '#' ? (name[i] < '0' || name[i] > '9') : name[i] != shape[i])
			return 0;
	}
	for (; i < len - slen; i++) {
		if (name[i] < 'a' || name[i] > 'z')
			return 0;
	}
	return !strcmp(name + len - slen, SPOOL_SUFFIX);
}

static int host_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 253 || s[0] == '.' || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int format_comment(const struct spool_window *w, char *buf, size_t size)
{
	int n;

	if (!host_ok(w->host) || strchr(w->agent_version, ' ') || !w->agent_version[0])
		return -EINVAL;
	n = snprintf(buf, size,
		     "pyprof-window host=%s mode=%s start=%" PRId64 " duration_ms=%" PRIu64
		     " window_seconds=%" PRIu32 " frequency_hz=%" PRIu32 " agent_version=%s",
		     w->host, w->mode, w->start_s, w->duration_ms, w->window_seconds,
		     w->frequency_hz, w->agent_version);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int spool__gzip(const struct spool_window *w, const void *data, size_t len, void **ret,
		size_t *ret_len)
{
	char comment[SPOOL_COMMENT_MAX], name[SPOOL_NAME_MAX];
	gz_header head = {0};
	z_stream zs = {0};
	size_t cap, done = 0;
	uint8_t *out;
	int err, zerr;

	err = spool__name(w->start_s, w->mode, name);
	if (!err)
		err = format_comment(w, comment, sizeof(comment));
	if (err)
		return err;
	if (deflateInit2(&zs, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	head.text = 1;
	head.time = w->start_s > 0 ? (uLong)w->start_s : 0;
	head.os = 3; /* Unix */
	head.comment = (Bytef *)comment;
	if (deflateSetHeader(&zs, &head) != Z_OK) {
		deflateEnd(&zs);
		return -EINVAL;
	}
	cap = deflateBound(&zs, len > UINT32_MAX ? UINT32_MAX : (uLong)len) + sizeof(comment) + 64;
	out = malloc(cap);
	if (!out) {
		deflateEnd(&zs);
		return -ENOMEM;
	}
	zs.next_in = (Bytef *)data;
	do {
		size_t in_left =
		    len - (size_t)((const uint8_t *)zs.next_in - (const uint8_t *)data);

		zs.avail_in = in_left > UINT32_MAX ? UINT32_MAX : (uInt)in_left;
		if (cap - done < 4096) {
			uint8_t *bigger = realloc(out, cap * 2);

			if (!bigger) {
				free(out);
				deflateEnd(&zs);
				return -ENOMEM;
			}
			out = bigger;
			cap *= 2;
		}
		zs.next_out = out + done;
		zs.avail_out = cap - done > UINT32_MAX ? UINT32_MAX : (uInt)(cap - done);
		zerr = deflate(&zs, zs.avail_in == in_left ? Z_FINISH : Z_NO_FLUSH);
		done = (size_t)(zs.next_out - out);
		if (zerr != Z_OK && zerr != Z_STREAM_END && zerr != Z_BUF_ERROR) {
			free(out);
			deflateEnd(&zs);
			return -EIO;
		}
	} while (zerr != Z_STREAM_END);
	deflateEnd(&zs);
	*ret = out;
	*ret_len = done;
	return 0;
}

static int parse_u64(const char *s, uint64_t *ret)
{
	return text__parse_u64(s, strlen(s), UINT64_MAX, ret) ? -EINVAL : 0;
}

/* "pyprof-window key=value ...": host, mode and start are required. */
static int parse_comment(char *text, struct spool_window *w)
{
	char *save = NULL, *word = strtok_r(text, " ", &save);
	int have = 0;

	if (!word || strcmp(word, "pyprof-window"))
		return -EBADMSG;
	memset(w, 0, sizeof(*w));
	while ((word = strtok_r(NULL, " ", &save))) {
		char *val = strchr(word, '=');
		uint64_t v = 0;

		if (!val)
			return -EBADMSG;
		*val++ = '\0';
		if (!strcmp(word, "host")) {
			if (!host_ok(val))
				return -EBADMSG;
			snprintf(w->host, sizeof(w->host), "%s", val);
			have |= 1;
		} else if (!strcmp(word, "mode")) {
			char name[SPOOL_NAME_MAX];

			if (strlen(val) >= sizeof(w->mode) || spool__name(0, val, name))
				return -EBADMSG;
			snprintf(w->mode, sizeof(w->mode), "%s", val);
			have |= 2;
		} else if (!strcmp(word, "agent_version")) {
			if (strlen(val) >= sizeof(w->agent_version))
				return -EBADMSG;
			snprintf(w->agent_version, sizeof(w->agent_version), "%s", val);
		} else {
			if (parse_u64(val, &v))
				return -EBADMSG;
			if (!strcmp(word, "start") && v <= INT64_MAX) {
				w->start_s = (int64_t)v;
				have |= 4;
			} else if (!strcmp(word, "duration_ms")) {
				w->duration_ms = v;
			} else if (!strcmp(word, "window_seconds") && v <= UINT32_MAX) {
				w->window_seconds = (uint32_t)v;
			} else if (!strcmp(word, "frequency_hz") && v <= UINT32_MAX) {
				w->frequency_hz = (uint32_t)v;
			}
			/* unknown keys are skipped: a newer agent may add some */
		}
	}
	return have == 7 ? 0 : -EBADMSG;
}

int spool__parse_header(const void *buf, size_t len, struct spool_window *ret_w)
{
	const uint8_t *p = buf, *end = p + len;
	char comment[SPOOL_COMMENT_MAX];
	uint8_t flags;
	size_t n;

	if (len < 10 || p[0] != 0x1f || p[1] != 0x8b || p[2] != 8)
		return -EBADMSG;
	flags = p[3];
	if (flags & 0xe0 || !(flags & 0x10))
		return -EBADMSG; /* reserved bits, or no comment */
	p += 10;
	if (flags & 0x04) { /* FEXTRA */
		if (end - p < 2)
			return -EBADMSG;
		n = (size_t)p[0] | (size_t)p[1] << 8;
		p += 2;
		if ((size_t)(end - p) < n)
			return -EBADMSG;
		p += n;
	}
	if (flags & 0x08) { /* FNAME */
		const uint8_t *z = memchr(p, 0, (size_t)(end - p));

		if (!z)
			return -EBADMSG;
		p = z + 1;
	}
	n = 0;
	while (p + n < end && p[n] && n < sizeof(comment) - 1)
		n++;
	if (p + n >= end || p[n])
		return -EBADMSG; /* unterminated, or longer than SPOOL_COMMENT_MAX */
	memcpy(comment, p, n);
	comment[n] = '\0';
	return parse_comment(comment, ret_w);
}

/* The whole gzip stream inflates and its CRC and length check out. */
static int gzip_intact(const void *data, size_t len)
{
	z_stream zs = {0};
	uint8_t scratch[16384];
	int zerr;

	if (len > UINT32_MAX || inflateInit2(&zs, 15 + 16) != Z_OK)
		return 0;
	zs.next_in = (Bytef *)data;
	zs.avail_in = (uInt)len;
	do {
		zs.next_out = scratch;
		zs.avail_out = sizeof(scratch);
		zerr = inflate(&zs, Z_NO_FLUSH);
	} while (zerr == Z_OK);
	inflateEnd(&zs);
	return zerr == Z_STREAM_END && zs.avail_in == 0;
}

/* ---- the directory ---- */

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct spool_entry *)a)->name, ((const struct spool_entry *)b)->name);
}

/* Index of name, or of where it would go (*found = 0). Lock held. */
static size_t entry_find(const struct spool *sp, const char *name, int *found)
{
	size_t lo = 0, hi = sp->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(sp->e[mid].name, name);

		if (!c) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

static int entry_add(struct spool *sp, const char *name, uint64_t size)
{
	int found;
	size_t i = entry_find(sp, name, &found);

	if (found) {
		sp->bytes -= sp->e[i].size;
		sp->e[i].size = size;
		sp->bytes += size;
		return 0;
	}
	if (sp->n == sp->cap) {
		size_t cap = sp->cap ? sp->cap * 2 : 64;
		struct spool_entry *e = realloc(sp->e, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		sp->e = e;
		sp->cap = cap;
	}
	memmove(sp->e + i + 1, sp->e + i, (sp->n - i) * sizeof(*sp->e));
	snprintf(sp->e[i].name, SPOOL_NAME_MAX, "%s", name);
	sp->e[i].size = size;
	sp->n++;
	sp->bytes += size;
	return 0;
}

static void entry_remove_at(struct spool *sp, size_t i)
{
	sp->bytes -= sp->e[i].size;
	memmove(sp->e + i, sp->e + i + 1, (sp->n - i - 1) * sizeof(*sp->e));
	sp->n--;
}

static void entry_remove(struct spool *sp, const char *name)
{
	int found;
	size_t i = entry_find(sp, name, &found);

	if (found)
		entry_remove_at(sp, i);
}

/* Deletes the oldest windows while over the cap, sparing keep (the window just spooled), the
 * newest and the one in flight. Lock held. */
static void evict(struct spool *sp, const char *keep)
{
	char path[PATH_MAX];
	size_t i = 0;

	while (sp->bytes > sp->max_bytes && i + 1 < sp->n) {
		struct spool_entry *e = &sp->e[i];

		if ((keep && !strcmp(e->name, keep)) || !strcmp(e->name, sp->inflight)) {
			i++;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", sp->dir, e->name);
		if (unlink(path) && errno != ENOENT) {
			i++; /* cannot delete it: try the next oldest */
			continue;
		}
		sp->evictions++;
		sp->evicted_bytes += e->size;
		entry_remove_at(sp, i);
	}
}

int spool__open(const char *dir, uint64_t max_bytes, struct spool **ret, char *err, size_t errlen)
{
	struct spool *sp;
	struct dirent *de;
	DIR *d;
	int rc;

	rc = atomicfile__make_dirs(dir);
	if (rc) {
		errbuf__set(err, errlen, "cannot create the spool directory %s: %s", dir,
			    strerror(-rc));
		return rc;
	}
	d = opendir(dir);
	if (!d) {
		rc = -errno;
		errbuf__set(err, errlen, "cannot open the spool directory %s: %s", dir,
			    strerror(-rc));
		return rc;
	}
	sp = calloc(1, sizeof(*sp));
	if (!sp || !(sp->dir = strdup(dir))) {
		free(sp);
		closedir(d);
		errbuf__set(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&sp->lock, NULL);
	sp->max_bytes = max_bytes;
	while ((de = readdir(d))) {
		struct stat st;

		if (!strncmp(de->d_name, SPOOL_TMP_PREFIX, strlen(SPOOL_TMP_PREFIX))) {
			/* a window being written when the agent stopped: never renamed, incomplete
			 */
			unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (!spool__is_window_name(de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		if (sp->n == sp->cap) {
			size_t cap = sp->cap ? sp->cap * 2 : 64;
			struct spool_entry *e = realloc(sp->e, cap * sizeof(*e));

			if (!e) {
				closedir(d);
				spool__free(sp);
				errbuf__set(err, errlen, "out of memory");
				return -ENOMEM;
			}
			sp->e = e;
			sp->cap = cap;
		}
		memcpy(sp->e[sp->n].name, de->d_name, strlen(de->d_name) + 1); /* < 64: checked */
		sp->e[sp->n].size = (uint64_t)st.st_size;
		sp->bytes += (uint64_t)st.st_size;
		sp->n++;
	}
	closedir(d);
	if (sp->n)
		qsort(sp->e, sp->n, sizeof(*sp->e), entry_cmp);
	evict(sp, NULL);
	*ret = sp;
	return 0;
}

void spool__free(struct spool *sp)
{
	if (!sp)
		return;
	pthread_mutex_destroy(&sp->lock);
	free(sp->e);
	free(sp->dir);
	free(sp);
}

const char *spool__dir(const struct spool *sp)
{
	return sp->dir;
}

void spool__set_max_bytes(struct spool *sp, uint64_t max_bytes)
{
	pthread_mutex_lock(&sp->lock);
	sp->max_bytes = max_bytes;
	evict(sp, NULL);
	pthread_mutex_unlock(&sp->lock);
}

int spool__put(struct spool *sp, const struct spool_window *w, const void *data, size_t len,
	       char *err, size_t errlen)
{
	char name[SPOOL_NAME_MAX], tmp_name[SPOOL_NAME_MAX + 16], path[PATH_MAX];
	struct atomic_file af;
	void *gz = NULL;
	size_t gz_len = 0;
	int rc;

	rc = spool__name(w->start_s, w->mode, name);
	if (!rc)
		rc = spool__gzip(w, data, len, &gz, &gz_len);
	if (rc) {
		errbuf__set(err, errlen, "cannot compress the %s window: %s", w->mode,
			    strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/%s", sp->dir, name);
	/* the prefix tells a reader of the spool (a restart) a window half written */
	snprintf(tmp_name, sizeof(tmp_name), "%s%s.XXXXXX", SPOOL_TMP_PREFIX, name);
	atomicfile__make_dirs(sp->dir); /* deleted under us: made again, as at start */
	rc = atomicfile__open(&af, path, tmp_name);
	if (rc) {
		free(gz);
		errbuf__set(err, errlen, "cannot create a file in %s: %s", sp->dir, strerror(-rc));
		return rc;
	}
	if (fwrite(gz, 1, gz_len, af.f) != gz_len) {
		rc = -EIO;
		atomicfile__abort(&af);
	} else {
		rc = atomicfile__commit(&af, 0600);
	}
	free(gz);
	if (rc) {
		errbuf__set(err, errlen, "cannot write %s: %s", path, strerror(-rc));
		return rc;
	}
	pthread_mutex_lock(&sp->lock);
	rc = entry_add(sp, name, gz_len);
	if (!rc)
		evict(sp, name);
	pthread_mutex_unlock(&sp->lock);
	if (rc)
		errbuf__set(err, errlen,
			    "out of memory indexing %s (it is uploaded after a restart)", path);
	return rc;
}

int spool__next(struct spool *sp, char ret_name[SPOOL_NAME_MAX])
{
	int rc = -ENOENT;

	pthread_mutex_lock(&sp->lock);
	if (sp->n) {
		snprintf(sp->inflight, sizeof(sp->inflight), "%s", sp->e[0].name);
		snprintf(ret_name, SPOOL_NAME_MAX, "%s", sp->e[0].name);
		rc = 0;
	}
	pthread_mutex_unlock(&sp->lock);
	return rc;
}

int spool__read(struct spool *sp, const char *name, void **ret_data, size_t *ret_len,
		struct spool_window *ret_w)
{
	char path[PATH_MAX];
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", sp->dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > SPOOL_MAX_FILE_BYTES) {
		close(fd);
		return -EBADMSG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	rc = got == (size_t)st.st_size ? spool__parse_header(buf, got, ret_w) : -EIO;
	if (!rc && !gzip_intact(buf, got))
		rc = -EBADMSG;
	if (rc) {
		free(buf);
		return rc;
	}
	*ret_data = buf;
	*ret_len = got;
	return 0;
}

void spool__done(struct spool *sp, const char *name, int uploaded)
{
	char path[PATH_MAX];

	pthread_mutex_lock(&sp->lock);
	if (!strcmp(sp->inflight, name))
		sp->inflight[0] = '\0';
	if (uploaded) {
		snprintf(path, sizeof(path), "%s/%s", sp->dir, name);
		unlink(path);
		entry_remove(sp, name);
	}
	pthread_mutex_unlock(&sp->lock);
}

void spool__quarantine(struct spool *sp, const char *name)
{
	char path[PATH_MAX], bad[PATH_MAX + 16];

	pthread_mutex_lock(&sp->lock);
	if (!strcmp(sp->inflight, name))
		sp->inflight[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s", sp->dir, name);
	snprintf(bad, sizeof(bad), "%s.corrupt", path);
	if (rename(path, bad))
		unlink(path);
	entry_remove(sp, name);
	sp->quarantined++;
	pthread_mutex_unlock(&sp->lock);
}

void spool__stats(struct spool *sp, struct spool_stats *ret)
{
	pthread_mutex_lock(&sp->lock);
	ret->bytes = sp->bytes;
	ret->windows = sp->n;
	ret->evictions = sp->evictions;
	ret->evicted_bytes = sp->evicted_bytes;
	ret->quarantined = sp->quarantined;
	pthread_mutex_unlock(&sp->lock);
}
