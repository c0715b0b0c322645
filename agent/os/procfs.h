/* SPDX-License-Identifier: MIT */
/* Reading /proc: a process's memory maps, names and threads. */
#ifndef PYPROF_PROCFS_H
#define PYPROF_PROCFS_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

struct procmaps_entry {
	uint64_t start;
	uint64_t end;
	uint64_t offset;
	uint64_t inode;
	unsigned dev_major;
	unsigned dev_minor;
	char perms[5];
	char *path; /* "" for anonymous mappings; " (deleted)" suffix removed */
	int deleted;
};

struct procmaps {
	struct procmaps_entry *entries;
	size_t n;
};

/* Parses the text of a /proc/PID/maps file. Malformed lines are skipped. */
int procmaps__parse(const char *text, size_t len, struct procmaps *ret);
/* Reads and parses /proc/PID/maps. */
int procmaps__read(pid_t pid, struct procmaps *ret);
void procmaps__free(struct procmaps *maps);

/* Reads a whole small /proc file into a NUL-terminated buffer (at most max bytes). */
int procfs__read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len);
/* A task names itself (prctl): control characters in a comm, which would break the lines of
 * folded profiles and of logs that show it, become '?'. */
void procfs__sanitize_comm(char *comm);
/* The process's comm (without newline, sanitized); "?" if unreadable. */
void procfs__comm(pid_t pid, pid_t tid, char *buf, size_t len);
/* The first size - 1 bytes of /proc/PID/cmdline, NUL-terminated, its arguments joined by single
 * spaces (a longer command line is cut, not refused). Returns the length, or -errno. */
int procfs__cmdline(pid_t pid, char *buf, size_t size);
/* 0 if the process exists, -ESRCH if not. */
int procfs__exists(pid_t pid);
/* 1 if the process exists and has not exited (a zombie waiting to be reaped has). */
int procfs__alive(pid_t pid);
/* Path of the executable as seen by the process, or -errno. */
int procfs__exe(pid_t pid, char *buf, size_t len);

/* What one read of /proc/PID/stat tells. */
struct procfs_stat {
	char state;	    /* 'R', 'S', 'Z', ... */
	pid_t ppid;	    /* the parent's pid */
	uint64_t starttime; /* clock ticks since boot */
	uint64_t vsize;	    /* bytes of address space mapped: moves when a mapping comes or goes */
};

/* -ENOENT if pid is gone (or reaped), -EINVAL if its stat does not parse. */
int procfs__stat(pid_t pid, struct procfs_stat *ret);
/* The same of thread tid of pid (/proc/PID/task/TID/stat; tid 0: the process's own). */
int procfs__task_stat(pid_t pid, pid_t tid, struct procfs_stat *ret);
/* Start time of pid in clock ticks since boot (tells a reused pid apart), 0 if it is gone. */
uint64_t procfs__starttime(pid_t pid);
/* Milliseconds since pid started, -1 if it is gone. */
int64_t procfs__age_ms(pid_t pid);

/* Parses a CPU list ("0-3,6"); ret_online[i] is 1 for listed CPUs, *ret_n = highest + 1. */
int procfs__parse_cpu_list(const char *text, unsigned char **ret_online, int *ret_n);
/* The online CPUs, from /sys/devices/system/cpu/online. */
int procfs__online_cpus(unsigned char **ret_online, int *ret_n);

#endif
