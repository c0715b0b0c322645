/* SPDX-License-Identifier: MIT */
/* The service manager's notification protocol (sd_notify(3)) without libsystemd: one datagram
 * of "KEY=VALUE" lines to the AF_UNIX socket named by $NOTIFY_SOCKET. Without that variable
 * (not started by systemd with Type=notify) every call does nothing and returns 0. */
#ifndef PYPROF_SDNOTIFY_H
#define PYPROF_SDNOTIFY_H

#include <stdint.h>

/* Sends state (for example "READY=1\nSTATUS=profiling 3 processes"). Returns 1 if sent, 0 when
 * there is no $NOTIFY_SOCKET, or -errno (-EAFNOSUPPORT for an address kind other than a path
 * or an abstract "@name"). */
int sdnotify__send(const char *state);
/* Formats then sends, as sdnotify__send. */
int sdnotify__sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "READY=1": start-up or a reload is complete. */
int sdnotify__ready(const char *status);
/* "RELOADING=1" with "MONOTONIC_USEC=now", as Type=notify-reload wants; READY=1 follows. */
int sdnotify__reloading(void);
/* "STOPPING=1": shutting down. */
int sdnotify__stopping(void);

/* The watchdog period asked for by WatchdogSec= ($WATCHDOG_USEC, when $WATCHDOG_PID is unset or
 * this process), in microseconds; 0 when none. Send "WATCHDOG=1" at half of it. */
uint64_t sdnotify__watchdog_usec(void);

#endif
