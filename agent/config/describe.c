// SPDX-License-Identifier: MIT
/* The configuration printed back as YAML (config__describe): what --check-config shows. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "config/config.h"
#include "format/output.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A YAML double-quoted scalar. The text is valid UTF-8 (libyaml checked it); characters that
 * a YAML reader would not take back as they are get an escape: C0 and C1 controls (NEL, U+0085,
 * would be read as a line break and folded to a space), the line and paragraph separators
 * U+2028 and U+2029, the byte order mark and the non-characters U+FFFE and U+FFFF. */
static void put_str(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', f);
	while (*s) {
		unsigned char c = *s;
		uint32_t cp = 0;

		if (c == '"' || c == '\\') {
			fprintf(f, "\\%c", c);
			s++;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\x%02x", c);
			s++;
			continue;
		}
		if (c == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f)
			cp = s[1]; /* C1 controls */
		else if (c == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9))
			cp = 0x2000 | (s[2] - 0x80); /* U+2028, U+2029 */
		else if (c == 0xef && ((s[1] == 0xbb && s[2] == 0xbf) ||
				       (s[1] == 0xbf && (s[2] == 0xbe || s[2] == 0xbf))))
			cp = 0xf000 | ((s[1] & 0x3f) << 6) | (s[2] & 0x3f); /* U+FEFF, U+FFFE/F */
		if (cp) {
			fprintf(f, "\\u%04" PRIX32, cp);
			s += cp < 0x800 ? 2 : 3;
			continue;
		}
		fputc(c, f);
		s++;
	}
	fputc('"', f);
}

static const char *bool_str(bool b)
{
	return b ? "true" : "false";
}

int config__describe(const struct agent_config *cfg, FILE *f)
{
	static const char *const levels[] = {"error", "warning", "info", "debug"};
	const char *sep = "";
	size_t i;

	fprintf(f, "# effective configuration\n");
	fprintf(f, "sampling:\n  frequency_hz: %" PRIu32 "\n", cfg->sampling.frequency_hz);
	fprintf(f, "  off_cpu:\n    enabled: %s\n    min_block_us: %" PRIu64 "\n",
		bool_str(cfg->sampling.off_cpu.enabled), cfg->sampling.off_cpu.min_block_us);
	fprintf(f, "  ring_buffer_mb: %" PRIu32 "\n", cfg->sampling.ring_buffer_mb);
	fprintf(f, "  code_checks: %s\n", bool_str(cfg->sampling.code_checks));

	fprintf(f, "targets:\n  all_python: %s\n  pids: [", bool_str(cfg->targets.all_python));
	for (i = 0; i < cfg->targets.n_pids; i++)
		fprintf(f, "%s%d", i ? ", " : "", (int)cfg->targets.pids[i]);
	fprintf(f, "]\n  cmdline_regex: [");
	for (i = 0; i < cfg->targets.n_cmdline_regex; i++) {
		fputs(i ? ", " : "", f);
		put_str(f, cfg->targets.cmdline_regex[i].pattern);
	}
	fprintf(f, "]\n  container_ids: [");
	for (i = 0; i < cfg->targets.n_container_ids; i++) {
		fputs(i ? ", " : "", f);
		put_str(f, cfg->targets.container_ids[i]);
	}
	fprintf(f, "]\n");

	fprintf(f, "window:\n  seconds: %" PRIu32 "\n", cfg->window.seconds);
	fprintf(f, "output:\n  directory: ");
	put_str(f, cfg->output.directory);
	fprintf(f, "\n  formats: [");
	for (i = 0; i < OUTPUT_FORMAT_MAX; i++) {
		if (cfg->output.formats & (1u << i)) {
			fprintf(f, "%s%s", sep, output__format_name(i));
			sep = ", ";
		}
	}
	fprintf(f, "]\ncontrol:\n  socket: ");
	put_str(f, cfg->control.socket);
	fprintf(f, "\nmetrics:\n  listen: ");
	put_str(f, cfg->metrics.listen);
	fprintf(f, "\nlog:\n  level: %s\n",
		(unsigned)cfg->log.level < ARRAY_SIZE(levels) ? levels[cfg->log.level] : "info");
	fprintf(f, "host:\n  name: ");
	put_str(f, cfg->host.name);

	fprintf(f, "\nupload:\n  s3:\n    enabled: %s\n    endpoint: ",
		bool_str(cfg->upload.s3.enabled));
	put_str(f, cfg->upload.s3.endpoint);
	fprintf(f, "\n    region: ");
	put_str(f, cfg->upload.s3.region);
	fprintf(f, "\n    bucket: ");
	put_str(f, cfg->upload.s3.bucket);
	fprintf(f, "\n    prefix: ");
	put_str(f, cfg->upload.s3.prefix);
	fprintf(f, "\n    path_style: %s\n    interval_seconds: %" PRIu32 "\n    ca_file: ",
		bool_str(cfg->upload.s3.path_style), cfg->upload.s3.interval_seconds);
	put_str(f, cfg->upload.s3.ca_file);
	fprintf(f, "\n    credentials:\n      file: ");
	put_str(f, cfg->upload.s3.credentials.file);
	fprintf(f, "\n  spool:\n    directory: ");
	put_str(f, cfg->upload.spool.directory);
	fprintf(f, "\n    max_bytes: %" PRIu64 "\n", cfg->upload.spool.max_bytes);
	return ferror(f) ? -EIO : 0;
}
