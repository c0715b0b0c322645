// SPDX-License-Identifier: MIT
/* pprof output through the protobuf-c code generated from proto/profile.proto, gzipped with zlib
 * as the format requires; and the reverse, so pprof -> folded round trips can be checked. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "profile/frame.h"
#include "util/hashmap.h"
#include "format/pprof.h"
#include "proto/profile.pb-c.h"

#define PPROF_MAX_INFLATED (1ULL << 30) /* a gzipped profile bigger than this is refused */

typedef Perftools__Profiles__Profile pb_profile;
typedef Perftools__Profiles__ValueType pb_value_type;
typedef Perftools__Profiles__Sample pb_sample;
typedef Perftools__Profiles__Label pb_label;
typedef Perftools__Profiles__Location pb_location;
typedef Perftools__Profiles__Line pb_line;
typedef Perftools__Profiles__Function pb_function;
typedef Perftools__Profiles__Mapping pb_mapping;

/* ---- writing ---- */

/* protobuf-c packs into a buffer object; this one deflates what it is given straight to a FILE. */
struct gz_sink {
	ProtobufCBuffer base;
	z_stream zs;
	FILE *out;
	int err;
	unsigned char buf[1 << 16];
};

static void gz_sink__run(struct gz_sink *g, int flush)
{
	int ret;

	do {
		size_t have;

		g->zs.next_out = g->buf;
		g->zs.avail_out = sizeof(g->buf);
		ret = deflate(&g->zs, flush);
		if (ret == Z_STREAM_ERROR) {
			g->err = -EINVAL;
			return;
		}
		have = sizeof(g->buf) - g->zs.avail_out;
		if (have && fwrite(g->buf, 1, have, g->out) != have) {
			g->err = -EIO;
			return;
		}
	} while (g->zs.avail_out == 0 || (flush == Z_FINISH && ret != Z_STREAM_END));
}

static void gz_sink__append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
	struct gz_sink *g = (struct gz_sink *)b;

	while (len && !g->err) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;

		g->zs.next_in = (Bytef *)data;
		g->zs.avail_in = n;
		gz_sink__run(g, Z_NO_FLUSH);
		data += n;
		len -= n;
	}
}

struct pprof_builder {
	struct strtab strings; /* the string table: id 0 is "" */
	struct strtab funcs;   /* "name\1file" -> function index */
	pb_function *functions;
	pb_function **function_ptrs;
	size_t nfunctions, functions_cap;
	int failed;
};

static int64_t builder__str(struct pprof_builder *b, const char *s)
{
	int64_t id = strtab__intern(&b->strings, s);

	if (id < 0)
		b->failed = 1;
	return id < 0 ? 0 : id;
}

/* The function id (1-based) of (name, file), added on first sight. */
static uint64_t builder__function(struct pprof_builder *b, const char *name, const char *file)
{
	size_t name_len = strlen(name), file_len = file ? strlen(file) : 0;
	size_t klen = name_len + 1 + file_len;
	char *key = malloc(klen + 1);
	int64_t idx;

	if (!key) {
		b->failed = 1;
		return 0;
	}
	memcpy(key, name, name_len);
	key[name_len] = '\1';
	if (file)
		memcpy(key + name_len + 1, file, file_len);
	key[klen] = '\0';
	idx = strtab__intern(&b->funcs, key);
	free(key);
	if (idx < 0) {
		b->failed = 1;
		return 0;
	}
	if ((size_t)idx == b->nfunctions) {
		pb_function init = PERFTOOLS__PROFILES__FUNCTION__INIT, *f;

		if (b->nfunctions == b->functions_cap) {
			size_t cap = b->functions_cap ? b->functions_cap * 2 : 256;
			pb_function *fs = realloc(b->functions, cap * sizeof(*fs));

			if (!fs) {
				b->failed = 1;
				return 0;
			}
			b->functions = fs;
			b->functions_cap = cap;
		}
		f = &b->functions[b->nfunctions++];
		*f = init;
		f->id = (uint64_t)idx + 1;
		f->name = builder__str(b, name);
		/* no system_name: pprof "demangles" a function whose name equals it, and strips
		 * anything in <...> from it, emptying "<module>" */
		f->filename = file ? builder__str(b, file) : 0;
	}
	return (uint64_t)idx + 1;
}

static int64_t mul_sat(uint64_t a, uint64_t b)
{
	if (a && b > (uint64_t)INT64_MAX / a)
		return INT64_MAX;
	return (int64_t)(a * b);
}

struct sample_labels {
	pb_label l[4];
	pb_label *ptrs[4];
};

int pprof__write(const struct profile *p, const struct profile_meta *meta, FILE *out)
{
	pb_profile prof = PERFTOOLS__PROFILES__PROFILE__INIT;
	pb_value_type types[2], period_type = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	pb_value_type *type_ptrs[2] = {&types[0], &types[1]};
	pb_mapping mapping = PERFTOOLS__PROFILES__MAPPING__INIT, *mapping_ptr = &mapping;
	struct pprof_builder b = {0};
	size_t nframes = p->nframes, nsamples = 0, it = 0, nvalues;
	pb_location *locs = NULL, **loc_ptrs = NULL;
	pb_line *lines = NULL, **line_ptrs = NULL;
	pb_sample *samples = NULL, **sample_ptrs = NULL;
	struct sample_labels *labels = NULL;
	unsigned char *is_label = NULL; /* process, thread and container frames: sample labels */
	uint64_t *loc_ids = NULL, period_ns = meta->rate_hz ? 1000000000ULL / meta->rate_hz : 0;
	int64_t *values = NULL, k_pid, k_tid, k_thread, k_container, container_str = 0;
	struct gz_sink *sink = NULL;
	struct profile_stack *s;
	size_t total_ids = 0, o;
	int err = 0;

	strtab__init(&b.strings);
	strtab__init(&b.funcs);
	builder__str(&b, "");

	for (int i = 0; i < 2; i++) {
		pb_value_type init = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;

		types[i] = init;
	}
	switch (meta->kind) {
	case PROFILE_OFFCPU:
	case PROFILE_WALL:
		nvalues = 1;
		types[0].type = builder__str(&b, meta->kind == PROFILE_WALL ? "wall" : "off_cpu");
		types[0].unit = builder__str(&b, "nanoseconds");
		period_type = types[0];
		break;
	default:
		nvalues = 2;
		types[0].type = builder__str(&b, "samples");
		types[0].unit = builder__str(&b, "count");
		types[1].type = builder__str(&b, "cpu");
		types[1].unit = builder__str(&b, "nanoseconds");
		period_type = types[1];
		break;
	}
	k_pid = builder__str(&b, "pid");
	k_tid = builder__str(&b, "tid");
	k_thread = builder__str(&b, "thread_name");
	k_container = builder__str(&b, "container_id");
	if (meta->container_id)
		container_str = builder__str(&b, meta->container_id);
	/* One mapping that says every location is already symbolized, so readers do not try to
	 * symbolize addresses (there are none). */
	mapping.id = 1;
	mapping.filename = builder__str(&b, "python");
	mapping.has_functions = 1;
	mapping.has_filenames = 1;
	mapping.has_line_numbers = 1;

	/* One Location per frame (id = frame id + 1), one Line each. */
	locs = calloc(nframes ? nframes : 1, sizeof(*locs));
	loc_ptrs = calloc(nframes ? nframes : 1, sizeof(*loc_ptrs));
	lines = calloc(nframes ? nframes : 1, sizeof(*lines));
	line_ptrs = calloc(nframes ? nframes : 1, sizeof(*line_ptrs));
	is_label = calloc(nframes ? nframes : 1, 1);
	if (!locs || !loc_ptrs || !lines || !line_ptrs || !is_label) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t f = 0; f < nframes; f++) {
		pb_location li = PERFTOOLS__PROFILES__LOCATION__INIT;
		pb_line ll = PERFTOOLS__PROFILES__LINE__INIT;
		const struct frame *fr = &p->frames[f];

		is_label[f] = fr->kind == FRAME_PROCESS || fr->kind == FRAME_THREAD ||
			      fr->kind == FRAME_CONTAINER;
		if (fr->kind == FRAME_PYTHON) {
			ll.function_id = builder__function(&b, fr->name, fr->file);
			ll.line = fr->number;
		} else {
			/* a frame without a file is named by its text, root and thread included */
			char small[512], *text = small;
			size_t need = frame__format(fr, small, sizeof(small));

			if (need >= sizeof(small)) {
				text = malloc(need + 1);
				if (!text) {
					err = -ENOMEM;
					goto out;
				}
				frame__format(fr, text, need + 1);
			}
			ll.function_id = builder__function(&b, text, NULL);
			if (text != small)
				free(text);
		}
		lines[f] = ll;
		line_ptrs[f] = &lines[f];
		li.id = f + 1;
		li.mapping_id = 1;
		li.n_line = 1;
		li.line = &line_ptrs[f];
		locs[f] = li;
		loc_ptrs[f] = &locs[f];
	}

	while (hashmap__next(&p->stacks, &it, NULL, (void **)&s))
		for (; s; s = s->next_same_hash)
			if (s->weight) {
				nsamples++;
				total_ids += s->n;
			}
	samples = calloc(nsamples ? nsamples : 1, sizeof(*samples));
	sample_ptrs = calloc(nsamples ? nsamples : 1, sizeof(*sample_ptrs));
	labels = calloc(nsamples ? nsamples : 1, sizeof(*labels));
	loc_ids = calloc(total_ids ? total_ids : 1, sizeof(*loc_ids));
	values = calloc(nsamples ? nsamples * nvalues : 1, sizeof(*values));
	if (!samples || !sample_ptrs || !labels || !loc_ids || !values) {
		err = -ENOMEM;
		goto out;
	}
	it = 0;
	o = 0;
	nsamples = 0;
	while (hashmap__next(&p->stacks, &it, NULL, (void **)&s)) {
		for (; s; s = s->next_same_hash) {
			pb_sample init = PERFTOOLS__PROFILES__SAMPLE__INIT, *sm;
			struct sample_labels *sl;
			int64_t container = container_str;

			if (!s->weight)
				continue;
			sm = &samples[nsamples];
			sl = &labels[nsamples];
			*sm = init;
			sm->n_location_id = s->n;
			sm->location_id = loc_ids + o;
			for (uint32_t i = 0; i < s->n; i++) /* leaf first */
				loc_ids[o++] = (uint64_t)s->ids[s->n - 1 - i] + 1;
			sm->n_value = nvalues;
			sm->value = values + nsamples * nvalues;
			if (nvalues == 2) {
				sm->value[0] = mul_sat(s->weight, 1);
				sm->value[1] = mul_sat(s->weight, period_ns);
			} else {
				sm->value[0] = mul_sat(s->weight, 1000); /* us -> ns */
			}
			for (uint32_t i = 0; i < s->n; i++) {
				const struct frame *fr = &p->frames[s->ids[i]];
				pb_label li = PERFTOOLS__PROFILES__LABEL__INIT;

				if (!is_label[s->ids[i]])
					continue;
				if (fr->kind == FRAME_CONTAINER) {
					container = builder__str(&b, fr->name);
					continue;
				}
				/* at most one pid and one tid (and its name): sl->l has room for 4
				 */
				if ((fr->kind == FRAME_PROCESS && i) ||
				    (fr->kind == FRAME_THREAD && i != 1))
					continue;
				li.key = fr->kind == FRAME_PROCESS ? k_pid : k_tid;
				li.num = fr->number;
				sl->l[sm->n_label] = li;
				sl->ptrs[sm->n_label] = &sl->l[sm->n_label];
				sm->n_label++;
				if (fr->kind == FRAME_THREAD) {
					li.key = k_thread;
					li.num = 0;
					li.str = builder__str(&b, fr->name);
					sl->l[sm->n_label] = li;
					sl->ptrs[sm->n_label] = &sl->l[sm->n_label];
					sm->n_label++;
				}
			}
			if (container) {
				pb_label li = PERFTOOLS__PROFILES__LABEL__INIT;

				li.key = k_container;
				li.str = container;
				sl->l[sm->n_label] = li;
				sl->ptrs[sm->n_label] = &sl->l[sm->n_label];
				sm->n_label++;
			}
			sm->label = sm->n_label ? sl->ptrs : NULL;
			sample_ptrs[nsamples++] = sm;
		}
	}
	if (b.failed) {
		err = -ENOMEM;
		goto out;
	}
	b.function_ptrs = calloc(b.nfunctions ? b.nfunctions : 1, sizeof(*b.function_ptrs));
	if (!b.function_ptrs) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < b.nfunctions; i++)
		b.function_ptrs[i] = &b.functions[i];

	prof.n_sample_type = nvalues;
	prof.sample_type = type_ptrs;
	prof.n_sample = nsamples;
	prof.sample = sample_ptrs;
	prof.n_mapping = 1;
	prof.mapping = &mapping_ptr;
	prof.n_location = nframes;
	prof.location = loc_ptrs;
	prof.n_function = b.nfunctions;
	prof.function = b.function_ptrs;
	prof.n_string_table = b.strings.n;
	prof.string_table = b.strings.strs;
	prof.time_nanos = (int64_t)meta->start_ns;
	prof.duration_nanos = (int64_t)meta->duration_ns;
	prof.period_type = &period_type;
	prof.period = (int64_t)period_ns;

	sink = calloc(1, sizeof(*sink));
	if (!sink) {
		err = -ENOMEM;
		goto out;
	}
	sink->base.append = gz_sink__append;
	sink->out = out;
	if (deflateInit2(&sink->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		free(sink);
		sink = NULL;
		err = -ENOMEM;
		goto out;
	}
	perftools__profiles__profile__pack_to_buffer(&prof, &sink->base);
	if (!sink->err)
		gz_sink__run(sink, Z_FINISH);
	err = sink->err;
	deflateEnd(&sink->zs);
out:
	free(sink);
	free(values);
	free(loc_ids);
	free(labels);
	free(sample_ptrs);
	free(samples);
	free(is_label);
	free(line_ptrs);
	free(lines);
	free(loc_ptrs);
	free(locs);
	free(b.function_ptrs);
	free(b.functions);
	strtab__free(&b.funcs);
	strtab__free(&b.strings);
	return err;
}

/* ---- reading ---- */

static int read_fail(char *err, size_t err_len, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* Inflates a gzip buffer into *ret (malloc'ed). */
static int gunzip(const void *data, size_t len, unsigned char **ret, size_t *ret_len, char *err,
		  size_t err_len)
{
	z_stream zs = {0};
	size_t cap = len * 4 + 4096, n = 0;
	unsigned char *out = malloc(cap);
	int zret;

	if (!out)
		return -ENOMEM;
	if (inflateInit2(&zs, 15 + 32) != Z_OK) {
		free(out);
		return -ENOMEM;
	}
	zs.next_in = (Bytef *)data;
	zs.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
	do {
		if (n == cap) {
			unsigned char *bigger;

			if (cap >= PPROF_MAX_INFLATED) {
				zret = Z_MEM_ERROR;
				break;
			}
			cap *= 2;
			bigger = realloc(out, cap);
			if (!bigger) {
				zret = Z_MEM_ERROR;
				break;
			}
			out = bigger;
		}
		zs.next_out = out + n;
		zs.avail_out = (uInt)((cap - n) > UINT32_MAX ? UINT32_MAX : cap - n);
		zret = inflate(&zs, Z_NO_FLUSH);
		n = (size_t)(zs.next_out - out);
	} while (zret == Z_OK);
	inflateEnd(&zs);
	if (zret != Z_STREAM_END) {
		free(out);
		if (zret == Z_MEM_ERROR)
			return read_fail(err, err_len, -ENOMEM,
					 "gzip data inflates to more than %llu bytes",
					 (unsigned long long)PPROF_MAX_INFLATED);
		return read_fail(err, err_len, -EINVAL, "truncated or corrupt gzip data: %s",
				 zs.msg ? zs.msg : "unexpected end of data");
	}
	*ret = out;
	*ret_len = n;
	return 0;
}

static const char *pb_str(const pb_profile *pr, int64_t idx)
{
	return idx >= 0 && (uint64_t)idx < pr->n_string_table ? pr->string_table[idx] : NULL;
}

static int type_is(const pb_profile *pr, const pb_value_type *t, const char *type, const char *unit)
{
	const char *ty = pb_str(pr, t->type), *un = pb_str(pr, t->unit);

	return ty && un && !strcmp(ty, type) && (!unit || !strcmp(un, unit));
}

/* The frame of one Line: a Python frame when the function has a file, else the frame its name
 * is the text of (frame.h; read at depth 2: frame_at_depth reads the root and thread again). */
static int64_t line_frame(struct profile *p, const pb_profile *pr, const pb_function *fn,
			  const pb_line *ln)
{
	const char *name = fn ? pb_str(pr, fn->name) : NULL,
		   *file = fn ? pb_str(pr, fn->filename) : NULL;

	if (!name || !*name)
		name = fn ? pb_str(pr, fn->system_name) : NULL;
	if (!name || !*name)
		name = "<unknown>";
	if (file && *file)
		return profile__frame_python(p, name, file, ln->line);
	return profile__frame_text(p, name, 2);
}

/* A text read at depth 2 that reads as a process frame at the root or a thread frame below it
 * (frame.h): the frame at that depth. */
static int64_t frame_at_depth(struct profile *p, uint32_t id, uint32_t depth)
{
	const struct frame *f = profile__frame_at(p, id);

	if (!f || f->kind != FRAME_NATIVE)
		return id;
	return profile__frame_text(p, f->name, depth);
}

int pprof__read(const void *data, size_t len, struct profile *p, struct profile_meta *ret_meta,
		char *err, size_t err_len)
{
	const unsigned char *bytes = data;
	unsigned char *inflated = NULL;
	pb_profile *pr = NULL;
	struct hashmap loc_index, fn_index;
	uint32_t *frame_ids = NULL, *stack = NULL;
	size_t *loc_first = NULL, *loc_n = NULL, nframe_ids = 0, stack_cap = 0;
	size_t vidx = 0;
	uint64_t div = 1;
	char name[64];
	int ret = 0;

	hashmap__init(&loc_index);
	hashmap__init(&fn_index);
	memset(ret_meta, 0, sizeof(*ret_meta));
	if (len >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) {
		ret = gunzip(data, len, &inflated, &len, err, err_len);
		if (ret)
			goto out;
		bytes = inflated;
	}
	pr = perftools__profiles__profile__unpack(NULL, len, bytes);
	if (!pr) {
		ret = read_fail(err, err_len, -EINVAL, "not valid protobuf");
		goto out;
	}
	if (!pr->n_sample_type || !pr->n_string_table) {
		ret = read_fail(err, err_len, -EINVAL, "no sample types or string table");
		goto out;
	}

	/* Which value is the weight. */
	vidx = pr->n_sample_type - 1;
	for (size_t i = 0; i < pr->n_sample_type; i++) {
		const char *ty = pb_str(pr, pr->sample_type[i]->type);

		if (ty && pr->default_sample_type == pr->sample_type[i]->type)
			vidx = i;
	}
	ret_meta->kind = PROFILE_CPU;
	for (size_t i = 0; i < pr->n_sample_type; i++) {
		if (type_is(pr, pr->sample_type[i], "off_cpu", NULL))
			ret_meta->kind = PROFILE_OFFCPU;
		if (type_is(pr, pr->sample_type[i], "wall", NULL))
			ret_meta->kind = PROFILE_WALL;
	}
	for (size_t i = 0; i < pr->n_sample_type; i++) {
		if (type_is(pr, pr->sample_type[i], "samples", "count")) {
			vidx = i;
			break;
		}
		if (type_is(pr, pr->sample_type[i], "off_cpu", "nanoseconds") ||
		    type_is(pr, pr->sample_type[i], "wall", "nanoseconds")) {
			vidx = i;
			div = 1000;
			break;
		}
	}
	if (pr->period > 0 && pr->period_type && pb_str(pr, pr->period_type->unit) &&
	    !strcmp(pb_str(pr, pr->period_type->unit), "nanoseconds"))
		ret_meta->rate_hz = (unsigned)((1000000000ULL + pr->period / 2) / pr->period);
	ret_meta->start_ns = pr->time_nanos > 0 ? (uint64_t)pr->time_nanos : 0;
	ret_meta->duration_ns = pr->duration_nanos > 0 ? (uint64_t)pr->duration_nanos : 0;

	for (size_t i = 0; i < pr->n_function; i++) {
		struct hkey k = {pr->function[i]->id, 1};

		ret = hashmap__put(&fn_index, k, pr->function[i], NULL);
		if (ret)
			goto out;
	}
	/* Frame ids of each location, leaf first (line[0] is the innermost inlined call). */
	loc_first = calloc(pr->n_location + 1, sizeof(*loc_first));
	loc_n = calloc(pr->n_location + 1, sizeof(*loc_n));
	for (size_t i = 0; i < pr->n_location; i++)
		nframe_ids += pr->location[i]->n_line ? pr->location[i]->n_line : 1;
	frame_ids = calloc(nframe_ids + 1, sizeof(*frame_ids));
	if (!loc_first || !loc_n || !frame_ids) {
		ret = -ENOMEM;
		goto out;
	}
	nframe_ids = 0;
	for (size_t i = 0; i < pr->n_location; i++) {
		const pb_location *l = pr->location[i];
		struct hkey k = {l->id, 2};
		int64_t id;

		loc_first[i] = nframe_ids;
		if (!l->n_line) {
			snprintf(name, sizeof(name), "0x%llx", (unsigned long long)l->address);
			id = profile__frame_native(p, name);
			if (id < 0) {
				ret = (int)id;
				goto out;
			}
			frame_ids[nframe_ids++] = (uint32_t)id;
		}
		for (size_t j = 0; j < l->n_line; j++) {
			struct hkey fk = {l->line[j]->function_id, 1};
			const pb_function *fn = hashmap__get(&fn_index, fk);

			if (!fn || !pb_str(pr, fn->name) || !pb_str(pr, fn->filename)) {
				ret = read_fail(err, err_len, -EINVAL,
						"location %llu: function %llu missing or invalid",
						(unsigned long long)l->id,
						(unsigned long long)l->line[j]->function_id);
				goto out;
			}
			id = line_frame(p, pr, fn, l->line[j]);
			if (id < 0) {
				ret = (int)id;
				goto out;
			}
			frame_ids[nframe_ids++] = (uint32_t)id;
		}
		loc_n[i] = nframe_ids - loc_first[i];
		ret = hashmap__put(&loc_index, k, (void *)(uintptr_t)(i + 1), NULL);
		if (ret)
			goto out;
	}

	for (size_t i = 0; i < pr->n_sample; i++) {
		const pb_sample *sm = pr->sample[i];
		size_t n = 0;
		int64_t v;

		if (sm->n_value <= vidx) {
			ret =
			    read_fail(err, err_len, -EINVAL, "sample %zu: %zu values, expected %zu",
				      i, sm->n_value, pr->n_sample_type);
			goto out;
		}
		v = sm->value[vidx];
		if (v < 0) {
			ret = read_fail(err, err_len, -EINVAL, "sample %zu: negative value %lld", i,
					(long long)v);
			goto out;
		}
		if (!(v / div))
			continue;
		for (size_t j = 0; j < sm->n_location_id; j++) {
			struct hkey k = {sm->location_id[j], 2};
			uintptr_t li = (uintptr_t)hashmap__get(&loc_index, k);

			if (!li) {
				ret =
				    read_fail(err, err_len, -EINVAL, "sample %zu: no location %llu",
					      i, (unsigned long long)sm->location_id[j]);
				goto out;
			}
			if (n + loc_n[li - 1] > stack_cap) {
				size_t cap = (n + loc_n[li - 1]) * 2 + 64;
				uint32_t *bigger = realloc(stack, cap * sizeof(*stack));

				if (!bigger) {
					ret = -ENOMEM;
					goto out;
				}
				stack = bigger;
				stack_cap = cap;
			}
			memcpy(stack + n, frame_ids + loc_first[li - 1],
			       loc_n[li - 1] * sizeof(*stack));
			n += loc_n[li - 1];
		}
		if (!n) {
			/* a sample without locations: kept, under a marker, so the total stays
			 * right and the folded text written from it stays readable */
			int64_t id = profile__frame_marker(p, "[no stack]");

			if (id < 0) {
				ret = (int)id;
				goto out;
			}
			if (!stack_cap) {
				stack = malloc(64 * sizeof(*stack));
				if (!stack) {
					ret = -ENOMEM;
					goto out;
				}
				stack_cap = 64;
			}
			stack[n++] = (uint32_t)id;
		}
		/* pprof is leaf first, the profile root first */
		for (size_t a = 0, z = n ? n - 1 : 0; a < z; a++, z--) {
			uint32_t t = stack[a];

			stack[a] = stack[z];
			stack[z] = t;
		}
		for (uint32_t d = 0; d < 2 && d < n; d++) {
			int64_t id = frame_at_depth(p, stack[d], d);

			if (id < 0) {
				ret = (int)id;
				goto out;
			}
			stack[d] = (uint32_t)id;
		}
		if (p->total + (uint64_t)(v / div) < p->total) {
			ret = read_fail(err, err_len, -EOVERFLOW, "sample values overflow");
			goto out;
		}
		ret = profile__add(p, stack, (uint32_t)n, (uint64_t)(v / div));
		if (ret)
			goto out;
	}
out:
	free(stack);
	free(frame_ids);
	free(loc_n);
	free(loc_first);
	hashmap__free(&loc_index);
	hashmap__free(&fn_index);
	if (pr)
		perftools__profiles__profile__free_unpacked(pr, NULL);
	free(inflated);
	return ret;
}
