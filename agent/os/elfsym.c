// SPDX-License-Identifier: MIT
/* ELF symbol lookup and static data reads with libelf. The files come from a target's mount
 * namespace and may be anything: every size and index is checked by libelf or here. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "os/elfsym.h"

struct elf_file {
	int fd;
	Elf *elf;
};

static int elffile__init(struct elf_file **ret, int fd, Elf *elf)
{
	struct elf_file *ef;

	if (!elf)
		return -EINVAL;
	if (elf_kind(elf) != ELF_K_ELF || gelf_getclass(elf) != ELFCLASS64) {
		elf_end(elf);
		return -ENOEXEC;
	}
	ef = calloc(1, sizeof(*ef));
	if (!ef) {
		elf_end(elf);
		return -ENOMEM;
	}
	ef->fd = fd;
	ef->elf = elf;
	*ret = ef;
	return 0;
}

int elffile__open(const char *path, struct elf_file **ret)
{
	Elf *elf;
	int fd, err;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	err = elffile__init(ret, fd, elf);
	if (err)
		close(fd);
	return err;
}

int elffile__open_mem(const void *buf, size_t len, struct elf_file **ret)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	return elffile__init(ret, -1, elf_memory((char *)buf, len));
}

void elffile__close(struct elf_file *ef)
{
	if (!ef)
		return;
	elf_end(ef->elf);
	if (ef->fd >= 0)
		close(ef->fd);
	free(ef);
}

int elffile__lookup(struct elf_file *ef, struct elf_symbol_query *q, size_t n)
{
	Elf_Scn *scn = NULL;
	int found = 0;

	for (size_t i = 0; i < n; i++) {
		q[i].found = 0;
		q[i].value = q[i].size = 0;
	}
	while ((scn = elf_nextscn(ef->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		size_t count;

		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		if (!sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		count = sh.sh_size / sh.sh_entsize;
		for (size_t s = 0; s < count; s++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, s, &sym) || sym.st_shndx == SHN_UNDEF ||
			    !sym.st_value)
				continue;
			name = elf_strptr(ef->elf, sh.sh_link, sym.st_name);
			if (!name)
				continue;
			for (size_t i = 0; i < n; i++) {
				if (!q[i].found && !strcmp(name, q[i].name)) {
					q[i].found = 1;
					q[i].value = sym.st_value;
					q[i].size = sym.st_size;
					found++;
				}
			}
		}
	}
	return found;
}

int elffile__read(struct elf_file *ef, uint64_t vaddr, void *buf, size_t len)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_ALLOC))
			continue;
		if (vaddr < sh.sh_addr || vaddr - sh.sh_addr >= sh.sh_size ||
		    len > sh.sh_size - (vaddr - sh.sh_addr))
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf || data->d_size < sh.sh_size)
			return -EIO;
		memcpy(buf, (const char *)data->d_buf + (vaddr - sh.sh_addr), len);
		return 0;
	}
	return -ENOENT;
}

int elffile__segment_vaddr(struct elf_file *ef, uint64_t off, uint64_t *ret_vaddr)
{
	size_t n;

	if (elf_getphdrnum(ef->elf, &n))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		uint64_t align;

		if (!gelf_getphdr(ef->elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		align = ph.p_align > 1 ? ph.p_align : 4096;
		if (align > 4096)
			align = 4096; /* mappings are page-aligned whatever p_align says */
		if ((ph.p_offset & ~(align - 1)) == off) {
			*ret_vaddr = ph.p_vaddr & ~(align - 1);
			return 0;
		}
	}
	return -ENOENT;
}

int elffile__is_exec(struct elf_file *ef)
{
	GElf_Ehdr eh;

	if (!gelf_getehdr(ef->elf, &eh))
		return 0;
	return eh.e_type == ET_EXEC;
}

/* "3.X.Y" optionally followed by a release tag (a1, b2, rc1, +), as PY_VERSION is. */
static int parse_version_string(const char *s, size_t len, unsigned *ret_major, unsigned *ret_minor)
{
	unsigned major, minor, micro = 0;
	size_t i = 0;

	if (len < 5 || len > 16 || s[0] != '3' || s[1] != '.')
		return -1;
	i = 2;
	minor = 0;
	if (s[i] < '0' || s[i] > '9')
		return -1;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		minor = minor * 10 + (s[i++] - '0');
	if (i >= len || s[i++] != '.' || i >= len || s[i] < '0' || s[i] > '9')
		return -1;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		micro = micro * 10 + (s[i++] - '0');
	for (; i < len; i++) {
		if (!strchr("abrc+0123456789", s[i]))
			return -1;
	}
	(void)micro;
	major = 3;
	if (minor > 99)
		return -1;
	*ret_major = major;
	*ret_minor = minor;
	return 0;
}

int elffile__find_version_string(struct elf_file *ef, unsigned *ret_major, unsigned *ret_minor)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(ef->elf, &shstrndx))
		return -EINVAL;
	while ((scn = elf_nextscn(ef->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		const char *name, *p, *end;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		name = elf_strptr(ef->elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".rodata"))
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf)
			return -EIO;
		p = data->d_buf;
		end = p + data->d_size;
		/* A whole NUL-terminated string, or the tail of one after a '/': the linker may
		 * merge PY_VERSION into a longer string such as ".../versions/3.10.13". */
		while (p < end) {
			const char *z = memchr(p, '\0', end - p);
			size_t len = z ? (size_t)(z - p) : (size_t)(end - p);
			const char *slash = len ? memrchr(p, '/', len) : NULL;

			if (len && !parse_version_string(p, len, ret_major, ret_minor))
				return 0;
			if (slash && !parse_version_string(slash + 1, len - (slash + 1 - p),
							   ret_major, ret_minor))
				return 0;
			p += len + 1;
		}
	}
	return -ENOENT;
}
