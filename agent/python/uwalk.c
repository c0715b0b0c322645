// SPDX-License-Identifier: MIT
/* bpf/pystack.bpf.h built for userspace: the shim (uwalk_shim.h) stands for the kernel, maps are
 * small tables keyed by the address of their definition, and memory is a struct mem_reader. The
 * walker is included unchanged (the build puts bpf/ on the include path). */
#include <stdlib.h>

#include "python/uwalk_shim.h"
#include "pystack.bpf.h"
#include "event.bpf.h"
#include "python/uwalk.h"

/* unused in a build without a kernel, as in some BPF objects */
#pragma GCC diagnostic ignored "-Wunused-function"

const struct mem_reader *uwalk_shim_mem;
struct task_struct uwalk_shim_current_task;
__u64 uwalk_shim_now_ns;

/* Sizes from the definitions' own macros: __uint(x, N) is int (*x)[N]. */
#define MAP_UINT(m, f) ((__u32)(sizeof(*(m).f) / sizeof(int)))

struct shim_map {
	const void *def;
	__u32 type, key_size, value_size, max_entries;
	__u8 *keys, *values; /* hashes: n used entries; arrays: max_entries values */
	__u32 n;
};

static struct shim_map shim_maps[16];
static unsigned shim_nmaps;
static __u8 ring_last[sizeof(struct sample_event)];
static __u64 ring_len;
static int ring_sent;

static void map_register(const void *def, __u32 type, __u32 key_size, __u32 value_size,
			 __u32 max_entries)
{
	struct shim_map *m = &shim_maps[shim_nmaps++];

	*m = (struct shim_map){.def = def,
			       .type = type,
			       .key_size = key_size,
			       .value_size = value_size,
			       .max_entries = max_entries};
	if (type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY)
		m->values = calloc(max_entries, value_size);
}

#define MAP_REGISTER(m)                                                                            \
	map_register(&(m), MAP_UINT(m, type), sizeof(*(m).key), sizeof(*(m).value),                \
		     MAP_UINT(m, max_entries))

static void maps_init(void)
{
	if (shim_nmaps)
		return;
	MAP_REGISTER(targets);
	MAP_REGISTER(layouts);
	MAP_REGISTER(tstate_cache);
	MAP_REGISTER(metrics);
	MAP_REGISTER(frame_bufs);
	MAP_REGISTER(legacy_find);
	MAP_REGISTER(legacy_walk);
	/* sized rather than typed (event.bpf.h says why) */
	map_register(&sample_scratch, MAP_UINT(sample_scratch, type),
		     MAP_UINT(sample_scratch, key_size), MAP_UINT(sample_scratch, value_size),
		     MAP_UINT(sample_scratch, max_entries));
}

static void maps_clear(int keep_tstate_cache)
{
	for (unsigned i = 0; i < shim_nmaps; i++) {
		struct shim_map *m = &shim_maps[i];

		if (m->values && m->keys == NULL && m->type != BPF_MAP_TYPE_HASH &&
		    m->type != BPF_MAP_TYPE_LRU_HASH) {
			memset(m->values, 0, (size_t)m->max_entries * m->value_size);
		} else if (!(keep_tstate_cache && m->def == &tstate_cache)) {
			free(m->keys);
			free(m->values);
			m->keys = m->values = NULL;
			m->n = 0;
		}
	}
}

static struct shim_map *map_of(const void *def)
{
	for (unsigned i = 0; i < shim_nmaps; i++) {
		if (shim_maps[i].def == def)
			return &shim_maps[i];
	}
	abort(); /* a map the harness does not know: register it in maps_init */
}

static int map_is_hash(const struct shim_map *m)
{
	return m->type == BPF_MAP_TYPE_HASH || m->type == BPF_MAP_TYPE_LRU_HASH;
}

void *uwalk_shim__map_lookup(const void *def, const void *key)
{
	struct shim_map *m = map_of(def);

	if (!map_is_hash(m)) {
		__u32 i;

		memcpy(&i, key, sizeof(i));
		return i < m->max_entries ? m->values + (size_t)i * m->value_size : NULL;
	}
	for (__u32 i = 0; i < m->n; i++) {
		if (!memcmp(m->keys + (size_t)i * m->key_size, key, m->key_size))
			return m->values + (size_t)i * m->value_size;
	}
	return NULL;
}

long uwalk_shim__map_update(const void *def, const void *key, const void *value, __u64 flags)
{
	struct shim_map *m = map_of(def);
	void *v = uwalk_shim__map_lookup(def, key);
	__u8 *k, *vs;

	if (v) {
		if (flags == BPF_NOEXIST)
			return -EEXIST;
		memcpy(v, value, m->value_size);
		return 0;
	}
	if (!map_is_hash(m))
		return -E2BIG;
	if (flags == BPF_EXIST)
		return -ENOENT;
	if (m->n >= m->max_entries)
		return -E2BIG; /* never in a replay: a few threads at most */
	k = realloc(m->keys, (size_t)(m->n + 1) * m->key_size);
	if (k)
		m->keys = k;
	vs = realloc(m->values, (size_t)(m->n + 1) * m->value_size);
	if (vs)
		m->values = vs;
	if (!k || !vs)
		return -ENOMEM;
	memcpy(m->keys + (size_t)m->n * m->key_size, key, m->key_size);
	memcpy(m->values + (size_t)m->n * m->value_size, value, m->value_size);
	m->n++;
	return 0;
}

long uwalk_shim__map_delete(const void *def, const void *key)
{
	struct shim_map *m = map_of(def);
	__u8 *v = uwalk_shim__map_lookup(def, key);
	__u32 i;

	if (!v || !map_is_hash(m))
		return -ENOENT;
	i = (__u32)((v - m->values) / m->value_size);
	memmove(m->keys + (size_t)i * m->key_size, m->keys + (size_t)(i + 1) * m->key_size,
		(size_t)(m->n - i - 1) * m->key_size);
	memmove(m->values + (size_t)i * m->value_size, m->values + (size_t)(i + 1) * m->value_size,
		(size_t)(m->n - i - 1) * m->value_size);
	m->n--;
	return 0;
}

long uwalk_shim__ringbuf_output(const void *ringbuf, const void *data, __u64 size, __u64 flags)
{
	(void)flags;
	if (ringbuf != &events || size > sizeof(ring_last))
		return -E2BIG;
	memcpy(ring_last, data, size);
	ring_len = size;
	ring_sent = 1;
	return 0;
}

/* bpf/oncpu.bpf.c's oncpu(), without the kernel stack. */
static void oncpu(__u32 pid, __u32 tid, const int legacy)
{
	struct sample_event *ev;
	__u64 stack;
	struct py_target *t;

	t = bpf_map_lookup_elem(&targets, &pid);
	if (!t)
		return;
	ev = event__scratch();
	if (!ev)
		return;
	metric_inc(METRIC_SAMPLES);
	ev->kind = SAMPLE_ON_CPU;
	ev->pid = pid;
	ev->tid = tid;
	ev->cpu = 0;
	ev->time_ns = bpf_ktime_get_ns();
	ev->weight = 1;
	ev->flags = 0;
	ev->error = 0;
	ev->state = 0;
	memcpy(ev->comm, "uwalk", sizeof("uwalk"));
	stack =
	    pystack__capture(ev, t, tid, pystack__current_fsbase(legacy), ev->time_ns, 1, legacy);
	ev->kstack_bytes = 0;
	event__send(ev, stack, METRIC_EVENTS_SENT, METRIC_RINGBUF_FULL);
}

int uwalk__sample(const struct mem_reader *r, const struct py_offsets *off,
		  const struct py_target *t, uint32_t tid, uint64_t fsbase, int legacy, int fresh,
		  struct sample_event *ret, size_t *ret_len, uint64_t *ret_metrics)
{
	__u32 pid = 1, zero = 0;

	maps_init();
	maps_clear(!fresh);
	uwalk_shim_mem = r;
	uwalk_shim_current_task.thread.fsbase = fsbase;
	uwalk_shim_now_ns += 1000; /* within TSTATE_REVALIDATE_NS of the previous sample */
	if (bpf_map_update_elem(&layouts, &zero, off, BPF_ANY) ||
	    bpf_map_update_elem(&targets, &pid, t, BPF_ANY))
		return -ENOMEM;
	ring_sent = 0;
	if (legacy)
		oncpu(pid, tid, 1);
	else
		oncpu(pid, tid, 0);
	uwalk_shim_mem = NULL;
	if (ret_metrics) {
		for (__u32 i = 0; i < METRIC_MAX; i++) {
			__u64 *v = bpf_map_lookup_elem(&metrics, &i);

			ret_metrics[i] = v ? *v : 0;
		}
	}
	if (!ring_sent)
		return -EIO;
	memset(ret, 0, sizeof(*ret));
	memcpy(ret, ring_last, ring_len);
	*ret_len = ring_len;
	return 0;
}

void uwalk__reset(void)
{
	maps_init();
	maps_clear(0);
}

int uwalk__cache_tstate(uint32_t tid, uint64_t tstate)
{
	/* valid for the next sample, which advances the clock by 1000 ns */
	struct tstate_cache_entry e = {.tstate = tstate,
				       .expire_ns = uwalk_shim_now_ns + TSTATE_REVALIDATE_NS};

	maps_init();
	return (int)bpf_map_update_elem(&tstate_cache, &tid, &e, BPF_ANY);
}

uint64_t uwalk__gil_addr(const struct mem_reader *r, const struct py_offsets *off,
			 const struct py_target *t)
{
	struct py_target copy = *t;
	uint64_t gil;

	uwalk_shim_mem = r;
	gil = pystack__gil_addr(&copy, off);
	uwalk_shim_mem = NULL;
	return gil;
}
