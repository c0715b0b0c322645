// SPDX-License-Identifier: MIT
/* Reading a frame's name (frame.h). */
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

static int all_digits(const char *s, size_t n)
{
	if (!n || n > 10)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* "qualname (path:LINE)": qualnames have no " (", paths may, so split at the first one. */
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
	ret->number = strtol(colon + 1, NULL, 10);
	return 1;
}

void frame__parse(const char *frame, uint32_t depth, struct frame_parts *ret)
{
	size_t n = strlen(frame);

	memset(ret, 0, sizeof(*ret));
	ret->kind = FRAME_NATIVE;
	ret->name = frame;
	ret->name_len = n;
	if (!n)
		return;
	if (text__ends_with(frame, n, "_[k]")) {
		ret->kind = FRAME_KERNEL;
		ret->name_len = n - 4;
		return;
	}
	if (frame[0] == '[' && frame[n - 1] == ']') {
		if (!strncmp(frame, "[container ", 11) && n > 12) {
			ret->kind = FRAME_CONTAINER;
			ret->name = frame + 11;
			ret->name_len = n - 12;
		} else {
			ret->kind = FRAME_MARKER;
		}
		return;
	}
	if (frame[0] == '<' && frame[n - 1] == '>' && !strchr(frame, ' ')) {
		ret->kind = FRAME_MARKER;
		return;
	}
	if (frame[n - 1] != ')')
		return;
	if (depth == 0) {
		/* "COMM (PID)": a comm may contain " (", so the last one counts */
		const char *open = NULL;

		for (const char *p = strstr(frame, " ("); p; p = strstr(p + 1, " ("))
			open = p;
		if (open && all_digits(open + 2, frame + n - 1 - (open + 2))) {
			ret->kind = FRAME_PROCESS;
			ret->name_len = open - frame;
			ret->number = strtol(open + 2, NULL, 10);
			return;
		}
	}
	if (depth == 1 && !strncmp(frame, "thread ", 7)) {
		const char *tid = frame + 7, *open = strstr(tid, " (");

		if (open && all_digits(tid, open - tid)) {
			ret->kind = FRAME_THREAD;
			ret->name = open + 2;
			ret->name_len = frame + n - 1 - (open + 2);
			ret->number = strtol(tid, NULL, 10);
			return;
		}
	}
	parse_python(frame, n, ret);
}

size_t frame__function_name(const char *frame, uint32_t depth, char *buf, size_t size)
{
	struct frame_parts fp;

	frame__parse(frame, depth, &fp);
	if (fp.kind == FRAME_PYTHON)
		return snprintf(buf, size, "%.*s (%.*s)", (int)fp.name_len, fp.name,
				(int)fp.file_len, fp.file);
	return snprintf(buf, size, "%s", frame);
}
