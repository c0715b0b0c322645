// SPDX-License-Identifier: MIT
/* Discovery on real processes with a clock passed in: an exec is examined at once and retried
 * at growing intervals until its interpreter shows or 1.5 s pass; a CPython process becomes a
 * target at its first examination; a target that exits is reported gone after the grace
 * period, not before; discovery__next_due says when there is work, and 0 when there is none. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/config.h"
#include "daemon/discovery.h"
#include "python/pyproc.h"

#define MS	      (1000ULL * 1000)
#define SYSTEM_PYTHON "/usr/bin/python3"
#define T0	      (1000ULL * 1000 * MS) /* any start: the clock is ours */

struct seen {
	pid_t targets[8], gone[8];
	int ntargets, ngone;
};

static int on_target(void *ctx, struct pyproc *p)
{
	struct seen *s = ctx;

	if (s->ntargets < 8)
		s->targets[s->ntargets++] = p->pid;
	pyproc__free(p);
	return 0;
}

static void on_gone(void *ctx, pid_t pid)
{
	struct seen *s = ctx;

	if (s->ngone < 8)
		s->gone[s->ngone++] = pid;
}

static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Runs discovery's due work at each due time it names, up to until_ns; returns the calls. */
static int run_until(struct discovery *d, uint64_t until_ns)
{
	uint64_t due;
	int calls = 0;

	while ((due = discovery__next_due(d)) && due <= until_ns) {
		discovery__tick(d, due);
		calls++;
		assert_true(calls < 1000);
	}
	return calls;
}

/* A program that is not Python: examined at its exec and again after 2, 4, 8 ... ms (at most
 * 100 ms apart), then given up after 1.5 s; nothing is due afterwards. */
static void test_non_python_exec_retries_then_gives_up(void **state)
{
	struct agent_config *cfg = config__defaults();
	struct seen seen = {0};
	struct discovery_ops ops = {.on_target = on_target, .on_gone = on_gone, .ctx = &seen};
	struct discovery *d;
	char *argv[] = {"/bin/sleep", "30", NULL};
	pid_t pid = spawn(argv);
	uint64_t examined;

	usleep(50 * 1000); /* exec'd */
	d = discovery__new(cfg, &ops);
	assert_int_equal(discovery__next_due(d), 0);
	discovery__on_exec(d, pid, T0);
	assert_int_equal(discovery__next_due(d), T0); /* due at once */
	discovery__tick(d, T0);
	assert_int_equal(discovery__next_due(d), T0 + 2 * MS);
	discovery__tick(d, T0 + 1 * MS); /* not yet due: nothing read */
	assert_int_equal(discovery__stats(d)[DISC_STAT_EXAMINED], 1);
	run_until(d, T0 + 100 * MS);
	/* 0, 2, 6, 14, 30, 62 ms: six examinations within the first 100 ms */
	assert_int_equal(discovery__stats(d)[DISC_STAT_EXAMINED], 6);
	run_until(d, T0 + 10000 * MS);
	examined = discovery__stats(d)[DISC_STAT_EXAMINED];
	/* then every 100 ms until 1.5 s: 6 + 14 or so, and the last one gives up */
	assert_true(examined >= 18 && examined <= 22);
	assert_int_equal(discovery__stats(d)[DISC_STAT_NOT_PYTHON], 1);
	assert_int_equal(discovery__next_due(d), 0);
	assert_int_equal(seen.ntargets, 0);
	discovery__free(d);
	config__free(cfg);
	reap(pid);
}

/* CPython is a target at the first examination after its exec; when it exits it is reported
 * gone after the grace period (its last samples may still be in flight), not before. */
static void test_python_found_at_once_and_released_after_grace(void **state)
{
	struct agent_config *cfg = config__defaults();
	struct seen seen = {0};
	struct discovery_ops ops = {.on_target = on_target, .on_gone = on_gone, .ctx = &seen};
	struct discovery *d;
	char *argv[] = {SYSTEM_PYTHON, "-c", "import time; time.sleep(30)", NULL};
	pid_t pid;

	if (access(SYSTEM_PYTHON, X_OK))
		skip();
	pid = spawn(argv);
	usleep(300 * 1000); /* its interpreter is mapped */
	d = discovery__new(cfg, &ops);
	discovery__on_exec(d, pid, T0);
	discovery__tick(d, T0);
	assert_int_equal(seen.ntargets, 1);
	assert_int_equal(seen.targets[0], pid);
	assert_int_equal(discovery__ntargets(d), 1);
	assert_int_equal(discovery__next_due(d), 0);
	reap(pid);
	discovery__on_exit(d, pid, T0 + 1000 * MS);
	assert_int_equal(discovery__next_due(d), T0 + 1000 * MS + DISCOVERY_GRACE_NS);
	discovery__tick(d, T0 + 1000 * MS + DISCOVERY_GRACE_NS - 1);
	assert_int_equal(seen.ngone, 0);
	run_until(d, T0 + 1000 * MS + DISCOVERY_GRACE_NS);
	assert_int_equal(seen.ngone, 1);
	assert_int_equal(seen.gone[0], pid);
	assert_int_equal(discovery__ntargets(d), 0);
	assert_int_equal(discovery__next_due(d), 0);
	discovery__free(d);
	config__free(cfg);
}

/* A process gone before its first examination is forgotten, not examined. */
static void test_exec_of_a_process_already_gone(void **state)
{
	struct agent_config *cfg = config__defaults();
	struct seen seen = {0};
	struct discovery_ops ops = {.on_target = on_target, .on_gone = on_gone, .ctx = &seen};
	struct discovery *d = discovery__new(cfg, &ops);
	char *argv[] = {"/bin/sleep", "30", NULL};
	pid_t pid = spawn(argv);

	usleep(50 * 1000);
	discovery__on_exec(d, pid, T0);
	reap(pid);
	run_until(d, T0 + 10000 * MS);
	assert_int_equal(discovery__stats(d)[DISC_STAT_EXAMINED], 0);
	assert_int_equal(discovery__tracked(d), 0);
	assert_int_equal(discovery__next_due(d), 0);
	assert_int_equal(seen.ntargets, 0);
	discovery__free(d);
	config__free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_non_python_exec_retries_then_gives_up),
	    cmocka_unit_test(test_python_found_at_once_and_released_after_grace),
	    cmocka_unit_test(test_exec_of_a_process_already_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
