// SPDX-License-Identifier: MIT
/* agentctl record. The command's process is made first and held on a pipe before it executes
 * anything; the programs are loaded and it is named the root of the session; then it is let
 * go. Its exec is then seen by the process-events program and the new interpreter examined at
 * once and every few milliseconds until it is mapped, so sampling starts before the
 * interpreter has run more than its first milliseconds. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cmd/record.h"
#include "os/procfs.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/text.h"

#define POLL_NS (100ULL * 1000 * 1000)

/* The user who ran sudo, when root runs us through it: SUDO_UID and SUDO_GID. Returns 1 if
 * found. */
static int sudo_user(uid_t *ret_uid, gid_t *ret_gid)
{
	const char *u = getenv("SUDO_UID"), *g = getenv("SUDO_GID");
	uint64_t uid, gid;

	if (getuid() != 0 || !u || !g || text__parse_u64(u, strlen(u), 0xfffffffe, &uid) ||
	    text__parse_u64(g, strlen(g), 0xfffffffe, &gid) || !uid)
		return 0;
	*ret_uid = (uid_t)uid;
	*ret_gid = (gid_t)gid;
	return 1;
}

/* In the child: becomes the invoking user. Returns 0 or -errno. */
static int drop_to_sudo_user(void)
{
	const char *name = getenv("SUDO_USER");
	uid_t uid;
	gid_t gid;

	if (!sudo_user(&uid, &gid))
		return 0;
	if ((name && *name ? initgroups(name, gid) : setgroups(0, NULL)) || setgid(gid) ||
	    setuid(uid))
		return -errno;
	return 0;
}

/* In the child: waits to be let go, then executes argv; on failure, tells errno through
 * report_fd and exits as a shell would. */
static void child(char *const argv[], int go_fd, int report_fd)
{
	char go;
	int err;

	if (read(go_fd, &go, 1) != 1)
		_exit(RECORD_CANNOT_EXECUTE); /* the parent gave up */
	close(go_fd);
	err = drop_to_sudo_user();
	if (!err) {
		execvp(argv[0], argv);
		err = -errno;
	}
	if (write(report_fd, &err, sizeof(err)) != sizeof(err))
		_exit(RECORD_CANNOT_EXECUTE);
	_exit(err == -ENOENT ? RECORD_NOT_FOUND : RECORD_CANNOT_EXECUTE);
}

/* The exit status of a shell for a child's wait status. */
static int shell_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return SNAP_FAILED;
}

static int wait_child(pid_t pid)
{
	int wstatus;

	while (waitpid(pid, &wstatus, 0) < 0) {
		if (errno != EINTR)
			return SNAP_FAILED;
	}
	return shell_status(wstatus);
}

/* The file the profile goes to when --output is not given. */
static void default_output(const struct snapshot_opts *opts, pid_t pid, char *buf, size_t len)
{
	snprintf(buf, len, "pyprof-%d%s", (int)pid, output__extension(opts->format));
}

int record__run(const struct snapshot_opts *opts, char *const argv[], volatile sig_atomic_t *stop)
{
	struct session_opts so = snapshot__session_opts(opts);
	int go[2], report[2], code, status = -1, wstatus, err = 0;
	char path_buf[64];
	const char *path = opts->output;
	struct session *s = NULL;
	uint64_t start, wall, elapsed;
	ssize_t n;
	pid_t pid;
	uid_t uid;
	gid_t gid;

	if (pipe2(go, O_CLOEXEC) || pipe2(report, O_CLOEXEC)) {
		log_error("cannot start %s: %s", argv[0], strerror(errno));
		return SNAP_FAILED;
	}
	pid = fork();
	if (pid < 0) {
		log_error("cannot start %s: %s", argv[0], strerror(errno));
		return SNAP_FAILED;
	}
	if (pid == 0) {
		close(go[1]);
		close(report[0]);
		child(argv, go[0], report[1]);
	}
	close(go[0]);
	close(report[1]);
	so.pid = pid;
	so.root_pending = 1;
	code = session__open(&so, &s);
	if (code) {
		/* not started: it never executes the command */
		close(go[1]);
		close(report[0]);
		wait_child(pid);
		return code;
	}
	session__root_started(s);
	wall = clock__wall_ns();
	start = clock__mono_ns();
	if (write(go[1], "g", 1) != 1)
		err = -errno;
	close(go[1]);
	/* until the command executes (the pipe closes) or says why it cannot */
	while ((n = read(report[0], &err, sizeof(err))) < 0 && errno == EINTR)
		;
	close(report[0]);
	if (n == sizeof(err) || err) {
		log_error("%s: %s", argv[0], err == -ENOENT ? "command not found" : strerror(-err));
		session__close(s);
		status = wait_child(pid);
		return status;
	}
	log_info("recording pid %d: %s%s", pid, argv[0],
		 opts->subprocesses ? ", and its descendants" : "");
	while (!*stop) {
		pid_t w = waitpid(pid, &wstatus, WNOHANG);

		if (w == pid) {
			status = shell_status(wstatus);
			break;
		}
		session__poll(s, POLL_NS);
	}
	session__poll(s, 0);
	elapsed = clock__mono_ns() - start;
	if (!path) {
		default_output(opts, pid, path_buf, sizeof(path_buf));
		path = path_buf;
	}
	code = snapshot__write(s, opts->mode, path, opts->format, wall, elapsed);
	if (!code && strcmp(path, "-")) {
		if (sudo_user(&uid, &gid) && chown(path, uid, gid))
			log_warn("cannot give %s to uid %d: %s", path, (int)uid, strerror(errno));
		log_info(
		    "wrote %s: %llu samples in %.1f s", path,
		    (unsigned long long)collector__stats(session__collector(s))[COLL_STAT_SAMPLES],
		    elapsed / 1e9);
	}
	if (!session__targets_seen(s))
		log_warn("%s (pid %d)%s ran no CPython: the profile is empty", argv[0], pid,
			 opts->subprocesses ? " and its descendants" : "");
	session__report(s);
	session__close(s);
	if (status < 0) {
		/* interrupted: Ctrl-C reached the command too; SIGTERM was ours alone */
		if (*stop == SIGTERM)
			kill(pid, SIGTERM);
		log_info("profile written; waiting for pid %d to exit", pid);
		status = wait_child(pid);
	}
	if (code && !status)
		status = SNAP_FAILED; /* the command succeeded, its profile did not */
	return status;
}
