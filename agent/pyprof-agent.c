// SPDX-License-Identifier: MIT
/* pyprof-agent: the daemon's main. Parses arguments, loads the config, runs the loop. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "version.h"

#define DEFAULT_CONFIG "/etc/pyprof-agent/agent.yaml"

static void usage(FILE *f)
{
	fprintf(
	    f, "Usage: pyprof-agent [--config FILE] [--check-config FILE] [--verbose]\n"
	       "\n"
	       "Continuously profiles every selected CPython process on this host and writes one\n"
	       "profile per window (cpu, and offcpu when enabled) under output.directory.\n"
	       "\n"
	       "  --config FILE        the YAML configuration (default " DEFAULT_CONFIG ")\n"
	       "  --check-config FILE  validate FILE, print the effective configuration, exit\n"
	       "  --verbose            log at debug level (overrides log.level)\n"
	       "  --version            print the version\n"
	       "\n"
	       "Signals: SIGHUP reloads the configuration (an invalid file is rejected and the\n"
	       "running one kept); SIGTERM or SIGINT write the current partial window and exit 0.\n"
	       "Needs root, or CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE.\n"
	       "Exit codes: 0 stopped by a signal, 1 failure, 2 bad configuration or usage,\n"
	       "6 missing privilege.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", required_argument, NULL, 'C'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	const char *path = DEFAULT_CONFIG, *check = NULL;
	struct agent_config *cfg = NULL;
	char err_msg[1024];
	int c, verbose = 0, err;

	while ((c = getopt_long(argc, argv, "c:C:vVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			check = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'V':
			printf("pyprof-agent %s\n", PYPROF_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pyprof-agent: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	err = config__load(check ? check : path, &cfg, err_msg, sizeof(err_msg));
	if (err) {
		fprintf(stderr, "pyprof-agent: %s\n", err_msg);
		return 2;
	}
	if (check) {
		printf("# %s is valid; effective configuration:\n", check);
		config__describe(cfg, stdout);
		config__free(cfg);
		return 0;
	}
	log__set_level(verbose ? LOG_DEBUG : cfg->log.level);
	log__install_libbpf();
	return daemon__run(cfg, path);
}
