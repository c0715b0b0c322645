/* SPDX-License-Identifier: MIT */
/* The clocks the agent reads, in nanoseconds: one definition for every module. */
#ifndef PYPROF_CLOCK_H
#define PYPROF_CLOCK_H

#include <stdint.h>
#include <time.h>

#define CLOCK_NS_PER_S 1000000000ULL

/* CLOCK_MONOTONIC: intervals, deadlines, and the times BPF stamps events with. */
static inline uint64_t clock__mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * CLOCK_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* CLOCK_REALTIME: window boundaries and the times written into profiles. */
static inline uint64_t clock__wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * CLOCK_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Sleeps ns of CLOCK_MONOTONIC; a signal (Ctrl-C) ends the nap early. */
static inline void clock__sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = ns / CLOCK_NS_PER_S, .tv_nsec = ns % CLOCK_NS_PER_S};

	nanosleep(&ts, NULL);
}

#endif
