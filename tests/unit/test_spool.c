// SPDX-License-Identifier: MIT
/* The upload spool: names sort by window start then mode, the gzip container round-trips its
 * metadata and data, a reopened spool finds every window (and drops half-written ones), the
 * size cap evicts oldest first and never the newest or the one in flight, and unreadable files
 * are refused. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "upload/spool.h"

static struct spool_window window(int64_t start, const char *mode)
{
	struct spool_window w = {
	    .start_s = start, .duration_ms = 60000, .window_seconds = 60, .frequency_hz = 99};

	snprintf(w.host, sizeof(w.host), "web-1.example_com");
	snprintf(w.mode, sizeof(w.mode), "%s", mode);
	snprintf(w.agent_version, sizeof(w.agent_version), "0.1.0");
	return w;
}

static char *make_dir(void)
{
	char tmpl[] = "/tmp/test_spool_XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static void remove_dir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
	free(dir);
}

static int exists(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void put(struct spool *sp, int64_t start, const char *mode, const char *text)
{
	struct spool_window w = window(start, mode);
	char err[256];

	assert_int_equal(spool__put(sp, &w, text, strlen(text), err, sizeof(err)), 0);
}

static void test_names_sort_by_window_start_then_mode(void **state)
{
	char a[SPOOL_NAME_MAX], b[SPOOL_NAME_MAX], c[SPOOL_NAME_MAX];

	assert_int_equal(spool__name(1700000000, "cpu", a), 0);
	assert_string_equal(a, "20231114T221320Z-cpu.folded.gz");
	assert_int_equal(spool__name(1700000000, "offcpu", b), 0);
	assert_int_equal(spool__name(1700000060, "cpu", c), 0);
	assert_true(strcmp(a, b) < 0);
	assert_true(strcmp(b, c) < 0);
	/* a mode that is not lowercase letters could escape the name */
	assert_int_equal(spool__name(1700000000, "../x", a), -EINVAL);
	assert_int_equal(spool__name(1700000000, "", a), -EINVAL);
	assert_int_equal(spool__name(1700000000, "CPU", a), -EINVAL);
}

static void test_only_window_names_are_taken_as_windows(void **state)
{
	assert_true(spool__is_window_name("20231114T221320Z-cpu.folded.gz"));
	assert_true(spool__is_window_name("20231114T221320Z-offcpu.folded.gz"));
	assert_false(spool__is_window_name("20231114T221320Z-cpu.folded.gz.corrupt"));
	assert_false(spool__is_window_name(".tmp-20231114T221320Z-cpu.folded.gz.Ab12Cd"));
	assert_false(spool__is_window_name("20231114T221320Z-.folded.gz"));
	assert_false(spool__is_window_name("2023111xT221320Z-cpu.folded.gz"));
	assert_false(spool__is_window_name("20231114T221320Z-cpu.folded"));
	assert_false(spool__is_window_name("notes.txt"));
}

static void test_gzip_container_round_trips_metadata_and_data(void **state)
{
	static const char text[] = "python3 (42);<module> (/srv/app.py:1);f (/srv/app.py:2) 7\n";
	struct spool_window w = window(1700000000, "offcpu"), got;
	unsigned char out[256];
	z_stream zs = {0};
	size_t len;
	void *gz;

	w.duration_ms = 1234;
	assert_int_equal(spool__gzip(&w, text, sizeof(text) - 1, &gz, &len), 0);
	assert_int_equal(spool__parse_header(gz, len, &got), 0);
	assert_string_equal(got.host, w.host);
	assert_string_equal(got.mode, "offcpu");
	assert_int_equal(got.start_s, 1700000000);
	assert_int_equal(got.duration_ms, 1234);
	assert_int_equal(got.window_seconds, 60);
	assert_int_equal(got.frequency_hz, 99);
	assert_string_equal(got.agent_version, "0.1.0");
	/* plain gzip: any reader inflates it to the folded text */
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = gz;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = sizeof(out);
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	assert_int_equal(zs.total_out, sizeof(text) - 1);
	assert_memory_equal(out, text, sizeof(text) - 1);
	inflateEnd(&zs);
	free(gz);
}

static void test_headers_that_are_not_ours_are_refused(void **state)
{
	struct spool_window w = window(1700000000, "cpu"), got;
	/* gzip header with FCOMMENT (flag 0x10), then the comment and its NUL */
	static const unsigned char head[] = {0x1f, 0x8b, 8, 0x10, 0, 0, 0, 0, 0, 3};
	static const char *const comments[] = {
	    "something else host=a mode=cpu start=1",
	    "pyprof-window mode=cpu start=1",		  /* no host */
	    "pyprof-window host=a start=1",		  /* no mode */
	    "pyprof-window host=a mode=cpu",		  /* no start */
	    "pyprof-window host=../etc mode=cpu start=1", /* not a host name */
	    "pyprof-window host=a mode=c/u start=1",
	    "pyprof-window host=a mode=cpu start=-1",
	    "pyprof-window host=a mode=cpu start=1 frequency_hz=x",
	    "pyprof-window host=a mode=cpu start",
	};
	unsigned char buf[2048];
	void *gz;
	size_t len;

	for (size_t i = 0; i < sizeof(comments) / sizeof(comments[0]); i++) {
		size_t n = strlen(comments[i]) + 1;

		memcpy(buf, head, sizeof(head));
		memcpy(buf + sizeof(head), comments[i], n);
		assert_int_equal(spool__parse_header(buf, sizeof(head) + n, &got), -EBADMSG);
	}
	/* a well-formed one, with unknown keys skipped (a newer agent may add some) */
	memcpy(buf, head, sizeof(head));
	memcpy(buf + sizeof(head), "pyprof-window host=a mode=cpu start=5 later=1", 46);
	assert_int_equal(spool__parse_header(buf, sizeof(head) + 46, &got), 0);
	assert_int_equal(got.start_s, 5);
	/* unterminated comment, and a comment longer than the bound */
	assert_int_equal(spool__parse_header(buf, sizeof(head) + 20, &got), -EBADMSG);
	memcpy(buf, head, sizeof(head));
	memset(buf + sizeof(head), 'x', sizeof(buf) - sizeof(head));
	buf[sizeof(buf) - 1] = '\0';
	assert_int_equal(spool__parse_header(buf, sizeof(buf), &got), -EBADMSG);
	/* not gzip, no comment */
	assert_int_equal(spool__parse_header("hello world", 11, &got), -EBADMSG);
	assert_int_equal(spool__gzip(&w, "x", 1, &gz, &len), 0);
	((unsigned char *)gz)[3] = 0; /* flags: the comment is no longer announced */
	assert_int_equal(spool__parse_header(gz, len, &got), -EBADMSG);
	free(gz);
	/* a host that could leave the key's path is never written */
	snprintf(w.host, sizeof(w.host), "a/b");
	assert_int_equal(spool__gzip(&w, "x", 1, &gz, &len), -EINVAL);
}

static void test_windows_come_out_oldest_first_and_leave_after_upload(void **state)
{
	char *dir = make_dir(), name[SPOOL_NAME_MAX], err[256];
	struct spool_stats st;
	struct spool_window w;
	struct spool *sp;
	void *data;
	size_t len;

	assert_int_equal(spool__open(dir, 1 << 20, &sp, err, sizeof(err)), 0);
	put(sp, 1700000120, "cpu", "c 1\n");
	put(sp, 1700000000, "offcpu", "b 1\n");
	put(sp, 1700000000, "cpu", "a 1\n");
	spool__stats(sp, &st);
	assert_int_equal(st.windows, 3);
	assert_true(st.bytes > 0);

	assert_int_equal(spool__next(sp, name), 0);
	assert_string_equal(name, "20231114T221320Z-cpu.folded.gz");
	assert_int_equal(spool__read(sp, name, &data, &len, &w), 0);
	assert_string_equal(w.mode, "cpu");
	assert_int_equal(w.start_s, 1700000000);
	free(data);
	/* a failed upload leaves it first in line */
	spool__done(sp, name, 0);
	assert_int_equal(spool__next(sp, name), 0);
	assert_string_equal(name, "20231114T221320Z-cpu.folded.gz");
	spool__done(sp, name, 1);
	assert_false(exists(dir, "20231114T221320Z-cpu.folded.gz"));
	assert_int_equal(spool__next(sp, name), 0);
	assert_string_equal(name, "20231114T221320Z-offcpu.folded.gz");
	spool__done(sp, name, 1);
	assert_int_equal(spool__next(sp, name), 0);
	assert_string_equal(name, "20231114T221520Z-cpu.folded.gz");
	spool__done(sp, name, 1);
	assert_int_equal(spool__next(sp, name), -ENOENT);
	spool__stats(sp, &st);
	assert_int_equal(st.windows, 0);
	assert_int_equal(st.bytes, 0);
	spool__free(sp);
	remove_dir(dir);
}

static void test_a_reopened_spool_finds_its_windows_and_drops_half_written_ones(void **state)
{
	char *dir = make_dir(), name[SPOOL_NAME_MAX], err[256];
	struct spool_stats st;
	struct spool *sp;

	assert_int_equal(spool__open(dir, 1 << 20, &sp, err, sizeof(err)), 0);
	put(sp, 1700000060, "cpu", "b 1\n");
	put(sp, 1700000000, "cpu", "a 1\n");
	spool__free(sp); /* as a crash would, without uploading */
	write_file(dir, ".tmp-20231114T222720Z-cpu.folded.gz.Xy12Zw", "half", 4);
	write_file(dir, "README", "not a window", 12);

	assert_int_equal(spool__open(dir, 1 << 20, &sp, err, sizeof(err)), 0);
	spool__stats(sp, &st);
	assert_int_equal(st.windows, 2);
	assert_false(exists(dir, ".tmp-20231114T222720Z-cpu.folded.gz.Xy12Zw"));
	assert_true(exists(dir, "README")); /* not ours: left alone */
	assert_int_equal(spool__next(sp, name), 0);
	assert_string_equal(name, "20231114T221320Z-cpu.folded.gz");
	spool__free(sp);
	remove_dir(dir);
}

static void test_the_cap_evicts_oldest_first_never_the_newest(void **state)
{
	char *dir = make_dir(), name[SPOOL_NAME_MAX], err[256];
	struct spool_stats st;
	struct spool *sp;
	uint64_t one;

	assert_int_equal(spool__open(dir, 1 << 20, &sp, err, sizeof(err)), 0);
	put(sp, 1700000000, "cpu", "a 1\n");
	spool__stats(sp, &st);
	one = st.bytes; /* every window below has the same size */
	spool__set_max_bytes(sp, 3 * one);
	put(sp, 1700000060, "cpu", "b 1\n");
	put(sp, 1700000120, "cpu", "c 1\n");
	put(sp, 1700000180, "cpu", "d 1\n");
	put(sp, 1700000240, "cpu", "e 1\n");
	spool__stats(sp, &st);
	assert_int_equal(st.windows, 3);
	assert_int_equal(st.evictions, 2);
	assert_int_equal(st.evicted_bytes, 2 * one);
	assert_false(exists(dir, "20231114T221320Z-cpu.folded.gz"));
	assert_false(exists(dir, "20231114T221420Z-cpu.folded.gz"));
	assert_true(exists(dir, "20231114T221720Z-cpu.folded.gz"));

	/* the window being uploaded is spared: the next oldest goes instead */
	assert_int_equal(spool__next(sp, name), 0);
	assert_string_equal(name, "20231114T221520Z-cpu.folded.gz");
	put(sp, 1700000300, "cpu", "f 1\n");
	assert_true(exists(dir, "20231114T221520Z-cpu.folded.gz"));
	assert_false(exists(dir, "20231114T221620Z-cpu.folded.gz"));
	spool__done(sp, name, 0);

	/* a cap below one window keeps the newest alone */
	spool__set_max_bytes(sp, 1);
	put(sp, 1700000360, "cpu", "g 1\n");
	spool__stats(sp, &st);
	assert_int_equal(st.windows, 1);
	assert_int_equal(st.evictions, 2 + 1 + 3);
	assert_true(exists(dir, "20231114T221920Z-cpu.folded.gz"));
	spool__free(sp);

	/* and a spool over a lowered cap is trimmed when opened */
	assert_int_equal(spool__open(dir, 1 << 20, &sp, err, sizeof(err)), 0);
	put(sp, 1700000420, "cpu", "h 1\n");
	put(sp, 1700000480, "cpu", "i 1\n");
	spool__free(sp);
	assert_int_equal(spool__open(dir, 2 * one, &sp, err, sizeof(err)), 0);
	spool__stats(sp, &st);
	assert_int_equal(st.windows, 2);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(spool__next(sp, name), 0);
	assert_string_equal(name, "20231114T222020Z-cpu.folded.gz");
	spool__free(sp);
	remove_dir(dir);
}

static void test_unreadable_windows_are_refused_and_set_aside(void **state)
{
	char *dir = make_dir(), name[SPOOL_NAME_MAX], err[256];
	struct spool_window w = window(1700000000, "cpu"), got;
	struct spool_stats st;
	struct spool *sp;
	void *gz, *data;
	size_t len;

	/* a truncated gzip stream: its header is fine, its data is not */
	assert_int_equal(spool__gzip(&w, "abc 1\nabd 2\n", 12, &gz, &len), 0);
	write_file(dir, "20231114T221320Z-cpu.folded.gz", gz, len - 4);
	free(gz);
	write_file(dir, "20231114T221420Z-cpu.folded.gz", "plain text", 10);
	assert_int_equal(spool__open(dir, 1 << 20, &sp, err, sizeof(err)), 0);
	assert_int_equal(spool__next(sp, name), 0);
	assert_int_equal(spool__read(sp, name, &data, &len, &got), -EBADMSG);
	spool__quarantine(sp, name);
	assert_true(exists(dir, "20231114T221320Z-cpu.folded.gz.corrupt"));
	assert_int_equal(spool__next(sp, name), 0);
	assert_string_equal(name, "20231114T221420Z-cpu.folded.gz");
	assert_int_equal(spool__read(sp, name, &data, &len, &got), -EBADMSG);
	spool__quarantine(sp, name);
	assert_int_equal(spool__next(sp, name), -ENOENT);
	spool__stats(sp, &st);
	assert_int_equal(st.quarantined, 2);
	assert_int_equal(st.bytes, 0);
	spool__free(sp);
	remove_dir(dir);
}

static void test_a_directory_that_cannot_be_made_is_an_error_naming_it(void **state)
{
	struct spool *sp = NULL;
	char err[256];

	assert_int_equal(spool__open("/dev/null/spool", 1, &sp, err, sizeof(err)), -ENOTDIR);
	assert_non_null(strstr(err, "/dev/null/spool"));
	assert_null(sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_sort_by_window_start_then_mode),
	    cmocka_unit_test(test_only_window_names_are_taken_as_windows),
	    cmocka_unit_test(test_gzip_container_round_trips_metadata_and_data),
	    cmocka_unit_test(test_headers_that_are_not_ours_are_refused),
	    cmocka_unit_test(test_windows_come_out_oldest_first_and_leave_after_upload),
	    cmocka_unit_test(test_a_reopened_spool_finds_its_windows_and_drops_half_written_ones),
	    cmocka_unit_test(test_the_cap_evicts_oldest_first_never_the_newest),
	    cmocka_unit_test(test_unreadable_windows_are_refused_and_set_aside),
	    cmocka_unit_test(test_a_directory_that_cannot_be_made_is_an_error_naming_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
