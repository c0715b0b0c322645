// SPDX-License-Identifier: MIT
/* libFuzzer harness: ELF files of a target (elfsym): a process's executable and libraries are
 * files it controls. Opens the bytes as an ELF, looks up the symbols the agent needs, reads
 * static data, finds segments and the CPython version string. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "os/elfsym.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_symbol_query q[] = {
	    {.name = "_PyRuntime"}, {.name = "interp_head"},	{.name = "PyCode_Type"},
	    {.name = "Py_Version"}, {.name = "_Py_tss_tstate"},
	};
	struct elf_file *ef;
	uint8_t *copy = malloc(size ? size : 1), buf[64];
	unsigned major, minor;
	uint64_t vaddr;

	if (!copy)
		abort();
	memcpy(copy, data, size);
	if (elffile__open_mem(copy, size, &ef)) {
		free(copy);
		return 0;
	}
	elffile__lookup(ef, q, sizeof(q) / sizeof(q[0]));
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		if (q[i].found)
			elffile__read(ef, q[i].value, buf, sizeof(buf));
	}
	for (uint64_t off = 0; off < 0x4000; off += 0x1000)
		elffile__segment_vaddr(ef, off, &vaddr);
	elffile__read(ef, 0x400000, buf, sizeof(buf));
	elffile__is_exec(ef);
	elffile__find_version_string(ef, &major, &minor);
	elffile__close(ef);
	free(copy);
	return 0;
}
