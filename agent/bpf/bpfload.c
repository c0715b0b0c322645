// SPDX-License-Identifier: MIT
/* Deciding by loading (see bpfload.h): libbpf's messages during a try, environment overrides,
 * the clocksource. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include "bpf/bpfload.h"

/* What libbpf said during the current try (the verifier's log among it), its last TRY_LOG_MAX
 * bytes at most, which hold the verifier's closing lines. */
#define TRY_LOG_MAX (64 * 1024)

static struct {
	libbpf_print_fn_t saved; /* the logger's printer, which the try's messages go on to */
	char log[TRY_LOG_MAX];
	size_t len;
	int active;
} try_state;

/* Appends text to the try's log, keeping the tail: the verifier's last lines say what it
 * refused (libbpf prints its whole log as one message). */
static void try_append(const char *text, size_t n)
{
	if (n > TRY_LOG_MAX / 2) {
		text += n - TRY_LOG_MAX / 2;
		n = TRY_LOG_MAX / 2;
	}
	if (try_state.len + n >= TRY_LOG_MAX) {
		size_t drop = try_state.len + n - TRY_LOG_MAX / 2;

		drop = drop < try_state.len ? drop : try_state.len;
		memmove(try_state.log, try_state.log + drop, try_state.len - drop);
		try_state.len -= drop;
	}
	memcpy(try_state.log + try_state.len, text, n);
	try_state.len += n;
	try_state.log[try_state.len] = '\0';
}

static int try_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *text = NULL;
	va_list copy;
	int n;

	/* every level: some refusals (an extern's prototype) are told at debug level only */
	va_copy(copy, ap);
	n = vasprintf(&text, fmt, copy);
	va_end(copy);
	if (n > 0)
		try_append(text, (size_t)n);
	free(text);
	/* the whole log still reaches a --verbose run, at debug level */
	return try_state.saved ? try_state.saved(LIBBPF_DEBUG, fmt, ap) : 0;
}

void bpfload__try_begin(void)
{
	try_state.len = 0;
	try_state.log[0] = '\0';
	try_state.active = 1;
	try_state.saved = libbpf_set_print(try_print);
}

/* Lines of the verifier's log that say how much it did, not what it refused. */
static int is_statistics(const char *line, size_t len)
{
	static const char *const prefixes[] = {"processed ", "verification time", "stack depth",
					       "mark_precise", "max_states_per_insn"};

	if (!len)
		return 1;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		if (len >= strlen(prefixes[i]) && !strncmp(line, prefixes[i], strlen(prefixes[i])))
			return 1;
	}
	return 0;
}

/* Copies the line [line, line + len) into ret, without libbpf's prefix. */
static void copy_line(const char *line, size_t len, char *ret, size_t retlen)
{
	static const char prefix[] = "libbpf: ";

	if (len >= sizeof(prefix) - 1 && !strncmp(line, prefix, sizeof(prefix) - 1)) {
		line += sizeof(prefix) - 1;
		len -= sizeof(prefix) - 1;
	}
	while (len && (line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	snprintf(ret, retlen, "%.*s", (int)len, line);
}

/* The last meaningful line of the verifier's log between begin and end (a nested call looks
 * only for the line before a summary line); 0 if found. */
static int last_reason(const char *begin, const char *end, int nested, char *ret, size_t len)
{
	/* walk back over the lines between begin and end */
	while (end > begin + 1) {
		const char *stop = end - 1, *start;

		while (stop > begin && *stop == '\n')
			stop--;
		start = stop;
		while (start > begin && start[-1] != '\n')
			start--;
		if (!is_statistics(start, stop - start + 1)) {
			char last[256];

			copy_line(start, stop - start + 1, last, sizeof(last));
			/* a callback's refusal comes before the call's summary line: give both */
			if (strstr(last, "failed callback verification") && !nested &&
			    !last_reason(begin, start, 1, ret, len)) {
				size_t used = strlen(ret);

				snprintf(ret + used, len - used, " (%s)", last);
				return 0;
			}
			snprintf(ret, len, "%s", last);
			return 0;
		}
		end = start;
	}
	return -1;
}

/* The verifier's last meaningful line, from the last program log libbpf printed; 0 if found. */
static int verifier_reason(const char *log, char *ret, size_t len)
{
	const char *begin = NULL, *end = NULL, *p;

	for (p = log; (p = strstr(p, "-- BEGIN PROG LOAD LOG --")); p++)
		begin = p;
	if (!begin)
		return -1;
	begin = strchr(begin, '\n');
	end = begin ? strstr(begin, "-- END PROG LOAD LOG --") : NULL;
	if (!begin || !end)
		return -1;
	return last_reason(begin, end, 0, ret, len);
}

/* What libbpf says when something of the object does not fit the kernel, most telling first. */
static const char *const reason_words[] = {"incompatible", "not found", "failed to find",
					   "unsupported", "failed"};

void bpfload__try_end(int err, char *ret_reason, size_t len)
{
	const char *line, *nl;

	if (try_state.active)
		libbpf_set_print(try_state.saved);
	try_state.active = 0;
	if (!err || !ret_reason || !len)
		return;
	if (!verifier_reason(try_state.log, ret_reason, len))
		return;
	/* else the first line of libbpf's that says what did not match, then its first failure
	 * other than its closing summary */
	for (size_t k = 0; k < sizeof(reason_words) / sizeof(reason_words[0]); k++) {
		for (line = try_state.log; *line; line = nl + 1) {
			nl = strchr(line, '\n');
			if (!nl)
				nl = line + strlen(line);
			if (memmem(line, nl - line, reason_words[k], strlen(reason_words[k])) &&
			    !memmem(line, nl - line, "failed to load object", 21) &&
			    !memmem(line, nl - line, "failed to load BPF skeleton", 27)) {
				copy_line(line, nl - line, ret_reason, len);
				return;
			}
			if (!*nl)
				break;
		}
	}
	snprintf(ret_reason, len, "%s", strerror(err < 0 ? -err : err));
}

static int env_is_1(const char *name)
{
	const char *v = getenv(name);

	return v && !strcmp(v, "1");
}

unsigned bpfload__forced(void)
{
	return (env_is_1("PYPROF_FORCE_RAW_TP") ? BPFLOAD_FORCE_RAW_TP : 0) |
	       (env_is_1("PYPROF_NO_TASK_WORK") ? BPFLOAD_NO_TASK_WORK : 0) |
	       (env_is_1("PYPROF_FORCE_LEGACY") ? BPFLOAD_FORCE_LEGACY : 0);
}

const char *bpfload__forced_offcpu_way(void)
{
	const char *v = getenv("PYPROF_OFFCPU_WAY");

	return v && *v ? v : NULL;
}

int bpfload__sched_clock_is_global(void)
{
	char name[32] = "";
	FILE *f;

	if (bpfload__forced() & (BPFLOAD_FORCE_RAW_TP | BPFLOAD_FORCE_LEGACY))
		return 0;
	f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");
	if (!f)
		return 0;
	if (!fgets(name, sizeof(name), f))
		name[0] = '\0';
	fclose(f);
	return !strcmp(name, "tsc\n");
}

const char *bpfload__kernel_release(void)
{
	static struct utsname u;

	if (!u.release[0] && uname(&u))
		snprintf(u.release, sizeof(u.release), "unknown");
	return u.release;
}
