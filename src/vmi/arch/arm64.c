// SPDX-License-Identifier: MIT
/*
 * AArch64 page-table walker, 4 KiB granule: 39-bit (3 levels), 48-bit (4 levels) and 52-bit
 * with FEAT_LPA2 (5 levels, the top one 16 entries), 2 MiB and 1 GiB blocks (and 512 GiB ones
 * at level 0 with LPA2), no cache. Used by vg_as (as.c), which adds the translation cache.
 *
 * Levels are counted as in x86_64.c, 1 for the last (ARM's level 3) up to `levels`, so both
 * walkers share the walk cache's meaning. A table maps one half of the 64-bit space: TTBR1's
 * (the kernel: every bit above VA_BITS set) or TTBR0's (a process: those bits clear, the top
 * byte ignored as Linux's TCR_EL1.TBI0 makes the MMU do).
 *
 * The tables are guest data and hostile: a translation is exactly `levels` descriptor reads
 * through vg_mem; descriptors are judged as the MMU would judge them (a block where the
 * granule allows none, the reserved page encoding at the last level and frame bits set inside
 * a block all fault). The leaf enumeration is bounded in leaves and in tables.
 */
#include <endian.h>
#include <errno.h>

#include "vigil/arch.h"

#define DESC_VALID 1ull
#define DESC_TABLE 2ull /* with VALID: a table (or, at the last level, a page) */
#define OA_48 0x0000fffffffff000ull
#define OA_LPA2_LO 0x0003fffffffff000ull /* OA[49:12] */
#define OA_LPA2_HI 0x300ull		 /* OA[51:50] in bits 9:8 */
#define BIT55 (1ull << 55)
#define TOP_BYTE 0xff00000000000000ull

int vg_arm64_levels(int va_bits)
{
	switch (va_bits) {
	case 39:
		return 3;
	case 48:
		return 4;
	case 52:
		return 5;
	default:
		return -EINVAL;
	}
}

static unsigned int level_shift(int level)
{
	return 12 + 9 * (unsigned int)(level - 1);
}

/* Index bits of LEVEL: 9, except the top level takes what VA_BITS leaves (4 for 52-bit). */
static uint64_t level_mask(int level, int levels, int va_bits)
{
	return level == levels ? (1ull << (va_bits - level_shift(level))) - 1 : 511;
}

int vg_arm64_canonical(uint64_t va, int va_bits, bool user)
{
	if (user)
		return ((va & ~TOP_BYTE) >> va_bits) == 0;
	return (va >> va_bits) == (UINT64_MAX >> va_bits);
}

uint64_t vg_arm64_desc_addr(uint64_t desc, int va_bits)
{
	if (va_bits == 52)
		return (desc & OA_LPA2_LO) | ((desc & OA_LPA2_HI) << 42);
	return desc & OA_48;
}

/*
 * What a valid descriptor at LEVEL means: 1 a leaf (*frame, *size), 0 the next table
 * (*frame), -EFAULT a descriptor the MMU faults on.
 */
static int decode_desc(uint64_t d, int level, int va_bits, uint64_t *frame, uint64_t *size)
{
	uint64_t oa = vg_arm64_desc_addr(d, va_bits), sz;

	if (level == 1) {
		if (!(d & DESC_TABLE))
			return -EFAULT; /* 0b01 at the last level is reserved */
		*frame = oa;
		*size = 4096;
		return 1;
	}
	if (d & DESC_TABLE) {
		*frame = oa;
		return 0;
	}
	/* blocks: 2 MiB and 1 GiB; 512 GiB only with LPA2; none at LPA2's level -1 */
	if (level > 4 || (level == 4 && va_bits != 52))
		return -EFAULT;
	sz = 1ull << level_shift(level);
	if (oa & (sz - 1))
		return -EFAULT;
	*frame = oa;
	*size = sz;
	return 1;
}

static int read_desc(struct vg_mem *mem, uint64_t table, uint64_t idx, uint64_t *d)
{
	uint64_t raw;

	if (vg_mem_read(mem, table + idx * 8, &raw, sizeof(raw)))
		return -EFAULT;
	*d = le64toh(raw);
	return 0;
}

int vg_arm64_translate_wc(struct vg_mem *mem, uint64_t root, int va_bits, bool user, uint64_t va,
			  uint64_t *pa, uint64_t *page_size, struct vg_walk_cache *wc)
{
	int levels = vg_arm64_levels(va_bits), start = levels;
	uint64_t table = root & ~0xfffull, d, frame, size;
	int ret;

	if (!mem || !pa || levels < 0)
		return -EINVAL;
	if (!vg_arm64_canonical(va, va_bits, user))
		return -EINVAL;
	if (user)
		va &= ~TOP_BYTE;
	if (wc && wc->size && wc->vregion == va >> 21) {
		if (wc->size != 4096) {
			*pa = wc->frame | (va & (wc->size - 1));
			if (page_size)
				*page_size = wc->size;
			return 0;
		}
		table = wc->frame;
		start = 1;
		wc = NULL;
	}
	for (int level = start; level >= 1; level--) {
		uint64_t idx = (va >> level_shift(level)) & level_mask(level, levels, va_bits);

		if (read_desc(mem, table, idx, &d) || !(d & DESC_VALID))
			return -EFAULT;
		ret = decode_desc(d, level, va_bits, &frame, &size);
		if (ret < 0)
			return ret;
		if (ret == 1) {
			if (wc && level >= 2)
				*wc = (struct vg_walk_cache){ va >> 21, frame, size };
			*pa = frame | (va & (size - 1));
			if (page_size)
				*page_size = size;
			return 0;
		}
		if (wc && level == 2)
			*wc = (struct vg_walk_cache){ va >> 21, frame, 4096 };
		table = frame;
	}
	return -EFAULT; /* not reached: the last level always decodes to a leaf or faults */
}

struct leaf_walk {
	struct vg_mem *mem;
	int va_bits, levels;
	uint64_t high;	 /* bits or'ed into a truncated address: the kernel half's ones */
	uint64_t lo, hi; /* bounds truncated to va_bits */
	int (*cb)(uint64_t va, uint64_t pa, uint64_t page_size, void *ctx);
	void *ctx;
	uint64_t leaves, tables, max_tables;
	bool stopped;
};

static int walk_table(struct leaf_walk *w, uint64_t table, int level, uint64_t base)
{
	unsigned int shift = level_shift(level);
	uint64_t ents[512], first, last, frame, size;
	uint64_t span = level_mask(level, w->levels, w->va_bits);
	int ret;

	if (++w->tables > w->max_tables)
		return -E2BIG;
	first = w->lo > base ? (w->lo - base) >> shift : 0;
	last = (w->hi - base) >> shift;
	if (last > span)
		last = span;
	if (vg_mem_read(w->mem, table + first * 8, &ents[first], (last - first + 1) * 8))
		return -EFAULT;
	for (uint64_t i = first; i <= last; i++) {
		uint64_t d = le64toh(ents[i]), va = base + (i << shift);

		if (!(d & DESC_VALID))
			continue;
		ret = decode_desc(d, level, w->va_bits, &frame, &size);
		if (ret < 0)
			continue;
		if (ret == 0) {
			ret = walk_table(w, frame, level - 1, va);
			if (ret == -EFAULT && !w->stopped)
				continue; /* a table outside RAM maps nothing */
			if (ret)
				return ret;
			continue;
		}
		if (++w->leaves > VG_AS_MAX_LEAVES)
			return -E2BIG;
		ret = w->cb(va | w->high, frame, size, w->ctx);
		if (ret) {
			w->stopped = true;
			return ret;
		}
	}
	return 0;
}

int vg_arm64_for_each_leaf(struct vg_mem *mem, uint64_t root, int va_bits, bool user, uint64_t lo,
			   uint64_t hi,
			   int (*cb)(uint64_t va, uint64_t pa, uint64_t page_size, void *ctx),
			   void *ctx, uint32_t max_tables)
{
	struct leaf_walk w = { .mem = mem, .va_bits = va_bits, .cb = cb, .ctx = ctx };
	uint64_t mask;

	w.levels = vg_arm64_levels(va_bits);
	if (!mem || !cb || w.levels < 0 || lo > hi)
		return -EINVAL;
	mask = (1ull << va_bits) - 1;
	w.max_tables = max_tables;
	if (user) {
		if (lo > mask)
			return 0;
		if (hi > mask)
			hi = mask;
	} else {
		if (hi < ~mask)
			return 0;
		if (lo < ~mask)
			lo = ~mask;
		w.high = ~mask;
	}
	w.lo = lo & mask;
	w.hi = hi & mask;
	return walk_table(&w, root & ~0xfffull, w.levels, 0);
}

uint64_t vg_arm64_strip_pac(uint64_t va, int va_bits, bool tbi)
{
	/* the signature: bits 54..VA_BITS, and the top byte unless it is a tag */
	uint64_t pac = (BIT55 - 1) & ~((1ull << va_bits) - 1);

	if (!tbi)
		pac |= TOP_BYTE;
	return va & BIT55 ? va | pac : va & ~pac;
}

uint64_t vg_arm64_untag(uint64_t va)
{
	return va & ~TOP_BYTE;
}
