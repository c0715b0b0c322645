// SPDX-License-Identifier: MIT
/* agentctl: the command-line tool. Parses arguments and hands over to the modules. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "snapshot.h"

#define PYPROF_VERSION "0.1.0"

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
	    "           [--output FILE]\n"
	    "      Profile every thread of one CPython process for SECONDS (default 10) at HZ\n"
	    "      samples per second (default 99), then write folded stacks, one line per\n"
	    "      distinct stack: 'COMM (PID);outer (file.py:LINE);...;inner (file.py:LINE) N'.\n"
	    "      --threads adds a 'thread TID (name)' frame under the process frame;\n"
	    "      --kernel adds the sampled kernel stack as 'function_[k]' frames leafward.\n"
	    "      Ctrl-C ends early and writes what was collected.\n"
	    "  version\n"
	    "      Print the version.\n"
	    "\n"
	    "Exit codes: 0 written, 1 failure, 2 usage, 3 no such process, 4 not a CPython\n"
	    "process, 5 unsupported CPython version, 6 missing privilege (needs root, or\n"
	    "CAP_BPF + CAP_PERFMON + CAP_SYS_PTRACE).\n");
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

static int cmd_snapshot(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"pid", required_argument, NULL, 'p'},
	    {"duration", required_argument, NULL, 'd'},
	    {"rate", required_argument, NULL, 'r'},
	    {"threads", no_argument, NULL, 't'},
	    {"kernel", no_argument, NULL, 'k'},
	    {"output", required_argument, NULL, 'o'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	struct snapshot_opts o = {.duration_s = 10, .rate_hz = 99};
	struct sigaction sa = {.sa_handler = on_signal};
	unsigned long v;
	int c;

	while ((c = getopt_long(argc, argv, "p:d:r:tko:vh", longopts, NULL)) != -1) {
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
	fprintf(stderr, "agentctl: unknown command '%s'\n\n", cmd);
	usage(stderr);
	return 2;
}
