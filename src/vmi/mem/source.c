// SPDX-License-Identifier: MIT
/*
 * Memory sources, the generic part: detecting a whole image's kind, canonical layouts, and the
 * bounds-checked reads every other layer goes through, dispatched to the source's driver.
 *
 * A read looks the physical address up in the current layout (the last hit first, then a
 * binary search); a byte outside the ranges fails the whole read with -EFAULT before anything
 * is copied. When the driver holds the whole source mapped (m->base), the bytes are copied
 * straight out of the mapping; otherwise they come through the driver's map or pread op.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmi/mem/mem_impl.h"

static int looks_like_unsupported(const uint8_t *b, size_t len, struct vg_err *err)
{
	/* Formats QEMU's dump-guest-memory also writes; read as raw RAM they would be garbage. */
	if (len >= 8 && !memcmp(b, "KDUMP   ", 8))
		return vg_errf(err, ENOTSUP,
			       "kdump-compressed dumps are not supported (dump with format=elf)");
	if (len >= 12 && !memcmp(b, "makedumpfile", 12))
		return vg_errf(err, ENOTSUP, "flattened makedumpfile dumps are not supported");
	if (len >= 8 && !memcmp(b, "PAGEDU64", 8))
		return vg_errf(err, ENOTSUP, "Windows crash dumps are not supported");
	return 0;
}

static int parse(struct vg_mem *m, enum vg_mem_kind kind, struct vg_err *err)
{
	uint32_t magic = 0;
	int ret;

	if (kind == VG_MEM_DETECT) {
		if (m->len >= 4)
			memcpy(&magic, m->base, 4);
		if (m->len >= 4 && !memcmp(m->base,
					   "\x7f"
					   "ELF",
					   4))
			kind = VG_MEM_ELFCORE;
		else if (m->len >= 4 && le32toh(magic) == VG_LIME_MAGIC)
			kind = VG_MEM_LIME;
		else if ((ret = looks_like_unsupported(m->base, m->len, err)))
			return ret;
		else
			kind = VG_MEM_RAW;
	}
	m->kind = kind;
	switch (kind) {
	case VG_MEM_RAW:
		return vg_mem_raw_parse(m, err);
	case VG_MEM_ELFCORE:
		return vg_mem_elfcore_parse(m, err);
	case VG_MEM_LIME:
		return vg_mem_lime_parse(m, err);
	default:
		return vg_errf(err, EINVAL, "unknown memory source kind %d", (int)kind);
	}
}

struct vg_mem *vg_mem_new(const struct vg_mem_ops *ops, void *priv, const char *name, uint64_t size)
{
	struct vg_mem *m = calloc(1, sizeof(*m));

	if (m)
		m->path = strdup(name);
	if (!m || !m->path) {
		free(m);
		if (ops->close)
			ops->close(priv);
		return NULL;
	}
	m->ops = ops;
	m->priv = priv;
	m->size = size;
	return m;
}

int vg_mem_parse_image(struct vg_mem **out, struct vg_mem *m, enum vg_mem_kind kind,
		       struct vg_err *err)
{
	int ret = parse(m, kind, err);

	if (!ret && m->nlayouts == 0)
		ret = vg_errf(err, EINVAL, "no memory ranges");
	if (!ret && m->layouts[0].n == 0)
		ret = vg_errf(err, EINVAL, "the file describes no RAM");
	if (ret) {
		vg_err_prefix(err, "%s", m->path);
		vg_mem_close(m);
		return ret;
	}
	*out = m;
	return 0;
}

/* A caller's buffer: everything is in base already. */
static int buf_pread(void *priv, uint64_t off, void *buf, size_t len)
{
	const struct vg_mem *m = priv;

	if (off > m->len || len > m->len - off)
		return -EFAULT;
	memcpy(buf, m->base + off, len);
	return 0;
}

static const struct vg_mem_ops buffer_ops = { .name = "buffer", .pread = buf_pread };

int vg_mem_open_buffer(struct vg_mem **out, const void *buf, size_t len, struct vg_err *err)
{
	struct vg_mem *m;

	if (!out || (!buf && len))
		return vg_errf(err, EINVAL, "invalid arguments");
	*out = NULL;
	if (!len)
		return vg_errf(err, EINVAL, "buffer: empty");
	m = vg_mem_new(&buffer_ops, NULL, "buffer", len);
	if (!m)
		return vg_errf(err, ENOMEM, "out of memory");
	m->priv = m;
	m->base = buf;
	m->len = len;
	return vg_mem_parse_image(out, m, VG_MEM_DETECT, err);
}

int vg_mem_open_kind(struct vg_mem **out, const char *path, enum vg_mem_kind kind,
		     struct vg_err *err)
{
	if (!out || !path)
		return vg_errf(err, EINVAL, "invalid arguments");
	*out = NULL;
	return vg_mem_file_open(out, path, kind, err);
}

int vg_mem_open(struct vg_mem **out, const char *path, struct vg_err *err)
{
	return vg_mem_open_kind(out, path, VG_MEM_DETECT, err);
}

void vg_mem_close(struct vg_mem *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->nlayouts; i++)
		free(m->layouts[i].r);
	if (m->ops && m->ops->close)
		m->ops->close(m->priv);
	free(m->path);
	free(m);
}

enum vg_mem_kind vg_mem_kind(const struct vg_mem *m)
{
	return m->kind;
}

const char *vg_mem_kind_name(const struct vg_mem *m)
{
	switch (m->kind) {
	case VG_MEM_RAW:
		return "raw";
	case VG_MEM_ELFCORE:
		return "elf-core";
	case VG_MEM_LIME:
		return "lime";
	default:
		return "unknown";
	}
}

size_t vg_mem_nranges(const struct vg_mem *m)
{
	return m->layouts[m->cur].n;
}

const struct vg_mem_range *vg_mem_ranges(const struct vg_mem *m)
{
	return m->layouts[m->cur].r;
}

uint64_t vg_mem_total(const struct vg_mem *m)
{
	return m->layouts[m->cur].total;
}

int vg_mem_layout_count(const struct vg_mem *m)
{
	return m->nlayouts;
}

int vg_mem_set_layout(struct vg_mem *m, int idx)
{
	if (idx < 0 || idx >= m->nlayouts)
		return -EINVAL;
	m->cur = idx;
	m->hint = 0;
	return 0;
}

const char *vg_mem_layout_name(const struct vg_mem *m, int idx)
{
	if (idx < 0 || idx >= m->nlayouts)
		return NULL;
	return m->layouts[idx].name;
}

/* Index of the range holding PA, or (size_t)-1. */
static size_t lookup(struct vg_mem *m, uint64_t pa)
{
	const struct vg_mem_layout *l = &m->layouts[m->cur];
	size_t lo = 0, hi = l->n;

	if (m->hint < l->n && pa - l->r[m->hint].start < l->r[m->hint].size)
		return m->hint;
	/* First range whose start is above pa; the candidate is the one before it. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->r[mid].start <= pa)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || pa - l->r[lo - 1].start >= l->r[lo - 1].size)
		return (size_t)-1;
	m->hint = lo - 1;
	return lo - 1;
}

static const uint8_t *ptr(struct vg_mem *m, uint64_t pa, size_t len, bool bulk)
{
	const struct vg_mem_range *r;
	size_t i = lookup(m, pa);
	uint64_t off;

	if (i == (size_t)-1)
		return NULL;
	r = &m->layouts[m->cur].r[i];
	if (len > r->size - (pa - r->start))
		return NULL;
	off = r->file_off + (pa - r->start);
	if (m->base && !bulk)
		return m->base + off;
	if (m->ops->map)
		return m->ops->map(m->priv, off, len, bulk);
	return m->base ? m->base + off : NULL;
}

const uint8_t *vg_mem_ptr(struct vg_mem *m, uint64_t pa, size_t len)
{
	return ptr(m, pa, len, false);
}

const uint8_t *vg_mem_ptr_bulk(struct vg_mem *m, uint64_t pa, size_t len)
{
	return ptr(m, pa, len, true);
}

/* LEN bytes at driver offset OFF into OUT. */
static int fetch(struct vg_mem *m, uint64_t off, void *out, size_t len)
{
	const uint8_t *p;

	if (m->base) {
		memcpy(out, m->base + off, len);
		return 0;
	}
	if (m->ops->map && (p = m->ops->map(m->priv, off, len, false))) {
		memcpy(out, p, len);
		return 0;
	}
	return m->ops->pread(m->priv, off, out, len);
}

int vg_mem_read(struct vg_mem *m, uint64_t pa, void *buf, size_t len)
{
	const struct vg_mem_layout *l = &m->layouts[m->cur];
	const struct vg_mem_range *r;
	uint64_t avail, need;
	size_t i = lookup(m, pa), j;
	uint8_t *out = buf;
	int ret;

	if (i == (size_t)-1)
		return -EFAULT;
	r = &l->r[i];
	avail = r->size - (pa - r->start);
	if (!len)
		return 0;
	if (len <= avail)
		return fetch(m, r->file_off + (pa - r->start), buf, len);
	/* The read runs on into the next ranges: they must follow without a physical gap (layouts
	 * are merged, so such neighbours are in different places of the file). Check everything
	 * before copying so a failed read leaves nothing half-done. */
	need = len - avail;
	for (j = i + 1; need; j++) {
		if (j >= l->n || l->r[j].start != l->r[j - 1].start + l->r[j - 1].size)
			return -EFAULT;
		need = need > l->r[j].size ? need - l->r[j].size : 0;
	}
	ret = fetch(m, r->file_off + (pa - r->start), out, avail);
	out += avail;
	need = len - avail;
	for (j = i + 1; need && !ret; j++) {
		uint64_t n = need < l->r[j].size ? need : l->r[j].size;

		ret = fetch(m, l->r[j].file_off, out, n);
		out += n;
		need -= n;
	}
	return ret;
}

int vg_mem_scan(struct vg_mem *m, size_t chunk, size_t overlap, vg_mem_scan_fn fn, void *ctx)
{
	const struct vg_mem_layout *l = &m->layouts[m->cur];
	uint8_t *buf = NULL;
	int ret = 0;

	if (!chunk)
		return -EINVAL;
	if (m->ops->pread != buf_pread) {
		buf = malloc(chunk + overlap);
		if (!buf)
			return -ENOMEM;
	}
	for (size_t i = 0; i < l->n && !ret; i++) {
		const struct vg_mem_range *r = &l->r[i];

		for (uint64_t off = 0; off < r->size && !ret; off += chunk) {
			size_t n =
				r->size - off < chunk + overlap ? r->size - off : chunk + overlap;

			if (!buf) {
				ret = fn(ctx, r->start + off, m->base + r->file_off + off, n);
				continue;
			}
			ret = m->ops->pread(m->priv, r->file_off + off, buf, n);
			if (!ret)
				ret = fn(ctx, r->start + off, buf, n);
		}
	}
	free(buf);
	return ret;
}

int vg_mem_cpu_state(const struct vg_mem *m, struct vg_cpu_state *out)
{
	if (!m->cpu.valid)
		return -ENOENT;
	*out = m->cpu;
	return 0;
}

int vg_mem_cpu_count(const struct vg_mem *m)
{
	return m->ncpus;
}

const char *vg_mem_path(const struct vg_mem *m)
{
	return m->path;
}

uint64_t vg_mem_size(const struct vg_mem *m)
{
	return m->size;
}

int vg_mem_ident(const struct vg_mem *m, char *buf, size_t len)
{
	if (m->ops->ident)
		return m->ops->ident(m->priv, buf, len);
	return -ENOTSUP;
}

int vg_mem_check(struct vg_mem *m)
{
	return m->ops->check ? m->ops->check(m->priv) : 0;
}

int vg_mem_live(struct vg_mem *m)
{
	return m->ops->live ? m->ops->live(m->priv) : -ENOTSUP;
}
