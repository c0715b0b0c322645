/* SPDX-License-Identifier: MIT */
/* The version both binaries report, and S3 object metadata carries. */
#ifndef PYPROF_VERSION_H
#define PYPROF_VERSION_H

#define PYPROF_VERSION "0.1.0"

#endif
