// SPDX-License-Identifier: MIT
/* agentctl: the command-line tool. Parses arguments and hands over to the modules. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "control.h"
#include "convert.h"
#include "log.h"
#include "output.h"
#include "snapshot.h"

#include "version.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: agentctl COMMAND [OPTIONS]\n"
	    "\n"
	    "Commands:\n"
	    "  snapshot --pid PID [--duration SECONDS] [--rate HZ] [--threads] [--kernel]\n"
	    "           [--output FILE] [--format folded|pprof|speedscope|svg]\n"
	    "           [--mode cpu|offcpu|wall] [--gil] [--min-block-us US] [--socket PATH]\n"
	    "      Profile every thread of one CPython process for SECONDS (default 10) at HZ\n"
	    "      samples per second (default 99), then write folded stacks, one line per\n"
	    "      distinct stack: 'COMM (PID);outer (file.py:LINE);...;inner (file.py:LINE) N'.\n"
	    "      --threads adds a 'thread TID (name)' frame under the process frame;\n"
	    "      --kernel adds the sampled kernel stack as 'function_[k]' frames leafward.\n"
	    "      Ctrl-C ends early and writes what was collected.\n"
	    "      --format writes pprof (gzipped protobuf), speedscope JSON or an interactive\n"
	    "      SVG flame graph instead of folded stacks.\n"
	    "  convert INPUT --format folded|pprof|speedscope|svg [--output FILE]\n"
	    "          [--kind cpu|offcpu|wall] [--rate HZ] [--from auto|folded|pprof]\n"
	    "          [--title TEXT]\n"
	    "      Convert a stored profile (folded, plain or gzipped, or pprof) to FORMAT.\n"
	    "      Folded input is taken as --kind cpu at --rate 99 unless told otherwise.\n"
	    "  diff BASE NEW [--format text|svg] [--fail-above PERCENT] [--top N] [--output FILE]\n"
	    "      Compare two profiles as shares of their totals, by function ('qualname (file)'\n"
	    "      for Python, lines aggregated; process and thread frames left out): the\n"
	    "      functions whose total and self shares grew and shrank the most, or a\n"
	    "      differential flame graph (red grew, blue shrank). --fail-above exits 1 if a\n"
	    "      function's total share grew by more than PERCENT percentage points.\n"
	    "  merge INPUT... [--output FILE] [--format FORMAT]\n"
	    "      Sum profiles (folded, plain or gzipped, or pprof) into one, folded by default.\n"
	    "      --mode offcpu records where threads wait instead: counts are microseconds\n"
	    "      blocked, leafward of the Python frames a [sleeping], [runnable] or\n"
	    "      [waiting for GIL] frame, then the kernel frames where it waited. Blocks\n"
	    "      shorter than --min-block-us (default 1000) are only counted. --mode wall\n"
	    "      merges both in microseconds (an on-CPU sample is 1/HZ s): widths are shares\n"
	    "      of each thread's wall-clock time. --gil keeps only on-CPU samples of threads\n"
	    "      holding the GIL.\n"
	    "      --socket PATH: when a pyprof-agent daemon listens there (default\n"
	    "      " CONTROL_DEFAULT_SOCKET ", or $PYPROF_SOCKET), the snapshot is taken by the\n"
	    "      daemon's sampler at its configured rate; without a daemon, or with an explicit\n"
	    "      --rate, agentctl loads its own BPF programs.\n"
	    "  status [--socket PATH]\n"
	    "      Print the running daemon's uptime, targets, samples per second, every error\n"
	    "      counter by name, ring-buffer drops and the last window written.\n"
	    "  version\n"
	    "      Print the version.\n"
	    "\n"
	    "Exit codes: 0 written, 1 failure, 2 usage, 3 no such process, 4 not a CPython\n"
	    "process, 5 unsupported CPython version, 6 missing privilege (needs root, or\n"
	    "CAP_BPF + CAP_PERFMON + CAP_SYS_PTRACE).\n"
	    "convert, diff, merge: 0 done, 1 failure (unreadable or malformed input, or for\n"
	    "diff --fail-above a total share grown past PERCENT), 2 usage.\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return -EINVAL;
	*ret = v;
	return 0;
}

static const char *default_socket(void)
{
	const char *env = getenv("PYPROF_SOCKET");

	return env && *env ? env : CONTROL_DEFAULT_SOCKET;
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
	char err_msg[512] = "";
	int c, err;

	while ((c = getopt_long(argc, argv, "S:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'S':
			sock = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	err = control__call(sock, &req, 10, stdout, err_msg, sizeof(err_msg));
	if (err == -ENOENT || err == -ECONNREFUSED) {
		fprintf(stderr, "agentctl: no pyprof-agent is running (nothing listens on %s)\n",
			sock);
		return 1;
	}
	if (err) {
		fprintf(stderr, "agentctl: %s\n", err == -EPROTO ? err_msg : strerror(-err));
		return err == -EACCES ? 6 : 1;
	}
	return 0;
}

static int cmd_snapshot(int argc, char **argv)
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
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	struct snapshot_opts o = {.duration_s = 10, .rate_hz = 99, .min_block_us = 1000};
	const char *sock = default_socket();
	int rate_given = 0, code;
	struct sigaction sa = {.sa_handler = on_signal};
	unsigned long v;
	int c;

	while ((c = getopt_long(argc, argv, "p:d:r:tko:f:S:m:gB:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_uint(optarg, 0x3fffffff, &v) || !v) {
				fprintf(stderr,
					"agentctl: --pid: expected a process id, got '%s'\n",
					optarg);
				return SNAP_USAGE;
			}
			o.pid = (pid_t)v;
			break;
		case 'd': {
			char *end;

			o.duration_s = strtod(optarg, &end);
			if (end == optarg || *end || !(o.duration_s > 0) || o.duration_s > 86400) {
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
			o.rate_hz = (unsigned)v;
			rate_given = 1;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'm':
			if (output__parse_kind(optarg, &o.mode)) {
				fprintf(
				    stderr,
				    "agentctl: --mode: expected cpu, offcpu or wall, got '%s'\n",
				    optarg);
				return SNAP_USAGE;
			}
			break;
		case 'g':
			o.gil_only = 1;
			break;
		case 'B':
			if (parse_uint(optarg, 60000000, &v)) {
				fprintf(stderr,
					"agentctl: --min-block-us: expected 0 to 60000000, got "
					"'%s'\n",
					optarg);
				return SNAP_USAGE;
			}
			o.min_block_us = v;
			break;
		case 't':
			o.threads = 1;
			break;
		case 'k':
			o.kernel = 1;
			break;
		case 'o':
			o.output = optarg;
			break;
		case 'f':
			if (output__parse_format(optarg, &o.format)) {
				fprintf(stderr,
					"agentctl: --format: expected folded, pprof, speedscope or "
					"svg, got '%s'\n",
					optarg);
				return SNAP_USAGE;
			}
			break;
		case 'v':
			log__set_level(LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return SNAP_USAGE;
		}
	}
	if (optind < argc || !o.pid) {
		fprintf(stderr, "agentctl snapshot: %s\n",
			o.pid ? "unexpected argument" : "--pid is required");
		return SNAP_USAGE;
	}
	if (!rate_given) {
		code = snapshot__via_agent(&o, sock);
		if (code >= 0)
			return code;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return snapshot__run(&o, &stop_requested);
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
	if (!strcmp(cmd, "status"))
		return cmd_status(argc - 1, argv + 1);
	if (!strcmp(cmd, "convert"))
		return convert__cmd_convert(argc - 1, argv + 1);
	if (!strcmp(cmd, "diff"))
		return convert__cmd_diff(argc - 1, argv + 1);
	if (!strcmp(cmd, "merge"))
		return convert__cmd_merge(argc - 1, argv + 1);
	fprintf(stderr, "agentctl: unknown command '%s'\n\n", cmd);
	usage(stderr);
	return 2;
}
