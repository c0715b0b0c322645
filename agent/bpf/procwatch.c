// SPDX-License-Identifier: MIT
/* Loads bpf/procevents.bpf.c (tp_btf, or raw_tp where the kernel refuses it) and drains it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bpf/bpfload.h"
#include "bpf/procwatch.h"
#include "procevents.skel.h"

struct procwatch {
	struct procevents_bpf *skel;
	struct ring_buffer *rb;
	procwatch_cb cb;
	void *ctx;
	struct bpf_link *fork_link; /* attached while forks are asked for */
	int use_btf;
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct procwatch *w = ctx;

	if (size >= sizeof(struct pyprof_proc_event))
		w->cb(w->ctx, data);
	return 0;
}

/* Opens, loads and attaches the programs of one attach type; on failure nothing is left. */
static int procwatch_try(struct procwatch *w, int btf, char *ret_reason, size_t len)
{
	int err;

	bpfload__try_begin();
	w->skel = procevents_bpf__open();
	if (!w->skel) {
		err = -errno;
		goto out;
	}
	bpf_program__set_autoload(w->skel->progs.pyprof_exec_btf, btf);
	bpf_program__set_autoload(w->skel->progs.pyprof_exit_btf, btf);
	bpf_program__set_autoload(w->skel->progs.pyprof_exec_raw, !btf);
	bpf_program__set_autoload(w->skel->progs.pyprof_exit_raw, !btf);
	/* loaded always (so that attaching it later cannot be refused for the verifier's
	 * reasons), attached on demand */
	bpf_program__set_autoload(w->skel->progs.pyprof_fork_btf, btf);
	bpf_program__set_autoload(w->skel->progs.pyprof_fork_raw, !btf);
	bpf_program__set_autoattach(w->skel->progs.pyprof_fork_btf, false);
	bpf_program__set_autoattach(w->skel->progs.pyprof_fork_raw, false);
	err = procevents_bpf__load(w->skel);
	if (!err)
		err = procevents_bpf__attach(w->skel);
out:
	bpfload__try_end(err, ret_reason, len);
	if (err) {
		procevents_bpf__destroy(w->skel);
		w->skel = NULL;
		return err;
	}
	w->use_btf = btf;
	return 0;
}

int procwatch__open(procwatch_cb cb, void *ctx, int forks, struct procwatch **ret, char *errbuf,
		    size_t errlen)
{
	struct procwatch *w = calloc(1, sizeof(*w));
	char btf_reason[256] = "", raw_reason[256] = "";
	int err = -EINVAL;

	if (!w)
		return -ENOMEM;
	w->cb = cb;
	w->ctx = ctx;
	/* tp_btf where the kernel takes it, else raw_tp: decided by loading */
	if (!(bpfload__forced() & BPFLOAD_FORCE_RAW_TP))
		err = procwatch_try(w, 1, btf_reason, sizeof(btf_reason));
	if (err)
		err = procwatch_try(w, 0, raw_reason, sizeof(raw_reason));
	if (err) {
		snprintf(errbuf, errlen, "Linux %s refused the process-events programs: %s%s%s",
			 bpfload__kernel_release(), btf_reason[0] ? btf_reason : raw_reason,
			 btf_reason[0] ? "; as raw_tp: " : "", btf_reason[0] ? raw_reason : "");
		goto fail;
	}
	w->rb = ring_buffer__new(bpf_map__fd(w->skel->maps.proc_events), on_record, w, NULL);
	if (!w->rb) {
		err = -errno;
		snprintf(errbuf, errlen, "cannot read the process events: %s", strerror(-err));
		goto fail;
	}
	if (forks) {
		err = procwatch__set_forks(w, 1, errbuf, errlen);
		if (err)
			goto fail;
	}
	*ret = w;
	return 0;
fail:
	procwatch__close(w);
	return err;
}

int procwatch__set_forks(struct procwatch *w, int on, char *errbuf, size_t errlen)
{
	struct bpf_program *prog =
	    w->use_btf ? w->skel->progs.pyprof_fork_btf : w->skel->progs.pyprof_fork_raw;
	int err;

	if (!on) {
		bpf_link__destroy(w->fork_link);
		w->fork_link = NULL;
		return 0;
	}
	if (w->fork_link)
		return 0;
	w->fork_link = bpf_program__attach(prog);
	if (!w->fork_link) {
		err = -errno;
		snprintf(errbuf, errlen, "Linux %s refused the fork events program: %s",
			 bpfload__kernel_release(), strerror(-err));
		return err;
	}
	return 0;
}

int procwatch__forks(const struct procwatch *w)
{
	return w->fork_link != NULL;
}

int procwatch__fd(const struct procwatch *w)
{
	return ring_buffer__epoll_fd(w->rb);
}

int procwatch__drain(struct procwatch *w)
{
	return ring_buffer__consume(w->rb);
}

uint64_t procwatch__lost(struct procwatch *w)
{
	int n = libbpf_num_possible_cpus();
	uint64_t total = 0, *vals;
	__u32 zero = 0;

	if (n <= 0)
		return 0;
	vals = calloc(n, sizeof(*vals));
	if (!vals)
		return 0;
	if (!bpf_map__lookup_elem(w->skel->maps.proc_events_lost, &zero, sizeof(zero), vals,
				  n * sizeof(*vals), 0)) {
		for (int i = 0; i < n; i++)
			total += vals[i];
	}
	free(vals);
	return total;
}

const char *procwatch__attach_kind(const struct procwatch *w)
{
	return w->use_btf ? "tp_btf" : "raw_tp";
}

void procwatch__close(struct procwatch *w)
{
	if (!w)
		return;
	bpf_link__destroy(w->fork_link);
	ring_buffer__free(w->rb);
	procevents_bpf__destroy(w->skel);
	free(w);
}
