/* SPDX-License-Identifier: MIT */
/* The upload spool: a directory of closed windows, gzipped, waiting for the object store. The
 * directory is the queue: a window is in it from its fsynced rename until its upload succeeded,
 * so a crash or restart loses nothing and a new process finds every pending window. */
#ifndef PYPROF_SPOOL_H
#define PYPROF_SPOOL_H

#include <stddef.h>
#include <stdint.h>

/* A spooled window is one file, "YYYYmmddTHHMMSSZ-MODE.folded.gz" (window start, UTC), so the
 * names sort by window start, then mode. Its content is exactly the object to upload: gzip
 * (RFC 1952) of the window's folded text, whose header comment (FCOMMENT) carries the window's
 * metadata as space-separated key=value words:
 *   pyprof-window host=web-1 mode=cpu start=1700000000 duration_ms=60000 window_seconds=60
 *   frequency_hz=99 agent_version=0.1.0
 * so the file describes itself after a restart, and gunzip reads it as it is. */
#define SPOOL_NAME_MAX	  64
#define SPOOL_SUFFIX	  ".folded.gz"
#define SPOOL_COMMENT_MAX 1024 /* longest header comment accepted when reading */
/* Files being written are named ".tmp-..." and deleted when the spool is opened. */
#define SPOOL_TMP_PREFIX ".tmp-"

struct spool_window {
	char host[256];		 /* host name at recording time */
	char mode[16];		 /* "cpu", "offcpu", ...: lowercase letters */
	int64_t start_s;	 /* window start, seconds since the Unix epoch (UTC) */
	uint64_t duration_ms;	 /* data the window holds (a first or last window is partial) */
	uint32_t window_seconds; /* configured window length */
	uint32_t frequency_hz;	 /* sampling frequency */
	char agent_version[32];
};

/* Figures of the spool, for status and metrics. */
struct spool_stats {
	uint64_t bytes;	    /* size of the pending windows */
	uint64_t windows;   /* pending windows */
	uint64_t evictions; /* windows deleted unsent to keep bytes <= max_bytes */
	uint64_t evicted_bytes;
	uint64_t quarantined; /* unreadable files renamed NAME.corrupt and left alone */
};

struct spool;

/* Opens (creating it, mode 0700, parents too) the spool directory: deletes leftover temporary
 * files, and takes every "*-MODE.folded.gz" file in it as pending, oldest first. Windows beyond
 * max_bytes are evicted at once, oldest first. Returns 0 or -errno with a message. */
int spool__open(const char *dir, uint64_t max_bytes, struct spool **ret, char *err, size_t errlen);
void spool__free(struct spool *sp);
const char *spool__dir(const struct spool *sp);
/* A new cap; evicts oldest windows (never the newest) until the spool fits. */
void spool__set_max_bytes(struct spool *sp, uint64_t max_bytes);

/* Spools one window: gzips data (its folded text) with w in the header, writes it to a
 * temporary file, fsyncs it, renames it to its name and fsyncs the directory. Then, while the
 * spool holds more than max_bytes, the oldest window other than this one (and other than the
 * one being uploaded) is deleted and counted. A window with the name of a pending one replaces
 * it. Returns 0 or -errno with a message naming the file. */
int spool__put(struct spool *sp, const struct spool_window *w, const void *data, size_t len,
	       char *err, size_t errlen);

/* The oldest pending window's name, marked in flight (spared by eviction) until spool__done();
 * -ENOENT when the spool is empty. */
int spool__next(struct spool *sp, char ret_name[SPOOL_NAME_MAX]);
/* Reads a pending window: its bytes (malloc'd, the whole gzip file) and metadata. -ENOENT if
 * it was evicted meanwhile; -EBADMSG if it is not a window this agent wrote. */
int spool__read(struct spool *sp, const char *name, void **ret_data, size_t *ret_len,
		struct spool_window *ret_w);
/* Ends the in-flight mark of name; uploaded: the window is deleted from the spool. */
void spool__done(struct spool *sp, const char *name, int uploaded);
/* Renames an unreadable window to NAME.corrupt (kept for inspection, no longer pending). */
void spool__quarantine(struct spool *sp, const char *name);
void spool__stats(struct spool *sp, struct spool_stats *ret);

/* Helpers, exposed for the unit tests. */
/* "YYYYmmddTHHMMSSZ-MODE.folded.gz"; -EINVAL for a mode that is not lowercase letters. */
int spool__name(int64_t start_s, const char *mode, char ret_name[SPOOL_NAME_MAX]);
/* 1 if name is a spooled window's name, else 0. */
int spool__is_window_name(const char *name);
/* Gzips data with w in the header comment; *ret is malloc'd. */
int spool__gzip(const struct spool_window *w, const void *data, size_t len, void **ret,
		size_t *ret_len);
/* Parses the gzip header of a spooled window (the first len bytes of the file). */
int spool__parse_header(const void *buf, size_t len, struct spool_window *ret_w);

#endif
