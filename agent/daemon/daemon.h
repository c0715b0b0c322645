/* SPDX-License-Identifier: MIT */
/* The pyprof-agent daemon: continuous, windowed profiles of every selected CPython process. */
#ifndef PYPROF_DAEMON_H
#define PYPROF_DAEMON_H

#include "config/config.h"

/* Runs until SIGTERM or SIGINT (then flushes the current partial window and returns 0).
 * Takes ownership of cfg; SIGHUP reloads config_path, keeping cfg when the new file is invalid.
 * Returns a non-zero exit code when it cannot start. */
int daemon__run(struct agent_config *cfg, const char *config_path);

#endif
