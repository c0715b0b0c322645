// SPDX-License-Identifier: MIT
/* The control protocol: requests carry its version and round-trip through format and parse;
 * answers carry a status code that the client reads, never the message; a daemon of another
 * version is told apart. control__call is run against a canned server in a child process. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/control.h"

static int parse(const char *line, struct control_request *r, const char **why)
{
	return control__parse(line, strlen(line), r, why);
}

static void test_request_round_trips_with_its_version(void **state)
{
	struct control_request req = {.cmd = CONTROL_SNAPSHOT,
				      .pid = 42,
				      .duration_ms = 1500,
				      .kernel = 1,
				      .mode = 2,
				      .tree = 1,
				      .held = 1,
				      .version = CONTROL_PROTOCOL},
			       back;
	const char *why;
	char line[256];

	assert_int_equal(control__format(&req, line, sizeof(line)), 0);
	assert_non_null(strstr(line, " v=" CONTROL_PROTOCOL_STR " "));
	assert_int_equal(parse(line, &back, &why), 0);
	assert_memory_equal(&req, &back, sizeof(req));
	req = (struct control_request){.cmd = CONTROL_STATUS, .version = CONTROL_PROTOCOL};
	assert_int_equal(control__format(&req, line, sizeof(line)), 0);
	assert_string_equal(line, "status v=2\n");
	assert_int_equal(parse(line, &back, &why), 0);
	assert_int_equal(back.cmd, CONTROL_STATUS);
}

static void test_tree_and_held_are_sent_only_when_set(void **state)
{
	/* a plain request reads as before to an older agent of this protocol, which refuses
	 * words it does not know (the round trip with them set: above) */
	struct control_request req = {.cmd = CONTROL_SNAPSHOT, .pid = 7, .duration_ms = 1}, back;
	const char *why;
	char line[256];

	assert_int_equal(control__format(&req, line, sizeof(line)), 0);
	assert_null(strstr(line, "tree="));
	assert_null(strstr(line, "held="));
	assert_int_equal(parse("snapshot v=2 pid=1 duration_ms=5 tree=2\n", &back, &why), -EINVAL);
	assert_int_equal(parse("snapshot v=2 pid=1 duration_ms=5 held=1 held=1\n", &back, &why),
			 -EINVAL);
	assert_int_equal(parse("ping v=2 tree=1\n", &back, &why), -EINVAL);
}

static void test_another_version_is_refused_before_the_words(void **state)
{
	/* an old agentctl (no v=), a newer one, a malformed or repeated v=: -EPROTO, even where
	 * the other words would be wrong for this version */
	static const char *const other[] = {
	    "status\n",
	    "ping v=1\n",
	    "snapshot v=3 pid=1 duration_ms=1 colour=blue\n",
	    "snapshot pid=1 duration_ms=100 mode=nonsense\n",
	    "ping v=2 v=2\n",
	    "ping v=\n",
	    "ping v=0\n",
	    "ping v=99999999999\n",
	};
	struct control_request r;
	const char *why;

	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		assert_int_equal(parse(other[i], &r, &why), -EPROTO);
		assert_non_null(why);
	}
	assert_non_null(strstr((parse("status\n", &r, &why), why), "older than the agent"));
	/* not a command at all: a bad request, whatever its version */
	assert_int_equal(parse("reload v=2\n", &r, &why), -EINVAL);
	assert_int_equal(parse("garbage\n", &r, &why), -EINVAL);
	assert_int_equal(parse("\n", &r, &why), -EINVAL);
	/* this version, wrong words: a bad request */
	assert_int_equal(parse("status v=2 please\n", &r, &why), -EINVAL);
	assert_int_equal(parse("snapshot v=2 pid=1\n", &r, &why), -EINVAL);
	assert_int_equal(parse("snapshot v=2 pid=1 duration_ms=5 mode=cpu mode=wall\n", &r, &why),
			 -EINVAL);
}

static void test_answer_lines_carry_a_code(void **state)
{
	char line[128];

	assert_int_equal(control__answer_line(line, sizeof(line), CONTROL_OK, 0, 0, NULL), 3);
	assert_string_equal(line, "ok\n");
	control__answer_line(line, sizeof(line), CONTROL_OK, 1, 0, NULL);
	assert_string_equal(line, "ok exited\n");
	control__answer_line(line, sizeof(line), CONTROL_OK, 1, 99, NULL);
	assert_string_equal(line, "ok exited rate=99\n");
	control__answer_line(line, sizeof(line), CONTROL_NOT_PYTHON, 0, 0,
			     "pid 7 is not a CPython");
	assert_string_equal(line, "error not-python: pid 7 is not a CPython\n");
	assert_int_equal(control__answer_line(line, 8, CONTROL_FAILED, 0, 0, "long words"),
			 -ENOSPC);
	/* every status has a distinct word */
	for (int i = 0; i < CONTROL_STATUS_MAX; i++) {
		assert_non_null(control_status_names[i]);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(control_status_names[i], control_status_names[j]);
	}
	assert_int_equal(control__status_of(-ESRCH), CONTROL_NO_PROCESS);
	assert_int_equal(control__status_of(-ENOEXEC), CONTROL_NOT_PYTHON);
	assert_int_equal(control__status_of(-EPROTONOSUPPORT), CONTROL_UNSUPPORTED);
	assert_int_equal(control__status_of(-EACCES), CONTROL_NO_PRIVILEGE);
	assert_int_equal(control__status_of(-EIO), CONTROL_FAILED);
}

/* Serves one connection on path with the canned answer, from a child process. */
static pid_t serve_once(const char *path, const char *answer)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	pid_t pid;

	assert_true(fd >= 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(fd, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[512];
		int c = accept(fd, NULL, NULL);

		if (c < 0 || read(c, buf, sizeof(buf)) <= 0 ||
		    write(c, answer, strlen(answer)) != (ssize_t)strlen(answer))
			_exit(1);
		close(c);
		_exit(0);
	}
	close(fd);
	return pid;
}

static int call(const char *answer, struct control_answer *ans, char *body, size_t body_len)
{
	char path[64];
	struct control_request req = {.cmd = CONTROL_PING};
	FILE *out = fmemopen(body, body_len, "w");
	pid_t pid;
	int err, status;

	snprintf(path, sizeof(path), "/tmp/pyprof-test-control-%d.sock", (int)getpid());
	pid = serve_once(path, answer);
	err = control__call(path, &req, 5, out, ans);
	fclose(out);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	unlink(path);
	return err;
}

static void test_client_reads_codes_and_tells_an_older_agent(void **state)
{
	struct control_answer ans;
	char body[256] = "";

	assert_int_equal(call("ok exited\nmain;f 3\n", &ans, body, sizeof(body)), 0);
	assert_int_equal(ans.status, CONTROL_OK);
	assert_int_equal(ans.exited, 1);
	assert_string_equal(body, "main;f 3\n");
	assert_int_equal(call("ok rate=49 later-field\n", &ans, body, sizeof(body)), 0);
	assert_int_equal(ans.rate_hz, 49);
	assert_int_equal(ans.status, CONTROL_OK);
	assert_int_equal(ans.exited, 0);
	assert_int_equal(
	    call("error no-process: no process with pid 9\n", &ans, body, sizeof(body)), 0);
	assert_int_equal(ans.status, CONTROL_NO_PROCESS);
	assert_string_equal(ans.message, "no process with pid 9");
	/* a code of a newer agent: failed, with its words */
	assert_int_equal(call("error frobbed: it frobbed\n", &ans, body, sizeof(body)), 0);
	assert_int_equal(ans.status, CONTROL_FAILED);
	assert_string_equal(ans.message, "it frobbed");
	/* protocol 1's answer to a request it does not know */
	assert_int_equal(call("error: bad request: unknown argument\n", &ans, body, sizeof(body)),
			 -EPROTO);
	assert_non_null(strstr(ans.message, "older control protocol"));
	assert_non_null(strstr(ans.message, "unknown argument"));
	assert_int_equal(call("", &ans, body, sizeof(body)), -EPROTO);
	assert_non_null(strstr(ans.message, "without an answer"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_round_trips_with_its_version),
	    cmocka_unit_test(test_tree_and_held_are_sent_only_when_set),
	    cmocka_unit_test(test_another_version_is_refused_before_the_words),
	    cmocka_unit_test(test_answer_lines_carry_a_code),
	    cmocka_unit_test(test_client_reads_codes_and_tells_an_older_agent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
