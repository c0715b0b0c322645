/* SPDX-License-Identifier: MIT */
/* The agent's logger: leveled lines on stderr. Only mains and the daemon loop log. */
#ifndef PYPROF_LOG_H
#define PYPROF_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log__set_level(enum log_level level);
int log__parse_level(const char *name, enum log_level *ret_level);
void log__msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line to log at LOG_INFO, as a callback (ctx unused): e.g. sampler_opts.note, the ways of a
 * BPF part the kernel refused before another loaded, one line each. */
void log__info_line(void *ctx, const char *line);
/* Routes libbpf's messages through the logger (warnings at LOG_WARN, the rest at LOG_DEBUG). */
void log__install_libbpf(void);

#define log_error(...) log__msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log__msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log__msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log__msg(LOG_DEBUG, __VA_ARGS__)

#endif
