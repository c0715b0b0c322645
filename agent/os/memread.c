// SPDX-License-Identifier: MIT
/* process_vm_readv and captured-image readers. */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include "os/memread.h"

int memread__process(void *ctx, uint64_t addr, void *buf, size_t len)
{
	pid_t pid = (pid_t)(intptr_t)ctx;
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
	ssize_t n;

	if (!len)
		return 0;
	if (!addr || addr + len < addr)
		return -EFAULT;
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

int memread__image(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const struct mem_image *img = ctx;

	for (size_t i = 0; i < img->n; i++) {
		const struct mem_region *r = &img->regions[i];

		if (addr >= r->addr && addr - r->addr <= r->len &&
		    len <= r->len - (addr - r->addr)) {
			memcpy(buf, (const char *)r->data + (addr - r->addr), len);
			return 0;
		}
	}
	return -EFAULT;
}
