// SPDX-License-Identifier: MIT
/*
 * Broker messages (see broker.h): little-endian building and bounds-checked reading, the
 * request decoder the server runs on every client message, and the OPEN reply both sides
 * share. Both directions are untrusted to the receiver: a client may be rogue, a broker's host
 * may be compromised, so every count and size is bounded before it is used.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/broker.h"

uint8_t *vg_bbuf_grow(struct vg_bbuf *b, size_t n)
{
	if (b->err)
		return NULL;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *p;

		while (cap - b->len < n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->err = -ENOMEM;
			return NULL;
		}
		b->p = p;
		b->cap = cap;
	}
	b->len += n;
	return b->p + b->len - n;
}

void vg_bbuf_bytes(struct vg_bbuf *b, const void *p, size_t n)
{
	uint8_t *d = vg_bbuf_grow(b, n);

	if (d && n)
		memcpy(d, p, n);
}

static void put_le(struct vg_bbuf *b, uint64_t v, int n)
{
	uint8_t *d = vg_bbuf_grow(b, (size_t)n);

	for (int i = 0; d && i < n; i++)
		d[i] = (uint8_t)(v >> (8 * i));
}

void vg_bbuf_u8(struct vg_bbuf *b, uint8_t v)
{
	put_le(b, v, 1);
}

void vg_bbuf_u16(struct vg_bbuf *b, uint16_t v)
{
	put_le(b, v, 2);
}

void vg_bbuf_u32(struct vg_bbuf *b, uint32_t v)
{
	put_le(b, v, 4);
}

void vg_bbuf_u64(struct vg_bbuf *b, uint64_t v)
{
	put_le(b, v, 8);
}

void vg_bbuf_free(struct vg_bbuf *b)
{
	free(b->p);
	*b = (struct vg_bbuf){ 0 };
}

const uint8_t *vg_brd_bytes(struct vg_brd *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || n > r->len - r->pos) {
		r->bad = true;
		return NULL;
	}
	p = r->p + r->pos;
	r->pos += n;
	return p;
}

static uint64_t get_le(struct vg_brd *r, int n)
{
	const uint8_t *p = vg_brd_bytes(r, (size_t)n);
	uint64_t v = 0;

	for (int i = 0; p && i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint8_t vg_brd_u8(struct vg_brd *r)
{
	return (uint8_t)get_le(r, 1);
}

uint16_t vg_brd_u16(struct vg_brd *r)
{
	return (uint16_t)get_le(r, 2);
}

uint32_t vg_brd_u32(struct vg_brd *r)
{
	return (uint32_t)get_le(r, 4);
}

uint64_t vg_brd_u64(struct vg_brd *r)
{
	return get_le(r, 8);
}

bool vg_broker_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > VG_BROKER_MAX_NAME || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int vg_broker_req_decode(const uint8_t *msg, size_t len, struct vg_broker_req *req,
			 struct vg_broker_extent *ext, struct vg_err *err)
{
	struct vg_brd r = { .p = msg, .len = len };
	const uint8_t *name;
	uint8_t nlen;

	memset(req, 0, sizeof(*req));
	req->op = vg_brd_u8(&r);
	switch (req->op) {
	case VG_BR_OPEN:
		nlen = vg_brd_u8(&r);
		name = vg_brd_bytes(&r, nlen);
		if (!name || !vg_broker_name_ok((const char *)name, nlen))
			return vg_errf(err, EPROTO, "OPEN: bad guest name");
		memcpy(req->name, name, nlen);
		req->name[nlen] = '\0';
		break;
	case VG_BR_READ:
		req->n = vg_brd_u32(&r);
		if (r.bad || req->n == 0 || req->n > VG_BROKER_MAX_EXTENTS)
			return vg_errf(err, EPROTO, "READ: %u extents (1 to %d allowed)", req->n,
				       VG_BROKER_MAX_EXTENTS);
		/* the message must hold exactly n extents before any is looked at */
		if (len - r.pos != (size_t)req->n * 12)
			return vg_errf(err, EPROTO, "READ: %zu bytes for %u extents", len - r.pos,
				       req->n);
		for (uint32_t i = 0; i < req->n; i++) {
			ext[i].off = vg_brd_u64(&r);
			ext[i].len = vg_brd_u32(&r);
			if (ext[i].len == 0 || ext[i].len > VG_BROKER_MAX_READ)
				return vg_errf(err, EPROTO, "READ: extent of %u bytes", ext[i].len);
			req->total += ext[i].len;
			if (req->total > VG_BROKER_MAX_READ)
				return vg_errf(err, EPROTO, "READ: more than %u bytes asked",
					       VG_BROKER_MAX_READ);
		}
		break;
	case VG_BR_CHECK:
	case VG_BR_LIVE:
		break;
	default:
		return vg_errf(err, EPROTO, "unknown request %u", req->op);
	}
	if (r.bad || r.pos != len)
		return vg_errf(err, EPROTO, "malformed request %u", req->op);
	return 0;
}

void vg_broker_reply_err(struct vg_bbuf *b, uint8_t op, int code, const char *msg)
{
	size_t n = strlen(msg);

	if (n > 1024)
		n = 1024;
	vg_bbuf_u8(b, op);
	vg_bbuf_u32(b, (uint32_t)-code);
	vg_bbuf_u16(b, (uint16_t)n);
	vg_bbuf_bytes(b, msg, n);
}

void vg_broker_info_encode(struct vg_bbuf *b, const struct vg_mem *m)
{
	struct vg_cpu_state cpu = { 0 };
	int nl = vg_mem_layout_count(m);

	if (nl > VG_BROKER_MAX_LAYOUTS)
		nl = VG_BROKER_MAX_LAYOUTS;
	vg_bbuf_u8(b, VG_BR_OPEN);
	vg_bbuf_u32(b, 0);
	vg_bbuf_u8(b, (uint8_t)vg_mem_kind(m));
	vg_bbuf_u64(b, vg_mem_size(m));
	vg_bbuf_u8(b, (uint8_t)nl);
	for (int i = 0; i < nl; i++) {
		const struct vg_mem_range *r;
		const char *name = vg_mem_layout_name(m, i);
		size_t n = 0, nlen = strlen(name);

		vg_mem_layout_set_of(m, i, &r, &n);
		vg_bbuf_u8(b, (uint8_t)nlen);
		vg_bbuf_bytes(b, name, nlen);
		vg_bbuf_u8(b, (uint8_t)vg_mem_layout_arch(m, i));
		vg_bbuf_u32(b, (uint32_t)n);
		for (size_t k = 0; k < n; k++) {
			vg_bbuf_u64(b, r[k].start);
			vg_bbuf_u64(b, r[k].size);
			vg_bbuf_u64(b, r[k].file_off);
		}
	}
	vg_mem_cpu_state(m, &cpu);
	vg_bbuf_u8(b, (uint8_t)cpu.valid);
	vg_bbuf_u64(b, cpu.cr0);
	vg_bbuf_u64(b, cpu.cr3);
	vg_bbuf_u64(b, cpu.cr4);
	vg_bbuf_u32(b, (uint32_t)vg_mem_cpu_count(m));
}

void vg_broker_info_free(struct vg_broker_info *info)
{
	for (int i = 0; i < VG_BROKER_MAX_LAYOUTS; i++)
		free(info->layouts[i].r);
	memset(info, 0, sizeof(*info));
}

static int decode_layout(struct vg_brd *r, struct vg_broker_info *info, struct vg_broker_layout *l,
			 struct vg_err *err)
{
	uint8_t nlen = vg_brd_u8(r);
	const uint8_t *name = vg_brd_bytes(r, nlen);
	uint32_t n;

	if (!name || nlen == 0 || nlen >= sizeof(l->name))
		return vg_errf(err, EPROTO, "bad layout name");
	memcpy(l->name, name, nlen);
	l->arch = (enum vg_arch)vg_brd_u8(r);
	if (l->arch != VG_ARCH_ANY && l->arch != VG_ARCH_X86_64 && l->arch != VG_ARCH_ARM64)
		return vg_errf(err, EPROTO, "layout %s: unknown architecture", l->name);
	n = vg_brd_u32(r);
	/* each range takes 24 bytes: a count the message cannot hold is refused before malloc */
	if (r->bad || n == 0 || n > (1u << 16) || (size_t)n * 24 > r->len - r->pos)
		return vg_errf(err, EPROTO, "layout %s: %u ranges", l->name, n);
	l->r = calloc(n, sizeof(*l->r));
	if (!l->r)
		return vg_errf(err, ENOMEM, "out of memory");
	l->n = n;
	for (uint32_t i = 0; i < n; i++) {
		struct vg_mem_range *x = &l->r[i];

		x->start = vg_brd_u64(r);
		x->size = vg_brd_u64(r);
		x->file_off = vg_brd_u64(r);
		if (!x->size || x->file_off > info->size || x->size > info->size - x->file_off ||
		    x->start + x->size < x->start)
			return vg_errf(err, EPROTO, "layout %s: range %u lies outside the file",
				       l->name, i);
	}
	return 0;
}

int vg_broker_info_decode(struct vg_brd *r, struct vg_broker_info *info, struct vg_err *err)
{
	int ret;

	memset(info, 0, sizeof(*info));
	info->kind = (enum vg_mem_kind)vg_brd_u8(r);
	info->size = vg_brd_u64(r);
	info->nlayouts = vg_brd_u8(r);
	if (r->bad || info->kind < VG_MEM_RAW || info->kind > VG_MEM_LIME || info->size == 0 ||
	    info->nlayouts < 1 || info->nlayouts > VG_BROKER_MAX_LAYOUTS)
		return vg_errf(err, EPROTO, "malformed guest description");
	for (int i = 0; i < info->nlayouts; i++) {
		ret = decode_layout(r, info, &info->layouts[i], err);
		if (ret) {
			vg_broker_info_free(info);
			return ret;
		}
	}
	info->cpu.valid = vg_brd_u8(r) == 1;
	info->cpu.cr0 = vg_brd_u64(r);
	info->cpu.cr3 = vg_brd_u64(r);
	info->cpu.cr4 = vg_brd_u64(r);
	info->ncpus = vg_brd_u32(r);
	if (r->bad || r->pos != r->len || info->ncpus > 65536) {
		vg_broker_info_free(info);
		return vg_errf(err, EPROTO, "malformed guest description");
	}
	return 0;
}
