// SPDX-License-Identifier: MIT
/* Page images of target memory, replayed or recorded (see replay_mem.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "replay_mem.h"

#define PAGE_MASK (~(REPLAY_PAGE_SIZE - 1))

/* Index of the first page whose address is >= addr. */
static size_t page_index(const struct replay_mem *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->pages[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct replay_page *replay_mem__page(struct replay_mem *m, uint64_t addr)
{
	size_t i = page_index(m, addr & PAGE_MASK);

	if (i < m->n && m->pages[i].addr == (addr & PAGE_MASK))
		return &m->pages[i];
	return NULL;
}

int replay_mem__add(struct replay_mem *m, uint64_t addr, const void *data)
{
	size_t i = page_index(m, addr);
	uint8_t *copy;

	if (addr & ~PAGE_MASK)
		return -EINVAL;
	if (i < m->n && m->pages[i].addr == addr) {
		memcpy(m->pages[i].data, data, REPLAY_PAGE_SIZE);
		return 0;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct replay_page *p = realloc(m->pages, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		m->pages = p;
		m->cap = cap;
	}
	copy = malloc(REPLAY_PAGE_SIZE);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, REPLAY_PAGE_SIZE);
	memmove(&m->pages[i + 1], &m->pages[i], (m->n - i) * sizeof(*m->pages));
	m->pages[i] = (struct replay_page){.addr = addr, .data = copy};
	m->n++;
	return 0;
}

static int failed_before(const struct replay_mem *m, uint64_t page)
{
	for (size_t i = 0; i < m->nfailed; i++) {
		if (m->failed[i] == page)
			return 1;
	}
	return 0;
}

/* Recording: the page from the stopped process, kept if it could be read. */
static struct replay_page *page_fetch(struct replay_mem *m, uint64_t page)
{
	uint8_t buf[REPLAY_PAGE_SIZE];
	struct iovec local = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)page, .iov_len = sizeof(buf)};

	if (failed_before(m, page))
		return NULL;
	if (process_vm_readv(m->pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof(buf)) {
		if (m->nfailed == m->capfailed) {
			size_t cap = m->capfailed ? m->capfailed * 2 : 16;
			uint64_t *f = realloc(m->failed, cap * sizeof(*f));

			if (!f)
				return NULL;
			m->failed = f;
			m->capfailed = cap;
		}
		m->failed[m->nfailed++] = page;
		return NULL;
	}
	if (replay_mem__add(m, page, buf))
		return NULL;
	return replay_mem__page(m, page);
}

int replay_mem__read(struct replay_mem *m, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;

	if (!len)
		return 0;
	if (len > REPLAY_MAX_READ || addr + len < addr)
		return -EFAULT;
	while (len) {
		uint64_t page = addr & PAGE_MASK;
		size_t in = addr - page, n = REPLAY_PAGE_SIZE - in;
		struct replay_page *p = replay_mem__page(m, page);

		if (!p && m->pid > 0)
			p = page_fetch(m, page);
		if (!p || p->hidden)
			return -EFAULT;
		if (n > len)
			n = len;
		memcpy(out, p->data + in, n);
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}

int replay_mem__reader(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return replay_mem__read(ctx, addr, buf, len);
}

int replay_mem__poke(struct replay_mem *m, uint64_t addr, const void *data, size_t len,
		     void *ret_old)
{
	const uint8_t *in = data;
	uint8_t *old = ret_old;

	if (len > REPLAY_PAGE_SIZE || addr + len < addr)
		return -EFAULT;
	for (size_t i = 0; i < len; i++) {
		struct replay_page *p = replay_mem__page(m, addr + i);

		if (!p)
			return -EFAULT;
	}
	for (size_t i = 0; i < len; i++) {
		struct replay_page *p = replay_mem__page(m, addr + i);
		uint8_t *b = p->data + ((addr + i) & ~PAGE_MASK);

		if (old)
			old[i] = *b;
		*b = in[i];
	}
	return 0;
}

void replay_mem__free(struct replay_mem *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->pages[i].data);
	free(m->pages);
	free(m->failed);
	memset(m, 0, sizeof(*m));
}
