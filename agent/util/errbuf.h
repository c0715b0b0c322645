/* SPDX-License-Identifier: MIT */
/* Small helpers the library modules share: a caller-supplied error sentence, and making a
 * rename durable. */
#ifndef PYPROF_ERRBUF_H
#define PYPROF_ERRBUF_H

#include <stddef.h>

/* Writes a sentence into errbuf (if given and non-empty), like snprintf. */
void errbuf__set(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* fsyncs directory dir so a rename in it survives a crash (best effort). */
void errbuf__fsync_dir(const char *dir);

#endif
