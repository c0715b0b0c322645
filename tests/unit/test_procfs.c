// SPDX-License-Identifier: MIT
/* procmaps__parse on real and hand-made /proc/PID/maps texts (tests/fixtures/maps), the CPU
 * list parser, /proc/PID/stat of live, exited and reaped processes, command lines and comms. */
#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "os/procfs.h"

static char *load_fixture(const char *name, size_t *ret_len)
{
	char path[512];
	char *buf;
	size_t len;

	snprintf(path, sizeof(path), "%s/maps/%s", FIXTURES, name);
	assert_int_equal(procfs__read_file(path, 1 << 20, &buf, &len), 0);
	*ret_len = len;
	return buf;
}

static size_t count_lines(const char *text, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	return n + (len && text[len - 1] != '\n');
}

static const struct procmaps_entry *find_path(const struct procmaps *m, const char *path)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->entries[i].path, path))
			return &m->entries[i];
	return NULL;
}

/* Every line of a kernel-written maps file is an entry, and each field matches an independent
 * sscanf parse of the same line. */
static void check_real_maps(const char *name, size_t min_entries)
{
	struct procmaps m = {0};
	size_t len, i = 0;
	char *text = load_fixture(name, &len), *save = NULL;

	assert_int_equal(procmaps__parse(text, len, &m), 0);
	assert_int_equal(m.n, count_lines(text, len));
	assert_true(m.n >= min_entries);
	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), i++) {
		uint64_t start, end, offset, inode;
		unsigned maj, min;
		char perms[5];
		int n = 0;
		const char *path;

		assert_true(i < m.n);
		assert_int_equal(
		    sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 " %n",
			   &start, &end, perms, &offset, &maj, &min, &inode, &n),
		    7);
		path = line + n;
		assert_int_equal(m.entries[i].start, start);
		assert_int_equal(m.entries[i].end, end);
		assert_true(m.entries[i].start < m.entries[i].end);
		assert_string_equal(m.entries[i].perms, perms);
		assert_int_equal(m.entries[i].offset, offset);
		assert_int_equal(m.entries[i].dev_major, maj);
		assert_int_equal(m.entries[i].dev_minor, min);
		assert_int_equal(m.entries[i].inode, inode);
		assert_string_equal(m.entries[i].path, path);
		assert_int_equal(m.entries[i].deleted, 0);
	}
	assert_int_equal(i, m.n);
	procmaps__free(&m);
	assert_null(m.entries);
	assert_int_equal(m.n, 0);
	free(text);
}

static void test_procmaps_real_python312_every_line_is_an_entry(void **state)
{
	check_real_maps("python3.12-shared.txt", 30);
}

static void test_procmaps_real_python311_every_line_is_an_entry(void **state)
{
	check_real_maps("python3.11-debian.txt", 30);
}

/* The mappings the agent looks for in a shared-libpython process: libpython's segments with
 * their file offsets, and the special regions by name with an empty-free path. */
static void test_procmaps_python312_libpython_segments_and_specials(void **state)
{
	const char *lib = "/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0";
	struct procmaps m = {0};
	size_t len, nlib = 0, nanon = 0;
	char *text = load_fixture("python3.12-shared.txt", &len);
	const struct procmaps_entry *e;

	assert_int_equal(procmaps__parse(text, len, &m), 0);
	for (size_t i = 0; i < m.n; i++) {
		if (!strcmp(m.entries[i].path, lib)) {
			if (!nlib) {
				assert_int_equal(m.entries[i].offset, 0);
				assert_string_equal(m.entries[i].perms, "r--p");
			}
			nlib++;
		}
		if (!m.entries[i].path[0]) {
			assert_int_equal(m.entries[i].inode, 0);
			nanon++;
		}
	}
	assert_int_equal(nlib, 5);
	assert_true(nanon >= 1);
	e = find_path(&m, "[heap]");
	assert_non_null(e);
	assert_string_equal(e->perms, "rw-p");
	e = find_path(&m, "[vdso]");
	assert_non_null(e);
	assert_string_equal(e->perms, "r-xp");
	e = find_path(&m, "[vsyscall]");
	assert_non_null(e);
	assert_int_equal(e->start, 0xffffffffff600000ULL);
	assert_int_equal(e->end, 0xffffffffff601000ULL);
	e = find_path(&m, "/root/.pyenv/versions/3.12.1/bin/python3.12");
	assert_non_null(e);
	assert_int_equal(e->dev_major, 0xfe);
	assert_int_equal(e->dev_minor, 0);
	procmaps__free(&m);
	free(text);
}

/* Debian's python3.11 is non-PIE: its first mapping is at the fixed ET_EXEC address. */
static void test_procmaps_python311_non_pie_exe_at_fixed_address(void **state)
{
	struct procmaps m = {0};
	size_t len;
	char *text = load_fixture("python3.11-debian.txt", &len);

	assert_int_equal(procmaps__parse(text, len, &m), 0);
	assert_true(m.n > 5);
	assert_string_equal(m.entries[0].path, "/usr/bin/python3.11");
	assert_int_equal(m.entries[0].start, 0x400000);
	assert_int_equal(m.entries[0].offset, 0);
	assert_string_equal(m.entries[1].perms, "r-xp");
	assert_string_equal(m.entries[1].path, "/usr/bin/python3.11");
	assert_null(find_path(&m, "/usr/bin/python3.11 "));
	procmaps__free(&m);
	free(text);
}

struct want_entry {
	uint64_t start, end, offset, inode;
	unsigned maj, min;
	const char *perms, *path;
	int deleted;
};

/* Malformed lines are skipped without disturbing their neighbours; " (deleted)" is removed only
 * at the end of the path; spaces inside paths are kept; the last line needs no newline. */
static void test_procmaps_edge_cases_exact_entries(void **state)
{
	static const struct want_entry want[] = {
	    {0x400000, 0x401000, 0, 1001, 0xfe, 0, "r--p", "/opt/py/bin/python3", 0},
	    {0x7f0000000000, 0x7f0000001000, 0x1000, 1002, 0xfe, 1, "r-xp",
	     "/tmp/build/libpython3.12.so.1.0", 1},
	    {0x7f0000001000, 0x7f0000002000, 0, 1003, 8, 0x11, "r--p",
	     "/opt/my app/lib/lib python.so", 0},
	    {0x7f0000002000, 0x7f0000003000, 0x2000, 1004, 8, 0x11, "rw-p",
	     "/opt/my app/lib/lib python.so", 1},
	    {0x7f0000003000, 0x7f0000004000, 0, 1005, 0, 1, "rw-s", "/memfd:jit", 1},
	    {0x7f0000004000, 0x7f0000005000, 0, 1006, 8, 0x11, "r--p", "/opt/a (deleted)/inner.so",
	     0},
	    {0x7f0000005000, 0x7f0000006000, 0, 0, 0, 0, "rw-p", "", 0},
	    {0x7f0000006000, 0x7f0000007000, 0, 0, 0, 0, "rw-p", "", 0},
	    {0x1000000, 0x2000000, 0, 0, 0, 0, "rw-p", "[heap]", 0},
	    {0x7ffff7fc1000, 0x7ffff7fc3000, 0, 0, 0, 0, "r-xp", "[vdso]", 0},
	    {0xffffffffff600000, 0xffffffffff601000, 0, 0, 0, 0, "--xp", "[vsyscall]", 0},
	    {0x7ffffffde000, 0x7ffffffff000, 0, 0, 0, 0, "rw-p", "[stack]", 0},
	    {0x7f000000b000, 0x7f000000c000, 0xc000, 4294967296ULL, 0x103, 2, "r--p",
	     "/usr/lib/last-no-newline.so", 0},
	};
	struct procmaps m = {0};
	size_t len;
	char *text = load_fixture("edge-cases.txt", &len);

	assert_true(len > 0);
	assert_int_not_equal(text[len - 1], '\n');
	assert_int_equal(procmaps__parse(text, len, &m), 0);
	assert_int_equal(m.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < m.n; i++) {
		const struct procmaps_entry *e = &m.entries[i];

		assert_int_equal(e->start, want[i].start);
		assert_int_equal(e->end, want[i].end);
		assert_int_equal(e->offset, want[i].offset);
		assert_int_equal(e->inode, want[i].inode);
		assert_int_equal(e->dev_major, want[i].maj);
		assert_int_equal(e->dev_minor, want[i].min);
		assert_string_equal(e->perms, want[i].perms);
		assert_string_equal(e->path, want[i].path);
		assert_int_equal(e->deleted, want[i].deleted);
	}
	for (size_t i = 0; i < m.n; i++)
		assert_null(strstr(m.entries[i].path, "/bad/"));
	procmaps__free(&m);
	free(text);
}

static void test_procmaps_empty_and_garbage_give_no_entries(void **state)
{
	static const char *const texts[] = {"", "\n\n\n", "garbage\nmore garbage", "-\n", " \n"};
	struct procmaps m;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		memset(&m, 0xa5, sizeof(m));
		assert_int_equal(procmaps__parse(texts[i], strlen(texts[i]), &m), 0);
		assert_int_equal(m.n, 0);
		procmaps__free(&m);
	}
	procmaps__free(NULL);
}

/* The length, not a NUL, ends the text: a line cut by len is parsed up to len. */
static void test_procmaps_respects_len_not_nul(void **state)
{
	const char text[] =
	    "1000-2000 r--p 00000000 00:00 7 /a/b.so\n3000-4000 r--p 0 00:00 8 /c.so\n";
	size_t first_line = strlen("1000-2000 r--p 00000000 00:00 7 /a/b");
	struct procmaps m = {0};

	assert_int_equal(procmaps__parse(text, first_line, &m), 0);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.entries[0].path, "/a/b");
	procmaps__free(&m);
}

/* Many lines: the entry array grows past its first allocation and keeps order. */
static void test_procmaps_10k_lines_all_kept_in_order(void **state)
{
	size_t n = 10000, cap = n * 64, o = 0;
	char *text = malloc(cap);
	struct procmaps m = {0};

	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		o += snprintf(text + o, cap - o, "%zx-%zx r--p 0 00:00 %zu /lib/%zu.so\n",
			      i * 0x1000, i * 0x1000 + 0x1000, i, i);
	assert_int_equal(procmaps__parse(text, o, &m), 0);
	assert_int_equal(m.n, n);
	for (size_t i = 0; i < n; i += 997) {
		char want[32];

		snprintf(want, sizeof(want), "/lib/%zu.so", i);
		assert_int_equal(m.entries[i].start, i * 0x1000);
		assert_int_equal(m.entries[i].inode, i);
		assert_string_equal(m.entries[i].path, want);
	}
	procmaps__free(&m);
	free(text);
}

static void check_cpu_list(const char *text, int want_n, const int *online, size_t nonline)
{
	unsigned char *got = NULL;
	int n = -1, count = 0;

	assert_int_equal(procfs__parse_cpu_list(text, &got, &n), 0);
	assert_non_null(got);
	assert_int_equal(n, want_n);
	for (size_t i = 0; i < nonline; i++)
		assert_int_equal(got[online[i]], 1);
	for (int i = 0; i < n; i++)
		count += got[i];
	assert_int_equal(count, (int)nonline);
	free(got);
}

static void test_cpu_list_single_range_and_mixed(void **state)
{
	check_cpu_list("0", 1, (const int[]){0}, 1);
	check_cpu_list("0\n", 1, (const int[]){0}, 1);
	check_cpu_list("0-1", 2, (const int[]){0, 1}, 2);
	check_cpu_list("0-3,6,8-9\n", 10, (const int[]){0, 1, 2, 3, 6, 8, 9}, 7);
	check_cpu_list("5", 6, (const int[]){5}, 1);
	check_cpu_list("2-2", 3, (const int[]){2}, 1);
}

static void test_cpu_list_4096_cpus_all_online(void **state)
{
	unsigned char *got = NULL;
	int n = 0, count = 0;

	assert_int_equal(procfs__parse_cpu_list("0-4095", &got, &n), 0);
	assert_int_equal(n, 4096);
	for (int i = 0; i < n; i++)
		count += got[i];
	assert_int_equal(count, 4096);
	free(got);
}

static void test_cpu_list_garbage_rejected(void **state)
{
	static const char *const bad[] = {
	    "",	    "\n", "abc",    "x0",   "3-1", "-1",  "0-",	   "0-x",
	    "1,,2", ",1", "0-4096", "4096", "0;1", "1 2", "0-3,a", "99999999999999999999",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned char *got = (unsigned char *)0x1;
		int n = 12345;

		if (procfs__parse_cpu_list(bad[i], &got, &n) != -EINVAL)
			fail_msg("cpu list \"%s\" was not rejected with -EINVAL", bad[i]);
		/* nothing is returned on failure */
		assert_ptr_equal(got, (unsigned char *)0x1);
		assert_int_equal(n, 12345);
	}
}

/* vsize moves by a mapping's size when one comes and when it goes (discovery reads the maps
 * of a new process again only when it moved). */
static void test_stat_vsize_follows_mappings(void **state)
{
	struct procfs_stat before, mapped, after;
	size_t len = 64 << 20;
	void *m;

	assert_int_equal(procfs__stat(getpid(), &before), 0);
	assert_true(before.vsize > 0);
	m = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(procfs__stat(getpid(), &mapped), 0);
	munmap(m, len);
	assert_int_equal(procfs__stat(getpid(), &after), 0);
	/* malloc inside the reads may map or unmap too: the 64 MiB shows, give or take 1 MiB */
	assert_true(mapped.vsize >= before.vsize + len - (1 << 20));
	assert_true(mapped.vsize <= before.vsize + len + (1 << 20));
	assert_true(after.vsize + len - (1 << 20) <= mapped.vsize);
}

/* A child that has exited but is not reaped is a zombie: present, not alive. */
static void test_stat_tells_running_zombie_and_reaped_apart(void **state)
{
	struct procfs_stat own, st = {0};
	uint64_t start = 0, zstart = 0;
	pid_t child;

	assert_int_equal(procfs__stat(getpid(), &own), 0);
	assert_int_equal(own.state, 'R'); /* reading its own stat, it runs */
	assert_int_equal(own.ppid, getppid());
	start = own.starttime;
	assert_true(start > 0);
	assert_true(start == procfs__starttime(getpid()));
	assert_true(procfs__alive(getpid()));

	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	for (int i = 0; i < 2000; i++) { /* until it has exited: at most 2 s */
		if (!procfs__stat(child, &st) && st.state == 'Z')
			break;
		usleep(1000);
	}
	assert_int_equal(st.state, 'Z');
	assert_int_equal(st.ppid, getpid());
	zstart = st.starttime;
	assert_true(zstart >= start);
	assert_true(procfs__starttime(child) == zstart);
	assert_false(procfs__alive(child));

	assert_int_equal(waitpid(child, NULL, 0), child);
	assert_int_equal(procfs__stat(child, &st), -ENOENT);
	assert_true(procfs__starttime(child) == 0);
	assert_false(procfs__alive(child));
}

static void *sleep_in_thread(void *arg)
{
	pid_t *tid = arg;

	__atomic_store_n(tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	pause(); /* until the test cancels it */
	return NULL;
}

/* A thread's own stat: the one reading it runs, a thread in pause() sleeps, both started with
 * the process; a thread id that is not the process's reads as gone. */
static void test_task_stat_reads_each_thread(void **state)
{
	struct procfs_stat own, me, other;
	pthread_t t;
	pid_t tid = 0;

	assert_int_equal(procfs__stat(getpid(), &own), 0);
	assert_int_equal(procfs__task_stat(getpid(), (pid_t)syscall(SYS_gettid), &me), 0);
	assert_int_equal(me.state, 'R');
	assert_true(me.starttime == own.starttime);
	assert_int_equal(pthread_create(&t, NULL, sleep_in_thread, &tid), 0);
	other.state = 0;
	for (int i = 0; i < 2000 && other.state != 'S'; i++) { /* until it sleeps: at most 2 s */
		usleep(1000);
		if (__atomic_load_n(&tid, __ATOMIC_ACQUIRE))
			assert_int_equal(procfs__task_stat(getpid(), tid, &other), 0);
	}
	assert_int_equal(other.state, 'S');
	assert_true(other.starttime >= own.starttime);
	assert_int_equal(procfs__task_stat(getpid(), getppid(), &other), -ENOENT);
	pthread_cancel(t);
	pthread_join(t, NULL);
}

/* A command line of 8000 bytes comes back as its first size - 1 bytes, joined by spaces. */
static void test_cmdline_long_is_cut_not_refused(void **state)
{
	static char arg[8000], got[4097], want[4097];
	int n = -1;
	pid_t child;

	memset(arg, 'a', sizeof(arg) - 1);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		execl("/bin/sh", "/bin/sh", "-c", "sleep 10", arg, (char *)NULL);
		_exit(127);
	}
	memset(want, 'a', sizeof(want) - 1); /* the argument, cut */
	memcpy(want, "/bin/sh -c sleep 10 ", 20);
	for (int i = 0; i < 2000; i++) { /* until the exec is done: at most 2 s */
		n = procfs__cmdline(child, got, sizeof(got));
		if (n > 0 && !strncmp(got, "/bin/sh", 7))
			break;
		usleep(1000);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	assert_int_equal(n, (int)sizeof(got) - 1);
	assert_string_equal(got, want);
	assert_int_equal(procfs__cmdline(child, got, sizeof(got)), -ENOENT);
}

/* Short: whole, trailing NUL dropped. */
static void test_cmdline_of_self_is_whole(void **state)
{
	char got[4096];
	int n = procfs__cmdline(getpid(), got, sizeof(got));

	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(got));
	assert_non_null(strstr(got, "test_procfs"));
	assert_int_equal(procfs__cmdline(getpid(), got, 5), 4);
	assert_int_equal(strlen(got), 4);
}

/* What prctl(PR_SET_NAME) allows: every byte but NUL. */
static void test_sanitize_comm_replaces_control_characters_only(void **state)
{
	char comm[] = "ev\x01l;\nname\t7\x7f\xc3\xa9 (x)";

	procfs__sanitize_comm(comm);
	assert_string_equal(comm, "ev?l;?name?7?\xc3\xa9 (x)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_procmaps_real_python312_every_line_is_an_entry),
	    cmocka_unit_test(test_procmaps_real_python311_every_line_is_an_entry),
	    cmocka_unit_test(test_procmaps_python312_libpython_segments_and_specials),
	    cmocka_unit_test(test_procmaps_python311_non_pie_exe_at_fixed_address),
	    cmocka_unit_test(test_procmaps_edge_cases_exact_entries),
	    cmocka_unit_test(test_procmaps_empty_and_garbage_give_no_entries),
	    cmocka_unit_test(test_procmaps_respects_len_not_nul),
	    cmocka_unit_test(test_procmaps_10k_lines_all_kept_in_order),
	    cmocka_unit_test(test_cpu_list_single_range_and_mixed),
	    cmocka_unit_test(test_cpu_list_4096_cpus_all_online),
	    cmocka_unit_test(test_cpu_list_garbage_rejected),
	    cmocka_unit_test(test_stat_vsize_follows_mappings),
	    cmocka_unit_test(test_stat_tells_running_zombie_and_reaped_apart),
	    cmocka_unit_test(test_task_stat_reads_each_thread),
	    cmocka_unit_test(test_cmdline_long_is_cut_not_refused),
	    cmocka_unit_test(test_cmdline_of_self_is_whole),
	    cmocka_unit_test(test_sanitize_comm_replaces_control_characters_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
