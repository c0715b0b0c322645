// SPDX-License-Identifier: MIT
/* make bench: the kernel's floor under the on-CPU sampler. Opens what the sampler opens, a
 * CPU-clock perf event per online CPU at RATE Hz, for SECONDS, with nothing attached ("events")
 * or with a BPF program that returns at once ("empty"): what a sample costs the target before
 * any of our code runs. Usage: pyprof-floor events|empty RATE SECONDS */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "os/procfs.h"

static int empty_program(void)
{
	/* r0 = 0; exit */
	const struct bpf_insn insns[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
	    {.code = BPF_JMP | BPF_EXIT},
	};

	return bpf_prog_load(BPF_PROG_TYPE_PERF_EVENT, "pyprof_floor", "GPL", insns, 2, NULL);
}

int main(int argc, char **argv)
{
	unsigned char *online = NULL;
	int ncpu = 0, prog = -1, with_prog;
	unsigned rate;
	double seconds;

	if (argc != 4 || (strcmp(argv[1], "events") && strcmp(argv[1], "empty"))) {
		fprintf(stderr, "usage: pyprof-floor events|empty RATE SECONDS\n");
		return 2;
	}
	with_prog = !strcmp(argv[1], "empty");
	rate = (unsigned)atoi(argv[2]);
	seconds = atof(argv[3]);
	if (procfs__online_cpus(&online, &ncpu)) {
		fprintf(stderr, "pyprof-floor: cannot read the online CPUs\n");
		return 1;
	}
	if (with_prog) {
		prog = empty_program();
		if (prog < 0) {
			fprintf(stderr, "pyprof-floor: cannot load the empty program: %s\n",
				strerror(errno));
			return 1;
		}
	}
	for (int cpu = 0; cpu < ncpu; cpu++) {
		struct perf_event_attr attr = {
		    .type = PERF_TYPE_SOFTWARE,
		    .size = sizeof(attr),
		    .config = PERF_COUNT_SW_CPU_CLOCK,
		    .sample_freq = rate,
		    .freq = 1,
		};
		int fd;

		if (!online[cpu])
			continue;
		fd = (int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0 || (with_prog && ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog))) {
			fprintf(stderr, "pyprof-floor: CPU %d: %s\n", cpu, strerror(errno));
			return 1;
		}
	}
	usleep((useconds_t)(seconds * 1e6)); /* the events close when the process ends */
	free(online);
	return 0;
}
