// SPDX-License-Identifier: MIT
/* Batch encoder (format in include/vigil/sysbatch.h): a growing buffer of LEB128 fields. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/sysbatch.h"

static void reserve(struct vg_sb_enc *e, size_t n)
{
	size_t cap = e->cap ? e->cap : 4096;
	uint8_t *p;

	if (e->oom || e->len + n <= e->cap)
		return;
	while (cap < e->len + n)
		cap *= 2;
	p = realloc(e->buf, cap);
	if (!p) {
		e->oom = 1;
		return;
	}
	e->buf = p;
	e->cap = cap;
}

static void put_bytes(struct vg_sb_enc *e, const void *p, size_t n)
{
	reserve(e, n);
	if (e->oom)
		return;
	memcpy(e->buf + e->len, p, n);
	e->len += n;
}

static void put_u8(struct vg_sb_enc *e, uint8_t v)
{
	put_bytes(e, &v, 1);
}

static void put_le(struct vg_sb_enc *e, uint64_t v, int n)
{
	uint8_t b[8];

	for (int i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put_bytes(e, b, (size_t)n);
}

static void put_var(struct vg_sb_enc *e, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;

	do {
		b[n] = v & 0x7f;
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	put_bytes(e, b, n);
}

void vg_sb_enc_begin(struct vg_sb_enc *e, const char *device, uint64_t boot, uint64_t seq,
		     int64_t t_us, uint16_t flags)
{
	char dev[VG_SB_DEVICE_MAX] = { 0 };

	e->len = 0;
	e->oom = 0;
	memcpy(dev, device, strnlen(device, sizeof(dev) - 1));
	put_le(e, VG_SB_MAGIC_BATCH, 4);
	put_le(e, VG_SB_VERSION, 2);
	put_le(e, flags, 2);
	put_le(e, boot, 8);
	put_le(e, seq, 8);
	put_le(e, (uint64_t)t_us, 8);
	put_bytes(e, dev, sizeof(dev));
}

void vg_sb_enc_module(struct vg_sb_enc *e, const struct vg_sb_module *m)
{
	size_t idlen = m->idlen > VG_SB_ID_MAX ? VG_SB_ID_MAX : m->idlen;
	size_t nl = m->namelen > VG_SB_NAME_MAX ? VG_SB_NAME_MAX : m->namelen;

	put_u8(e, VG_SB_T_MODULE);
	put_var(e, m->id);
	put_var(e, m->idkind);
	put_var(e, idlen);
	put_bytes(e, m->ident, idlen);
	put_var(e, nl);
	put_bytes(e, m->name, nl);
}

static void put_loc(struct vg_sb_enc *e, const struct vg_sb_loc *l, int word)
{
	put_var(e, l->kind);
	if (word)
		put_var(e, l->word);
	put_var(e, l->module);
	put_var(e, l->off);
}

void vg_sb_enc_token(struct vg_sb_enc *e, const struct vg_sb_token *t)
{
	uint8_t n = t->ncand > VG_SB_MAX_CAND ? VG_SB_MAX_CAND : t->ncand;

	put_u8(e, VG_SB_T_TOKEN);
	put_var(e, t->id);
	put_var(e, t->nr);
	put_var(e, t->argkey);
	put_var(e, t->pathhash);
	put_var(e, t->unres);
	put_loc(e, &t->ip, 0);
	put_var(e, n);
	for (uint8_t i = 0; i < n; i++)
		put_loc(e, &t->cand[i], 1);
}

void vg_sb_enc_proc(struct vg_sb_enc *e, uint32_t pid, uint32_t ppid, uint32_t ptid)
{
	put_u8(e, VG_SB_T_PROC);
	put_var(e, pid);
	put_var(e, ppid);
	put_var(e, ptid);
}

void vg_sb_enc_thread(struct vg_sb_enc *e, uint32_t tid, uint32_t pid, uint32_t creator)
{
	put_u8(e, VG_SB_T_THREAD);
	put_var(e, tid);
	put_var(e, pid);
	put_var(e, creator);
}

void vg_sb_enc_exec(struct vg_sb_enc *e, uint32_t pid, uint32_t module, const char *path)
{
	size_t n = strnlen(path, VG_SB_NAME_MAX);

	put_u8(e, VG_SB_T_EXEC);
	put_var(e, pid);
	put_var(e, module);
	put_var(e, n);
	put_bytes(e, path, n);
}

void vg_sb_enc_exit(struct vg_sb_enc *e, uint32_t pid)
{
	put_u8(e, VG_SB_T_EXIT);
	put_var(e, pid);
}

void vg_sb_enc_events(struct vg_sb_enc *e, uint32_t tid, uint32_t nitems)
{
	put_u8(e, VG_SB_T_EVENTS);
	put_var(e, tid);
	put_var(e, nitems);
}

void vg_sb_enc_item(struct vg_sb_enc *e, uint64_t item)
{
	put_var(e, item);
}

void vg_sb_enc_gap(struct vg_sb_enc *e, uint32_t tid, uint64_t count)
{
	put_u8(e, VG_SB_T_GAP);
	put_var(e, tid);
	put_var(e, count);
}

void vg_sb_enc_stats(struct vg_sb_enc *e, uint64_t observed, uint64_t dropped)
{
	put_u8(e, VG_SB_T_STATS);
	put_var(e, observed);
	put_var(e, dropped);
}

void vg_sb_enc_raw(struct vg_sb_enc *e, const void *p, size_t n)
{
	put_bytes(e, p, n);
}

int vg_sb_enc_status(const struct vg_sb_enc *e)
{
	return e->oom ? -ENOMEM : 0;
}

void vg_sb_enc_free(struct vg_sb_enc *e)
{
	free(e->buf);
	memset(e, 0, sizeof(*e));
}
