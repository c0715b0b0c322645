// SPDX-License-Identifier: MIT
/* Discovery on real processes with a clock passed in: an exec is examined at once and retried
 * at growing intervals until its interpreter shows or 1.5 s pass, reading the maps again only
 * when something was mapped; a CPython process becomes a
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
#include <sys/mman.h>
#include <sys/prctl.h>
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
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed assertion does not leave it running */
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

/* A program that is not Python: examined at its exec and retried after 2, 4, 8 ... ms (at most
 * 500 ms apart), then given up after about 1.5 s; nothing is due afterwards. Its loader is done
 * (it is asleep), so no retry reads its maps again. */
static void test_non_python_exec_retries_then_gives_up(void **state)
{
	struct agent_config *cfg = config__defaults();
	struct seen seen = {0};
	struct discovery_ops ops = {.on_target = on_target, .on_gone = on_gone, .ctx = &seen};
	struct discovery *d;
	char *argv[] = {"/bin/sleep", "30", NULL};
	pid_t pid = spawn(argv);
	const uint64_t *stats;

	usleep(50 * 1000); /* exec'd */
	d = discovery__new(cfg, &ops);
	stats = discovery__stats(d);
	assert_int_equal(discovery__next_due(d), 0);
	discovery__on_exec(d, pid, T0);
	assert_int_equal(discovery__next_due(d), T0); /* due at once */
	discovery__tick(d, T0);
	assert_int_equal(discovery__next_due(d), T0 + 2 * MS);
	discovery__tick(d, T0 + 1 * MS); /* not yet due: nothing read */
	assert_int_equal(stats[DISC_STAT_EXAMINED], 1);
	run_until(d, T0 + 100 * MS);
	/* retries at 2, 6, 16, 32, 64 ms (T0 + gap, rounded up to a grid of half the gap):
	 * nothing mapped since, the maps are not read again */
	assert_int_equal(stats[DISC_STAT_RETRIES_UNCHANGED], 5);
	assert_int_equal(stats[DISC_STAT_EXAMINED], 1);
	assert_int_equal(stats[DISC_STAT_NOT_PYTHON], 0);
	run_until(d, T0 + 10000 * MS);
	/* then at 128, 256, 512, 1250 and 1750 ms, which gives up */
	assert_int_equal(stats[DISC_STAT_RETRIES_UNCHANGED], 10);
	assert_int_equal(stats[DISC_STAT_EXAMINED], 1);
	assert_int_equal(stats[DISC_STAT_NOT_PYTHON], 1);
	assert_int_equal(discovery__next_due(d), 0);
	assert_int_equal(seen.ntargets, 0);
	discovery__free(d);
	config__free(cfg);
	reap(pid);
}

/* A new process that maps something between two retries (as a loader, or a dlopen, does) has its
 * maps read again at the next retry, and only then. */
static void test_retry_reads_the_maps_again_after_a_mapping(void **state)
{
	struct agent_config *cfg = config__defaults();
	struct seen seen = {0};
	struct discovery_ops ops = {.on_target = on_target, .on_gone = on_gone, .ctx = &seen};
	struct discovery *d;
	const uint64_t *stats;
	int go[2], done[2];
	char c = 0;
	pid_t pid;

	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* not Python, as far as discovery can tell (this test program); it goes with the
		 * test even if an assertion fails before its release */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(go[1]);
		close(done[0]);
		if (read(go[0], &c, 1) != 1 ||
		    mmap(NULL, 64 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
			MAP_FAILED ||
		    write(done[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	d = discovery__new(cfg, &ops);
	stats = discovery__stats(d);
	discovery__on_exec(d, pid, T0);
	discovery__tick(d, T0);
	discovery__tick(d, T0 + 2 * MS);
	assert_int_equal(stats[DISC_STAT_EXAMINED], 1);
	assert_int_equal(stats[DISC_STAT_RETRIES_UNCHANGED], 1);
	assert_int_equal(write(go[1], &c, 1), 1);
	assert_int_equal(read(done[0], &c, 1), 1);
	discovery__tick(d, T0 + 6 * MS);
	assert_int_equal(stats[DISC_STAT_EXAMINED], 2);
	discovery__tick(d, T0 + 16 * MS);
	assert_int_equal(stats[DISC_STAT_EXAMINED], 2);
	assert_int_equal(stats[DISC_STAT_RETRIES_UNCHANGED], 2);
	discovery__free(d);
	config__free(cfg);
	reap(pid);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
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
	    cmocka_unit_test(test_retry_reads_the_maps_again_after_a_mapping),
	    cmocka_unit_test(test_python_found_at_once_and_released_after_grace),
	    cmocka_unit_test(test_exec_of_a_process_already_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
