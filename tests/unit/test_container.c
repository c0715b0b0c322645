// SPDX-License-Identifier: MIT
/* container__parse_cgroup on /proc/PID/cgroup texts of every runtime layout
 * (tests/fixtures/cgroup), NSpid parsing of /proc/PID/status texts, id prefix matching, and
 * container__read on this very process. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "os/container.h"
#include "os/procfs.h"

#define DOCKER_A "4f797c539e6c745de61a93ca3ff892358ecbcaccd8414d5db545c38428142970"
#define DOCKER_B "9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d"
#define K8S_A	 "2d4f5d5b1b0fa45bb3c5b9c5e2e42f7b5c4b8f3a2f9b61d3c1a6e0f4d7a8b9c0"
#define K8S_B	 "b1f3e7d9a2c4e6f8a0b2c4d6e8f0a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5"
#define PODMAN	 "7a1f0c2e9b8d4c3a6e5f7d9b1c3e5a7f9d1b3c5e7a9f1d3b5c7e9a1f3d5b7c9e"
#define POD_A	 "0f3a6c1e-2b4d-4e6f-8a1c-3e5a7c9e1b3d"
#define POD_B	 "9c1b2a3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d"

static char *load_fixture(const char *name, size_t *ret_len)
{
	char path[512];
	char *buf;

	snprintf(path, sizeof(path), "%s/cgroup/%s", FIXTURES, name);
	assert_int_equal(procfs__read_file(path, 1 << 20, &buf, ret_len), 0);
	return buf;
}

static void parse_fixture(const char *name, struct container_info *ret)
{
	size_t len;
	char *text = load_fixture(name, &len);

	assert_int_equal(container__parse_cgroup(text, len, ret), 0);
	free(text);
}

struct layout_case {
	const char *file;
	const char *id;	 /* "" for none */
	const char *pod; /* "" for none */
	enum container_runtime runtime;
};

static const struct layout_case layouts[] = {
    {"docker-v1-cgroupfs.txt", DOCKER_A, "", CONTAINER_RUNTIME_DOCKER},
    {"docker-v1-systemd.txt", DOCKER_B, "", CONTAINER_RUNTIME_DOCKER},
    {"docker-v2-systemd.txt", DOCKER_B, "", CONTAINER_RUNTIME_DOCKER},
    {"docker-v2-cgroupfs.txt", DOCKER_A, "", CONTAINER_RUNTIME_DOCKER},
    {"containerd-k8s-v1-cgroupfs.txt", K8S_A, POD_A, CONTAINER_RUNTIME_UNKNOWN},
    {"containerd-k8s-v2-systemd.txt", K8S_A, POD_A, CONTAINER_RUNTIME_CONTAINERD},
    {"containerd-k8s-v2-guaranteed.txt", K8S_B, POD_B, CONTAINER_RUNTIME_CONTAINERD},
    {"containerd-k8s-v2-cgroupns.txt", K8S_A, POD_A, CONTAINER_RUNTIME_CONTAINERD},
    {"containerd-k8s-v1-systemd-colon.txt", K8S_A, POD_A, CONTAINER_RUNTIME_CONTAINERD},
    {"crio-v2-systemd.txt", K8S_B, POD_B, CONTAINER_RUNTIME_CRIO},
    {"crio-v1-cgroupfs.txt", K8S_B, POD_B, CONTAINER_RUNTIME_CRIO},
    {"podman-rootless-v2.txt", PODMAN, "", CONTAINER_RUNTIME_PODMAN},
    {"k8s-static-pod-v2.txt", K8S_A, "3f1e2d4c5b6a79880a1b2c3d4e5f6a7b",
     CONTAINER_RUNTIME_CONTAINERD},
    /* the innermost container of a nested one */
    {"docker-in-docker.txt", DOCKER_B, "", CONTAINER_RUNTIME_DOCKER},
    /* an id on v1 lines only (hybrid hosts), and v2 preferred when both have one */
    {"hybrid-v1-only-id.txt", DOCKER_A, "", CONTAINER_RUNTIME_DOCKER},
    {"v2-wins-over-v1.txt", DOCKER_B, "", CONTAINER_RUNTIME_DOCKER},
    /* monitors are not in the container they watch; the pod is still known */
    {"crio-conmon.txt", "", POD_B, CONTAINER_RUNTIME_UNKNOWN},
    {"podman-conmon.txt", "", "", CONTAINER_RUNTIME_UNKNOWN},
    /* not containers */
    {"docker-v2-cgroupns-private.txt", "", "", CONTAINER_RUNTIME_UNKNOWN},
    {"host-service-v2.txt", "", "", CONTAINER_RUNTIME_UNKNOWN},
    {"host-hybrid.txt", "", "", CONTAINER_RUNTIME_UNKNOWN},
    {"not-ids.txt", "", "", CONTAINER_RUNTIME_UNKNOWN},
};

static void test_every_runtime_layout_yields_its_id_pod_and_runtime(void **state)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		const struct layout_case *c = &layouts[i];
		struct container_info ci;

		parse_fixture(c->file, &ci);
		if (strcmp(ci.id, c->id) || strcmp(ci.pod_uid, c->pod) || ci.runtime != c->runtime)
			fail_msg("%s: got id '%s' pod '%s' runtime '%s', want '%s' '%s' '%s'",
				 c->file, ci.id, ci.pod_uid, container__runtime_name(ci.runtime),
				 c->id, c->pod, container__runtime_name(c->runtime));
		assert_int_equal(ci.ns_pid, 0);
	}
}

static void test_upper_case_ids_are_lowered_and_text_without_newline_parses(void **state)
{
	static const char text[] = "0::/system.slice/docker-" DOCKER_B ".scope";
	const size_t at = strlen("0::/system.slice/docker-");
	char upper[sizeof(text)];
	struct container_info ci;

	memcpy(upper, text, sizeof(text));
	for (size_t i = at; i < at + CONTAINER_ID_LEN; i++)
		upper[i] = (upper[i] >= 'a' && upper[i] <= 'f') ? upper[i] - 32 : upper[i];
	assert_int_not_equal(strncmp(upper + at, DOCKER_B, CONTAINER_ID_LEN), 0);
	assert_int_equal(container__parse_cgroup(upper, strlen(upper), &ci), 0);
	assert_string_equal(ci.id, DOCKER_B);
}

static void test_malformed_lines_and_empty_text_give_no_container(void **state)
{
	static const char *const texts[] = {
	    "",
	    "\n\n",
	    "garbage without colons\n",
	    "0:/docker/" DOCKER_A "\n", /* one colon only: no path field */
	    "0::\n",
	    "0::/docker/" DOCKER_A "-extra\n",
	    "0::/kubepods/burstable/podnot-a-uid/\n",
	};
	struct container_info ci;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		assert_int_equal(container__parse_cgroup(texts[i], strlen(texts[i]), &ci), 0);
		if (ci.id[0] || ci.pod_uid[0])
			fail_msg("text %zu: unexpected id '%s' pod '%s'", i, ci.id, ci.pod_uid);
	}
}

static void test_a_text_cut_inside_an_id_names_no_container(void **state)
{
	static const char text[] = "0::/docker/" DOCKER_A "\n";
	struct container_info ci;

	/* every proper prefix: the id must be whole */
	for (size_t n = 0; n < strlen(text) - 1; n++) {
		assert_int_equal(container__parse_cgroup(text, n, &ci), 0);
		assert_string_equal(ci.id, "");
	}
}

static void parse_status(const char *name, int want_err, pid_t want)
{
	size_t len;
	char *text = load_fixture(name, &len);
	pid_t ns_pid = -1;

	assert_int_equal(container__parse_nspid(text, len, &ns_pid), want_err);
	assert_int_equal(ns_pid, want);
	free(text);
}

static void test_nspid_is_the_innermost_pid_only_where_it_differs(void **state)
{
	parse_status("status-container.txt", 0, 7);
	parse_status("status-nested.txt", 0, 1);
	parse_status("status-host.txt", 0, 0);
	parse_status("status-no-nspid.txt", -ENOENT, 0);
}

static void test_id_prefixes_of_twelve_or_more_digits_match(void **state)
{
	assert_true(container__id_matches(DOCKER_A, DOCKER_A));
	assert_true(container__id_matches(DOCKER_A, "4f797c539e6c"));
	assert_false(container__id_matches(DOCKER_A, "4f797c539e6d"));
	assert_false(container__id_matches("", "4f797c539e6c"));
	assert_false(container__id_matches(DOCKER_A, ""));
}

/* The live path: this test process is read through /proc like any target. Whatever the
 * machine's layout, the result agrees with parsing the same file, and the NSpid of a process
 * in the reader's own pid namespace is 0. */
static void test_read_of_this_process_agrees_with_its_cgroup_file(void **state)
{
	struct container_info live, parsed;
	char *text;
	size_t len;

	assert_int_equal(container__read(getpid(), &live), 0);
	assert_int_equal(procfs__read_file("/proc/self/cgroup", 1 << 16, &text, &len), 0);
	container__parse_cgroup(text, len, &parsed);
	free(text);
	assert_string_equal(live.id, parsed.id);
	assert_string_equal(live.pod_uid, parsed.pod_uid);
	assert_int_equal(live.ns_pid, 0);
	assert_int_equal(container__read(0x3ffffff0, &live), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_runtime_layout_yields_its_id_pod_and_runtime),
	    cmocka_unit_test(test_upper_case_ids_are_lowered_and_text_without_newline_parses),
	    cmocka_unit_test(test_malformed_lines_and_empty_text_give_no_container),
	    cmocka_unit_test(test_a_text_cut_inside_an_id_names_no_container),
	    cmocka_unit_test(test_nspid_is_the_innermost_pid_only_where_it_differs),
	    cmocka_unit_test(test_id_prefixes_of_twelve_or_more_digits_match),
	    cmocka_unit_test(test_read_of_this_process_agrees_with_its_cgroup_file),
	};

	return cmocka_run_group_tests_name("container", tests, NULL, NULL);
}
