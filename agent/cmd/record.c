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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cmd/record.h"
#include "daemon/control.h"
#include "os/procfs.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/text.h"

#define POLL_NS (100ULL * 1000 * 1000)
/* A recording through the daemon lasts until the command exits, at most this long (the most a
 * snapshot may ask for) */
#define RECORD_AGENT_MAX_MS 86400000u

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

/* Asks the daemon on socket_path to follow the held child pid (held=1: it answers "started"
 * once it does). Returns the connection, -1 when there is no daemon or it cannot serve this
 * (agentctl then samples by itself), or -2 with *ret_code set (logged). */
static int agent_follow(const struct snapshot_opts *opts, pid_t pid, const char *socket_path,
			int *ret_code)
{
	struct control_request req = {
	    .cmd = CONTROL_SNAPSHOT,
	    .pid = pid,
	    .duration_ms = RECORD_AGENT_MAX_MS,
	    .threads = opts->threads,
	    .kernel = opts->kernel,
	    .gil_only = opts->gil_only,
	    .mode = (int)opts->mode,
	    .tree = opts->subprocesses,
	    .held = 1,
	};
	struct control_answer ans = {0};
	int fd, err;

	fd = control__send(socket_path, &req);
	if (fd < 0)
		err = fd;
	else
		err = control__read_started(fd, 30, &ans);
	if (!err)
		return fd;
	if (fd >= 0)
		close(fd);
	/* -EBADMSG: the daemon answered, with an error */
	if (snapshot__agent_unable(err == -EBADMSG ? 0 : err, &req, &ans, socket_path))
		return -1;
	log_error("%s", err == -EBADMSG || err == -EPROTO ? ans.message : strerror(-err));
	*ret_code = err == -EBADMSG ? snapshot_exit_of_status[ans.status] : SNAP_FAILED;
	return -2;
}

/* Ends the daemon's snapshot (by ending our side of the connection) and reads its profile. */
static int agent_collect(int fd, struct profile *ret, unsigned *ret_rate)
{
	struct control_answer ans;
	char err_msg[512] = "";
	sigset_t stops, was;
	int err;

	/* a second Ctrl-C while the answer comes must not lose it: it is on its way already */
	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	sigprocmask(SIG_BLOCK, &stops, &was);
	shutdown(fd, SHUT_WR);
	err = snapshot__read_agent_profile(fd, 60, ret, &ans, err_msg, sizeof(err_msg));
	sigprocmask(SIG_SETMASK, &was, NULL);
	close(fd);
	if (!err && ans.status == CONTROL_OK) {
		*ret_rate = ans.rate_hz;
		return 0;
	}
	log_error("the agent's profile is lost: %s", err == -EBADMSG	     ? err_msg
						     : err && err != -EPROTO ? strerror(-err)
									     : ans.message);
	return err ? err : -EIO;
}

int record__run(const struct snapshot_opts *opts, char *const argv[], const char *socket_path,
		volatile sig_atomic_t *stop)
{
	struct session_opts so = snapshot__session_opts(opts);
	int go[2], report[2], code = SNAP_OK, status = -1, wstatus, err = 0, fd = -1;
	char path_buf[64];
	const char *path = opts->output;
	struct session *s = NULL;
	struct profile prof;
	struct profile_meta meta = {.kind = opts->mode};
	uint64_t start, wall, elapsed, samples;
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
	/* the daemon's programs when one listens and can follow it, else our own */
	if (socket_path)
		fd = agent_follow(opts, pid, socket_path, &code);
	if (fd == -1) {
		so.pid = pid;
		so.root_pending = 1;
		code = session__open(&so, &s);
	}
	if (fd == -2 || code) {
		/* not started: it never executes the command */
		close(go[1]);
		close(report[0]);
		wait_child(pid);
		return code;
	}
	if (s)
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
		if (fd >= 0 && !agent_collect(fd, &prof, &meta.rate_hz))
			profile__free(&prof); /* nothing ran */
		status = wait_child(pid);
		return status;
	}
	log_info("recording pid %d: %s%s%s%s", pid, argv[0],
		 opts->subprocesses ? ", and its descendants" : "",
		 fd >= 0 ? ", through the agent on " : "", fd >= 0 ? socket_path : "");
	while (!*stop) {
		pid_t w = waitpid(pid, &wstatus, WNOHANG);
		struct pollfd pfd = {.fd = fd, .events = POLLIN};

		if (w == pid) {
			status = shell_status(wstatus);
			break;
		}
		if (s)
			session__poll(s, POLL_NS);
		else if (poll(&pfd, 1, (int)(POLL_NS / 1000000)) > 0)
			break; /* the agent ended it: the command exited (reaped below), or 24 h */
	}
	elapsed = clock__mono_ns() - start;
	if (!path) {
		default_output(opts, pid, path_buf, sizeof(path_buf));
		path = path_buf;
	}
	meta.start_ns = wall;
	meta.duration_ns = elapsed;
	if (s) {
		session__poll(s, 0);
		code = snapshot__write(s, opts->mode, path, opts->format, wall, elapsed);
		samples = collector__stats(session__collector(s))[COLL_STAT_SAMPLES];
	} else {
		code = agent_collect(fd, &prof, &meta.rate_hz);
		if (!code) {
			code = snapshot__write_profile(&prof, &meta, path, opts->format);
			samples = opts->mode == PROFILE_CPU ? prof.total : prof.nstacks;
			if (!prof.nstacks)
				log_warn("no CPython sample of %s (pid %d)%s: the profile is empty",
					 argv[0], pid,
					 opts->subprocesses ? " and its descendants" : "");
			profile__free(&prof);
		}
	}
	if (!code && strcmp(path, "-")) {
		if (sudo_user(&uid, &gid) && chown(path, uid, gid))
			log_warn("cannot give %s to uid %d: %s", path, (int)uid, strerror(errno));
		log_info("wrote %s: %llu %s in %.1f s", path, (unsigned long long)samples,
			 s || opts->mode == PROFILE_CPU ? "samples" : "stacks", elapsed / 1e9);
	}
	if (s && !session__targets_seen(s))
		log_warn("%s (pid %d)%s ran no CPython: the profile is empty", argv[0], pid,
			 opts->subprocesses ? " and its descendants" : "");
	if (s)
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
