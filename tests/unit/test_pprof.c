// SPDX-License-Identifier: MIT
/* pprof output: gzip + profile.proto as its readers expect it (checked by unpacking it with the
 * same generated code), and folded -> pprof -> folded round trips. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "format/folded.h"
#include "format/pprof.h"
#include "proto/profile.pb-c.h"
#include "profile_fixture.h"

#define FX FIXTURES "/folded/"

typedef Perftools__Profiles__Profile pb_profile;

struct blob {
	char *data;
	size_t len;
};

static struct blob write_pprof(const struct profile *p, const struct profile_meta *m)
{
	struct blob b = {0};
	FILE *f = open_memstream(&b.data, &b.len);

	assert_non_null(f);
	assert_int_equal(pprof__write(p, m, f), 0);
	fclose(f);
	return b;
}

static void load(struct profile *p, const char *path)
{
	char err[256] = "";

	profile__init(p);
	if (folded__read_path(path, p, err, sizeof(err)))
		fail_msg("%s: %s", path, err);
}

/* Gunzips b and unpacks it with the generated code. */
static pb_profile *unpack(const struct blob *b)
{
	size_t cap = b->len * 20 + 4096;
	unsigned char *raw = malloc(cap);
	z_stream zs = {0};
	pb_profile *pr;

	assert_non_null(raw);
	assert_true((unsigned char)b->data[0] == 0x1f && (unsigned char)b->data[1] == 0x8b);
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (Bytef *)b->data;
	zs.avail_in = b->len;
	zs.next_out = raw;
	zs.avail_out = cap;
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	pr = perftools__profiles__profile__unpack(NULL, zs.total_out, raw);
	inflateEnd(&zs);
	free(raw);
	assert_non_null(pr);
	return pr;
}

static const char *str(const pb_profile *pr, int64_t i)
{
	assert_true(i >= 0 && (uint64_t)i < pr->n_string_table);
	return pr->string_table[i];
}

static const Perftools__Profiles__Function *function(const pb_profile *pr, uint64_t id)
{
	for (size_t i = 0; i < pr->n_function; i++)
		if (pr->function[i]->id == id)
			return pr->function[i];
	fail_msg("no function %llu", (unsigned long long)id);
	return NULL;
}

static const Perftools__Profiles__Location *location(const pb_profile *pr, uint64_t id)
{
	for (size_t i = 0; i < pr->n_location; i++)
		if (pr->location[i]->id == id)
			return pr->location[i];
	fail_msg("no location %llu", (unsigned long long)id);
	return NULL;
}

/* The one stack of p. */
static const struct profile_stack *stack_of(const struct profile *p)
{
	struct profile_stack *s = NULL;
	size_t it = 0;

	assert_true(hashmap__next(&p->stacks, &it, NULL, (void **)&s));
	assert_non_null(s);
	return s;
}

/* The label of sample s with key, as a string ("" if absent) or number (-1 if absent). */
static const char *label_str(const pb_profile *pr, const Perftools__Profiles__Sample *s,
			     const char *key)
{
	for (size_t i = 0; i < s->n_label; i++)
		if (!strcmp(str(pr, s->label[i]->key), key))
			return str(pr, s->label[i]->str);
	return "";
}

static int64_t label_num(const pb_profile *pr, const Perftools__Profiles__Sample *s,
			 const char *key)
{
	for (size_t i = 0; i < s->n_label; i++)
		if (!strcmp(str(pr, s->label[i]->key), key))
			return s->label[i]->num;
	return -1;
}

static void test_cpu_profile_has_the_documented_types_period_and_values(void **state)
{
	struct profile_meta m = {.kind = PROFILE_CPU,
				 .rate_hz = 99,
				 .start_ns = 1700000000000000000ULL,
				 .duration_ns = 3000000000ULL};
	struct profile p;
	struct blob b;
	pb_profile *pr;
	int64_t samples = 0, ns = 0;

	load(&p, FX "mixed.folded");
	b = write_pprof(&p, &m);
	pr = unpack(&b);
	assert_string_equal(str(pr, 0), "");
	assert_int_equal(pr->n_sample_type, 2);
	assert_string_equal(str(pr, pr->sample_type[0]->type), "samples");
	assert_string_equal(str(pr, pr->sample_type[0]->unit), "count");
	assert_string_equal(str(pr, pr->sample_type[1]->type), "cpu");
	assert_string_equal(str(pr, pr->sample_type[1]->unit), "nanoseconds");
	assert_string_equal(str(pr, pr->period_type->type), "cpu");
	assert_int_equal(pr->period, 1000000000 / 99);
	assert_int_equal(pr->time_nanos, 1700000000000000000LL);
	assert_int_equal(pr->duration_nanos, 3000000000LL);
	assert_int_equal(pr->n_sample, 7);
	for (size_t i = 0; i < pr->n_sample; i++) {
		assert_int_equal(pr->sample[i]->n_value, 2);
		assert_int_equal(pr->sample[i]->value[1],
				 pr->sample[i]->value[0] * (1000000000 / 99));
		samples += pr->sample[i]->value[0];
		ns += pr->sample[i]->value[1];
	}
	assert_int_equal(samples, 500);
	assert_int_equal(ns, 500LL * (1000000000 / 99));
	perftools__profiles__profile__free_unpacked(pr, NULL);
	free(b.data);
	profile__free(&p);
}

/* One Function per (name, file), Lines carry the line numbers, the leaf comes first. */
static void test_locations_name_function_file_and_line(void **state)
{
	struct profile_meta m = {.kind = PROFILE_CPU, .rate_hz = 99};
	struct profile p;
	struct blob b;
	pb_profile *pr;
	int found = 0, score_fns = 0;

	load(&p, FX "mixed.folded");
	b = write_pprof(&p, &m);
	pr = unpack(&b);
	for (size_t i = 0; i < pr->n_function; i++)
		if (!strcmp(str(pr, pr->function[i]->name), "Handler.score")) {
			score_fns++;
			assert_string_equal(str(pr, pr->function[i]->filename), "/srv/app.py");
		}
	assert_int_equal(score_fns, 1); /* lines 17 and 18: one function, two locations */
	for (size_t i = 0; i < pr->n_sample; i++) {
		const Perftools__Profiles__Sample *s = pr->sample[i];
		const Perftools__Profiles__Location *leaf = location(pr, s->location_id[0]);
		const Perftools__Profiles__Location *root =
		    location(pr, s->location_id[s->n_location_id - 1]);
		const Perftools__Profiles__Function *fn = function(pr, leaf->line[0]->function_id);

		assert_int_equal(leaf->n_line, 1);
		assert_string_equal(str(pr, function(pr, root->line[0]->function_id)->name),
				    "app (100)");
		assert_int_equal(label_num(pr, s, "pid"), 100);
		if (s->value[0] == 212) {
			assert_string_equal(str(pr, fn->name), "Handler.score");
			assert_string_equal(str(pr, fn->filename), "/srv/app.py");
			assert_int_equal(leaf->line[0]->line, 17);
			assert_int_equal(s->n_location_id, 5);
			assert_int_equal(label_num(pr, s, "tid"), 101);
			assert_string_equal(label_str(pr, s, "thread_name"), "MainThread");
			found++;
		}
		if (s->value[0] == 60) {
			assert_string_equal(str(pr, fn->name), "__x64_sys_epoll_wait_[k]");
			assert_string_equal(str(pr, fn->filename), "");
			assert_int_equal(label_num(pr, s, "tid"), 103);
			assert_string_equal(label_str(pr, s, "thread_name"), "io");
			found++;
		}
	}
	assert_int_equal(found, 2);
	perftools__profiles__profile__free_unpacked(pr, NULL);
	free(b.data);
	profile__free(&p);
}

static void round_trip(const char *path, enum profile_kind kind)
{
	struct profile_meta m = {.kind = kind, .rate_hz = 99, .duration_ns = 5}, back_meta;
	struct profile p, back;
	char err[256] = "", *a, *z;
	struct blob b;

	load(&p, path);
	b = write_pprof(&p, &m);
	profile__init(&back);
	if (pprof__read(b.data, b.len, &back, &back_meta, err, sizeof(err)))
		fail_msg("%s", err);
	a = folded_text(&p);
	z = folded_text(&back);
	assert_string_equal(a, z);
	assert_int_equal(back.total, p.total);
	assert_int_equal(back_meta.kind, kind);
	assert_int_equal(back_meta.rate_hz, 99);
	assert_int_equal(back_meta.duration_ns, 5);
	free(a);
	free(z);
	free(b.data);
	profile__free(&back);
	profile__free(&p);
}

static void test_folded_pprof_folded_round_trip_is_exact(void **state)
{
	round_trip(FX "mixed.folded", PROFILE_CPU);
	round_trip(FX "threads-3.12.folded", PROFILE_CPU);
	round_trip(FX "mixed.folded", PROFILE_OFFCPU);
	round_trip(FX "mixed.folded", PROFILE_WALL);
}

static void test_offcpu_and_wall_weights_are_nanoseconds(void **state)
{
	struct profile_meta m = {.kind = PROFILE_OFFCPU};
	struct profile p;
	struct blob b;
	pb_profile *pr;
	int64_t total = 0;

	load(&p, FX "mixed.folded"); /* taken as microseconds off-CPU */
	b = write_pprof(&p, &m);
	pr = unpack(&b);
	assert_int_equal(pr->n_sample_type, 1);
	assert_string_equal(str(pr, pr->sample_type[0]->type), "off_cpu");
	assert_string_equal(str(pr, pr->sample_type[0]->unit), "nanoseconds");
	for (size_t i = 0; i < pr->n_sample; i++)
		total += pr->sample[i]->value[0];
	assert_int_equal(total, 500 * 1000);
	perftools__profiles__profile__free_unpacked(pr, NULL);
	free(b.data);

	m.kind = PROFILE_WALL;
	b = write_pprof(&p, &m);
	pr = unpack(&b);
	assert_string_equal(str(pr, pr->sample_type[0]->type), "wall");
	perftools__profiles__profile__free_unpacked(pr, NULL);
	free(b.data);
	profile__free(&p);
}

static void test_container_label_from_frame_or_meta(void **state)
{
	struct profile_meta m = {.kind = PROFILE_CPU, .rate_hz = 99};
	struct folded_parser fp;
	struct profile p;
	char err[256];
	struct blob b;
	pb_profile *pr;
	static const char text[] = "[container abc123];app (1);main (/a.py:1) 3\n"
				   "app (2);main (/a.py:1) 4\n";

	profile__init(&p);
	folded_parser__init(&fp, &p);
	assert_int_equal(folded_parser__feed(&fp, text, strlen(text), err, sizeof(err)), 0);
	folded_parser__free(&fp);
	b = write_pprof(&p, &m);
	pr = unpack(&b);
	for (size_t i = 0; i < pr->n_sample; i++)
		assert_string_equal(label_str(pr, pr->sample[i], "container_id"),
				    pr->sample[i]->value[0] == 3 ? "abc123" : "");
	perftools__profiles__profile__free_unpacked(pr, NULL);
	free(b.data);

	m.container_id = "feedface";
	b = write_pprof(&p, &m);
	pr = unpack(&b);
	for (size_t i = 0; i < pr->n_sample; i++)
		assert_string_equal(label_str(pr, pr->sample[i], "container_id"),
				    pr->sample[i]->value[0] == 3 ? "abc123" : "feedface");
	perftools__profiles__profile__free_unpacked(pr, NULL);
	free(b.data);
	profile__free(&p);
}

static void test_garbage_and_truncated_input_rejected(void **state)
{
	struct profile_meta m = {.kind = PROFILE_CPU, .rate_hz = 99}, back_meta;
	unsigned char junk[4096];
	struct profile p, back;
	char err[256] = "";
	struct blob b;

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 2654435761u >> 13);
	profile__init(&back);
	assert_int_equal(pprof__read(junk, sizeof(junk), &back, &back_meta, err, sizeof(err)),
			 -EINVAL);
	assert_true(strlen(err) > 0);
	profile__free(&back);

	load(&p, FX "mixed.folded");
	b = write_pprof(&p, &m);
	/* every truncation of the gzip stream is an error, never a crash or a short profile */
	for (size_t cut = 0; cut < b.len; cut += 7) {
		profile__init(&back);
		err[0] = '\0';
		assert_true(pprof__read(b.data, cut, &back, &back_meta, err, sizeof(err)) < 0);
		profile__free(&back);
	}
	free(b.data);
	profile__free(&p);
}

/* A sample that names a location the profile lacks is refused, with its index. */
static void test_dangling_location_rejected(void **state)
{
	Perftools__Profiles__Profile pr = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType vt = PERFTOOLS__PROFILES__VALUE_TYPE__INIT, *vts[] = {&vt};
	Perftools__Profiles__Sample s = PERFTOOLS__PROFILES__SAMPLE__INIT, *ss[] = {&s};
	char *strings[] = {"", "samples", "count"};
	uint64_t locs[] = {42};
	int64_t vals[] = {5};
	struct profile_meta meta;
	struct profile back;
	unsigned char buf[256];
	char err[256] = "";
	size_t n;

	vt.type = 1;
	vt.unit = 2;
	s.n_location_id = 1;
	s.location_id = locs;
	s.n_value = 1;
	s.value = vals;
	pr.n_sample_type = 1;
	pr.sample_type = vts;
	pr.n_sample = 1;
	pr.sample = ss;
	pr.n_string_table = 3;
	pr.string_table = strings;
	n = perftools__profiles__profile__pack(&pr, buf);
	profile__init(&back);
	assert_int_equal(pprof__read(buf, n, &back, &meta, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "sample 0: no location 42"));
	profile__free(&back);
}

/* Functions, files and lines come from the frames' fields: a qualname holding " (" and a file
 * holding " (" and ":3)" stay whole, and the pprof reads back to the same frames. */
static void test_function_file_and_line_from_the_frame_fields(void **state)
{
	struct profile_meta m = {.kind = PROFILE_CPU, .rate_hz = 99}, m2;
	const Perftools__Profiles__Location *leaf;
	const Perftools__Profiles__Function *fn;
	struct profile p, back;
	uint32_t ids[4];
	char err[256] = "";
	struct blob b;
	pb_profile *pr;

	profile__init(&p);
	ids[0] = (uint32_t)profile__frame_process(&p, "my (odd) comm", 7);
	ids[1] = (uint32_t)profile__frame_thread(&p, 8, "worker (2)");
	ids[2] = (uint32_t)profile__frame_kernel(&p, "f (/x.py:1)");
	ids[3] = (uint32_t)profile__frame_python(&p, "handler (v2)", "/srv/a (b):3).py", 42);
	assert_int_equal(profile__add(&p, ids, 4, 5), 0);
	b = write_pprof(&p, &m);
	pr = unpack(&b);
	assert_int_equal(pr->n_sample, 1);
	assert_int_equal(pr->sample[0]->n_location_id, 4);
	leaf = location(pr, pr->sample[0]->location_id[0]);
	fn = function(pr, leaf->line[0]->function_id);
	assert_string_equal(str(pr, fn->name), "handler (v2)");
	assert_string_equal(str(pr, fn->filename), "/srv/a (b):3).py");
	assert_int_equal(leaf->line[0]->line, 42);
	/* a kernel symbol that reads like a Python frame is named by its text, without a file */
	fn = function(pr, location(pr, pr->sample[0]->location_id[1])->line[0]->function_id);
	assert_string_equal(str(pr, fn->name), "f (/x.py:1)_[k]");
	assert_string_equal(str(pr, fn->filename), "");
	assert_int_equal(label_num(pr, pr->sample[0], "pid"), 7);
	assert_int_equal(label_num(pr, pr->sample[0], "tid"), 8);
	assert_string_equal(label_str(pr, pr->sample[0], "thread_name"), "worker (2)");
	perftools__profiles__profile__free_unpacked(pr, NULL);

	profile__init(&back);
	assert_int_equal(pprof__read(b.data, b.len, &back, &m2, err, sizeof(err)), 0);
	assert_int_equal(back.nstacks, 1);
	{
		const struct profile_stack *s = stack_of(&back);
		const struct frame *f;

		assert_int_equal(s->n, 4);
		f = profile__frame_at(&back, s->ids[0]);
		assert_int_equal(f->kind, FRAME_PROCESS);
		assert_string_equal(f->name, "my (odd) comm");
		assert_int_equal(f->number, 7);
		f = profile__frame_at(&back, s->ids[1]);
		assert_int_equal(f->kind, FRAME_THREAD);
		assert_string_equal(f->name, "worker (2)");
		assert_int_equal(f->number, 8);
		f = profile__frame_at(&back, s->ids[2]);
		assert_int_equal(f->kind, FRAME_KERNEL);
		assert_string_equal(f->name, "f (/x.py:1)");
		f = profile__frame_at(&back, s->ids[3]);
		assert_int_equal(f->kind, FRAME_PYTHON);
		assert_string_equal(f->name, "handler (v2)");
		assert_string_equal(f->file, "/srv/a (b):3).py");
		assert_int_equal(f->number, 42);
	}
	profile__free(&back);
	free(b.data);
	profile__free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cpu_profile_has_the_documented_types_period_and_values),
	    cmocka_unit_test(test_locations_name_function_file_and_line),
	    cmocka_unit_test(test_folded_pprof_folded_round_trip_is_exact),
	    cmocka_unit_test(test_offcpu_and_wall_weights_are_nanoseconds),
	    cmocka_unit_test(test_container_label_from_frame_or_meta),
	    cmocka_unit_test(test_garbage_and_truncated_input_rejected),
	    cmocka_unit_test(test_dangling_location_rejected),
	    cmocka_unit_test(test_function_file_and_line_from_the_frame_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
