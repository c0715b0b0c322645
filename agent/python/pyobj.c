// SPDX-License-Identifier: MIT
/* Code objects, str and bytes, read from a target with bounded, validated reads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "python/pyobj.h"

#define CODE_READ_MAX 512

/* PyASCIIObject.state bit fields, the same from 3.3 to 3.15 */
#define STATE_KIND(s)	 (((s) >> 2) & 7)
#define STATE_COMPACT(s) (((s) >> 5) & 1)
#define STATE_ASCII(s)	 (((s) >> 6) & 1)

static uint64_t get_u64(const uint8_t *b, uint32_t off)
{
	uint64_t v;

	memcpy(&v, b + off, sizeof(v));
	return v;
}

static int32_t get_i32(const uint8_t *b, uint32_t off)
{
	int32_t v;

	memcpy(&v, b + off, sizeof(v));
	return v;
}

static int field_ok(uint32_t off, size_t width, size_t size)
{
	return off != PYOFF_NONE && off + width <= size;
}

static int read_code_header(const struct mem_reader *r, const struct py_offsets *off, uint64_t addr,
			    uint8_t *buf, struct py_code_id *ret)
{
	size_t size = off->code_size;
	int err;

	if (!size || size > CODE_READ_MAX || !field_ok(off->object_type, 8, size) ||
	    !field_ok(off->code_name, 8, size) || !field_ok(off->code_filename, 8, size) ||
	    !field_ok(off->code_firstlineno, 4, size) || !field_ok(off->code_linetable, 8, size))
		return -EINVAL;
	err = mem_read(r, addr, buf, size);
	if (err)
		return err;
	memset(ret, 0, sizeof(*ret));
	ret->type = get_u64(buf, off->object_type);
	ret->name = get_u64(buf, off->code_name);
	ret->filename = get_u64(buf, off->code_filename);
	ret->linetable = get_u64(buf, off->code_linetable);
	ret->firstlineno = get_i32(buf, off->code_firstlineno);
	if (field_ok(off->code_qualname, 8, size))
		ret->qualname = get_u64(buf, off->code_qualname);
	return 0;
}

int pyobj__read_code_id(const struct mem_reader *r, const struct py_offsets *off, uint64_t addr,
			struct py_code_id *ret)
{
	uint8_t buf[CODE_READ_MAX];

	return read_code_header(r, off, addr, buf, ret);
}

/* UTF-8 encoding of code point cp into out (4 bytes room); returns bytes written. */
static size_t utf8_put(uint32_t cp, char *out)
{
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

int pyobj__read_str(const struct mem_reader *r, const struct py_offsets *off, uint64_t addr,
		    char **ret)
{
	uint32_t state, kind;
	int64_t length;
	uint64_t data;
	uint8_t *raw = NULL;
	char *out = NULL;
	size_t o = 0;
	int err;

	if (!addr || off->unicode_state == PYOFF_NONE || off->unicode_length == PYOFF_NONE)
		return -EINVAL;
	if ((err = mem_read(r, addr + off->unicode_length, &length, sizeof(length))) ||
	    (err = mem_read(r, addr + off->unicode_state, &state, sizeof(state))))
		return err;
	if (length < 0 || length > PYOBJ_MAX_STR)
		return -E2BIG;
	kind = STATE_KIND(state);
	if (kind != 1 && kind != 2 && kind != 4)
		return -EINVAL;
	if (STATE_ASCII(state) && kind != 1)
		return -EINVAL;
	if (STATE_COMPACT(state)) {
		data = addr +
		       (STATE_ASCII(state) ? off->unicode_ascii_size : off->unicode_compact_size);
	} else {
		/* legacy string: PyUnicodeObject.data.any follows the compact header */
		err = mem_read(r, addr + off->unicode_compact_size, &data, sizeof(data));
		if (err)
			return err;
	}
	raw = malloc(length * kind + 1);
	out = malloc(length * 4 + 1);
	if (!raw || !out) {
		err = -ENOMEM;
		goto fail;
	}
	err = mem_read(r, data, raw, length * kind);
	if (err)
		goto fail;
	for (int64_t i = 0; i < length; i++) {
		uint32_t cp;

		if (kind == 1) {
			cp = raw[i];
		} else if (kind == 2) {
			uint16_t u;

			memcpy(&u, raw + i * 2, 2);
			cp = u;
		} else {
			memcpy(&cp, raw + i * 4, 4);
		}
		if (STATE_ASCII(state) && cp > 0x7f) {
			err = -EINVAL;
			goto fail;
		}
		/* NUL would cut the name short; other control characters would break the lines
		 * of the folded profiles (and logs) the name ends up in */
		if (cp < 0x20 || cp == 0x7f)
			cp = 0xfffd;
		o += utf8_put(cp, out + o);
	}
	out[o] = '\0';
	free(raw);
	*ret = out;
	return 0;
fail:
	free(raw);
	free(out);
	return err;
}

int pyobj__read_bytes(const struct mem_reader *r, const struct py_offsets *off, uint64_t addr,
		      size_t max, uint8_t **ret, size_t *ret_len)
{
	int64_t size;
	uint8_t *buf;
	int err;

	if (!addr || off->bytes_size == PYOFF_NONE || off->bytes_sval == PYOFF_NONE)
		return -EINVAL;
	err = mem_read(r, addr + off->bytes_size, &size, sizeof(size));
	if (err)
		return err;
	if (size < 0 || (uint64_t)size > max)
		return -E2BIG;
	buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	err = mem_read(r, addr + off->bytes_sval, buf, size);
	if (err) {
		free(buf);
		return err;
	}
	*ret = buf;
	*ret_len = size;
	return 0;
}

int pyobj__read_code(const struct mem_reader *r, const struct py_offsets *off, uint64_t code_type,
		     uint64_t addr, struct py_code *ret, enum pyobj_error *ret_reason)
{
	uint8_t buf[CODE_READ_MAX];
	struct py_code c = {0};
	int err;

	*ret_reason = PYOBJ_UNREADABLE;
	if (!addr)
		return -EFAULT;
	err = read_code_header(r, off, addr, buf, &c.id);
	if (err)
		return err;
	if (code_type && c.id.type != code_type) {
		*ret_reason = PYOBJ_NOT_CODE;
		return -EINVAL;
	}
	c.firstlineno = c.id.firstlineno;
	*ret_reason = PYOBJ_BAD_STRING;
	if ((err = pyobj__read_str(r, off, c.id.name, &c.name)) ||
	    (err = pyobj__read_str(r, off, c.id.filename, &c.filename)))
		goto fail;
	if (c.id.qualname && (err = pyobj__read_str(r, off, c.id.qualname, &c.qualname)))
		goto fail;
	*ret_reason = PYOBJ_BAD_LINETABLE;
	err = pyobj__read_bytes(r, off, c.id.linetable, PYOBJ_MAX_LINETABLE, &c.linetable,
				&c.linetable_len);
	if (err)
		goto fail;
	if (off->code_code_adaptive != PYOFF_NONE)
		c.code_start = addr + off->code_code_adaptive;
	*ret_reason = PYOBJ_OK;
	*ret = c;
	return 0;
fail:
	pyobj__code_free(&c);
	return err;
}

void pyobj__code_free(struct py_code *c)
{
	if (!c)
		return;
	free(c->name);
	free(c->qualname);
	free(c->filename);
	free(c->linetable);
	memset(c, 0, sizeof(*c));
}
