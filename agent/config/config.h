/* SPDX-License-Identifier: MIT */
/* The daemon's configuration: one struct agent_config, produced by the YAML loader, owned by
 * main and read-only afterwards. config/agent.yaml documents every key for users. */
#ifndef PYPROF_CONFIG_H
#define PYPROF_CONFIG_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "util/log.h"

/* control.socket by default: in the systemd unit's RuntimeDirectory; the daemon creates the
 * directory when run otherwise. */
#define CONFIG_DEFAULT_SOCKET "/run/pyprof-agent/agent.sock"

/* Bounds on the input, so a hostile or broken file cannot make parsing unbounded: the whole
 * file here, its tree's in config/yaml.h. */
#define CONFIG_MAX_FILE_BYTES (1u << 20)

/* output.formats, a bit set. */
enum config_output_format {
	CONFIG_FORMAT_FOLDED = 1u << 0,	    /* Brendan Gregg's folded stacks, one line per stack */
	CONFIG_FORMAT_PPROF = 1u << 1,	    /* gzipped profile.proto */
	CONFIG_FORMAT_SPEEDSCOPE = 1u << 2, /* speedscope JSON */
	CONFIG_FORMAT_SVG = 1u << 3,	    /* flame graph */
};

/* One targets.cmdline_regex entry: the source text and its compiled form. */
struct config_regex {
	char *pattern; /* as written in the file */
	regex_t re; /* regcomp(REG_EXTENDED | REG_NOSUB); match with regexec(&re, s, 0, NULL, 0) */
};

/* Every string is heap-allocated, NUL-terminated and non-NULL ("" where empty is allowed). */
struct agent_config {
	struct {
		/* On-CPU samples per second per CPU, 1..10000. Default 99 (off the timer tick). */
		uint32_t frequency_hz;
		struct {
			/* Record off-CPU (blocked) time. Default true. */
			bool enabled;
			/* Blocks shorter than this many microseconds are ignored, 0..60000000.
			 * Default 1000. */
			uint64_t min_block_us;
		} off_cpu;
		/* Size of the ring buffer samples reach userspace through, a power of two 1..256.
		 * Default 1: about 1000 deep stacks, 100 ms of a busy host at 999 Hz. */
		uint32_t ring_buffer_mb;
		/* Send each frame's code check (py_code_check): a freed code object is never
		 * named after the one that took its memory. Default true; false saves one read
		 * per distinct code object of a stack, in BPF. */
		bool code_checks;
	} sampling;

	/* Which processes are profiled. Only CPython processes are ever profiled. Either
	 * all_python is true and the lists are empty (every CPython process on the host), or
	 * all_python is false and a process is profiled when any list selects it. The loader
	 * rejects the other two combinations, which would be silent surprises. */
	struct {
		bool all_python; /* default true */
		pid_t *pids;	 /* explicit pids, each 1..4194304; default none */
		size_t n_pids;
		/* Matched against /proc/PID/cmdline with arguments joined by single spaces, its
		 * first DISCOVERY_CMDLINE_MAX bytes. */
		struct config_regex *cmdline_regex;
		size_t n_cmdline_regex;
		/* Container ids, lowercase hex: a full 64-digit id or a prefix of 12..63 digits. */
		char **container_ids;
		size_t n_container_ids;
	} targets;

	struct {
		uint32_t seconds; /* length of one profile window, 1..86400; default 60 */
	} window;

	struct {
		/* Local sink: a directory of finished windows. Non-empty. Default
		 * /var/lib/pyprof-agent/profiles; the shipped config/agent.yaml says ./profiles. */
		char *directory;
		unsigned formats; /* enum config_output_format bits, never 0; default folded */
	} output;

	struct {
		char *socket; /* path of the control socket, non-empty; default
				 CONFIG_DEFAULT_SOCKET */
	} control;

	struct {
		/* "HOST:PORT" serving Prometheus text at /metrics, or "" for off (the default).
		 * IPv6 hosts are bracketed: "[::1]:9464". */
		char *listen;
		char *listen_host;    /* listen's host, brackets removed; "" when off */
		uint16_t listen_port; /* listen's port, 1..65535; 0 when off */
	} metrics;

	struct {
		enum log_level level; /* error, warning (or warn), info, debug; default info */
	} log;

	struct {
		/* Name used in file names and S3 keys. After loading never empty: the configured
		 * value with ${VAR} expanded from the environment, or gethostname() when that is
		 * empty. Only letters, digits, '.', '_' and '-', not starting with '.' or '-', at
		 * most 253 bytes, so it is safe in a path. */
		char *name;
	} host;

	struct {
		struct {
			bool enabled;	 /* default false */
			char *endpoint;	 /* http:// or https:// URL, no user info; default AWS
					    us-east-1 */
			char *region;	 /* SigV4 region, non-empty; default us-east-1 */
			char *bucket;	 /* non-empty; default my-profiles */
			char *prefix;	 /* key prefix, may be ""; default pyprof/ */
			bool path_style; /* endpoint/bucket/key instead of bucket.endpoint/key */
			uint32_t
			    interval_seconds; /* how often pending windows are pushed, 1..86400 */
			char *ca_file; /* extra CA bundle, "" for none; https is always verified */
			struct {
				/* AWS shared-credentials file, used when the AWS_* environment
				 * variables are unset; "" for none. The config never holds keys. */
				char *file;
			} credentials;
		} s3;
		struct {
			char *directory; /* windows waiting for upload; non-empty */
			uint64_t
			    max_bytes; /* 1..2^63-1; oldest windows are evicted (and counted) */
		} spool;
	} upload;
};

/* The YAML accepted: one document whose root is a map (or nothing: all defaults). Booleans are
 * true/false (also True/TRUE/False/FALSE, as YAML 1.2); YAML 1.1's yes/no/on/off are errors.
 * Numbers are plain decimal integers; quoted numbers are strings. Aliases (*a) and tags (!!int)
 * are errors, so parsing stays bounded; anchors alone (&a) are accepted and ignored. An empty
 * value (or ~, null) reads as an empty map (all defaults), an empty list, or "" for a string;
 * for a number or boolean it is an error.
 *
 * Parses len bytes of YAML text. display_name (e.g. the file name) appears in error positions.
 * On success *ret is a new config to free with config__free(). On failure returns -EINVAL
 * (-EFBIG if too large, -ENOMEM) and, when errlen > 0, writes a one-line message to errbuf:
 * "KEY.PATH: what is wrong (NAME:LINE:COLUMN)", positions 1-based. */
int config__parse(const char *text, size_t len, const char *display_name, struct agent_config **ret,
		  char *errbuf, size_t errlen);
/* Reads and parses the file at path; an unreadable file returns -errno, naming path and cause. */
int config__load(const char *path, struct agent_config **ret, char *errbuf, size_t errlen);
/* The configuration an empty file gives. NULL on allocation failure. */
struct agent_config *config__defaults(void);
void config__free(struct agent_config *cfg);
/* Prints the effective configuration as YAML that config__parse() accepts and that loads back
 * to an equal config. Holds no secrets to print: credentials are only ever a file path. */
int config__describe(const struct agent_config *cfg, FILE *f);
/* "folded", "pprof", "speedscope", "svg"; NULL for anything else. */
const char *config__format_name(enum config_output_format format);

#endif
