// SPDX-License-Identifier: MIT
/* Leveled logging to stderr; without timestamps under systemd (journald adds them). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>
#include "util/log.h"

static enum log_level current_level = LOG_INFO;
static const char *const level_names[] = {"error", "warning", "info", "debug"};

void log__set_level(enum log_level level)
{
	current_level = level;
}

int log__parse_level(const char *name, enum log_level *ret_level)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (!strcmp(name, level_names[i]) || (i == LOG_WARN && !strcmp(name, "warn"))) {
			*ret_level = i;
			return 0;
		}
	}
	return -1;
}

static void log__vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char stamp[32] = "";

	if (level > current_level)
		return;
	if (!getenv("JOURNAL_STREAM")) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	}
	flockfile(stderr); /* one line at a time: the uploader thread logs too */
	fprintf(stderr, "%s%s: ", stamp, level_names[level]);
	vfprintf(stderr, fmt, ap);
	if (!*fmt || fmt[strlen(fmt) - 1] != '\n')
		fputc('\n', stderr);
	funlockfile(stderr);
}

void log__msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log__vmsg(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	log__vmsg(level == LIBBPF_WARN ? LOG_WARN : LOG_DEBUG, fmt, ap);
	return 0;
}

void log__install_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

void log__info_line(void *ctx, const char *line)
{
	(void)ctx;
	log__msg(LOG_INFO, "%s", line);
}
