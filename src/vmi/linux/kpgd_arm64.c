// SPDX-License-Identifier: MIT
/*
 * Finding the AArch64 kernel page tables with no TTBR1. The kernel's top-level table,
 * swapper_pg_dir, is a page of the kernel image a few MiB past .rodata, where the banner is.
 * So each page near the banner is read as a kernel top-level table of 48 VA bits (4 levels),
 * 39 (3 levels) and 52 (LPA2, 5 levels, a 16-entry top): its shape must be right (every entry
 * empty or a table descriptor with none of the bits Linux never sets, some in the linear-map
 * half and some in the upper half, where the image, modules and vmalloc live) and its upper
 * half must map the banner's page. The other tables of that shape near the image (idmap,
 * tramp, the freed init_pg_dir) map only one half and fail the shape test. Candidates are
 * validated further by kallsyms and the exported symbols (discover_arm64.c).
 *
 * The tables are guest data: a candidate's walk is bounded far below the usual walk's caps,
 * so a forged table that aliases itself costs a few thousand reads, not millions.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "kpgd.h"

#define SPAN_BELOW (32ull << 20)
#define SPAN_ABOVE (96ull << 20)
#define PROBE_MAX_TABLES 4096u
/* in a table descriptor Linux sets only the type, the address and the hierarchical
 * attributes (bits 63..59): the ignored and reserved bits must be clear */
#define TABLE_RES_48 0x07ff000000000ffcull
#define TABLE_RES_LPA2 0x07fc000000000cfcull
#define CODE_PROBE_HITS 64

static const int va_sizes[] = { 48, 39, 52 };

/* 1: a kernel top-level table's shape, pointing into RAM; -1: that shape, pointing outside
 * RAM; 0: not one. */
static int top_shape(struct vg_mem *mem, const uint8_t *pg, int va_bits)
{
	int n = va_bits == 52 ? 16 : 512, lo = 0, hi = 0, outside = 0;
	uint64_t res = va_bits == 52 ? TABLE_RES_LPA2 : TABLE_RES_48;

	for (int i = 0; i < n; i++) {
		uint64_t d, addr;

		memcpy(&d, pg + 8 * i, 8);
		d = le64toh(d);
		if (!d)
			continue;
		if ((d & 3) == 3) {
			if (d & res)
				return 0;
		} else if (!(va_bits == 39 && (d & 3) == 1)) {
			return 0; /* only a 39-bit table's top level (ARM's level 1) has blocks */
		}
		addr = vg_arm64_desc_addr(d, va_bits);
		if ((d & 3) == 1 && (addr & ((1ull << 30) - 1)))
			return 0;
		if (!vg_mem_ptr(mem, addr, 4096))
			outside++;
		if (i < n / 2)
			lo++;
		else
			hi++;
	}
	if (!lo || !hi)
		return 0;
	return outside ? -1 : 1;
}

struct find_ctx {
	uint64_t want_pa;
	uint64_t va;
};

static int leaf_cb(uint64_t va, uint64_t pa, uint64_t size, void *c)
{
	struct find_ctx *f = c;

	if (f->want_pa >= pa && f->want_pa < pa + size) {
		f->va = va + (f->want_pa - pa);
		return 1;
	}
	return 0;
}

int vg_arm64_kpgd_maps(struct vg_mem *mem, uint64_t root, int va_bits, uint64_t pa, uint64_t *va)
{
	struct find_ctx f = { .want_pa = pa };
	uint64_t upper = ~0ull << (va_bits - 1);

	if (vg_arm64_for_each_leaf(mem, root, va_bits, false, upper, UINT64_MAX, leaf_cb, &f,
				   PROBE_MAX_TABLES) != 1)
		return -ENOENT;
	*va = f.va;
	return 0;
}

int vg_arm64_kpgd_scan(struct vg_mem *mem, uint64_t banner_pa, struct vg_kpgd *out, int max,
		       int *misplaced)
{
	uint64_t lo = banner_pa > SPAN_BELOW ? banner_pa - SPAN_BELOW : 0;
	uint64_t hi = banner_pa + SPAN_ABOVE, first = banner_pa & ~0xfffull, span;
	const struct vg_mem_range *r = vg_mem_ranges(mem);
	int n = 0;

	/* the image is one piece of RAM: the window ends where the banner's range does */
	for (size_t i = 0; i < vg_mem_nranges(mem); i++)
		if (banner_pa - r[i].start < r[i].size) {
			lo = lo > r[i].start ? lo : r[i].start;
			hi = hi < r[i].start + r[i].size ? hi : r[i].start + r[i].size;
		}
	if (hi <= first)
		return 0;
	span = (hi - (lo & ~0xfffull)) / 4096;

	/* upward from the banner first: swapper_pg_dir follows .rodata */
	for (uint64_t i = 0; i < span && n < max; i++) {
		uint64_t pa = first + i * 4096 < hi ? first + i * 4096
						    : first - (i - (hi - first) / 4096 + 1) * 4096;
		const uint8_t *pg = pa >= lo ? vg_mem_ptr(mem, pa, 4096) : NULL;

		if (!pg)
			continue;
		for (size_t k = 0; k < sizeof(va_sizes) / sizeof(va_sizes[0]) && n < max; k++) {
			int shape = top_shape(mem, pg, va_sizes[k]);
			uint64_t va;

			if (shape < 0)
				(*misplaced)++;
			if (shape <= 0 || vg_arm64_kpgd_maps(mem, pa, va_sizes[k], banner_pa, &va))
				continue;
			out[n] = (struct vg_kpgd){ .arch = VG_ARCH_ARM64,
						   .root = pa,
						   .levels = vg_arm64_levels(va_sizes[k]),
						   .va_bits = va_sizes[k],
						   .banner_va = va };
			n++;
		}
	}
	return n;
}

/* Instructions every AArch64 kernel is full of, as aligned words: ret, nop (two at each
 * ftrace site), paciasp/autiasp, bti c, and the frame-record push stp x29, x30, [sp, #-16]!.
 * As aligned 32-bit values they are vanishingly rare in x86 code or in data. */
static bool arm64_word(uint32_t w)
{
	return w == 0xd65f03c0 || w == 0xd503201f || w == 0xd503233f || w == 0xd50323bf ||
	       w == 0xd503245f || w == 0xa9bf7bfd;
}

bool vg_arm64_code_near(struct vg_mem *mem, uint64_t banner_pa, uint64_t max)
{
	uint64_t pa = banner_pa & ~0xfffull;
	int hits = 0;

	/* .text ends where .rodata (and the banner) begins: look down from the banner */
	for (uint64_t done = 0; done < max && pa >= 4096; done += 4096, pa -= 4096) {
		const uint8_t *pg = vg_mem_ptr(mem, pa, 4096);

		if (!pg)
			continue;
		for (size_t off = 0; off < 4096; off += 4) {
			uint32_t w;

			memcpy(&w, pg + off, 4);
			if (arm64_word(le32toh(w)) && ++hits >= CODE_PROBE_HITS)
				return true;
		}
	}
	return false;
}
