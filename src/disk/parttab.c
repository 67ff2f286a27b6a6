// SPDX-License-Identifier: MIT
/*
 * MBR and GPT partition tables, as Linux numbers them (vda1..4 primary, 5.. logical; GPT by
 * entry slot). A table is guest data: every entry must lie inside the disk, the extended
 * partition chain is bounded and must stay inside its container, GPT sizes are checked before
 * anything is read, and both GPT CRCs must hold (else the backup header is tried, then the
 * MBR's own entries).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "vigil/disk.h"

#define MAX_EBR 128
#define GPT_MAX_ENTRIES 1024
#define GPT_MAX_ARRAY (1u << 20)

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void add(struct vg_part_table *t, int number, uint64_t start, uint64_t size,
		const char *scheme, const char *type, const char *name, uint64_t disk)
{
	struct vg_part *p;

	if (t->n >= VG_PART_MAX || !size || start >= disk || size > disk - start)
		return;
	p = &t->v[t->n++];
	memset(p, 0, sizeof(*p));
	p->number = number;
	p->start = start;
	p->size = size;
	snprintf(p->scheme, sizeof(p->scheme), "%s", scheme);
	snprintf(p->type, sizeof(p->type), "%s", type);
	snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
}

static bool is_extended(uint8_t type)
{
	return type == 0x05 || type == 0x0f || type == 0x85;
}

/* Logical partitions: each EBR holds one partition (relative to itself) and a link to the
 * next EBR (relative to the extended partition's start). */
static void scan_ebr(vg_read_fn read, void *ctx, uint64_t ext_start, uint64_t ext_size,
		     uint64_t disk, struct vg_part_table *t)
{
	uint64_t ebr = ext_start;
	uint8_t s[512];
	int number = 5;

	for (int i = 0; i < MAX_EBR; i++) {
		const uint8_t *e1 = s + 446, *e2 = s + 462;
		char type[8];
		uint64_t next;

		if (ebr < ext_start || ebr - ext_start >= ext_size || read(ctx, ebr, s, 512) ||
		    s[510] != 0x55 || s[511] != 0xaa)
			return;
		if (e1[4] && le32(e1 + 12)) {
			uint64_t start = ebr + (uint64_t)le32(e1 + 8) * 512;
			uint64_t size = (uint64_t)le32(e1 + 12) * 512;

			/* a logical partition must stay inside the extended one */
			if (start >= ext_start && start - ext_start < ext_size &&
			    size <= ext_size - (start - ext_start)) {
				snprintf(type, sizeof(type), "0x%02x", e1[4]);
				add(t, number, start, size, "mbr", type, NULL, disk);
			}
		}
		number++;
		if (!is_extended(e2[4]) || !le32(e2 + 8))
			return;
		next = ext_start + (uint64_t)le32(e2 + 8) * 512;
		if (next <= ebr)
			return; /* a chain must move forward: no loops */
		ebr = next;
	}
}

static void scan_mbr(vg_read_fn read, void *ctx, const uint8_t *s, uint64_t disk,
		     struct vg_part_table *t)
{
	for (int i = 0; i < 4; i++) {
		const uint8_t *e = s + 446 + 16 * i;
		uint64_t start = (uint64_t)le32(e + 8) * 512, size = (uint64_t)le32(e + 12) * 512;
		char type[8];

		/* 0xee is GPT's protective entry, which covers the disk and holds no file system */
		if (!e[4] || e[4] == 0xee || !size)
			continue;
		if (is_extended(e[4])) {
			if (start < disk)
				scan_ebr(read, ctx, start,
					 size > disk - start ? disk - start : size, disk, t);
			continue;
		}
		snprintf(type, sizeof(type), "0x%02x", e[4]);
		add(t, i + 1, start, size, "mbr", type, NULL, disk);
	}
}

static void guid_str(const uint8_t *g, char *out, size_t len)
{
	snprintf(out, len, "%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X", le32(g),
		 (unsigned)(g[4] | g[5] << 8), (unsigned)(g[6] | g[7] << 8), g[8], g[9], g[10],
		 g[11], g[12], g[13], g[14], g[15]);
}

static void gpt_name(const uint8_t *u16, char *out, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; i < 36 && k + 1 < len; i++) {
		unsigned c = u16[2 * i] | u16[2 * i + 1] << 8;

		if (!c)
			break;
		out[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[k] = '\0';
}

/* One GPT header at LBA (sector size SS) and its entry array; 0 when both CRCs hold. */
static int scan_gpt_at(vg_read_fn read, void *ctx, uint64_t lba, uint32_t ss, uint64_t disk,
		       struct vg_part_table *t)
{
	uint8_t h[512];
	uint32_t hsize, crc, n, esize;
	uint64_t elba, arr;
	uint8_t *entries;

	if (lba > disk / ss - 1 || read(ctx, lba * ss, h, sizeof(h)) || memcmp(h, "EFI PART", 8))
		return -ENOENT;
	hsize = le32(h + 12);
	if (hsize < 92 || hsize > sizeof(h))
		return -EINVAL;
	crc = le32(h + 16);
	memset(h + 16, 0, 4);
	if (crc32(0, h, hsize) != crc)
		return -EINVAL;
	elba = le64(h + 72);
	n = le32(h + 80);
	esize = le32(h + 84);
	if (n > GPT_MAX_ENTRIES || esize < 128 || esize > 4096 || esize % 8)
		return -EINVAL;
	arr = (uint64_t)n * esize;
	if (!arr || arr > GPT_MAX_ARRAY || elba > disk / ss || arr > disk - elba * ss)
		return -EINVAL;
	entries = malloc(arr);
	if (!entries)
		return -ENOMEM;
	if (read(ctx, elba * ss, entries, arr) || crc32(0, entries, (uInt)arr) != le32(h + 88)) {
		free(entries);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = entries + (size_t)i * esize;
		static const uint8_t zero[16];
		uint64_t first = le64(e + 32), last = le64(e + 40);
		char type[40], name[72];

		if (!memcmp(e, zero, 16) || last < first || last >= disk / ss)
			continue;
		guid_str(e, type, sizeof(type));
		gpt_name(e + 56, name, sizeof(name));
		add(t, (int)i + 1, first * ss, (last - first + 1) * ss, "gpt", type, name, disk);
	}
	free(entries);
	snprintf(t->scheme, sizeof(t->scheme), "gpt");
	return 0;
}

static int scan_gpt(vg_read_fn read, void *ctx, uint64_t disk, struct vg_part_table *t)
{
	static const uint32_t sizes[] = { 512, 4096 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint32_t ss = sizes[i];

		if (!scan_gpt_at(read, ctx, 1, ss, disk, t))
			return 0;
		t->n = 0;
		/* the backup header sits in the last sector */
		if (disk / ss > 2 && !scan_gpt_at(read, ctx, disk / ss - 1, ss, disk, t))
			return 0;
		t->n = 0;
	}
	return -ENOENT;
}

int vg_part_scan(vg_read_fn read, void *ctx, uint64_t disk_size, struct vg_part_table *out,
		 struct vg_err *err)
{
	uint8_t s[512];

	memset(out, 0, sizeof(*out));
	snprintf(out->scheme, sizeof(out->scheme), "none");
	if (disk_size < 1024)
		return 0;
	if (read(ctx, 0, s, sizeof(s)))
		return vg_errf(err, EIO, "the first sector is unreadable");
	if (!scan_gpt(read, ctx, disk_size, out))
		return 0;
	if (s[510] != 0x55 || s[511] != 0xaa)
		return 0;
	snprintf(out->scheme, sizeof(out->scheme), "mbr");
	scan_mbr(read, ctx, s, disk_size, out);
	return 0;
}
