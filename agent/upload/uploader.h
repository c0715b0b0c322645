/* SPDX-License-Identifier: MIT */
/* Periodic upload of closed windows to S3: the daemon thread spools each window (and returns),
 * one uploader thread pushes the spool to the store every upload.s3.interval_seconds, oldest
 * first, deleting a window only after a 2xx. Failures are retried (backoff with jitter for
 * network and server errors, once per interval for refusals) and logged at most once per
 * interval; windows stay spooled until they are sent, or evicted by the spool's size cap. */
#ifndef PYPROF_UPLOADER_H
#define PYPROF_UPLOADER_H

#include <stddef.h>
#include <stdint.h>
#include "config/config.h"
#include "format/output.h"
#include "profile/profile.h"
#include "util/statlist.h"

/* How long the daemon's exit waits for uploads still possible (its final window, mostly). */
#define UPLOADER_EXIT_FLUSH_MS 5000

struct uploader;

/* Makes *up match cfg->upload: creates it (uploads enabled, *up NULL), reconfigures it
 * (settings changed: its thread is stopped, an upload in flight aborted, and restarted with
 * the new settings; counters are kept), or frees it (uploads disabled; windows stay spooled).
 * On failure (the spool directory cannot be made, a setting the client cannot use) *up is
 * unchanged and the message names the key; -EINVAL is a configuration error. */
int uploader__apply(struct uploader **up, const struct agent_config *cfg, char *err, size_t errlen);
/* Stops the thread, letting uploads go on for at most flush_ms (0: abort at once), and frees
 * up. Windows not uploaded stay spooled for the next start. Accepts NULL. */
void uploader__free(struct uploader *up, unsigned flush_ms);

/* Spools a closed window (daemon thread; disk only, no network): its folded text (rendered
 * once by the caller, who may also write it locally), gzipped, with its metadata. host and
 * window_seconds are the recording configuration's. Returns 0 or -errno with a message; the
 * window is then not uploaded (it is counted). */
int uploader__spool(struct uploader *up, const char *folded, size_t len,
		    const struct profile_meta *meta, const char *host, uint32_t window_seconds,
		    char *err, size_t errlen);

/* Adds the upload figures (status lines and metrics) to l; up may be NULL (disabled). */
void uploader__gather(struct uploader *up, struct stat_list *l);

/* The delay before retry number attempt (0-based) of a failed upload: 1 s doubling per
 * attempt, capped at min(interval, 300 s), with "equal jitter" (a random point in the upper
 * half, rnd its random bits) so a fleet does not retry in step. Milliseconds. */
uint64_t uploader__backoff_ms(unsigned attempt, uint32_t interval_s, uint32_t rnd);

#endif
