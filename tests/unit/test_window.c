// SPDX-License-Identifier: MIT
/* The daemon's window arithmetic, with the clocks passed in: alignment to wall-clock multiples,
 * the end watched on the monotonic clock, the slack for samples still in the ring, a reload
 * mid-window, a stall longer than a window, and wall-clock steps either way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon/window.h"

#define S    1000000000ULL
#define MS   1000000ULL
#define WALL (1764999960ULL * S) /* a wall-clock second that is a multiple of 10 and of 60 */
#define MONO (5000ULL * S)	 /* the monotonic clock at WALL */

static void test_windows_align_to_wall_clock_multiples(void **state)
{
	struct window w;

	/* started 17.5 s into a 60 s slot: its data starts then, it ends at the slot's end */
	window__begin(&w, 60, WALL + 17500 * MS, WALL + 17500 * MS, MONO + 17500 * MS);
	assert_int_equal(w.slot_s, WALL / S);
	assert_int_equal(w.from_ns, WALL + 17500 * MS);
	assert_int_equal(window__end_wall(&w), WALL + 60 * S);
	assert_int_equal(w.end_mono, MONO + 60 * S);
	/* the next one is a whole slot */
	window__next(&w, WALL + 60 * S + 300 * MS, MONO + 60 * S + 300 * MS);
	assert_int_equal(w.slot_s, WALL / S + 60);
	assert_int_equal(w.from_ns, WALL + 60 * S);
	assert_int_equal(w.end_mono, MONO + 120 * S);
}

static void test_timer_waits_for_the_slack_a_late_sample_does_not(void **state)
{
	struct window w;

	window__begin(&w, 10, WALL, WALL, MONO);
	assert_false(window__over(&w, 0, MONO + 10 * S - 1));
	/* the timer: samples of the window may still be in the ring */
	assert_false(window__over(&w, 0, MONO + 10 * S + WINDOW_SLACK_NS - 1));
	assert_true(window__over(&w, 0, MONO + 10 * S + WINDOW_SLACK_NS));
	/* a sample stamped after the end: the window is over at once */
	assert_false(window__over(&w, MONO + 10 * S - 1, MONO + 10 * S));
	assert_true(window__over(&w, MONO + 10 * S, MONO + 10 * S));
}

static void test_reload_mid_window_cuts_it_and_the_next_ends_on_the_boundary(void **state)
{
	struct window w;

	window__begin(&w, 60, WALL, WALL, MONO);
	/* a reload at 25 s writes [0, 25 s) and starts again from now, with the new length */
	window__begin(&w, 10, WALL + 25 * S, WALL + 25 * S, MONO + 25 * S);
	assert_int_equal(w.from_ns, WALL + 25 * S);
	assert_int_equal(w.slot_s, WALL / S + 20);
	assert_int_equal(window__end_wall(&w), WALL + 30 * S);
	assert_int_equal(w.end_mono, MONO + 30 * S);
}

static void test_stall_longer_than_a_window_starts_from_now(void **state)
{
	struct window w;

	window__begin(&w, 10, WALL, WALL, MONO);
	/* the loop did not turn for 35 s: no empty windows for the time missed */
	window__next(&w, WALL + 35 * S, MONO + 35 * S);
	assert_int_equal(w.from_ns, WALL + 35 * S);
	assert_int_equal(w.slot_s, WALL / S + 30);
	assert_int_equal(w.end_mono, MONO + 40 * S);
}

static void test_wall_clock_steps(void **state)
{
	struct window w;

	/* stepped back an hour while the window ran: the next starts from the new now, and its
	 * end is 10 s of monotonic time away at most, never an hour */
	window__begin(&w, 10, WALL, WALL, MONO);
	window__next(&w, WALL - 3600 * S + 3 * S, MONO + 10 * S + 300 * MS);
	assert_int_equal(w.from_ns, WALL - 3600 * S + 3 * S);
	assert_int_equal(w.end_mono, MONO + 10 * S + 300 * MS + 7 * S);
	/* stepped forward a day: the same, from the new now */
	window__begin(&w, 10, WALL, WALL, MONO);
	window__next(&w, WALL + 86400 * S + 4 * S, MONO + 10 * S + 300 * MS);
	assert_int_equal(w.from_ns, WALL + 86400 * S + 4 * S);
	assert_int_equal(w.end_mono, MONO + 10 * S + 300 * MS + 6 * S);
	/* a window whose wall end is already past when it begins ends at once */
	window__begin(&w, 10, WALL, WALL + 20 * S, MONO);
	assert_int_equal(w.end_mono, MONO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_windows_align_to_wall_clock_multiples),
	    cmocka_unit_test(test_timer_waits_for_the_slack_a_late_sample_does_not),
	    cmocka_unit_test(test_reload_mid_window_cuts_it_and_the_next_ends_on_the_boundary),
	    cmocka_unit_test(test_stall_longer_than_a_window_starts_from_now),
	    cmocka_unit_test(test_wall_clock_steps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
