// SPDX-License-Identifier: MIT
/* config__parse/load/describe: the shipped config/agent.yaml equals the defaults, every
 * malformed fixture under tests/fixtures/config gives its exact message and position, the input
 * bounds hold, and truncated or corrupted files never crash the loader. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/config.h"

#define CFG_DIR FIXTURES "/config"
#define SHIPPED FIXTURES "/../../config/agent.yaml"

static char *read_all(const char *path, size_t *ret_len)
{
	char *buf;
	FILE *fp;
	long n;

	fp = fopen(path, "rb");
	if (!fp)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	/* exact size, no terminator: the parser must not read past len */
	buf = malloc(n ? (size_t)n : 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*ret_len = (size_t)n;
	return buf;
}

/* Parses a fixture with its base name as display name, as the messages below expect. */
static int parse_fixture(const char *name, struct agent_config **ret, char *err, size_t errlen)
{
	char path[512];
	size_t len;
	char *text;
	int rc;

	snprintf(path, sizeof(path), CFG_DIR "/%s", name);
	text = read_all(path, &len);
	rc = config__parse(text, len, name, ret, err, errlen);
	free(text);
	return rc;
}

static int parse_str(const char *text, struct agent_config **ret, char *err, size_t errlen)
{
	return config__parse(text, strlen(text), "agent.yaml", ret, err, errlen);
}

static char *describe(const struct agent_config *cfg)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	assert_int_equal(config__describe(cfg, f), 0);
	fclose(f);
	return out;
}

/* Field-by-field equality; describe() output is compared too, so a field added to the struct
 * and printed is covered even if this function is not updated. */
static void assert_config_equal(const struct agent_config *a, const struct agent_config *b,
				bool skip_output_directory)
{
	char *da, *db;
	size_t i;

	assert_int_equal(a->sampling.frequency_hz, b->sampling.frequency_hz);
	assert_int_equal(a->sampling.off_cpu.enabled, b->sampling.off_cpu.enabled);
	assert_int_equal(a->sampling.off_cpu.min_block_us, b->sampling.off_cpu.min_block_us);
	assert_int_equal(a->sampling.ring_buffer_mb, b->sampling.ring_buffer_mb);
	assert_int_equal(a->sampling.code_checks, b->sampling.code_checks);
	assert_int_equal(a->targets.all_python, b->targets.all_python);
	assert_int_equal(a->targets.n_pids, b->targets.n_pids);
	for (i = 0; i < a->targets.n_pids; i++)
		assert_int_equal(a->targets.pids[i], b->targets.pids[i]);
	assert_int_equal(a->targets.n_cmdline_regex, b->targets.n_cmdline_regex);
	for (i = 0; i < a->targets.n_cmdline_regex; i++)
		assert_string_equal(a->targets.cmdline_regex[i].pattern,
				    b->targets.cmdline_regex[i].pattern);
	assert_int_equal(a->targets.n_container_ids, b->targets.n_container_ids);
	for (i = 0; i < a->targets.n_container_ids; i++)
		assert_string_equal(a->targets.container_ids[i], b->targets.container_ids[i]);
	assert_int_equal(a->window.seconds, b->window.seconds);
	if (!skip_output_directory)
		assert_string_equal(a->output.directory, b->output.directory);
	assert_int_equal(a->output.formats, b->output.formats);
	assert_string_equal(a->control.socket, b->control.socket);
	assert_string_equal(a->metrics.listen, b->metrics.listen);
	assert_string_equal(a->metrics.listen_host, b->metrics.listen_host);
	assert_int_equal(a->metrics.listen_port, b->metrics.listen_port);
	assert_int_equal(a->log.level, b->log.level);
	assert_string_equal(a->host.name, b->host.name);
	assert_int_equal(a->upload.s3.enabled, b->upload.s3.enabled);
	assert_string_equal(a->upload.s3.endpoint, b->upload.s3.endpoint);
	assert_string_equal(a->upload.s3.region, b->upload.s3.region);
	assert_string_equal(a->upload.s3.bucket, b->upload.s3.bucket);
	assert_string_equal(a->upload.s3.prefix, b->upload.s3.prefix);
	assert_int_equal(a->upload.s3.path_style, b->upload.s3.path_style);
	assert_int_equal(a->upload.s3.interval_seconds, b->upload.s3.interval_seconds);
	assert_string_equal(a->upload.s3.ca_file, b->upload.s3.ca_file);
	assert_string_equal(a->upload.s3.credentials.file, b->upload.s3.credentials.file);
	assert_string_equal(a->upload.spool.directory, b->upload.spool.directory);
	assert_int_equal(a->upload.spool.max_bytes, b->upload.spool.max_bytes);
	if (!skip_output_directory) {
		da = describe(a);
		db = describe(b);
		assert_string_equal(da, db);
		free(da);
		free(db);
	}
}

static void test_shipped_config_loads_and_equals_defaults_except_output_directory(void **state)
{
	struct agent_config *shipped, *defaults;
	char err[512] = "";
	int rc;

	rc = config__load(SHIPPED, &shipped, err, sizeof(err));
	if (rc)
		fail_msg("config/agent.yaml: %s", err);
	defaults = config__defaults();
	assert_non_null(defaults);
	assert_config_equal(shipped, defaults, true);
	assert_string_equal(shipped->output.directory, "./profiles");
	assert_string_equal(defaults->output.directory, "/var/lib/pyprof-agent/profiles");
	config__free(shipped);
	config__free(defaults);
}

static void test_defaults_have_documented_values(void **state)
{
	struct agent_config *d = config__defaults();

	assert_non_null(d);
	assert_int_equal(d->sampling.frequency_hz, 99);
	assert_true(d->sampling.off_cpu.enabled);
	assert_int_equal(d->sampling.off_cpu.min_block_us, 1000);
	assert_int_equal(d->sampling.ring_buffer_mb, 1);
	assert_true(d->sampling.code_checks);
	assert_true(d->targets.all_python);
	assert_int_equal(
	    d->targets.n_pids + d->targets.n_cmdline_regex + d->targets.n_container_ids, 0);
	assert_int_equal(d->window.seconds, 60);
	assert_int_equal(d->output.formats, CONFIG_FORMAT_FOLDED);
	assert_string_equal(d->control.socket, "/run/pyprof-agent/agent.sock");
	assert_string_equal(d->metrics.listen, "");
	assert_int_equal(d->metrics.listen_port, 0);
	assert_int_equal(d->log.level, LOG_INFO);
	assert_true(d->host.name[0] != '\0'); /* gethostname() */
	assert_false(d->upload.s3.enabled);
	assert_string_equal(d->upload.s3.endpoint, "https://s3.us-east-1.amazonaws.com");
	assert_string_equal(d->upload.s3.region, "us-east-1");
	assert_string_equal(d->upload.s3.bucket, "my-profiles");
	assert_string_equal(d->upload.s3.prefix, "pyprof/");
	assert_false(d->upload.s3.path_style);
	assert_int_equal(d->upload.s3.interval_seconds, 60);
	assert_string_equal(d->upload.s3.ca_file, "");
	assert_string_equal(d->upload.s3.credentials.file, "");
	assert_string_equal(d->upload.spool.directory, "/var/lib/pyprof-agent/spool");
	assert_int_equal(d->upload.spool.max_bytes, 268435456);
	config__free(d);
}

static void test_empty_and_null_inputs_give_all_defaults(void **state)
{
	static const char *const fixtures[] = {
	    "empty.yaml",	  "empty-map.yaml",
	    "comments-only.yaml", "document-marker-only.yaml",
	    "null-sections.yaml", "anchor-without-alias.yaml",
	};
	struct agent_config *cfg, *defaults = config__defaults();
	char err[512];
	size_t i;

	assert_non_null(defaults);
	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		if (parse_fixture(fixtures[i], &cfg, err, sizeof(err)))
			fail_msg("%s: %s", fixtures[i], err);
		assert_config_equal(cfg, defaults, false);
		config__free(cfg);
	}
	/* not even a buffer */
	assert_int_equal(config__parse(NULL, 0, "agent.yaml", &cfg, err, sizeof(err)), 0);
	assert_config_equal(cfg, defaults, false);
	config__free(cfg);
	config__free(defaults);
}

static void test_full_config_sets_every_key(void **state)
{
	struct agent_config *c;
	char err[512];

	if (parse_fixture("full.yaml", &c, err, sizeof(err)))
		fail_msg("full.yaml: %s", err);
	assert_int_equal(c->sampling.frequency_hz, 49);
	assert_false(c->sampling.off_cpu.enabled);
	assert_int_equal(c->sampling.off_cpu.min_block_us, 0);
	assert_false(c->targets.all_python);
	assert_int_equal(c->targets.n_pids, 2);
	assert_int_equal(c->targets.pids[0], 1);
	assert_int_equal(c->targets.pids[1], 4194304);
	assert_int_equal(c->targets.n_cmdline_regex, 2);
	assert_string_equal(c->targets.cmdline_regex[0].pattern, "gunicorn");
	assert_string_equal(c->targets.cmdline_regex[1].pattern, "manage\\.py (runserver|celery)");
	assert_int_equal(c->targets.n_container_ids, 2);
	assert_string_equal(c->targets.container_ids[0], "4f1c0e2a9b7d"); /* lowercased */
	assert_int_equal(strlen(c->targets.container_ids[1]), 64);
	assert_int_equal(c->window.seconds, 10);
	assert_string_equal(c->output.directory, "/tmp/pyprof out");
	assert_int_equal(c->output.formats, CONFIG_FORMAT_FOLDED | CONFIG_FORMAT_PPROF |
						CONFIG_FORMAT_SPEEDSCOPE | CONFIG_FORMAT_SVG);
	assert_string_equal(c->control.socket, "/tmp/pyprof.sock");
	assert_string_equal(c->metrics.listen, "[::1]:9464");
	assert_string_equal(c->metrics.listen_host, "::1");
	assert_int_equal(c->metrics.listen_port, 9464);
	assert_int_equal(c->log.level, LOG_DEBUG);
	assert_string_equal(c->host.name, "web-1.example_com");
	assert_true(c->upload.s3.enabled);
	assert_string_equal(c->upload.s3.endpoint, "http://127.0.0.1:9000");
	assert_string_equal(c->upload.s3.region, "eu-west-3");
	assert_string_equal(c->upload.s3.bucket, "team-profiles");
	assert_string_equal(c->upload.s3.prefix, "");
	assert_true(c->upload.s3.path_style);
	assert_int_equal(c->upload.s3.interval_seconds, 86400);
	assert_string_equal(c->upload.s3.ca_file, "/etc/ssl/minio-ca.pem");
	assert_string_equal(c->upload.s3.credentials.file, "/root/.aws/credentials");
	assert_string_equal(c->upload.spool.directory, "/var/tmp/spool");
	assert_true(c->upload.spool.max_bytes == INT64_MAX);
	config__free(c);
}

static void test_yaml12_booleans_are_accepted_in_any_case(void **state)
{
	struct agent_config *c;
	char err[512];

	if (parse_fixture("yaml12-booleans.yaml", &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_false(c->sampling.off_cpu.enabled);
	assert_true(c->upload.s3.path_style);
	config__free(c);
}

static void test_compiled_regexes_match_joined_cmdlines(void **state)
{
	struct agent_config *c;
	char err[512];

	if (parse_fixture("full.yaml", &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(regexec(&c->targets.cmdline_regex[0].re,
				 "/venv/bin/python /venv/bin/gunicorn app:wsgi", 0, NULL, 0),
			 0);
	assert_int_equal(
	    regexec(&c->targets.cmdline_regex[1].re, "python3 manage.py celery worker", 0, NULL, 0),
	    0);
	assert_int_equal(
	    regexec(&c->targets.cmdline_regex[1].re, "python3 manage_py runserver", 0, NULL, 0),
	    REG_NOMATCH);
	config__free(c);
}

struct bad_case {
	const char *fixture;
	const char *message;
};

static const struct bad_case bad_cases[] = {
    {"dotted-key.yaml", "\"sampling.frequency_hz\": unknown key; write nested keys as nested "
			"maps, not as one dotted key (dotted-key.yaml:1:1)"},
    {"alias.yaml",
     "window.seconds: aliases (*hz) are not supported; write the value out (alias.yaml:4:12)"},
    {"bad-format.yaml", "output.formats[1]: expected folded, pprof, speedscope or svg, got \"png\" "
			"(bad-format.yaml:2:21)"},
    {"bad-log-level.yaml", "log.level: expected error, warning, info or debug, got \"verbose\" "
			   "(bad-log-level.yaml:2:10)"},
    {"bad-regex.yaml", "targets.cmdline_regex[1]: invalid regular expression \"manage.py "
		       "(runserver\": Unmatched ( or \\( (bad-regex.yaml:5:7)"},
    {"bad-type-string-for-int.yaml", "window.seconds: expected a positive integer, got \"ten\" "
				     "(bad-type-string-for-int.yaml:7:12)"},
    {"bool-number.yaml",
     "upload.s3.path_style: expected true or false, got \"1\" (bool-number.yaml:3:17)"},
    {"bool-typo.yaml",
     "sampling.off_cpu.enabled: expected true or false, got \"ture\" (bool-typo.yaml:3:14)"},
    {"bool-yaml11.yaml", "sampling.off_cpu.enabled: expected true or false, got \"yes\" (YAML 1.1 "
			 "yes/no/on/off are not booleans here) (bool-yaml11.yaml:3:14)"},
    {"complex-key.yaml", "keys must be plain strings, got a list (complex-key.yaml:1:3)"},
    {"container-id-not-hex.yaml",
     "targets.container_ids[0]: expected a container id (12 to 64 hex digits), got "
     "\"my-app-container\" (container-id-not-hex.yaml:3:19)"},
    {"container-id-short.yaml", "targets.container_ids[0]: expected a container id (12 to 64 hex "
				"digits), got \"4f1c0e2a9b\" (container-id-short.yaml:3:19)"},
    {"duplicate-key.yaml",
     "sampling.frequency_hz: duplicate key, first given at line 2 (duplicate-key.yaml:4:3)"},
    {"duplicate-section.yaml",
     "window: duplicate key, first given at line 1 (duplicate-section.yaml:5:1)"},
    {"empty-directory.yaml", "output.directory: must not be empty (empty-directory.yaml:2:14)"},
    {"empty-formats.yaml", "output.formats: at least one format is required: folded, pprof, "
			   "speedscope or svg (empty-formats.yaml:2:12)"},
    {"empty-regex.yaml", "targets.cmdline_regex[0]: an empty regular expression would match every "
			 "process; use all_python instead (empty-regex.yaml:3:19)"},
    {"endpoint-not-url.yaml", "upload.s3.endpoint: expected an http:// or https:// URL, got "
			      "\"s3.amazonaws.com\" (endpoint-not-url.yaml:3:15)"},
    {"endpoint-with-credentials.yaml",
     "upload.s3.endpoint: credentials in the URL are not accepted; use upload.s3.credentials or "
     "the AWS_* environment variables (endpoint-with-credentials.yaml:3:15)"},
    {"float-for-int.yaml",
     "window.seconds: expected a positive integer, got \"1.5\" (float-for-int.yaml:2:12)"},
    {"frequency-out-of-range.yaml", "sampling.frequency_hz: must be between 1 and 10000, got 20000 "
				    "(frequency-out-of-range.yaml:2:17)"},
    {"host-bad-chars.yaml",
     "host.name: \"../../etc\" may contain only letters, digits, '.', '_' and '-', must not start "
     "with '.' or '-', and be at most 253 bytes (host-bad-chars.yaml:2:9)"},
    {"host-env-unset.yaml", "host.name: environment variable PYPROF_TEST_UNSET_VARIABLE is not set "
			    "(host-env-unset.yaml:2:9)"},
    {"integer-overflow.yaml", "upload.spool.max_bytes: must be between 1 and 9223372036854775807, "
			      "got 99999999999999999999999 (integer-overflow.yaml:3:16)"},
    {"invalid-utf8.yaml",
     "YAML syntax error: invalid leading UTF-8 octet (invalid-utf8.yaml:2:14)"},
    {"list-for-map.yaml", "upload: expected a map, got a list (list-for-map.yaml:2:3)"},
    {"list-for-string.yaml",
     "output.directory: expected a string, got a list (list-for-string.yaml:2:14)"},
    {"listen-bad-port.yaml", "metrics.listen: port must be a number in 1..65535, got \"70000\" "
			     "(listen-bad-port.yaml:2:11)"},
    {"listen-bare-ipv6.yaml",
     "metrics.listen: expected HOST:PORT such as 127.0.0.1:9464 or [::1]:9464, or \"\" for off, "
     "got \"::1:9464\" (listen-bare-ipv6.yaml:2:11)"},
    {"listen-no-port.yaml",
     "metrics.listen: expected HOST:PORT such as 127.0.0.1:9464 or [::1]:9464, or \"\" for off, "
     "got \"127.0.0.1\" (listen-no-port.yaml:2:11)"},
    {"map-for-list.yaml",
     "targets.pids: expected a list such as [1234, 5678], got a map (map-for-list.yaml:3:9)"},
    {"map-for-scalar.yaml",
     "log.level: expected error, warning, info or debug, got a map (map-for-scalar.yaml:3:5)"},
    {"negative-where-non-negative.yaml",
     "sampling.off_cpu.min_block_us: must be between 0 and 60000000, got -1 "
     "(negative-where-non-negative.yaml:3:19)"},
    {"negative-where-positive.yaml",
     "upload.s3.interval_seconds: must be positive, got -30 (negative-where-positive.yaml:3:23)"},
    {"nul-in-string.yaml",
     "control.socket: strings must not contain NUL characters (nul-in-string.yaml:2:11)"},
    {"pid-not-integer.yaml",
     "targets.pids[1]: expected a positive integer, got \"gunicorn\" (pid-not-integer.yaml:5:7)"},
    {"pid-zero.yaml", "targets.pids[1]: must be positive, got 0 (pid-zero.yaml:3:16)"},
    {"ring-not-power-of-two.yaml",
     "sampling.ring_buffer_mb: expected a power of two (1, 2, 4, ... 256), got 3 "
     "(ring-not-power-of-two.yaml:3:19)"},
    {"quoted-integer.yaml", "sampling.frequency_hz: expected a positive integer, got \"99\" "
			    "(quoted, so a string) (quoted-integer.yaml:2:17)"},
    {"root-list.yaml", "the top level must be a map of sections, got a list (root-list.yaml:1:1)"},
    {"root-scalar.yaml",
     "the top level must be a map of sections, got \"frequency_hz=99\" (root-scalar.yaml:1:1)"},
    {"scalar-for-map.yaml", "sampling: expected a map, got \"99\" (scalar-for-map.yaml:1:11)"},
    {"string-for-list.yaml", "output.formats: expected a list such as [folded, svg], got "
			     "\"folded\" (string-for-list.yaml:2:12)"},
    {"syntax-bad-indent.yaml", "YAML syntax error: did not find expected key while parsing a block "
			       "mapping started at line 1 (syntax-bad-indent.yaml:3:2)"},
    {"syntax-unclosed-flow.yaml",
     "YAML syntax error: did not find expected ',' or ']' while parsing a flow sequence started at "
     "line 2 (syntax-unclosed-flow.yaml:3:4)"},
    {"tab-indent.yaml",
     "YAML syntax error: tabs cannot indent YAML; use spaces (tab-indent.yaml:2:1)"},
    {"tag.yaml", "window.seconds: tags (!!int) are not supported; remove the tag and write a plain "
		 "value (tag.yaml:2:12)"},
    {"targets-list-with-all-python.yaml",
     "targets.pids: has no effect while targets.all_python is true; set all_python: false to "
     "profile only the listed processes (targets-list-with-all-python.yaml:2:9)"},
    {"targets-select-nothing.yaml",
     "targets.all_python: is false but no pids, cmdline_regex or container_ids are given, so no "
     "process would be profiled (targets-select-nothing.yaml:2:15)"},
    {"two-documents.yaml",
     "expected one YAML document, found a second one (two-documents.yaml:3:1)"},
    {"unknown-key-typo.yaml",
     "sampling.frequncy_hz: unknown key; did you mean frequency_hz? (unknown-key-typo.yaml:2:3)"},
    {"unknown-key.yaml",
     "sampling.rate: unknown key; expected one of: frequency_hz, off_cpu, ring_buffer_mb, "
     "code_checks (unknown-key.yaml:2:3)"},
    {"unknown-section.yaml",
     "profiling: unknown key; expected one of: sampling, targets, window, output, control, "
     "metrics, log, host, upload (unknown-section.yaml:2:1)"},
    {"zero-where-positive.yaml",
     "window.seconds: must be positive, got 0 (zero-where-positive.yaml:2:12)"},
};

static void test_malformed_fixtures_give_exact_messages(void **state)
{
	struct agent_config *cfg;
	unsigned failures = 0;
	char err[1024];
	size_t i;
	int rc;

	unsetenv("PYPROF_TEST_UNSET_VARIABLE");
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		cfg = (struct agent_config *)1;
		rc = parse_fixture(bad_cases[i].fixture, &cfg, err, sizeof(err));
		if (rc != -EINVAL || cfg != NULL || strcmp(err, bad_cases[i].message)) {
			print_error("%s: rc %d\n  expected: %s\n  got:      %s\n",
				    bad_cases[i].fixture, rc, bad_cases[i].message, err);
			failures++;
		}
		config__free(cfg == (struct agent_config *)1 ? NULL : cfg);
	}
	assert_int_equal(failures, 0);
}

/* Builds "prefix" + n copies of unit + "suffix" into a fresh buffer. */
static char *repeat(const char *prefix, const char *unit, size_t n, const char *suffix)
{
	size_t pl = strlen(prefix), ul = strlen(unit), sl = strlen(suffix), i;
	char *s = malloc(pl + ul * n + sl + 1), *p;

	assert_non_null(s);
	memcpy(s, prefix, pl);
	p = s + pl;
	for (i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, suffix, sl + 1);
	return s;
}

static void expect_error(const char *text, int want_rc, const char *want)
{
	struct agent_config *cfg;
	char err[1024];
	int rc;

	rc = config__parse(text, strlen(text), "agent.yaml", &cfg, err, sizeof(err));
	assert_int_equal(rc, want_rc);
	assert_null(cfg);
	assert_string_equal(err, want);
}

static void expect_ok(const char *text)
{
	struct agent_config *cfg;
	char err[1024];

	if (config__parse(text, strlen(text), "agent.yaml", &cfg, err, sizeof(err)))
		fail_msg("%s", err);
	config__free(cfg);
}

static void test_input_bounds_are_enforced_with_messages(void **state)
{
	char *s, *t;

	/* 16 levels of nesting load (the root map and 15 lists); the 17th is refused */
	s = repeat("sampling: ", "[", 15, "");
	t = repeat(s, "]", 15, "\n");
	free(s);
	expect_error(t, -EINVAL, "sampling: expected a map, got a list (agent.yaml:1:11)");
	free(t);
	s = repeat("sampling: ", "[", 16, "");
	t = repeat(s, "]", 16, "\n");
	free(s);
	expect_error(t, -EINVAL,
		     "sampling[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: nesting deeper than "
		     "16 levels (agent.yaml:1:26)");
	free(t);

	/* strings: 4096 bytes load, 4097 do not */
	s = repeat("output:\n  directory: ", "x", 4096, "\n");
	expect_ok(s);
	free(s);
	s = repeat("output:\n  directory: ", "x", 4097, "\n");
	expect_error(s, -EINVAL,
		     "output.directory: string of 4097 bytes is longer than the 4096-byte limit "
		     "(agent.yaml:2:14)");
	free(s);

	/* lists: 4096 items load, 4097 do not */
	s = repeat("targets:\n  all_python: false\n  pids: [", "7, ", 4095, "7]\n");
	expect_ok(s);
	free(s);
	s = repeat("targets:\n  all_python: false\n  pids: [", "7, ", 4096, "7]\n");
	expect_error(s, -EINVAL,
		     "targets.pids: list has more than 4096 items (agent.yaml:3:12298)");
	free(s);

	/* a map of 4097 keys is refused before its keys are looked at */
	s = repeat("", "k: 1\n", 4097, "");
	expect_error(s, -EINVAL, "map has more than 4096 keys (agent.yaml:4097:1)");
	free(s);

	/* 1 MiB of text loads, one byte more does not */
	s = repeat("", "#", CONFIG_MAX_FILE_BYTES - 1, "\n");
	expect_ok(s);
	free(s);
	s = repeat("", "#", CONFIG_MAX_FILE_BYTES, "\n");
	expect_error(s, -EFBIG,
		     "agent.yaml: 1048577 bytes is more than the 1048576-byte (1 MiB) limit");
	free(s);
}

static void test_load_names_path_and_cause_of_unreadable_files(void **state)
{
	struct agent_config *cfg;
	char err[1024];
	int rc;

	rc = config__load(CFG_DIR "/no-such-file.yaml", &cfg, err, sizeof(err));
	assert_int_equal(rc, -ENOENT);
	assert_null(cfg);
	assert_string_equal(err,
			    "cannot read " CFG_DIR "/no-such-file.yaml: No such file or directory");
	rc = config__load(CFG_DIR, &cfg, err, sizeof(err));
	assert_int_equal(rc, -EISDIR);
	assert_string_equal(err, "cannot read " CFG_DIR ": Is a directory");
}

static void test_load_reports_positions_with_the_path_given(void **state)
{
	struct agent_config *cfg;
	char err[1024];

	assert_int_equal(
	    config__load(CFG_DIR "/bad-type-string-for-int.yaml", &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "window.seconds: expected a positive integer, got \"ten\" (" CFG_DIR
			    "/bad-type-string-for-int.yaml:7:12)");
}

static void test_load_refuses_files_over_1mib(void **state)
{
	char path[] = "/tmp/test_config_XXXXXX", want[256];
	struct agent_config *cfg;
	char err[1024], *s;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	s = repeat("", "#", CONFIG_MAX_FILE_BYTES, "\n");
	assert_int_equal(write(fd, s, CONFIG_MAX_FILE_BYTES + 1), CONFIG_MAX_FILE_BYTES + 1);
	close(fd);
	free(s);
	assert_int_equal(config__load(path, &cfg, err, sizeof(err)), -EFBIG);
	assert_null(cfg);
	snprintf(want, sizeof(want), "%s: larger than the 1048576-byte (1 MiB) limit", path);
	assert_string_equal(err, want);
	unlink(path);
}

static void test_host_name_expands_environment_variables(void **state)
{
	struct agent_config *cfg;
	char err[512];

	setenv("PYPROF_TEST_NODE_NAME", "worker-7", 1);
	if (parse_fixture("host-env.yaml", &cfg, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(cfg->host.name, "node-worker-7");
	config__free(cfg);

	/* the expanded value is checked like a literal one */
	setenv("PYPROF_TEST_NODE_NAME", "a/b", 1);
	assert_int_equal(parse_fixture("host-env.yaml", &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "host.name: \"node-a/b\" may contain only letters, digits, '.', "
				 "'_' and '-', must not start with '.' or '-', and be at most 253 "
				 "bytes (host-env.yaml:2:9)");
	unsetenv("PYPROF_TEST_NODE_NAME");

	/* a lone '$' is literal; "${" must close */
	expect_error("host:\n  name: \"a$b\"\n", -EINVAL,
		     "host.name: \"a$b\" may contain only letters, digits, '.', '_' and '-', must "
		     "not start with '.' or '-', and be at most 253 bytes (agent.yaml:2:9)");
	expect_error("host:\n  name: \"${HOME\"\n", -EINVAL,
		     "host.name: expected ${NAME} with NAME an environment variable name, got "
		     "\"${HOME\" (agent.yaml:2:9)");

	/* "" means gethostname() */
	if (parse_str("host:\n  name: \"\"\n", &cfg, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(cfg->host.name[0] != '\0');
	config__free(cfg);
}

static void test_describe_output_loads_back_to_an_equal_config(void **state)
{
	static const char *const fixtures[] = {"full.yaml", "empty.yaml"};
	struct agent_config *a, *b;
	char err[512], *text;
	size_t i;

	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		if (parse_fixture(fixtures[i], &a, err, sizeof(err)))
			fail_msg("%s: %s", fixtures[i], err);
		text = describe(a);
		if (config__parse(text, strlen(text), "describe", &b, err, sizeof(err)))
			fail_msg("%s described: %s\n%s", fixtures[i], err, text);
		assert_config_equal(a, b, false);
		free(text);
		config__free(a);
		config__free(b);
	}
}

static void test_describe_never_prints_credential_values(void **state)
{
	struct agent_config *cfg;
	char err[512], *text;

	setenv("AWS_ACCESS_KEY_ID", "AKIAPYPROFTESTKEY", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "pyprof-test-secret-value", 1);
	if (parse_fixture("full.yaml", &cfg, err, sizeof(err)))
		fail_msg("%s", err);
	text = describe(cfg);
	assert_null(strstr(text, "AKIAPYPROFTESTKEY"));
	assert_null(strstr(text, "pyprof-test-secret-value"));
	assert_non_null(strstr(text, "file: \"/root/.aws/credentials\""));
	free(text);
	config__free(cfg);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
}

static void test_short_or_missing_error_buffers_are_not_overrun(void **state)
{
	struct agent_config *cfg;
	char err[32];
	size_t len;

	for (len = 0; len < 24; len++) {
		memset(err, 'Z', sizeof(err));
		assert_int_equal(
		    parse_fixture("unknown-key-typo.yaml", &cfg, len ? err : NULL, len), -EINVAL);
		if (len)
			assert_int_equal(strlen(err), len - 1);
		assert_int_equal(err[len ? len : 0], 'Z');
	}
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Whatever the bytes, the loader returns 0 with a config or an error with a message. */
static void check_parse_is_total(const char *text, size_t len)
{
	struct agent_config *cfg = (struct agent_config *)1;
	char err[512];
	int rc;

	err[0] = '\0';
	rc = config__parse(text, len, "fuzz.yaml", &cfg, err, sizeof(err));
	if (rc == 0) {
		assert_non_null(cfg);
		assert_true(cfg->sampling.frequency_hz >= 1 && cfg->sampling.frequency_hz <= 10000);
		assert_true(cfg->output.formats != 0);
		config__free(cfg);
	} else {
		assert_true(rc == -EINVAL || rc == -EFBIG);
		assert_null(cfg);
		assert_true(err[0] != '\0');
	}
}

static void test_truncations_and_byte_flips_never_crash(void **state)
{
	size_t len, cut, i, k;
	char *text, *copy;

	text = read_all(SHIPPED, &len);
	copy = malloc(len);
	assert_non_null(copy);
	/* every prefix, each in an exact-size buffer so ASan sees any read past the end */
	for (cut = 0; cut <= len; cut++) {
		char *prefix = malloc(cut ? cut : 1);

		assert_non_null(prefix);
		memcpy(prefix, text, cut);
		check_parse_is_total(prefix, cut);
		free(prefix);
	}
	/* 1 to 4 random bytes replaced, biased toward YAML's structural characters */
	for (i = 0; i < 20000; i++) {
		static const char special[] = ":-[]{},#&*!|>'\"%@`\t\n \\?";
		unsigned flips = 1 + (unsigned)(rng() % 4);

		memcpy(copy, text, len);
		for (k = 0; k < flips; k++) {
			uint64_t r = rng();

			copy[r % len] = (r >> 32) & 1 ? special[(r >> 40) % (sizeof(special) - 1)]
						      : (char)(r >> 48);
		}
		check_parse_is_total(copy, len);
	}
	free(copy);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shipped_config_loads_and_equals_defaults_except_output_directory),
	    cmocka_unit_test(test_defaults_have_documented_values),
	    cmocka_unit_test(test_empty_and_null_inputs_give_all_defaults),
	    cmocka_unit_test(test_full_config_sets_every_key),
	    cmocka_unit_test(test_yaml12_booleans_are_accepted_in_any_case),
	    cmocka_unit_test(test_compiled_regexes_match_joined_cmdlines),
	    cmocka_unit_test(test_malformed_fixtures_give_exact_messages),
	    cmocka_unit_test(test_input_bounds_are_enforced_with_messages),
	    cmocka_unit_test(test_load_names_path_and_cause_of_unreadable_files),
	    cmocka_unit_test(test_load_reports_positions_with_the_path_given),
	    cmocka_unit_test(test_load_refuses_files_over_1mib),
	    cmocka_unit_test(test_host_name_expands_environment_variables),
	    cmocka_unit_test(test_describe_output_loads_back_to_an_equal_config),
	    cmocka_unit_test(test_describe_never_prints_credential_values),
	    cmocka_unit_test(test_short_or_missing_error_buffers_are_not_overrun),
	    cmocka_unit_test(test_truncations_and_byte_flips_never_crash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
