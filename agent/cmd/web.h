/* SPDX-License-Identifier: MIT */
/* `agentctl serve`: a read-only web view over the daemon's stored windows (a page and its JSON
 * API), on loopback unless told otherwise. Exit codes: 0 stopped by SIGINT or SIGTERM, 1 cannot
 * serve (the directory, the address), 2 usage. */
#ifndef PYPROF_WEB_H
#define PYPROF_WEB_H

int web__cmd_serve(int argc, char **argv);

#endif
