// SPDX-License-Identifier: MIT
/* agentctl top: samples one process (or a tree) as snapshot does, by itself or through the
 * running daemon (a one-second snapshot per interval), adds each second's profile to the
 * function table (profile/topview.h) and draws it: full screen on a terminal, plain text
 * otherwise. The terminal is this file's only concern. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include "bpf/sampler.h"
#include "cmd/top.h"
#include "daemon/control.h"
#include "os/procfs.h"
#include "os/proctask.h"
#include "profile/collector.h"
#include "profile/topview.h"
#include "util/clock.h"
#include "util/log.h"

#define INTERVAL_NS  (1000ULL * 1000 * 1000)
#define POLL_MS	     100
#define PLAIN_ROWS   20 /* rows of each table when the output is not a terminal */
#define HEADER_LINES 5	/* before the rows: three of figures, a blank, the column names */
#define ROW_PREFIX   37 /* the width of the four figures of a row */

static const char *const key_names[TOPVIEW_KEY_MAX] = {"%Own", "%Total", "OwnTime", "TotalTime"};

struct top {
	const struct snapshot_opts *opts;
	struct session *s;	 /* sampling here, or ... */
	const char *socket_path; /* ... one snapshot per interval by the daemon there */
	volatile sig_atomic_t *stop;
	unsigned rate_hz; /* of whichever samples */
	char comm[64];	  /* of the process (the root with --subprocesses) */
	char python[32];  /* "CPython 3.12", or "" while none is sampled */
	struct topview *tv;
	enum topview_key key;
	int reverse, by_line;
	int tty;  /* standard output is a terminal: full screen */
	int keys; /* keys are read from standard input, a terminal */
	uint64_t start_ns, last_ns;
	/* the last interval's figures, for the header */
	double interval_s;
	uint64_t samples, on_cpu, gil_held, gil_known;
	int threads, exited;
	uint64_t stats_then[COLL_STAT_MAX];
};

/* ---- the terminal: what every way out must give back ---- */

static struct termios saved_termios;
static int termios_saved, screen_on;
static volatile sig_atomic_t resized, suspended;

static void write_all(const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(STDOUT_FILENO, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* nothing better to do with a terminal that is gone */
		s += n;
		len -= (size_t)n;
	}
}

/* Leaves the alternate screen, shows the cursor and restores the keyboard mode. Also run at
 * exit, so no path out leaves the terminal changed. */
static void term_leave(void)
{
	static const char leave[] = "\033[?25h\033[?1049l";

	if (screen_on) {
		write_all(leave, sizeof(leave) - 1);
		screen_on = 0;
	}
	if (termios_saved) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
		termios_saved = 0;
	}
}

/* The alternate screen (what was on the terminal comes back at the end), no cursor, and keys
 * one at a time without echo; signals keys (Ctrl-C, Ctrl-Z) still work. */
static void term_enter(int keys)
{
	static const char enter[] = "\033[?1049h\033[?25l\033[H\033[2J";
	static int at_exit;

	if (!at_exit)
		at_exit = !atexit(term_leave);
	if (keys && !tcgetattr(STDIN_FILENO, &saved_termios)) {
		struct termios t = saved_termios;

		t.c_lflag &= ~(ICANON | ECHO);
		t.c_cc[VMIN] = 0;
		t.c_cc[VTIME] = 0;
		termios_saved = !tcsetattr(STDIN_FILENO, TCSANOW, &t);
	}
	write_all(enter, sizeof(enter) - 1);
	screen_on = 1;
}

static void on_winch(int sig)
{
	resized = 1;
}

static void on_tstp(int sig)
{
	suspended = 1;
}

/* Ctrl-Z: give the terminal back, stop, and take it again when continued. */
static void suspend(const struct top *t)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL}, mine = {.sa_handler = on_tstp};

	suspended = 0;
	term_leave();
	sigaction(SIGTSTP, &dfl, NULL);
	raise(SIGTSTP); /* returns once continued (SIGCONT) */
	sigaction(SIGTSTP, &mine, NULL);
	term_enter(t->keys);
}

static void term_size(int *ret_rows, int *ret_cols)
{
	struct winsize ws;

	*ret_rows = 24;
	*ret_cols = 80;
	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row && ws.ws_col) {
		*ret_rows = ws.ws_row;
		*ret_cols = ws.ws_col;
	}
}

/* ---- drawing ---- */

/* Appends text as one line to out, at most cols columns (0: no limit), control bytes (a name
 * read from the target could carry escape sequences) shown as '?'; on a terminal the rest of
 * the screen line is cleared. */
static void put_line(FILE *out, const struct top *t, int cols, const char *text)
{
	int col = 0;

	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		/* a UTF-8 continuation byte belongs to the character before it */
		if ((*p & 0xc0) != 0x80 && cols && col++ >= cols)
			break;
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
	}
	if (t->tty)
		fputs("\033[K", out);
}

/* py-spy's precision: fewer decimals as the figure grows. */
static void format_seconds(double s, char *buf, size_t size)
{
	snprintf(buf, size,
		 s >= 1000  ? "%.0fs"
		 : s >= 100 ? "%.1fs"
		 : s >= 1   ? "%.2fs"
			    : "%.3fs",
		 s);
}

static double seconds_of(const struct top *t, uint64_t weight)
{
	/* on-CPU weights are samples; off-CPU and wall weights microseconds */
	return t->opts->mode == PROFILE_CPU ? (double)weight / t->rate_hz : weight / 1e6;
}

/* "qualname (file:line)"; when wider than width (0: no limit), the file loses its beginning
 * ("qualname (...pkg/mod.py:12)") before the line is cut. */
static void label_of(const struct topview_row *r, size_t width, char *buf, size_t size)
{
	struct frame f = {.kind = r->kind, .name = r->name};
	char tail[32];
	size_t n, fixed;

	if (r->kind != FRAME_PYTHON) {
		frame__format(&f, buf, size);
		return;
	}
	if (r->line >= 0)
		snprintf(tail, sizeof(tail), ":%lld)", (long long)r->line);
	else
		snprintf(tail, sizeof(tail), ")");
	n = (size_t)snprintf(buf, size, "%s (%s%s", r->name, r->file, tail);
	fixed = strlen(r->name) + strlen(" (...") + strlen(tail);
	if (width && n > width && width > fixed + 8) {
		size_t keep = width - fixed, flen = strlen(r->file);

		snprintf(buf, size, "%s (...%s%s", r->name, r->file + flen - keep, tail);
	}
}

/* The header and the rows that fit (rows, cols: 0 for no limit). */
static void draw_table(FILE *out, const struct top *t, const struct topview_row *rows, size_t n,
		       int height, int cols)
{
	const char *nl = t->tty ? "\r\n" : "\n";
	char line[2048], a[16], b[16], label[1200];
	double secs = t->interval_s > 0 ? t->interval_s : 1;
	int o, shown = 0, max_rows = height ? height - HEADER_LINES : PLAIN_ROWS;

	o = snprintf(line, sizeof(line), "pid %d (%s)", t->opts->pid, t->comm);
	if (t->opts->subprocesses && t->s)
		o += snprintf(line + o, sizeof(line) - o, " and descendants, %zu sampled",
			      session__ntargets(t->s));
	else if (t->opts->subprocesses)
		o += snprintf(line + o, sizeof(line) - o, " and descendants");
	o += snprintf(line + o, sizeof(line) - o, "%s%s: %s at %u Hz, %.0f s%s",
		      t->python[0] ? ", " : "", t->python, profile__kind_name(t->opts->mode),
		      t->rate_hz, (t->last_ns - t->start_ns) / 1e9, t->exited ? ", exited" : "");
	if (!t->s)
		snprintf(line + o, sizeof(line) - o, ", served by the agent on %s", t->socket_path);
	put_line(out, t, cols, line);
	fputs(nl, out);
	o = snprintf(line, sizeof(line), "Samples: %.0f/s  Threads: ", t->samples / secs);
	if (t->threads >= 0) /* else the process is gone */
		o += snprintf(line + o, sizeof(line) - o, "%d ", t->threads);
	o += snprintf(line + o, sizeof(line) - o,
		      "(%zu sampled)  GIL: ", topview__threads_now(t->tv));
	if (t->gil_known)
		o += snprintf(line + o, sizeof(line) - o, "%.1f%%",
			      100.0 * t->gil_held / t->gil_known);
	else
		o += snprintf(line + o, sizeof(line) - o, "n/a");
	if (t->opts->mode == PROFILE_WALL && !t->s) {
		o += snprintf(line + o, sizeof(line) - o, "  Off-CPU: n/a");
	} else if (t->opts->mode == PROFILE_WALL) {
		uint64_t w = topview__weight_now(t->tv);
		double on = t->on_cpu * 1e6 / t->rate_hz;

		snprintf(line + o, sizeof(line) - o, "  Off-CPU: %.1f%%",
			 w && w > on ? 100.0 * (w - on) / w : 0.0);
	}
	put_line(out, t, cols, line);
	fputs(nl, out);
	snprintf(line, sizeof(line), "Sort: %d %s, %s first%s", t->key + 1, key_names[t->key],
		 t->reverse ? "smallest" : "largest",
		 t->keys ? "   keys: 1-4 sort, r reverse, l lines, R reset, q quit" : "");
	put_line(out, t, cols, line);
	fputs(nl, out);
	put_line(out, t, cols, "");
	fputs(nl, out);
	if (t->tty)
		fputs("\033[7m", out); /* the column names in reverse video */
	snprintf(line, sizeof(line), "%7s %7s %9s %9s  %-*s", key_names[0], key_names[1],
		 key_names[2], key_names[3], cols > ROW_PREFIX ? cols - ROW_PREFIX : 0,
		 t->by_line ? "Function (file:line)" : "Function (file:line of most own time)");
	put_line(out, t, cols, line);
	if (t->tty)
		fputs("\033[0m", out);
	for (size_t i = 0; i < n && shown < max_rows; i++, shown++) {
		const struct topview_row *r = &rows[i];

		fputs(nl, out);
		label_of(r, cols > ROW_PREFIX ? (size_t)(cols - ROW_PREFIX) : 0, label,
			 sizeof(label));
		format_seconds(seconds_of(t, r->own_all), a, sizeof(a));
		format_seconds(seconds_of(t, r->total_all), b, sizeof(b));
		snprintf(line, sizeof(line), "%6.2f%% %6.2f%% %9s %9s  %s",
			 100.0 * seconds_of(t, r->own_now) / secs,
			 100.0 * seconds_of(t, r->total_now) / secs, a, b, label);
		put_line(out, t, cols, line);
	}
	if (t->tty)
		fputs("\033[J", out); /* what a taller table left below */
	else
		fputs("\n\n", out);
}

/* Draws the table once: over the screen on a terminal, appended otherwise. */
static int draw(struct top *t)
{
	const struct topview_row *rows;
	char *buf = NULL;
	size_t n, len = 0;
	int height = 0, cols = 0, err;
	FILE *out;

	err = topview__rows(t->tv, t->key, t->reverse, t->by_line, &rows, &n);
	if (err)
		return err;
	out = open_memstream(&buf, &len);
	if (!out)
		return -ENOMEM;
	if (t->tty) {
		term_size(&height, &cols);
		if (height <= HEADER_LINES)
			height = HEADER_LINES + 1;
		fputs("\033[H", out);
	}
	draw_table(out, t, rows, n, height, cols);
	if (fclose(out))
		return -ENOMEM;
	write_all(buf, len); /* at once, so a redraw does not flicker */
	free(buf);
	return 0;
}

/* ---- sampling ---- */

/* How an interval through the daemon went. */
enum {
	SERVED_OK = 0,
	SERVED_UNABLE = 1, /* no daemon, or one that cannot serve this: sample here */
	SERVED_GONE = 2,   /* the process exited */
	SERVED_STOPPED = 3 /* *stop, during the interval */
};

/* One interval through the daemon: a snapshot of a second, added to the table. The daemon
 * says nothing of the GIL or of how many samples were on-CPU: the header shows n/a for them.
 * Returns SERVED_*, or an exit code + 16 (logged). */
static int served_interval(struct top *t, int first)
{
	struct control_request req = {
	    .cmd = CONTROL_SNAPSHOT,
	    .pid = t->opts->pid,
	    .duration_ms = INTERVAL_NS / 1000000,
	    .threads = t->opts->threads,
	    .kernel = t->opts->kernel,
	    .mode = (int)t->opts->mode,
	    .tree = t->opts->subprocesses,
	};
	struct control_answer ans;
	struct profile p;
	char err_msg[512] = "";
	sigset_t quiet, was;
	uint64_t now;
	int err;

	/* a resize or Ctrl-Z waits for the end of the interval (their handlers only set flags),
	 * rather than break the call; Ctrl-C, SIGTERM and SIGHUP do break it */
	sigemptyset(&quiet);
	sigaddset(&quiet, SIGWINCH);
	sigaddset(&quiet, SIGTSTP);
	sigprocmask(SIG_BLOCK, &quiet, &was);
	err = snapshot__agent_profile(t->socket_path, &req, 30, &p, &ans, err_msg, sizeof(err_msg));
	sigprocmask(SIG_SETMASK, &was, NULL);
	if (*t->stop) {
		if (!err && ans.status == CONTROL_OK)
			profile__free(&p);
		return SERVED_STOPPED; /* Ctrl-C: the daemon ends the snapshot as we hang up */
	}
	if (first && snapshot__agent_unable(err, &req, &ans, t->socket_path))
		return SERVED_UNABLE;
	if (!err && ans.status == CONTROL_NO_PROCESS && !first)
		return SERVED_GONE;
	if (err || ans.status != CONTROL_OK) {
		log_error("%s", err == -EBADMSG		? err_msg
				: err && err != -EPROTO ? strerror(-err)
							: ans.message);
		return 16 + (err ? SNAP_FAILED : snapshot_exit_of_status[ans.status]);
	}
	err = topview__add(t->tv, &p);
	now = clock__mono_ns();
	t->interval_s = (now - t->last_ns) / 1e9;
	t->last_ns = now;
	t->rate_hz = ans.rate_hz ? ans.rate_hz : t->rate_hz;
	t->samples = t->opts->mode == PROFILE_CPU ? p.total : 0;
	t->on_cpu = t->samples;
	t->gil_held = t->gil_known = 0;
	t->threads = proctask__count(t->opts->pid);
	profile__free(&p);
	if (err) {
		log_error("cannot show the table: %s", strerror(-err));
		return 16 + SNAP_FAILED;
	}
	if (ans.exited || (!t->opts->subprocesses && !procfs__alive(t->opts->pid)))
		return SERVED_GONE;
	return SERVED_OK;
}

/* The profile of the interval that just ended goes to the table, with the header's figures. */
static int take_interval(struct top *t, uint64_t now)
{
	const uint64_t *cs = collector__stats(session__collector(t->s));
	const uint64_t *was = t->stats_then;
	struct profile p;
	int err;

	collector__take_profile(session__collector(t->s), t->opts->mode, &p);
	err = topview__add(t->tv, &p);
	profile__free(&p);
	t->interval_s = (now - t->last_ns) / 1e9;
	t->last_ns = now;
	t->samples = cs[COLL_STAT_SAMPLES] - was[COLL_STAT_SAMPLES];
	t->on_cpu = cs[COLL_STAT_ON_CPU] - was[COLL_STAT_ON_CPU];
	t->gil_held = cs[COLL_STAT_GIL_HELD] - was[COLL_STAT_GIL_HELD];
	t->gil_known = t->on_cpu - (cs[COLL_STAT_GIL_UNKNOWN] - was[COLL_STAT_GIL_UNKNOWN]);
	memcpy(t->stats_then, cs, sizeof(t->stats_then));
	t->threads = proctask__count(t->opts->pid);
	return err;
}

/* A key pressed: returns 1 to quit, else redraws. */
static int on_key(struct top *t, char c)
{
	switch (c) {
	case 'q':
	case 'Q':
		return 1;
	case '1':
	case '2':
	case '3':
	case '4':
		t->key = (enum topview_key)(c - '1');
		break;
	case 'r':
		t->reverse = !t->reverse;
		break;
	case 'R':
		topview__reset(t->tv);
		break;
	case 'l':
	case 'L':
		t->by_line = !t->by_line;
		break;
	default:
		return 0; /* arrows and the like: nothing to redraw */
	}
	draw(t);
	return 0;
}

/* Reads the keys pressed; returns 1 on q. */
static int read_keys(struct top *t)
{
	char buf[64];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
		t->keys = 0; /* end of input, or a terminal gone: no more polling it */
	for (ssize_t i = 0; i < n; i++)
		if (on_key(t, buf[i]))
			return 1;
	return 0;
}

/* collector__each_process: the root's interpreter, for the header. */
static void name_python(void *ctx, const struct pyproc *p)
{
	struct top *t = ctx;

	if (p->pid == t->opts->pid || !t->python[0])
		snprintf(t->python, sizeof(t->python), "CPython %u.%u", p->major, p->minor);
}

int top__run(const struct snapshot_opts *opts, const char *socket_path, volatile sig_atomic_t *stop)
{
	struct session_opts so = snapshot__session_opts(opts);
	struct sigaction winch = {.sa_handler = on_winch}, tstp = {.sa_handler = on_tstp};
	struct top t = {.opts = opts,
			.key = TOPVIEW_OWN_ALL, /* py-spy's default column */
			.socket_path = socket_path,
			.stop = stop,
			.rate_hz = opts->rate_hz};
	int code, err = 0, quit = 0, served = SERVED_UNABLE;

	t.tv = topview__new(opts->kernel);
	if (!t.tv) {
		log_error("out of memory");
		return SNAP_FAILED;
	}
	t.start_ns = t.last_ns = clock__mono_ns();
	procfs__comm(opts->pid, 0, t.comm, sizeof(t.comm));
	/* through the daemon when one serves this: its first second decides */
	if (socket_path)
		served = served_interval(&t, 1);
	if (served >= 16 || served == SERVED_STOPPED) {
		topview__free(t.tv);
		return served >= 16 ? served - 16 : SNAP_OK;
	}
	if (served == SERVED_UNABLE) {
		code = session__open(&so, &t.s);
		if (code != SNAP_OK) {
			topview__free(t.tv);
			return code;
		}
		collector__each_process(session__collector(t.s), name_python, &t);
		t.start_ns = t.last_ns = clock__mono_ns();
		t.threads = proctask__count(opts->pid);
	}
	t.exited = served == SERVED_GONE;
	t.tty = isatty(STDOUT_FILENO);
	t.keys = t.tty && isatty(STDIN_FILENO);
	if (t.tty) {
		sigaction(SIGWINCH, &winch, NULL);
		sigaction(SIGTSTP, &tstp, NULL);
		term_enter(t.keys);
		draw(&t);
	} else if (!t.s && !t.exited) {
		err = draw(&t); /* the daemon's first second */
	}
	while (!*stop && !quit && !err && !t.exited) {
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		uint64_t now = clock__mono_ns(), next = t.last_ns + INTERVAL_NS;
		int wait_ms = now >= next ? 0 : (int)((next - now) / 1000000);

		if (wait_ms > POLL_MS || !t.s)
			wait_ms = t.s ? POLL_MS : 0; /* through the daemon, the interval waits */
		if (poll(&pfd, t.keys ? 1 : 0, wait_ms) > 0 && (pfd.revents & (POLLIN | POLLHUP)))
			quit = read_keys(&t);
		if (suspended) {
			suspend(&t);
			resized = 1;
		}
		if (resized) {
			resized = 0;
			draw(&t);
		}
		if (quit)
			break;
		if (!t.s) {
			served = served_interval(&t, 0);
			if (served >= 16 || served == SERVED_STOPPED) {
				code = served >= 16 ? served - 16 : SNAP_OK;
				term_leave();
				topview__free(t.tv);
				return code;
			}
			t.exited = served == SERVED_GONE;
			if (!t.exited)
				err = draw(&t);
			continue;
		}
		/* after a suspension too, so its interval gets what was sampled meanwhile */
		session__poll(t.s, 0);
		now = clock__mono_ns();
		if (now - t.last_ns >= INTERVAL_NS) {
			err = take_interval(&t, now);
			if (!err)
				err = draw(&t);
		}
		/* one process: until it exits; a tree: until its root and every target have */
		if (!procfs__alive(opts->pid) && (!opts->subprocesses || !session__ntargets(t.s)))
			t.exited = 1;
	}
	if (t.exited) {
		/* the last, partial interval, left on the screen (or the log) as plain text */
		if (t.s) {
			session__poll(t.s, 0);
			if (!err)
				err = take_interval(&t, clock__mono_ns());
		}
		term_leave();
		t.tty = t.keys = 0;
		if (!err)
			err = draw(&t);
		log_warn("pid %d exited after %.1f s", opts->pid, (t.last_ns - t.start_ns) / 1e9);
	}
	term_leave();
	if (err)
		log_error("cannot show the table: %s", strerror(-err));
	topview__free(t.tv);
	session__close(t.s);
	return err ? SNAP_FAILED : SNAP_OK;
}
