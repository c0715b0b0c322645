// SPDX-License-Identifier: MIT
/* elfsym on the tiny ELF fixtures of tests/fixtures/elf (built by gen.sh from libfix.c and
 * exe.c): symbol lookup in .dynsym and .symtab, static data reads, segment addresses, the
 * version string, and garbage or truncated files. Expected symbol values come from a minimal
 * ELF reader written here from <elf.h>, independent of libelf. */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "os/elfsym.h"

struct blob {
	uint8_t *data;
	size_t len;
};

static struct blob load(const char *name)
{
	char path[512];
	struct blob b = {0};
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/elf/%s", FIXTURES, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open fixture %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0 && n < (1 << 20));
	rewind(f);
	b.data = malloc(n);
	assert_non_null(b.data);
	assert_int_equal(fread(b.data, 1, n, f), (size_t)n);
	fclose(f);
	b.len = n;
	return b;
}

static void fixture_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/elf/%s", FIXTURES, name);
}

static struct elf_file *open_fixture(const char *name)
{
	char path[512];
	struct elf_file *ef = NULL;

	fixture_path(name, path, sizeof(path));
	assert_int_equal(elffile__open(path, &ef), 0);
	assert_non_null(ef);
	return ef;
}

/* Independent lookup: the symbol of that name in the section of that type, from raw bytes. */
static int raw_symbol(const struct blob *b, uint32_t type, const char *name, Elf64_Sym *ret)
{
	const Elf64_Ehdr *eh = (const void *)b->data;
	const Elf64_Shdr *sh = (const void *)(b->data + eh->e_shoff);

	assert_true(eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(*sh) <= b->len);
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		const Elf64_Shdr *str;

		if (sh[i].sh_type != type)
			continue;
		assert_true(sh[i].sh_link < eh->e_shnum);
		str = &sh[sh[i].sh_link];
		for (size_t s = 0; s < sh[i].sh_size / sizeof(Elf64_Sym); s++) {
			Elf64_Sym sym;

			memcpy(&sym, b->data + sh[i].sh_offset + s * sizeof(sym), sizeof(sym));
			assert_true(sym.st_name < str->sh_size);
			if (!strcmp((const char *)b->data + str->sh_offset + sym.st_name, name)) {
				*ret = sym;
				return 1;
			}
		}
	}
	return 0;
}

/* Each query is found with the value and size the raw reader sees in .symtab or .dynsym. */
static void check_lookup_matches_raw(const char *file, const char *const *names, size_t n,
				     int want_found)
{
	struct blob b = load(file);
	struct elf_file *ef = open_fixture(file);
	struct elf_symbol_query q[16];

	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++)
		q[i] = (struct elf_symbol_query){
		    .name = names[i], .value = 77, .size = 77, .found = 77};
	assert_int_equal(elffile__lookup(ef, q, n), want_found ? (int)n : 0);
	for (size_t i = 0; i < n; i++) {
		Elf64_Sym sym;

		if (!want_found) {
			assert_int_equal(q[i].found, 0);
			assert_int_equal(q[i].value, 0);
			assert_int_equal(q[i].size, 0);
			continue;
		}
		if (!raw_symbol(&b, SHT_SYMTAB, names[i], &sym))
			assert_true(raw_symbol(&b, SHT_DYNSYM, names[i], &sym));
		assert_int_equal(q[i].found, 1);
		assert_int_not_equal(q[i].value, 0);
		assert_int_equal(q[i].value, sym.st_value);
		assert_int_equal(q[i].size, sym.st_size);
	}
	elffile__close(ef);
	free(b.data);
}

static void test_lookup_so_finds_dynamic_and_static_symbols(void **state)
{
	static const char *const names[] = {"Py_Version",	 "_PyRuntime",
					    "fix_exported_func", "py_version_string",
					    "static_counter",	 "bss_counter"};

	check_lookup_matches_raw("libfix.so", names, 6, 1);
}

/* A stripped library has only .dynsym: exported symbols are still found, statics are not. */
static void test_lookup_stripped_so_uses_dynsym_only(void **state)
{
	static const char *const exported[] = {"Py_Version", "_PyRuntime", "fix_exported_func"};
	static const char *const statics[] = {"static_counter"};
	struct blob b = load("libfix-stripped.so");
	Elf64_Sym sym;

	assert_false(raw_symbol(&b, SHT_SYMTAB, "Py_Version", &sym));
	assert_true(raw_symbol(&b, SHT_DYNSYM, "Py_Version", &sym));
	free(b.data);
	check_lookup_matches_raw("libfix-stripped.so", exported, 3, 1);
	check_lookup_matches_raw("libfix-stripped.so", statics, 1, 0);
}

/* A static executable has only .symtab. */
static void test_lookup_exe_uses_symtab(void **state)
{
	static const char *const names[] = {"Py_Version", "_PyRuntime", "static_exe_data",
					    "_start"};
	struct blob b = load("exe");
	Elf64_Sym sym;

	assert_false(raw_symbol(&b, SHT_DYNSYM, "Py_Version", &sym));
	free(b.data);
	check_lookup_matches_raw("exe", names, 4, 1);
}

/* Names are matched exactly: no prefix, suffix or case-insensitive match; undefined and
 * missing symbols are not found; the count says how many were. */
static void test_lookup_exact_names_and_partial_count(void **state)
{
	struct elf_file *ef = open_fixture("libfix.so");
	struct elf_symbol_query q[] = {
	    {.name = "_PyRuntim"},
	    {.name = "_PyRuntime_"},
	    {.name = "py_version"},
	    {.name = "PY_VERSION"},
	    {.name = ""},
	    {.name = "_PyRuntime"},
	    {.name = "no_such_symbol"},
	    {.name = "libfix.c"},
	};
	size_t n = sizeof(q) / sizeof(q[0]);

	assert_int_equal(elffile__lookup(ef, q, n), 1);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(q[i].found, !strcmp(q[i].name, "_PyRuntime"));
	assert_int_equal(q[5].size, 64 * sizeof(int));
	/* the same name twice: both are answered */
	struct elf_symbol_query twice[] = {{.name = "Py_Version"}, {.name = "Py_Version"}};
	assert_int_equal(elffile__lookup(ef, twice, 2), 2);
	assert_int_equal(twice[0].value, twice[1].value);
	assert_int_equal(elffile__lookup(ef, NULL, 0), 0);
	elffile__close(ef);
}

static uint64_t lookup_one(struct elf_file *ef, const char *name)
{
	struct elf_symbol_query q = {.name = name};

	assert_int_equal(elffile__lookup(ef, &q, 1), 1);
	return q.value;
}

/* Initialized data comes back byte for byte, from .rodata and .data. */
static void test_read_initialized_data(void **state)
{
	struct elf_file *ef = open_fixture("libfix.so");
	int runtime[64];
	unsigned version = 0;
	int counter = 0;
	char str[7];

	assert_int_equal(elffile__read(ef, lookup_one(ef, "Py_Version"), &version, 4), 0);
	assert_int_equal(version, 0x030b07f0);
	memset(runtime, 0xff, sizeof(runtime));
	assert_int_equal(elffile__read(ef, lookup_one(ef, "_PyRuntime"), runtime, sizeof(runtime)),
			 0);
	assert_int_equal(runtime[0], 1);
	assert_int_equal(runtime[1], 2);
	assert_int_equal(runtime[2], 3);
	assert_int_equal(runtime[3], 0x5eed);
	for (int i = 4; i < 64; i++)
		assert_int_equal(runtime[i], 0);
	/* from the middle of an object */
	assert_int_equal(elffile__read(ef, lookup_one(ef, "_PyRuntime") + 12, &counter, 4), 0);
	assert_int_equal(counter, 0x5eed);
	assert_int_equal(elffile__read(ef, lookup_one(ef, "static_counter"), &counter, 4), 0);
	assert_int_equal(counter, 42);
	assert_int_equal(elffile__read(ef, lookup_one(ef, "py_version_string"), str, 7), 0);
	assert_memory_equal(str, "3.11.7", 7);
	elffile__close(ef);

	ef = open_fixture("exe");
	long rt[8], s = 0;

	assert_int_equal(elffile__read(ef, lookup_one(ef, "_PyRuntime"), rt, sizeof(rt)), 0);
	assert_int_equal(rt[0], 7);
	assert_int_equal(rt[1], 8);
	assert_int_equal(rt[2], 9);
	assert_int_equal(rt[7], 0);
	assert_int_equal(elffile__read(ef, lookup_one(ef, "static_exe_data"), &s, 8), 0);
	assert_int_equal((uint64_t)s, 0x1122334455667788ULL);
	elffile__close(ef);
}

/* Addresses whose bytes are not in the file are -ENOENT: .bss, past a section's end, no section,
 * and ranges that would wrap around. The buffer is not written. */
static void test_read_outside_initialized_data_is_enoent(void **state)
{
	struct elf_file *ef = open_fixture("libfix.so");
	uint64_t runtime = lookup_one(ef, "_PyRuntime"), bss = lookup_one(ef, "bss_counter");
	uint8_t buf[512];

	memset(buf, 0xcd, sizeof(buf));
	assert_int_equal(elffile__read(ef, bss, buf, 4), -ENOENT);
	/* _PyRuntime ends .data (see libfix.c): one byte more crosses the end */
	assert_int_equal(elffile__read(ef, runtime, buf, 256), 0);
	memset(buf, 0xcd, sizeof(buf));
	assert_int_equal(elffile__read(ef, runtime, buf, 257), -ENOENT);
	assert_int_equal(elffile__read(ef, runtime + 256, buf, 1), -ENOENT);
	assert_int_equal(elffile__read(ef, 0x7fff0000, buf, 4), -ENOENT);
	assert_int_equal(elffile__read(ef, UINT64_MAX - 2, buf, 8), -ENOENT);
	assert_int_equal(elffile__read(ef, runtime, buf, SIZE_MAX), -ENOENT);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xcd);
	elffile__close(ef);
}

/* For each PT_LOAD, the mapping of its page-aligned file offset gets its page-aligned vaddr
 * (the first PT_LOAD with that page when two share one); other offsets are -ENOENT. */
static void check_segments(const char *file, int want_loads)
{
	struct blob b = load(file);
	struct elf_file *ef = open_fixture(file);
	const Elf64_Ehdr *eh = (const void *)b.data;
	int loads = 0;
	uint64_t v;

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		uint64_t want = UINT64_MAX, page;

		memcpy(&ph, b.data + eh->e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD)
			continue;
		loads++;
		page = ph.p_offset & ~0xfffULL;
		for (unsigned j = 0; j <= i && want == UINT64_MAX; j++) {
			Elf64_Phdr pj;

			memcpy(&pj, b.data + eh->e_phoff + j * sizeof(pj), sizeof(pj));
			if (pj.p_type == PT_LOAD && (pj.p_offset & ~0xfffULL) == page)
				want = pj.p_vaddr & ~0xfffULL;
		}
		v = 12345;
		assert_int_equal(elffile__segment_vaddr(ef, page, &v), 0);
		assert_int_equal(v, want);
	}
	assert_int_equal(loads, want_loads);
	v = 12345;
	assert_int_equal(elffile__segment_vaddr(ef, 0x100000, &v), -ENOENT);
	assert_int_equal(elffile__segment_vaddr(ef, 1, &v), -ENOENT);
	assert_int_equal(v, 12345);
	elffile__close(ef);
	free(b.data);
}

static void test_segment_vaddr_of_each_load_segment(void **state)
{
	struct elf_file *ef = open_fixture("libfix.so");
	uint64_t v = 0;

	check_segments("libfix.so", 4);
	check_segments("exe", 2);
	/* the shared object's text segment, placed by -z separate-code */
	assert_int_equal(elffile__segment_vaddr(ef, 0x1000, &v), 0);
	assert_int_equal(v, 0x1000);
	elffile__close(ef);
	ef = open_fixture("exe");
	assert_int_equal(elffile__segment_vaddr(ef, 0, &v), 0);
	assert_int_equal(v, 0x400000);
	elffile__close(ef);
}

static void test_is_exec_distinguishes_exec_from_dyn(void **state)
{
	struct elf_file *ef = open_fixture("exe");

	assert_int_equal(elffile__is_exec(ef), 1);
	elffile__close(ef);
	ef = open_fixture("libfix.so");
	assert_int_equal(elffile__is_exec(ef), 0);
	elffile__close(ef);
	ef = open_fixture("libfix-stripped.so");
	assert_int_equal(elffile__is_exec(ef), 0);
	elffile__close(ef);
}

/* The NUL-delimited "3.X.Y" string is found; "3.9.1 (decoy...)" and "3.x.1", which come first
 * in .rodata, are not versions. */
static void test_version_string_skips_decoys(void **state)
{
	static const struct {
		const char *file;
		unsigned minor;
	} cases[] = {{"libfix.so", 11}, {"libfix-stripped.so", 11}, {"exe", 6}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct elf_file *ef = open_fixture(cases[i].file);
		unsigned major = 0, minor = 0;

		assert_int_equal(elffile__find_version_string(ef, &major, &minor), 0);
		assert_int_equal(major, 3);
		assert_int_equal(minor, cases[i].minor);
		elffile__close(ef);
	}
}

static void test_open_missing_file_is_enoent(void **state)
{
	struct elf_file *ef = (struct elf_file *)0x1;
	char path[512];

	fixture_path("no-such-file", path, sizeof(path));
	assert_int_equal(elffile__open(path, &ef), -ENOENT);
	assert_ptr_equal(ef, (struct elf_file *)0x1);
	/* a text file is not an ELF */
	fixture_path("libfix.c", path, sizeof(path));
	assert_int_equal(elffile__open(path, &ef), -ENOEXEC);
	elffile__close(NULL);
}

static void test_open_mem_rejects_garbage(void **state)
{
	uint8_t junk[4096];
	struct elf_file *ef = NULL;
	uint32_t x = 12345;
	struct blob b = load("libfix.so");

	for (size_t i = 0; i < sizeof(junk); i++) {
		x = x * 1103515245 + 12345;
		junk[i] = x >> 16;
	}
	junk[0] = 'x'; /* not "\x7fELF" */
	assert_true(elffile__open_mem(junk, sizeof(junk), &ef) < 0);
	assert_true(elffile__open_mem(junk, 0, &ef) < 0);
	assert_true(elffile__open_mem("\x7f"
				      "ELF",
				      4, &ef) < 0);
	/* a 32-bit ELF header */
	b.data[EI_CLASS] = ELFCLASS32;
	assert_int_equal(elffile__open_mem(b.data, b.len, &ef), -ENOEXEC);
	/* the real thing opens from memory and answers like the file */
	b.data[EI_CLASS] = ELFCLASS64;
	assert_int_equal(elffile__open_mem(b.data, b.len, &ef), 0);
	assert_int_equal(lookup_one(ef, "_PyRuntime") != 0, 1);
	elffile__close(ef);
	free(b.data);
}

/* Every API call on a handle over damaged bytes; must not crash, and what it finds in the
 * intact part must be right. */
static void exercise(struct elf_file *ef, uint64_t want_runtime)
{
	struct elf_symbol_query q[] = {
	    {.name = "_PyRuntime"}, {.name = "Py_Version"}, {.name = "static_counter"}};
	unsigned major, minor;
	uint8_t buf[256];
	uint64_t v;

	if (elffile__lookup(ef, q, 3) > 0 && q[0].found && want_runtime)
		assert_int_equal(q[0].value, want_runtime);
	elffile__read(ef, q[0].found ? q[0].value : 0x3f00, buf, sizeof(buf));
	elffile__read(ef, q[1].found ? q[1].value : 0x2000, buf, 4);
	for (uint64_t off = 0; off <= 0x3000; off += 0x1000)
		elffile__segment_vaddr(ef, off, &v);
	elffile__is_exec(ef);
	elffile__find_version_string(ef, &major, &minor);
}

/* Each prefix of the library is rejected, either by open (shorter than an ELF header) or by
 * every query (the section header table, at the end of the file, is cut): no symbol, no version
 * string, and no crash. */
static void test_open_mem_truncated_elf_yields_nothing_and_never_crashes(void **state)
{
	struct blob b = load("libfix.so");
	const Elf64_Ehdr *eh = (const void *)b.data;
	struct elf_file *ef;

	/* the property below relies on the table being last, as ld puts it */
	assert_int_equal(eh->e_shoff + eh->e_shnum * sizeof(Elf64_Shdr), b.len);
	for (size_t len = 0; len < b.len; len += 7) {
		/* a copy of exactly len bytes, so reading past it is caught by sanitizers */
		uint8_t *copy = malloc(len ? len : 1);

		assert_non_null(copy);
		memcpy(copy, b.data, len);
		ef = NULL;
		if (elffile__open_mem(copy, len, &ef) == 0) {
			struct elf_symbol_query q[] = {{.name = "_PyRuntime"},
						       {.name = "Py_Version"}};
			unsigned major, minor;

			if (elffile__lookup(ef, q, 2) != 0)
				fail_msg("a copy cut to %zu of %zu bytes still gives symbols", len,
					 b.len);
			assert_int_not_equal(elffile__find_version_string(ef, &major, &minor), 0);
			exercise(ef, 0);
			elffile__close(ef);
		}
		free(copy);
	}
	/* below the ELF header size nothing can open */
	for (size_t len = 0; len < sizeof(Elf64_Ehdr); len++)
		assert_true(elffile__open_mem(b.data, len, &ef) < 0);
	free(b.data);
}

/* Random byte corruption of the headers and tables: no crash, and the handle stays usable. */
static void test_open_mem_corrupted_headers_never_crash(void **state)
{
	struct blob b = load("libfix.so");
	uint8_t *copy = malloc(b.len);
	uint32_t x = 1;

	assert_non_null(copy);
	for (int iter = 0; iter < 3000; iter++) {
		struct elf_file *ef = NULL;
		int flips = 1 + iter % 8;

		memcpy(copy, b.data, b.len);
		for (int f = 0; f < flips; f++) {
			size_t pos;

			x = x * 1103515245 + 12345;
			/* aim mostly at the ELF/program headers and the section header table */
			if (x & 0x10000)
				pos = (x >> 17) % 0x200;
			else
				pos = b.len - 1 - (x >> 17) % 0x500;
			x = x * 1103515245 + 12345;
			copy[pos] ^= (uint8_t)(1u << ((x >> 16) & 7)) | (uint8_t)(x >> 24);
		}
		if (elffile__open_mem(copy, b.len, &ef) == 0) {
			exercise(ef, 0);
			elffile__close(ef);
		}
	}
	free(copy);
	free(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lookup_so_finds_dynamic_and_static_symbols),
	    cmocka_unit_test(test_lookup_stripped_so_uses_dynsym_only),
	    cmocka_unit_test(test_lookup_exe_uses_symtab),
	    cmocka_unit_test(test_lookup_exact_names_and_partial_count),
	    cmocka_unit_test(test_read_initialized_data),
	    cmocka_unit_test(test_read_outside_initialized_data_is_enoent),
	    cmocka_unit_test(test_segment_vaddr_of_each_load_segment),
	    cmocka_unit_test(test_is_exec_distinguishes_exec_from_dyn),
	    cmocka_unit_test(test_version_string_skips_decoys),
	    cmocka_unit_test(test_open_missing_file_is_enoent),
	    cmocka_unit_test(test_open_mem_rejects_garbage),
	    cmocka_unit_test(test_open_mem_truncated_elf_yields_nothing_and_never_crashes),
	    cmocka_unit_test(test_open_mem_corrupted_headers_never_crash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
