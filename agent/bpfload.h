/* SPDX-License-Identifier: MIT */
/* Feature probes shared by the BPF loaders: which attach type the kernel offers. */
#ifndef PYPROF_BPFLOAD_H
#define PYPROF_BPFLOAD_H

#include <bpf/libbpf.h>

/* 1 if the kernel's BTF describes tracepoint tp (so tp_btf/tp works), else 0. Setting the
 * environment variable PYPROF_FORCE_RAW_TP=1 answers 0, to exercise the raw_tp fallback. */
int bpfload__has_btf_tracepoint(const char *tp);

/* Keeps exactly one of two programs doing the same job: the tp_btf one where the kernel can
 * attach it, else the raw_tp one. Call between open and load. Returns 1 if tp_btf was chosen. */
int bpfload__choose(struct bpf_program *btf_prog, struct bpf_program *raw_prog, const char *tp);

#endif
