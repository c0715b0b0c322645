// SPDX-License-Identifier: MIT
/* Whole-or-nothing file writes (atomicfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util/atomicfile.h"
#include "util/errbuf.h"

/* The directory part of path ("." for a bare name) into dir. */
static void dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, len, ".");
	else
		snprintf(dir, len, "%.*s", (int)(slash - path ? slash - path : 1), path);
}

int atomicfile__open(struct atomic_file *a, const char *path, const char *tmp_name)
{
	char dir[PATH_MAX];
	int fd, n;

	memset(a, 0, sizeof(*a));
	if (snprintf(a->path, sizeof(a->path), "%s", path) >= (int)sizeof(a->path))
		return -ENAMETOOLONG;
	if (tmp_name) {
		dir_of(path, dir, sizeof(dir));
		n = snprintf(a->tmp, sizeof(a->tmp), "%s/%s", dir, tmp_name);
	} else {
		n = snprintf(a->tmp, sizeof(a->tmp), "%s.tmp.XXXXXX", path);
	}
	if (n >= (int)sizeof(a->tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(a->tmp);
	if (fd < 0)
		return -errno;
	a->f = fdopen(fd, "w");
	if (!a->f) {
		int err = -errno;

		close(fd);
		unlink(a->tmp);
		return err;
	}
	return 0;
}

int atomicfile__commit(struct atomic_file *a, mode_t mode)
{
	char dir[PATH_MAX];
	int err = 0;

	/* mkstemp makes 0600 files */
	if (fchmod(fileno(a->f), mode))
		err = -errno;
	/* on disk before it has its name */
	if (!err && fflush(a->f))
		err = -errno;
	if (!err && ferror(a->f))
		err = -EIO;
	if (!err && fsync(fileno(a->f)))
		err = -errno;
	if (fclose(a->f) && !err)
		err = -errno;
	a->f = NULL;
	if (!err && rename(a->tmp, a->path))
		err = -errno;
	if (err) {
		unlink(a->tmp);
		return err;
	}
	dir_of(a->path, dir, sizeof(dir));
	errbuf__fsync_dir(dir);
	return 0;
}

void atomicfile__abort(struct atomic_file *a)
{
	if (a->f)
		fclose(a->f);
	a->f = NULL;
	unlink(a->tmp);
}

int atomicfile__make_dirs(const char *dir)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (!len || len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}
