// SPDX-License-Identifier: MIT
/* agentctl: the command-line tool. Parses arguments and hands over to the modules. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd/compare.h"
#include "cmd/convert.h"
#include "cmd/web.h"
#include "cmd/dump.h"
#include "cmd/record.h"
#include "cmd/snapshot.h"
#include "cmd/top.h"
#include "config/config.h"
#include "daemon/control.h"
#include "format/output.h"
#include "util/log.h"
#include "util/text.h"
#include "util/version.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = sig; /* record tells SIGTERM, its own, from Ctrl-C, the command's too */
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: agentctl COMMAND [OPTIONS]\n"
	    "       agentctl --help | --version\n"
	    "\n"
	    "Profiles one CPython process now, dumps its threads' stacks, talks to a running\n"
	    "pyprof-agent, and converts, compares and merges profiles.\n"
	    "\n"
	    "Commands:\n"
	    "  snapshot --pid PID [--duration SECONDS] [--rate HZ] [--threads] [--kernel]\n"
	    "           [--mode cpu|offcpu|wall] [--gil] [--min-block-us US] [--subprocesses]\n"
	    "           [--format folded|pprof|speedscope|svg] [--output FILE] [--socket PATH]\n"
	    "           [--verbose]\n"
	    "      Profile every thread of one CPython process for SECONDS (default 10) at HZ\n"
	    "      samples per second per CPU (default 99), then write folded stacks, one\n"
	    "      line per distinct stack:\n"
	    "      'COMM (PID);outer (file.py:LINE);...;inner (file.py:LINE) N'.\n"
	    "      PID is the host's pid. A process in a container gets '[container ID]', on\n"
	    "      Kubernetes '[pod UID]', and '[ns pid N]' (its own pid) frames under the root;\n"
	    "      its files are read as it sees them (/proc/PID/root).\n"
	    "      --threads      a 'thread TID (name)' frame under the process frame\n"
	    "      --kernel       the sampled kernel stack leafward, as 'function_[k]' frames\n"
	    "      --mode offcpu  where threads wait instead: counts are microseconds blocked;\n"
	    "                     leafward of the Python frames a [sleeping], [runnable] or\n"
	    "                     [waiting for GIL] frame, then the kernel frames where it waited\n"
	    "      --mode wall    both, in microseconds (an on-CPU sample is 1/HZ s): widths are\n"
	    "                     shares of each thread's wall-clock time\n"
	    "      --min-block-us blocks shorter than US (default 1000) are only counted\n"
	    "      --gil          keep only on-CPU samples of threads holding the GIL\n"
	    "      --subprocesses also every descendant of PID that runs CPython, those that\n"
	    "                     start during the snapshot included (forked or spawned\n"
	    "                     workers, subprocesses, an exec of another interpreter), each\n"
	    "                     under its own 'COMM (PID)' root with a '[parent PPID]' frame\n"
	    "                     below it; PID itself need not be CPython\n"
	    "      --format       pprof (gzipped protobuf), speedscope JSON or an interactive SVG\n"
	    "                     flame graph instead of folded stacks\n"
	    "      --output FILE  write there instead of standard output\n"
	    "      --socket PATH  when a pyprof-agent listens there (default $PYPROF_SOCKET, else\n"
	    "                     " CONFIG_DEFAULT_SOCKET "), the daemon's sampler takes the\n"
	    "                     snapshot at its own rate (a tree too); without a daemon, with\n"
	    "                     --rate, or when it cannot serve this (off-CPU disabled in it,\n"
	    "                     an older daemon for a tree), agentctl loads its own programs\n"
	    "      --verbose      log at debug level\n"
	    "      Ctrl-C (SIGINT) or SIGTERM ends early and writes what was collected; a process\n"
	    "      that exits meanwhile leaves what was collected, with a warning. A closing\n"
	    "      'counters:' line on stderr names every non-zero failure counter.\n"
	    "  record [--subprocesses] [--rate HZ] [--threads] [--kernel] [--mode ...] [--gil]\n"
	    "         [--min-block-us US] [--format ...] [--output FILE] [--socket PATH]\n"
	    "         [--verbose]\n"
	    "         -- COMMAND [ARGS...]\n"
	    "      Run COMMAND (found in PATH; through sudo, as the invoking user, SUDO_UID and\n"
	    "      SUDO_GID, with its environment) and profile it from its start until it\n"
	    "      exits, then write the profile to FILE (default pyprof-PID.EXT in the working\n"
	    "      directory, owned by the sudo user; '-' for standard output). Options as for\n"
	    "      snapshot. The command is made before agentctl loads its programs and runs\n"
	    "      once they watch it: its exec is seen at once and the interpreter sampled\n"
	    "      within milliseconds. Ctrl-C ends the recording (the command gets it too);\n"
	    "      SIGTERM to agentctl ends it and is passed on to the command. Exits with the\n"
	    "      command's status (128+N if killed by signal N), 127 if COMMAND is not\n"
	    "      found, 126 if it cannot be executed. As for snapshot, a daemon listening on\n"
	    "      --socket samples it instead (without --rate): it follows the command from\n"
	    "      before its exec until it exits, or Ctrl-C or SIGTERM end the recording.\n"
	    "  dump --pid PID [--subprocesses] [--json]\n"
	    "      Print the Python stack of every thread of PID as it is now, innermost frame\n"
	    "      first (as py-spy dump): 'Thread TID (STATE in KERNEL_FUNCTION, holds the\n"
	    "      GIL): \"NAME\"', then one 'qualname (file.py:LINE)' line per frame. STATE is\n"
	    "      running, sleeping or waiting for the GIL (blocked on a futex inside the\n"
	    "      interpreter's GIL). The process is never stopped (no ptrace): its memory is\n"
	    "      read with process_vm_readv by the same CPython walker as the samplers, so\n"
	    "      the threads move on while they are read, each stack is of its own moment.\n"
	    "      Threads without a Python thread state are listed after the Python ones.\n"
	    "      dump loads no BPF program: it runs alone even when a daemon listens.\n"
	    "      --subprocesses  also every Python descendant, each under its own\n"
	    "                      'Process PID: COMMAND LINE' header naming its parent\n"
	    "      --json          one JSON document: processes, their threads, their frames\n"
	    "                      (name, file, line), innermost first\n"
	    "  top --pid PID [--subprocesses] [--rate HZ] [--mode cpu|offcpu|wall] [--kernel]\n"
	    "      [--socket PATH] [--verbose]\n"
	    "      A live table of the functions of one CPython process, redrawn every second,\n"
	    "      as py-spy top: %%Own and %%Total are the last second's time in the function\n"
	    "      itself and in it or its callees, as percent of one second (like top's %%CPU:\n"
	    "      two busy threads make 200%%), OwnTime and TotalTime the same in seconds since\n"
	    "      start. A function counts once per stack in Total however deep it recurses.\n"
	    "      Rows are 'qualname (file:line)' with lines aggregated per function, showing\n"
	    "      the line with the most own time (key l: one row per line). Process, thread,\n"
	    "      container and marker frames are no rows; kernel frames only with --kernel.\n"
	    "      The header shows samples per second, the process's threads (and how many\n"
	    "      were sampled), the share of on-CPU samples whose thread held the GIL and, in\n"
	    "      wall mode, the share of the time spent off-CPU (a block counts when it ends).\n"
	    "      Keys: 1-4 sort by %%Own, %%Total, OwnTime (the default), TotalTime; r reverses\n"
	    "      the order; l toggles rows per line; R resets the figures; q or Ctrl-C quits,\n"
	    "      leaving the terminal as it was. When the process exits, its last table stays\n"
	    "      on the terminal and top exits 0. When standard output is not a terminal, a\n"
	    "      plain table of the first 20 rows is printed every second, with no escape\n"
	    "      codes. --subprocesses adds every CPython descendant, as for snapshot. As for\n"
	    "      snapshot, a daemon listening on --socket samples instead (without --rate): a\n"
	    "      one-second snapshot per interval, the header saying 'served by the agent'\n"
	    "      with its rate (GIL share n/a; keys are read between intervals).\n"
	    "  status [--socket PATH]\n"
	    "      Print the running daemon's version, configuration file, uptime, targets (one\n"
	    "      'target:' line each: PID, comm, container, pod and pid in its namespace),\n"
	    "      samples per second, every error counter by name, ring-buffer drops,\n"
	    "      uploads and the last window written.\n"
	    "  convert INPUT --format folded|pprof|speedscope|svg [--output FILE]\n"
	    "          [--kind cpu|offcpu|wall] [--rate HZ] [--from auto|folded|pprof]\n"
	    "          [--title TEXT]\n"
	    "      Convert a stored profile (folded, plain or gzipped, or pprof; '-' is standard\n"
	    "      input) to FORMAT. Folded input is taken as --kind cpu at --rate 99 unless told\n"
	    "      otherwise. '[container ID]' frames become pprof 'container_id' labels.\n"
	    "  diff BASE NEW [--format text|svg] [--fail-above PERCENT] [--top N] [--output FILE]\n"
	    "       [--title TEXT] [--kind ...] [--rate HZ] [--from ...]\n"
	    "      Compare two profiles as shares of their totals, by function ('qualname (file)'\n"
	    "      for Python, lines aggregated; process, thread and container frames left out):\n"
	    "      the functions whose total and self shares grew and shrank the most, or a\n"
	    "      differential flame graph (red grew, blue shrank). --fail-above exits 1 if a\n"
	    "      function's total share grew by more than PERCENT percentage points.\n"
	    "  merge INPUT... [--output FILE] [--format FORMAT] [--kind ...] [--rate HZ]\n"
	    "        [--from ...]\n"
	    "      Sum profiles (folded, plain or gzipped, or pprof) into one, folded by default.\n"
	    "  compare --from DIR|--config FILE --host HOST --base START/DURATION\n"
	    "          --new START/DURATION\n"
	    "          [--new-host HOST] [--kind cpu|offcpu|wall] [--fail-above PERCENT]\n"
	    "          [--format text|svg] [--top N] [--output FILE] [--title TEXT] [--cache DIR]\n"
	    "      diff over the daemon's stored windows: the windows of HOST in DIR (its\n"
	    "      output.directory) that start in each range (START as 2026-12-01T10:00Z, UTC;\n"
	    "      DURATION as 30s, 15m, 1h or 2d) are merged, and the two merges compared as\n"
	    "      diff does, with the same report and the same --fail-above gate (--new-host:\n"
	    "      the new range is another host's). DIR may be s3://BUCKET/PREFIX/ (the\n"
	    "      uploader's keys; AWS_* credentials, AWS_ENDPOINT_URL, AWS_REGION): windows\n"
	    "      are fetched into --cache DIR (default ~/.cache/pyprof-agent/s3/...).\n"
	    "      --config FILE: the S3 settings of the daemon's config (upload.s3: endpoint,\n"
	    "      region, path_style, ca_file, credentials.file) and, without --from, its\n"
	    "      bucket and prefix.\n"
	    "  serve --from DIR|s3://BUCKET/PREFIX/ [--config FILE] [--listen ADDRESS:PORT]\n"
	    "        [--cache DIR]\n"
	    "      A read-only web view of DIR's stored windows (default 127.0.0.1:8080; any\n"
	    "      other address is warned of: there is no authentication): hosts, a timeline\n"
	    "      of a host's windows, the flame graph and function table of a range, two\n"
	    "      ranges compared, downloads; a JSON API under /api. From S3 (as compare),\n"
	    "      what a request needs is fetched into the cache first; --config as compare.\n"
	    "      Stops on SIGINT/SIGTERM.\n"
	    "  version\n"
	    "      Print the version.\n"
	    "\n"
	    "Environment:\n"
	    "  PYPROF_SOCKET  the daemon's control socket when --socket is not given\n"
	    "  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE,\n"
	    "  AWS_SHARED_CREDENTIALS_FILE, AWS_ENDPOINT_URL, AWS_REGION, AWS_CA_BUNDLE\n"
	    "                 compare and serve --from s3://: credentials and endpoint\n"
	    "  XDG_CACHE_HOME where --from s3:// keeps fetched windows (default ~/.cache)\n"
	    "\n"
	    "Files:\n"
	    "  " CONFIG_DEFAULT_SOCKET "  the daemon's control socket; root only\n"
	    "  /proc/kallsyms  kernel symbols (--kernel, --mode offcpu|wall)\n"
	    "\n"
	    "Privileges: snapshot, record, top and status need root, or CAP_BPF + CAP_PERFMON +\n"
	    "CAP_SYS_PTRACE (with CAP_DAC_READ_SEARCH for targets in private directories and\n"
	    "CAP_SYSLOG for kernel frame names); dump needs root or CAP_SYS_PTRACE (it reads\n"
	    "memory, never attaches); convert, diff, merge, compare and serve need none.\n"
	    "\n"
	    "Exit status:\n"
	    "  snapshot, dump, top, status: 0 written (top: quit, or the process exited), 1\n"
	    "    failure (status: no daemon listens), 2 usage,\n"
	    "    3 no such process (dump: also when it exited while being read; what was read\n"
	    "    is written), 4 not a CPython process (dump --subprocesses: nor any descendant),\n"
	    "    5 unsupported CPython version (named in the message), 6 missing privilege, 7 the\n"
	    "    kernel refused every way of what --mode needs (no way of the off-CPU tracer\n"
	    "    loads: the message says why)\n"
	    "  record: the command's status; 126, 127 as a shell's; 1, 6 or 7 as snapshot's when\n"
	    "    the profiling cannot start (the command is then not run)\n"
	    "  convert, diff, merge, compare: 0 done, 1 failure (unreadable or malformed input,\n"
	    "    for compare also a range without windows, or for diff and compare\n"
	    "    --fail-above a total share grown past PERCENT), 2 usage\n"
	    "  serve: 0 stopped by SIGINT or SIGTERM, 1 cannot serve (DIR, address), 2 usage\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
	uint64_t v;

	if (text__parse_u64(s, strlen(s), max, &v))
		return -EINVAL;
	*ret = (unsigned long)v;
	return 0;
}

static int parse_pid(const char *s, pid_t *ret)
{
	unsigned long v;

	if (parse_uint(s, 0x3fffffff, &v) || !v) {
		fprintf(stderr, "agentctl: --pid: expected a process id, got '%s'\n", s);
		return -EINVAL;
	}
	*ret = (pid_t)v;
	return 0;
}

/* The end of a command's options: no operand left, and --pid given. */
static int check_pid_given(const char *cmd, int optind_, int argc, pid_t pid)
{
	if (optind_ < argc || !pid) {
		fprintf(stderr, "agentctl %s: %s\n", cmd,
			pid ? "unexpected argument" : "--pid is required");
		return -EINVAL;
	}
	return 0;
}

/* The end of every command's option switch: --verbose (returns -1: go on), --help (0) and an
 * unknown option (usage, SNAP_USAGE). */
static int common_option(int c)
{
	switch (c) {
	case 'v':
		log__set_level(LOG_DEBUG);
		return -1;
	case 'h':
		usage(stdout);
		return 0;
	default:
		usage(stderr);
		return SNAP_USAGE;
	}
}

static const char *default_socket(void)
{
	const char *env = getenv("PYPROF_SOCKET");

	return env && *env ? env : CONFIG_DEFAULT_SOCKET;
}

static int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	struct control_request req = {.cmd = CONTROL_STATUS};
	const char *sock = default_socket();
	struct control_answer ans;
	int c, err;

	while ((c = getopt_long(argc, argv, "S:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'S':
			sock = optarg;
			break;
		default:
			return common_option(c);
		}
	}
	err = control__call(sock, &req, 10, stdout, &ans);
	if (err == -ENOENT || err == -ECONNREFUSED) {
		fprintf(stderr, "agentctl: no pyprof-agent is running (nothing listens on %s)\n",
			sock);
		return 1;
	}
	if (err || ans.status != CONTROL_OK) {
		fprintf(stderr, "agentctl: %s\n",
			err && err != -EPROTO ? strerror(-err) : ans.message);
		return err == -EACCES || (!err && ans.status == CONTROL_DENIED) ? 6 : 1;
	}
	return 0;
}

/* Options of the commands that profile (snapshot, record): which of the per-command ones each
 * takes. */
enum {
	TAKES_PID = 1 << 0,	 /* --pid, required */
	TAKES_DURATION = 1 << 1, /* --duration */
	TAKES_SOCKET = 1 << 2,	 /* --socket: through the daemon */
};

/* Parses argv into o (and *sock, *rate_given); stops at the first argument that is not an
 * option. Returns -1 when done, else the exit code to leave with (0 for --help). */
static int parse_profiling(int argc, char **argv, const char *cmd, unsigned takes,
			   struct snapshot_opts *o, const char **sock, int *rate_given)
{
	static const struct option longopts[] = {
	    {"pid", required_argument, NULL, 'p'},
	    {"duration", required_argument, NULL, 'd'},
	    {"rate", required_argument, NULL, 'r'},
	    {"threads", no_argument, NULL, 't'},
	    {"kernel", no_argument, NULL, 'k'},
	    {"output", required_argument, NULL, 'o'},
	    {"format", required_argument, NULL, 'f'},
	    {"socket", required_argument, NULL, 'S'},
	    {"mode", required_argument, NULL, 'm'},
	    {"gil", no_argument, NULL, 'g'},
	    {"min-block-us", required_argument, NULL, 'B'},
	    {"subprocesses", no_argument, NULL, 's'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	unsigned long v;
	int c, code;

	/* "+": options end at the command of record, whose own options are its own */
	while ((c = getopt_long(argc, argv, "+p:d:r:tko:f:S:m:gB:svh", longopts, NULL)) != -1) {
		if ((c == 'p' && !(takes & TAKES_PID)) || (c == 'd' && !(takes & TAKES_DURATION)) ||
		    (c == 'S' && !(takes & TAKES_SOCKET))) {
			fprintf(stderr, "agentctl %s: %s is not an option of this command\n", cmd,
				argv[optind - 1]);
			return SNAP_USAGE;
		}
		switch (c) {
		case 'p':
			if (parse_pid(optarg, &o->pid))
				return SNAP_USAGE;
			break;
		case 'd': {
			char *end;

			o->duration_s = strtod(optarg, &end);
			if (end == optarg || *end || !(o->duration_s > 0) ||
			    o->duration_s > 86400) {
				fprintf(stderr,
					"agentctl: --duration: expected seconds in (0, 86400], "
					"got '%s'\n",
					optarg);
				return SNAP_USAGE;
			}
			break;
		}
		case 'r':
			if (parse_uint(optarg, 10000, &v) || !v) {
				fprintf(stderr,
					"agentctl: --rate: expected 1 to 10000 Hz, got '%s'\n",
					optarg);
				return SNAP_USAGE;
			}
			o->rate_hz = (unsigned)v;
			*rate_given = 1;
			break;
		case 'S':
			*sock = optarg;
			break;
		case 'm':
			if (profile__parse_kind(optarg, &o->mode)) {
				fprintf(
				    stderr,
				    "agentctl: --mode: expected cpu, offcpu or wall, got '%s'\n",
				    optarg);
				return SNAP_USAGE;
			}
			break;
		case 'g':
			o->gil_only = 1;
			break;
		case 'B':
			if (parse_uint(optarg, 60000000, &v)) {
				fprintf(stderr,
					"agentctl: --min-block-us: expected 0 to 60000000, got "
					"'%s'\n",
					optarg);
				return SNAP_USAGE;
			}
			o->min_block_us = v;
			break;
		case 't':
			o->threads = 1;
			break;
		case 'k':
			o->kernel = 1;
			break;
		case 's':
			o->subprocesses = 1;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'f':
			if (output__parse_format(optarg, &o->format)) {
				fprintf(stderr,
					"agentctl: --format: expected folded, pprof, speedscope or "
					"svg, got '%s'\n",
					optarg);
				return SNAP_USAGE;
			}
			break;
		default:
			code = common_option(c);
			if (code >= 0)
				return code;
		}
	}
	if ((takes & TAKES_PID) && !o->pid) {
		fprintf(stderr, "agentctl %s: --pid is required\n", cmd);
		return SNAP_USAGE;
	}
	return -1;
}

static void catch_stop_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int cmd_snapshot(int argc, char **argv)
{
	struct snapshot_opts o = {.duration_s = 10, .rate_hz = 99, .min_block_us = 1000};
	const char *sock = default_socket();
	int rate_given = 0, code;

	code = parse_profiling(argc, argv, "snapshot", TAKES_PID | TAKES_DURATION | TAKES_SOCKET,
			       &o, &sock, &rate_given);
	if (code >= 0)
		return code;
	if (optind < argc) {
		fprintf(stderr, "agentctl snapshot: unexpected argument '%s'\n", argv[optind]);
		return SNAP_USAGE;
	}
	if (!rate_given) {
		code = snapshot__via_agent(&o, sock);
		if (code >= 0)
			return code;
	}
	catch_stop_signals();
	return snapshot__run(&o, &stop_requested);
}

static int cmd_record(int argc, char **argv)
{
	struct snapshot_opts o = {.rate_hz = 99, .min_block_us = 1000};
	const char *sock = default_socket();
	int rate_given = 0, code;

	code = parse_profiling(argc, argv, "record", TAKES_SOCKET, &o, &sock, &rate_given);
	if (code >= 0)
		return code;
	if (optind >= argc) {
		fprintf(stderr, "agentctl record: no command given (agentctl record [OPTIONS] -- "
				"COMMAND [ARGS...])\n");
		return SNAP_USAGE;
	}
	catch_stop_signals();
	return record__run(&o, argv + optind, rate_given ? NULL : sock, &stop_requested);
}

static int cmd_dump(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"pid", required_argument, NULL, 'p'}, {"subprocesses", no_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},	   {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},	   {},
	};
	struct dump_opts o = {0};
	int c, code;

	while ((c = getopt_long(argc, argv, "p:sjvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_pid(optarg, &o.pid))
				return SNAP_USAGE;
			break;
		case 's':
			o.subprocesses = 1;
			break;
		case 'j':
			o.json = 1;
			break;
		default:
			code = common_option(c);
			if (code >= 0)
				return code;
		}
	}
	if (check_pid_given("dump", optind, argc, o.pid))
		return SNAP_USAGE;
	return dump__run(&o, stdout);
}

static int cmd_top(int argc, char **argv)
{
	/* thread frames: the header counts the threads sampled (they are no row of the table) */
	struct snapshot_opts o = {.rate_hz = 99, .min_block_us = 1000, .threads = 1};
	struct sigaction sa = {.sa_handler = on_signal};
	const char *sock = default_socket();
	int rate_given = 0, code;

	/* what the session logs at info (the interpreter, the off-CPU way) the table's header
	 * shows, or would be drawn over: quiet unless --verbose */
	log__set_level(LOG_WARN);
	code = parse_profiling(argc, argv, "top", TAKES_PID | TAKES_SOCKET, &o, &sock, &rate_given);
	if (code >= 0)
		return code;
	if (optind < argc || o.output || o.format || o.gil_only) {
		fprintf(stderr, "agentctl top: %s\n",
			optind < argc ? "unexpected argument"
				      : "--output, --format and --gil are not options of top");
		return SNAP_USAGE;
	}
	o.threads = 1;
	catch_stop_signals();
	sigaction(SIGHUP, &sa, NULL); /* the terminal closed */
	return top__run(&o, rate_given ? NULL : sock, &stop_requested);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	log__install_libbpf();
	if (!cmd || !strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("agentctl %s\n", PYPROF_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "snapshot"))
		return cmd_snapshot(argc - 1, argv + 1);
	if (!strcmp(cmd, "record"))
		return cmd_record(argc - 1, argv + 1);
	if (!strcmp(cmd, "top"))
		return cmd_top(argc - 1, argv + 1);
	if (!strcmp(cmd, "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(cmd, "status"))
		return cmd_status(argc - 1, argv + 1);
	if (!strcmp(cmd, "convert"))
		return convert__cmd_convert(argc - 1, argv + 1);
	if (!strcmp(cmd, "diff"))
		return convert__cmd_diff(argc - 1, argv + 1);
	if (!strcmp(cmd, "merge"))
		return convert__cmd_merge(argc - 1, argv + 1);
	if (!strcmp(cmd, "compare"))
		return compare__cmd(argc - 1, argv + 1);
	if (!strcmp(cmd, "serve"))
		return web__cmd_serve(argc - 1, argv + 1);
	fprintf(stderr, "agentctl: unknown command '%s'\n\n", cmd);
	usage(stderr);
	return 2;
}
