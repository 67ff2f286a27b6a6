// SPDX-License-Identifier: MIT
/*
 * x86-64 page-table walker: 4-level (48-bit) and 5-level (57-bit) paging, 4 KiB, 2 MiB and
 * 1 GiB pages, no cache. Used by vg_as (as.c), which adds the translation cache.
 *
 * The tables are guest data and hostile. A translation is exactly `levels` entry reads, each
 * through vg_mem (so a table outside RAM fails with -EFAULT instead of touching host memory).
 * Entries are judged as the CPU would judge them: a PS bit in a PML4/PML5 entry, or non-zero
 * reserved bits under a large page's frame, make the walk fail rather than be guessed at.
 * An optional walk cache (struct vg_walk_cache) remembers the page table or large page of the
 * last 2 MiB region, so a miss next to the previous one skips the upper levels.
 * The leaf enumeration is bounded in leaves and tables because one table can be linked from
 * every slot of every level.
 */
#include <endian.h>
#include <errno.h>

#include "vigil/arch.h"

#define PTE_P (1ull << 0)
#define PTE_PS (1ull << 7)
/* Physical frame bits 12..51: drops NX (63), protection keys and ignored bits (52..62). */
#define PTE_ADDR 0x000ffffffffff000ull
/* In a 2 MiB / 1 GiB leaf, bit 12 is PAT, not part of the frame. */
#define PTE_LARGE_PAT (1ull << 12)

static unsigned int va_bits(int levels)
{
	return levels == 5 ? 57 : 48;
}

static unsigned int level_shift(int level)
{
	return 12 + 9 * (unsigned int)(level - 1);
}

static uint64_t sign_extend(uint64_t va, unsigned int bits)
{
	unsigned int sh = 64 - bits;

	return (uint64_t)((int64_t)(va << sh) >> sh);
}

int vg_x86_canonical(uint64_t va, int levels)
{
	return sign_extend(va, va_bits(levels)) == va;
}

/*
 * Decides what a present entry at LEVEL means. Returns 1 for a leaf (with *frame and *size
 * set), 0 for a pointer to the next table (*frame set), -EFAULT for an entry the CPU would
 * reject with a reserved-bit fault.
 */
static int decode_entry(uint64_t e, int level, uint64_t *frame, uint64_t *size)
{
	uint64_t sz, low;

	if (level > 1 && !(e & PTE_PS)) {
		*frame = e & PTE_ADDR;
		return 0;
	}
	/* At the PT level bit 7 is PAT, so every present PTE is a 4 KiB leaf. */
	if (level == 1) {
		*frame = e & PTE_ADDR;
		*size = 4096;
		return 1;
	}
	if (level > 3)
		return -EFAULT;
	sz = 1ull << level_shift(level);
	low = e & PTE_ADDR & (sz - 1) & ~PTE_LARGE_PAT;
	if (low)
		return -EFAULT;
	*frame = e & PTE_ADDR & ~(sz - 1);
	*size = sz;
	return 1;
}

static int read_entry(struct vg_mem *mem, uint64_t table, unsigned int idx, uint64_t *e)
{
	uint64_t raw;
	int ret;

	ret = vg_mem_read(mem, table + (uint64_t)idx * 8, &raw, sizeof(raw));
	if (ret)
		return -EFAULT;
	*e = le64toh(raw);
	return 0;
}

/* Walks from TABLE at LEVEL down to the leaf for VA; records the 2 MiB region in WC if given. */
static int walk_from(struct vg_mem *mem, uint64_t table, int level, uint64_t va, uint64_t *pa,
		     uint64_t *page_size, struct vg_walk_cache *wc)
{
	uint64_t e, frame, size;
	int ret;

	for (; level >= 1; level--) {
		unsigned int shift = level_shift(level);

		ret = read_entry(mem, table, (unsigned int)(va >> shift) & 511, &e);
		if (ret)
			return ret;
		if (!(e & PTE_P))
			return -EFAULT;
		ret = decode_entry(e, level, &frame, &size);
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
	return -EFAULT; /* not reached: level 1 always decodes to a leaf */
}

int vg_x86_translate_wc(struct vg_mem *mem, uint64_t root, int levels, uint64_t va, uint64_t *pa,
			uint64_t *page_size, struct vg_walk_cache *wc)
{
	if (!mem || !pa || (levels != 4 && levels != 5))
		return -EINVAL;
	if (!vg_x86_canonical(va, levels))
		return -EINVAL;
	/* size 0 is empty too, so a zero-initialised cache is safe. */
	if (wc && wc->size && wc->vregion == va >> 21) {
		if (wc->size == 4096)
			return walk_from(mem, wc->frame, 1, va, pa, page_size, NULL);
		*pa = wc->frame | (va & (wc->size - 1));
		if (page_size)
			*page_size = wc->size;
		return 0;
	}
	return walk_from(mem, root & PTE_ADDR, levels, va, pa, page_size, wc);
}

int vg_x86_translate(struct vg_mem *mem, uint64_t root, int levels, uint64_t va, uint64_t *pa,
		     uint64_t *page_size)
{
	return vg_x86_translate_wc(mem, root, levels, va, pa, page_size, NULL);
}

struct leaf_walk {
	struct vg_mem *mem;
	unsigned int bits;
	uint64_t lo, hi; /* bounds truncated to `bits`, where address order is unsigned order */
	int (*cb)(uint64_t va, uint64_t pa, uint64_t page_size, void *ctx);
	void *ctx;
	uint64_t leaves, tables;
	int stopped; /* the callback asked to stop: its return value must not be swallowed */
};

/* Visits the entries of TABLE (at LEVEL, mapping from truncated address BASE) that overlap
 * [w->lo, w->hi]. The caller guarantees that the table's span overlaps the range. */
static int walk_table(struct leaf_walk *w, uint64_t table, int level, uint64_t base)
{
	unsigned int shift = level_shift(level);
	uint64_t ents[512], first, last, i, frame, size;
	int ret;

	if (++w->tables > VG_AS_MAX_TABLES)
		return -E2BIG;
	first = w->lo > base ? (w->lo - base) >> shift : 0;
	last = (w->hi - base) >> shift;
	if (last > 511)
		last = 511;
	ret = vg_mem_read(w->mem, table + first * 8, &ents[first], (last - first + 1) * 8);
	if (ret)
		return -EFAULT;
	for (i = first; i <= last; i++) {
		uint64_t e = le64toh(ents[i]);
		uint64_t va = base + (i << shift);

		if (!(e & PTE_P))
			continue;
		ret = decode_entry(e, level, &frame, &size);
		if (ret < 0)
			continue; /* the CPU faults on it: nothing is mapped there */
		if (ret == 0) {
			ret = walk_table(w, frame, level - 1, va);
			/* A table outside RAM maps nothing; the rest of the range still counts. */
			if (ret == -EFAULT && !w->stopped)
				continue;
			if (ret)
				return ret;
			continue;
		}
		if (++w->leaves > VG_AS_MAX_LEAVES)
			return -E2BIG;
		ret = w->cb(sign_extend(va, w->bits), frame, size, w->ctx);
		if (ret) {
			w->stopped = 1;
			return ret;
		}
	}
	return 0;
}

int vg_x86_for_each_leaf(struct vg_mem *mem, uint64_t root, int levels, uint64_t lo, uint64_t hi,
			 int (*cb)(uint64_t va, uint64_t pa, uint64_t page_size, void *ctx),
			 void *ctx)
{
	struct leaf_walk w = { .mem = mem, .cb = cb, .ctx = ctx };
	uint64_t mask;

	if (!mem || !cb || (levels != 4 && levels != 5) || lo > hi)
		return -EINVAL;
	w.bits = va_bits(levels);
	/* Clamp ends that fall in the non-canonical hole to the half they border. */
	if (!vg_x86_canonical(lo, levels))
		lo = ~0ull << (w.bits - 1);
	if (!vg_x86_canonical(hi, levels))
		hi = (1ull << (w.bits - 1)) - 1;
	if (lo > hi)
		return 0;
	/* Truncating canonical addresses keeps their order: low half first, then high half. */
	mask = (1ull << w.bits) - 1;
	w.lo = lo & mask;
	w.hi = hi & mask;
	return walk_table(&w, root & PTE_ADDR, levels, 0);
}
