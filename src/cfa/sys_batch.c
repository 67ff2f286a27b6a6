// SPDX-License-Identifier: MIT
/*
 * Batch decoder (format in include/vigil/sysbatch.h). The batch comes from a device and is
 * hostile: every varint is at most ten bytes and must fit its field, every length is checked
 * against what is left, repeats may only refer to events of their own record, and counts are
 * capped so that no decoded number can overflow a total. Fuzzed by tests/fuzz/fuzz_sysbatch.c.
 */
#include <errno.h>
#include <string.h>

#include "vigil/sysbatch.h"

#define MAX_COUNT (1ull << 40) /* events one repeat or gap may stand for */

struct rd {
	const uint8_t *p;
	size_t len, off;
	int bad;
};

static uint64_t get_var(struct rd *r, uint64_t max)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 70; shift += 7) {
		uint8_t b;

		if (r->off >= r->len) {
			r->bad = 1;
			return 0;
		}
		b = r->p[r->off++];
		if (shift == 63 && b > 1) {
			r->bad = 1;
			return 0;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			if (v > max)
				r->bad = 1;
			return v;
		}
	}
	r->bad = 1;
	return 0;
}

static const uint8_t *get_bytes(struct rd *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || n > r->len - r->off) {
		r->bad = 1;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int vg_sb_parse_hdr(const uint8_t *buf, size_t len, struct vg_sb_hdr *h, struct vg_err *err)
{
	if (len < VG_SB_HDR_LEN || le(buf, 4) != VG_SB_MAGIC_BATCH)
		return vg_errf(err, EBADMSG, "batch: no batch header");
	h->version = (uint16_t)le(buf + 4, 2);
	if (h->version != VG_SB_VERSION)
		return vg_errf(err, EBADMSG, "batch: unknown version %u", h->version);
	h->flags = (uint16_t)le(buf + 6, 2);
	h->boot = le(buf + 8, 8);
	h->seq = le(buf + 16, 8);
	h->t_us = (int64_t)le(buf + 24, 8);
	if (!memchr(buf + 32, 0, VG_SB_DEVICE_MAX))
		return vg_errf(err, EBADMSG, "batch: device id is not terminated");
	memcpy(h->device, buf + 32, VG_SB_DEVICE_MAX);
	h->device[VG_SB_DEVICE_MAX] = 0;
	return 0;
}

static void get_loc(struct rd *r, struct vg_sb_loc *l, int word)
{
	l->kind = (uint8_t)get_var(r, VG_SB_K_DATA);
	l->word = word ? (uint8_t)get_var(r, VG_SB_WINDOW - 1) : 0;
	l->module = (uint32_t)get_var(r, UINT32_MAX);
	l->off = get_var(r, UINT64_MAX);
}

static int rec_module(struct rd *r, const struct vg_sb_visitor *v, void *ctx)
{
	struct vg_sb_module m = { 0 };
	const uint8_t *p;

	m.id = (uint32_t)get_var(r, UINT32_MAX);
	m.idkind = (uint8_t)get_var(r, VG_SB_ID_HASH);
	m.idlen = (uint8_t)get_var(r, VG_SB_ID_MAX);
	p = get_bytes(r, m.idlen);
	if (p)
		memcpy(m.ident, p, m.idlen);
	m.namelen = (size_t)get_var(r, VG_SB_NAME_MAX);
	m.name = (const char *)get_bytes(r, m.namelen);
	if (r->bad)
		return 0;
	return v->module ? v->module(ctx, &m) : 0;
}

static int rec_token(struct rd *r, const struct vg_sb_visitor *v, void *ctx)
{
	struct vg_sb_token t = { 0 };

	t.id = (uint32_t)get_var(r, UINT32_MAX);
	t.nr = (uint32_t)get_var(r, UINT32_MAX);
	t.argkey = (uint32_t)get_var(r, UINT32_MAX);
	t.pathhash = (uint32_t)get_var(r, UINT32_MAX);
	t.unres = (uint32_t)get_var(r, UINT32_MAX);
	get_loc(r, &t.ip, 0);
	t.ncand = (uint8_t)get_var(r, VG_SB_MAX_CAND);
	for (uint8_t i = 0; i < t.ncand && !r->bad; i++)
		get_loc(r, &t.cand[i], 1);
	if (r->bad)
		return 0;
	return v->token ? v->token(ctx, &t) : 0;
}

#define MAX_EVENTS (1ull << 52) /* events one record may stand for, expanded */

/* The last items of a record, for groups: what each adds and whether it is a group. */
struct item_hist {
	uint64_t events[VG_SB_MAX_PERIOD];
	uint32_t need[VG_SB_MAX_PERIOD]; /* events a repeat reaches back over */
	bool group[VG_SB_MAX_PERIOD];
	uint64_t n;
};

static void hist_push(struct item_hist *h, uint64_t events, uint32_t need, bool group)
{
	h->events[h->n % VG_SB_MAX_PERIOD] = events;
	h->need[h->n % VG_SB_MAX_PERIOD] = need;
	h->group[h->n % VG_SB_MAX_PERIOD] = group;
	h->n++;
}

static int rec_events(struct rd *r, const struct vg_sb_visitor *v, void *ctx)
{
	uint32_t tid = (uint32_t)get_var(r, UINT32_MAX);
	/* every item takes at least one byte: a count beyond the rest is a lie */
	uint64_t n = get_var(r, r->len - r->off), seen = 0; /* events so far, expanded */
	struct item_hist h = { .n = 0 };
	int rc;

	if (r->bad)
		return 0;
	if (v->events && (rc = v->events(ctx, tid)))
		return rc;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t it = get_var(r, UINT64_MAX), count = VG_SB_ITEM_COUNT(it), add;
		uint32_t len = VG_SB_ITEM_LEN(it);

		if (r->bad)
			return 0;
		switch (VG_SB_ITEM_KIND(it)) {
		case 0:
			if ((it >> 1) > UINT32_MAX) {
				r->bad = 1;
				return 0;
			}
			seen++;
			hist_push(&h, 1, 0, false);
			if (v->event && (rc = v->event(ctx, (uint32_t)(it >> 1))))
				return rc;
			continue;
		case 1:
			if (len > seen || !count || count > MAX_COUNT) {
				r->bad = 1;
				return 0;
			}
			add = len * count;
			seen += add;
			hist_push(&h, add, len, false);
			if (v->repeat && (rc = v->repeat(ctx, len, count)))
				return rc;
			break;
		default: {
			/* a group: LEN earlier items, none a group, each repeat inside them */
			uint64_t group = 0;

			if (len > h.n || !count || count > MAX_COUNT) {
				r->bad = 1;
				return 0;
			}
			/* oldest first: a repeat may only reach back over the group's events */
			for (uint32_t k = len; k >= 1; k--) {
				uint32_t at = (uint32_t)((h.n - k) % VG_SB_MAX_PERIOD);

				if (h.group[at] || h.need[at] > group) {
					r->bad = 1;
					return 0;
				}
				group += h.events[at];
			}
			if (group > MAX_EVENTS / count) {
				r->bad = 1;
				return 0;
			}
			add = group * count;
			seen += add;
			hist_push(&h, add, 0, true);
			if (v->group && (rc = v->group(ctx, len, count)))
				return rc;
		}
		}
		if (seen > MAX_EVENTS) {
			r->bad = 1;
			return 0;
		}
	}
	return 0;
}

int vg_sb_parse(const uint8_t *buf, size_t len, const struct vg_sb_visitor *v, void *ctx,
		struct vg_err *err)
{
	struct rd r = { .p = buf, .len = len, .off = VG_SB_HDR_LEN };
	int rc = 0;

	if (len < VG_SB_HDR_LEN || len > VG_SB_MAX_BATCH)
		return vg_errf(err, EBADMSG, "batch: %zu bytes is not a batch's size", len);
	while (r.off < r.len && !rc && !r.bad) {
		size_t at = r.off;
		uint8_t tag = r.p[r.off++];
		uint32_t a, b, c;
		const char *path;
		size_t n;

		switch (tag) {
		case VG_SB_T_MODULE:
			rc = rec_module(&r, v, ctx);
			break;
		case VG_SB_T_TOKEN:
			rc = rec_token(&r, v, ctx);
			break;
		case VG_SB_T_PROC:
		case VG_SB_T_THREAD:
			a = (uint32_t)get_var(&r, UINT32_MAX);
			b = (uint32_t)get_var(&r, UINT32_MAX);
			c = (uint32_t)get_var(&r, UINT32_MAX);
			if (r.bad)
				break;
			if (tag == VG_SB_T_PROC && v->proc)
				rc = v->proc(ctx, a, b, c);
			else if (tag == VG_SB_T_THREAD && v->thread)
				rc = v->thread(ctx, a, b, c);
			break;
		case VG_SB_T_EXEC:
			a = (uint32_t)get_var(&r, UINT32_MAX);
			b = (uint32_t)get_var(&r, UINT32_MAX);
			n = (size_t)get_var(&r, VG_SB_NAME_MAX);
			path = (const char *)get_bytes(&r, n);
			if (!r.bad && v->exec)
				rc = v->exec(ctx, a, b, path, n);
			break;
		case VG_SB_T_EXIT:
			a = (uint32_t)get_var(&r, UINT32_MAX);
			if (!r.bad && v->exit)
				rc = v->exit(ctx, a);
			break;
		case VG_SB_T_EVENTS:
			rc = rec_events(&r, v, ctx);
			break;
		case VG_SB_T_GAP: {
			uint64_t cnt;

			a = (uint32_t)get_var(&r, UINT32_MAX);
			cnt = get_var(&r, MAX_COUNT);
			if (!r.bad && v->gap)
				rc = v->gap(ctx, a, cnt);
			break;
		}
		case VG_SB_T_STATS: {
			uint64_t obs = get_var(&r, UINT64_MAX), drop = get_var(&r, UINT64_MAX);

			if (!r.bad && v->stats)
				rc = v->stats(ctx, obs, drop);
			break;
		}
		default:
			return vg_errf(err, EBADMSG, "batch: unknown record tag %u at offset %zu",
				       tag, at);
		}
		if (r.bad)
			return vg_errf(err, EBADMSG,
				       "batch: malformed record (tag %u) at offset %zu", tag, at);
	}
	return rc;
}
