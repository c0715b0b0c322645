/* SPDX-License-Identifier: MIT */
/* Which container a process runs in: the container id and Kubernetes pod uid named by its
 * cgroup path (Docker, containerd, CRI-O and Podman layouts; cgroup v1 and v2; cgroupfs and
 * systemd drivers), and its pid inside its own pid namespace (NSpid). */
#ifndef PYPROF_CONTAINER_H
#define PYPROF_CONTAINER_H

#include <stddef.h>
#include <sys/types.h>

#define CONTAINER_ID_LEN      64 /* hex digits of a full container id */
#define CONTAINER_POD_UID_MAX 36 /* a pod uid: a UUID, or 32 hex digits for a static pod */

enum container_runtime {
	CONTAINER_RUNTIME_UNKNOWN = 0, /* a bare id: cgroupfs driver of containerd or Docker */
	CONTAINER_RUNTIME_DOCKER,
	CONTAINER_RUNTIME_CONTAINERD,
	CONTAINER_RUNTIME_CRIO,
	CONTAINER_RUNTIME_PODMAN,
};

struct container_info {
	char id[CONTAINER_ID_LEN + 1];		 /* lowercase hex; "" when not in a container */
	char pod_uid[CONTAINER_POD_UID_MAX + 1]; /* as Kubernetes shows it; "" when not in a pod */
	enum container_runtime runtime;
	pid_t ns_pid; /* pid in its innermost pid namespace when that differs, else 0 */
};

/* Parses the text of /proc/PID/cgroup into ret (zeroed first; ns_pid is left 0). The innermost
 * container of the path wins (Docker in Docker), and the cgroup v2 line over v1 lines. Paths
 * may be relative to a cgroup namespace ("/../../kubepods/..."). Always returns 0: a process
 * in no recognised container has an empty id. */
int container__parse_cgroup(const char *text, size_t len, struct container_info *ret);

/* The pid in the innermost namespace from the text of /proc/PID/status ("NSpid: 4242 7"):
 * *ret_ns_pid is that pid when it differs from the first (the reader's view), else 0.
 * Returns 0, or -ENOENT without an NSpid line (kernels before 4.1). */
int container__parse_nspid(const char *status, size_t len, pid_t *ret_ns_pid);

/* Both of the above for a live process. Returns 0, or -errno when /proc/PID/cgroup is
 * unreadable (-ENOENT: the process is gone). A missing NSpid line is not an error. */
int container__read(pid_t pid, struct container_info *ret);

/* 1 if prefix (lowercase hex, as targets.container_ids holds it) starts id, else 0. */
int container__id_matches(const char *id, const char *prefix);

/* "docker", "containerd", "cri-o", "podman", or "" when unknown. */
const char *container__runtime_name(enum container_runtime runtime);
/* " in container ID (runtime) of pod UID, ns pid N", for logs and status; "" on the host (or
 * when /proc cannot tell). Returns buf. */
const char *container__describe(pid_t pid, char *buf, size_t len);

#endif
