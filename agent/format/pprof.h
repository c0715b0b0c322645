/* SPDX-License-Identifier: MIT */
/* pprof's profile.proto (gzipped), as read by `go tool pprof`, Pyroscope and Parca: writing a
 * profile, and reading one back into folded stacks. */
#ifndef PYPROF_PPROF_H
#define PYPROF_PPROF_H

#include <stddef.h>
#include <stdio.h>
#include "profile/profile.h"

/* Sample types: cpu: samples/count and cpu/nanoseconds; offcpu: off_cpu/nanoseconds; wall:
 * wall/nanoseconds. One Location per distinct frame, one Function per (name, file): Python
 * frames give qualname, file and line, other frames their whole name. Every frame stays in the
 * stack (the root "COMM (PID)" too, so reading it back is lossless); samples are also labelled
 * pid, tid, thread_name and container_id where the stack or meta tells them. */
int pprof__write(const struct profile *p, const struct profile_meta *meta, FILE *out);

/* Reads a serialized Profile, gzipped or not, adding its stacks to p; fills ret_meta. Weights: the
 * samples/count value if there is one, nanosecond values as microseconds for off_cpu and wall,
 * else the default sample type's value. Returns 0, -EINVAL (not a valid profile; message in
 * err) or -ENOMEM. */
int pprof__read(const void *data, size_t len, struct profile *p, struct profile_meta *ret_meta,
		char *err, size_t err_len);

#endif
