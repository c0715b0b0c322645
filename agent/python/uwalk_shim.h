/* SPDX-License-Identifier: MIT */
/* What bpf/pystack.bpf.h gets from vmlinux.h and libbpf's headers, for its userspace build
 * (python/uwalk.c): maps become small tables, helpers read through a struct mem_reader (a live
 * process with process_vm_readv, or tests/replay's recorded memory). Only uwalk.c includes it. */
#ifndef PYPROF_UWALK_SHIM_H
#define PYPROF_UWALK_SHIM_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <linux/types.h>

#include "os/memread.h"

#define SEC(name)
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#define __noinline	 __attribute__((noinline))
#define barrier()	 asm volatile("" ::: "memory")
#define barrier_var(var) asm volatile("" : "+r"(var))

/* libbpf's own map-definition macros: the type, size and bound stay readable with sizeof() */
#define __uint(name, val)  int(*name)[val]
#define __type(name, val)  typeof(val) *name
#define __array(name, val) typeof(val) *name[]

/* the kernel's values (uapi/linux/bpf.h) */
enum {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};
enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};
enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};
enum {
	BPF_RB_AVAIL_DATA = 0,
	BPF_RB_RING_SIZE = 1,
};

/* The maps: one CPU, looked up by the address of their definition (python/uwalk.c registers
 * each one with its sizes). */
void *uwalk_shim__map_lookup(const void *map, const void *key);
long uwalk_shim__map_update(const void *map, const void *key, const void *value, __u64 flags);
long uwalk_shim__map_delete(const void *map, const void *key);

#define bpf_map_lookup_elem(map, key)	       uwalk_shim__map_lookup(map, key)
#define bpf_map_update_elem(map, key, val, fl) uwalk_shim__map_update(map, key, val, fl)
#define bpf_map_delete_elem(map, key)	       uwalk_shim__map_delete(map, key)

/* The memory the helpers read, for the duration of one uwalk call. */
extern const struct mem_reader *uwalk_shim_mem;

/* As the kernel's: the whole range or nothing, the destination zeroed on a fault. */
static inline long bpf_probe_read_user(void *dst, __u32 size, const void *unsafe_ptr)
{
	if (mem_read(uwalk_shim_mem, (uint64_t)(uintptr_t)unsafe_ptr, dst, size)) {
		memset(dst, 0, size);
		return -EFAULT;
	}
	return 0;
}

/* Calls the callback until it returns non-zero; the number of calls, as the kernel's. */
static inline long bpf_loop(__u32 nr_loops, long (*callback_fn)(__u32, void *), void *ctx,
			    __u64 flags)
{
	__u32 i;

	(void)flags;
	for (i = 0; i < nr_loops;) {
		if (callback_fn(i++, ctx))
			break;
	}
	return i;
}

/* Only what the walker reads of the current task: its FS base (the thread's pthread_self()),
 * which the caller gives. */
struct task_struct {
	struct {
		__u64 fsbase;
	} thread;
};
extern struct task_struct uwalk_shim_current_task;

static inline struct task_struct *bpf_get_current_task_btf(void)
{
	return &uwalk_shim_current_task;
}

static inline __u64 bpf_get_current_task(void)
{
	return (__u64)(uintptr_t)&uwalk_shim_current_task;
}

#define BPF_CORE_READ(src, a) ((src)->a)

extern __u64 uwalk_shim_now_ns;
static inline __u64 bpf_ktime_get_ns(void)
{
	return uwalk_shim_now_ns;
}

/* The ring buffer keeps the last record sent, as userspace would receive it. */
long uwalk_shim__ringbuf_output(const void *ringbuf, const void *data, __u64 size, __u64 flags);
#define bpf_ringbuf_output(rb, data, size, flags) uwalk_shim__ringbuf_output(rb, data, size, flags)

/* An empty ring of 1 MiB: no sample asks for a wakeup. */
static inline __u64 bpf_ringbuf_query(const void *ringbuf, __u64 flags)
{
	return flags == BPF_RB_RING_SIZE ? 1 << 20 : 0;
}

#endif /* PYPROF_UWALK_SHIM_H */
