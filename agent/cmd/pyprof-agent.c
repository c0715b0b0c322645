// SPDX-License-Identifier: MIT
/* pyprof-agent: the daemon's main. Parses arguments, loads the config, runs the loop. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/config.h"
#include "daemon/daemon.h"
#include "util/log.h"
#include "util/version.h"

#define DEFAULT_CONFIG "/etc/pyprof-agent/agent.yaml"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: pyprof-agent [--config FILE] [--verbose]\n"
	    "       pyprof-agent --check-config FILE\n"
	    "       pyprof-agent --help | --version\n"
	    "\n"
	    "Continuously profiles every selected CPython process on this host with BPF (found at\n"
	    "start, within a second of its exec, and by a /proc rescan every 5 s) and writes one\n"
	    "profile per window: OUTPUT_DIR/HOST_YYYYmmddTHHMMSSZ_cpu.EXT, and _offcpu.EXT when\n"
	    "sampling.off_cpu.enabled, in each of output.formats; with upload.s3.enabled, windows\n"
	    "are spooled and pushed to S3. Stacks are rooted at 'COMM (PID)' (host pids);\n"
	    "a process in a container has '[container ID]', '[pod UID]' (Kubernetes) and\n"
	    "'[ns pid N]' (its pid in its own namespace) frames under it, and its files are\n"
	    "read as it sees them.\n"
	    "\n"
	    "Options:\n"
	    "  -c, --config FILE        the YAML configuration (default " DEFAULT_CONFIG ");\n"
	    "                           every key is documented in the shipped file\n"
	    "  -C, --check-config FILE  validate FILE, print the effective configuration, exit\n"
	    "  -v, --verbose            log at debug level (overrides log.level)\n"
	    "  -V, --version            print the version and exit\n"
	    "  -h, --help               print this help and exit\n"
	    "\n"
	    "Signals:\n"
	    "  SIGHUP           reload the configuration: the current window is written, the next\n"
	    "                   uses the new settings; an invalid file is logged and\n"
	    "                   rejected, and the running configuration kept\n"
	    "  SIGTERM, SIGINT  write the current, partial window, then exit 0\n"
	    "\n"
	    "Files:\n"
	    "  " DEFAULT_CONFIG "  the default configuration\n"
	    "  control.socket     agentctl's Unix socket, mode 0600, root peers only\n"
	    "                     (default " CONFIG_DEFAULT_SOCKET ")\n"
	    "  output.directory   finished windows (systemd unit: /var/lib/pyprof-agent/profiles)\n"
	    "  upload.spool.directory  windows waiting for upload (/var/lib/pyprof-agent/spool)\n"
	    "  metrics.listen     HOST:PORT serving Prometheus text at /metrics\n"
	    "  /sys/kernel/btf/vmlinux  the kernel's BTF, needed to load the BPF programs\n"
	    "  /proc/kallsyms     kernel symbols, to name kernel frames\n"
	    "  /proc/PID/{maps,root,map_files,cgroup,status}  each target's interpreter, files,\n"
	    "                     container and namespace pid\n"
	    "\n"
	    "Environment:\n"
	    "  NOTIFY_SOCKET      systemd Type=notify: READY=1 once sampling, RELOADING=1 then\n"
	    "                     READY=1 around a reload, STOPPING=1 on SIGTERM/SIGINT\n"
	    "  WATCHDOG_USEC      systemd WatchdogSec=: WATCHDOG=1 every half period\n"
	    "  JOURNAL_STREAM     set by systemd: no timestamps in log lines (journald adds them)\n"
	    "  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE\n"
	    "                     S3 credentials, before upload.s3.credentials.file\n"
	    "  ${NAME} in host.name  replaced by variable NAME (NODE_NAME on Kubernetes)\n"
	    "  PYPROF_FORCE_RAW_TP=1  the most portable BPF: raw_tp tracepoints, no task storage,\n"
	    "                     task work or scheduler clock (testing)\n"
	    "  PYPROF_NO_TASK_WORK=1  Python stacks of off-CPU waits at rseq_update, as before\n"
	    "                     Linux 6.18 (testing)\n"
	    "\n"
	    "Privileges: root, or CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE; as another user also\n"
	    "CAP_DAC_READ_SEARCH (targets' files in private directories), CAP_SYSLOG (kernel\n"
	    "frame names when kernel.perf_event_paranoid >= 2) and CAP_CHECKPOINT_RESTORE (a\n"
	    "libpython deleted or replaced since the target started). The systemd unit says why\n"
	    "each.\n"
	    "\n"
	    "Exit status:\n"
	    "  0  stopped by SIGTERM or SIGINT; --check-config: the file is valid\n"
	    "  1  failure (event loop, control socket or metrics endpoint not set up, ...)\n"
	    "  2  invalid configuration, or usage\n"
	    "  6  missing privilege: CAP_BPF, CAP_PERFMON or CAP_SYS_PTRACE (named) is not held\n");
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
