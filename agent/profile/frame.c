// SPDX-License-Identifier: MIT
/* A frame's text form (frame.h): written from the record, read back from files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "profile/frame.h"
#include "util/text.h"

const char *const frame_kind_names[FRAME_KIND_MAX] = {
    [FRAME_NATIVE] = "native",	     [FRAME_PYTHON] = "python",	  [FRAME_KERNEL] = "kernel",
    [FRAME_MARKER] = "marker",	     [FRAME_PROCESS] = "process", [FRAME_THREAD] = "thread",
    [FRAME_CONTAINER] = "container",
};

size_t frame__format(const struct frame *f, char *buf, size_t size)
{
	int n;

	switch (f->kind) {
	case FRAME_PYTHON:
		n = snprintf(buf, size, "%s (%s:%lld)", f->name, f->file ? f->file : "",
			     (long long)f->number);
		break;
	case FRAME_KERNEL:
		n = snprintf(buf, size, "%s_[k]", f->name);
		break;
	case FRAME_PROCESS:
		n = snprintf(buf, size, "%s (%lld)", f->name, (long long)f->number);
		break;
	case FRAME_THREAD:
		n = snprintf(buf, size, "thread %lld (%s)", (long long)f->number, f->name);
		break;
	case FRAME_CONTAINER:
		n = snprintf(buf, size, "[container %s]", f->name);
		break;
	default: /* native, marker, and kinds this version does not know */
		n = snprintf(buf, size, "%s", f->name);
		break;
	}
	return n < 0 ? 0 : (size_t)n;
}

static int all_digits(const char *s, size_t n)
{
	if (!n || n > 10)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int64_t number_of(const char *s, size_t n)
{
	int64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* Rule 6: split at the first " (" (the file is taken greedily), then ":DIGITS)" at the end. */
static int parse_python(const char *f, size_t n, struct frame_parts *ret)
{
	const char *open = strstr(f, " (");
	const char *colon;
	size_t qlen;

	if (!open || f[n - 1] != ')')
		return 0;
	qlen = open - f;
	colon = f + n - 2; /* last character before ')' */
	while (colon > open + 2 && *colon >= '0' && *colon <= '9')
		colon--;
	if (*colon != ':' || colon == open + 2 || !qlen)
		return 0;
	if (!all_digits(colon + 1, f + n - 1 - (colon + 1)))
		return 0;
	ret->kind = FRAME_PYTHON;
	ret->name = f;
	ret->name_len = qlen;
	ret->file = open + 2;
	ret->file_len = colon - (open + 2);
	ret->number = number_of(colon + 1, f + n - 1 - (colon + 1));
	return 1;
}

void frame__parse(const char *text, uint32_t depth, struct frame_parts *ret)
{
	size_t n = strlen(text);

	memset(ret, 0, sizeof(*ret));
	ret->kind = FRAME_NATIVE;
	ret->name = text;
	ret->name_len = n;
	if (!n)
		return;
	if (text__ends_with(text, n, "_[k]")) {
		ret->kind = FRAME_KERNEL;
		ret->name_len = n - 4;
		return;
	}
	if (text[0] == '[' && text[n - 1] == ']') {
		if (!strncmp(text, "[container ", 11) && n > 12) {
			ret->kind = FRAME_CONTAINER;
			ret->name = text + 11;
			ret->name_len = n - 12;
		} else {
			ret->kind = FRAME_MARKER;
		}
		return;
	}
	if (text[0] == '<' && text[n - 1] == '>' && !strchr(text, ' ')) {
		ret->kind = FRAME_MARKER;
		return;
	}
	if (text[n - 1] != ')')
		return;
	if (depth == 0) {
		/* "COMM (PID)": a comm may contain " (", so the last one counts */
		const char *open = NULL;

		for (const char *p = strstr(text, " ("); p; p = strstr(p + 1, " ("))
			open = p;
		if (open && all_digits(open + 2, text + n - 1 - (open + 2))) {
			ret->kind = FRAME_PROCESS;
			ret->name_len = open - text;
			ret->number = number_of(open + 2, text + n - 1 - (open + 2));
			return;
		}
	}
	if (depth == 1 && !strncmp(text, "thread ", 7)) {
		const char *tid = text + 7, *open = strstr(tid, " (");

		if (open && all_digits(tid, open - tid)) {
			ret->kind = FRAME_THREAD;
			ret->name = open + 2;
			ret->name_len = text + n - 1 - (open + 2);
			ret->number = number_of(tid, open - tid);
			return;
		}
	}
	parse_python(text, n, ret);
}
