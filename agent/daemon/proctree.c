// SPDX-License-Identifier: MIT
/* The pid set of a process tree, grown by fork events and shrunk by exits. */
#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include "daemon/proctree.h"
#include "os/procfs.h"

static struct hkey pid_key(pid_t pid)
{
	return (struct hkey){(uint64_t)pid, 0};
}

static int in_set(const struct proctree *t, pid_t pid)
{
	return hashmap__get(&t->pids, pid_key(pid)) != NULL;
}

static void add(struct proctree *t, pid_t pid)
{
	if (in_set(t, pid))
		return;
	if (t->pids.n >= PROCTREE_MAX || hashmap__put(&t->pids, pid_key(pid), (void *)1, NULL)) {
		if (!t->not_followed++)
			t->first_not_followed = pid;
	}
}

/* Adds every live descendant of the root, from one pass over /proc (a parent listed after its
 * child is caught by the next round; rounds are bounded by the depth). */
static void add_descendants(struct proctree *t)
{
	struct {
		pid_t pid, ppid;
	} *procs = NULL;
	size_t n = 0, cap = 0;
	DIR *dir = opendir("/proc");
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		struct procfs_stat st;
		pid_t pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)atoi(de->d_name);
		if (procfs__stat(pid, &st))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			void *np = realloc(procs, ncap * sizeof(*procs));

			if (!np)
				break;
			procs = np;
			cap = ncap;
		}
		procs[n].pid = pid;
		procs[n++].ppid = st.ppid;
	}
	closedir(dir);
	for (int round = 0, added = 1; added && round < 64; round++) {
		added = 0;
		for (size_t i = 0; i < n; i++) {
			if (!in_set(t, procs[i].pid) && in_set(t, procs[i].ppid)) {
				add(t, procs[i].pid);
				added = 1;
			}
		}
	}
	free(procs);
}

void proctree__init(struct proctree *t, pid_t root, int subprocesses, int root_pending)
{
	*t = (struct proctree){
	    .root = root, .subprocesses = subprocesses, .root_started = !root_pending};
	hashmap__init(&t->pids);
	add(t, root);
	if (subprocesses)
		add_descendants(t);
}

int proctree__has(const struct proctree *t, pid_t pid)
{
	return pid == t->root || (t->subprocesses && in_set(t, pid));
}

void proctree__root_started(struct proctree *t, struct discovery *disc, uint64_t now_ns)
{
	t->root_started = 1;
	discovery__on_exec(disc, t->root, now_ns);
}

void proctree__on_event(struct proctree *t, struct discovery *disc,
			const struct pyprof_proc_event *ev, uint64_t now_ns)
{
	pid_t pid = (pid_t)ev->pid;

	switch (ev->kind) {
	case PYPROF_PROC_FORK:
		if (!t->subprocesses || !in_set(t, (pid_t)ev->ppid))
			return;
		add(t, pid);
		discovery__on_exec(disc, pid, now_ns); /* a Python parent's copy */
		return;
	case PYPROF_PROC_EXEC:
		if (proctree__has(t, pid) && (pid != t->root || t->root_started))
			discovery__on_exec(disc, pid, now_ns);
		return;
	case PYPROF_PROC_EXIT:
		discovery__on_exit(disc, pid, now_ns);
		if (pid != t->root)
			hashmap__del(&t->pids, pid_key(pid)); /* the pid may be reused */
		return;
	}
}

void proctree__free(struct proctree *t)
{
	hashmap__free(&t->pids);
}
