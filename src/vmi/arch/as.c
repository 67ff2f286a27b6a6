// SPDX-License-Identifier: MIT
/*
 * Virtual address spaces: the translation cache in front of the x86-64 and AArch64 walkers,
 * and reads of guest virtual memory that cross page boundaries.
 *
 * The cache is direct-mapped on the 4 KiB virtual page number and holds the physical 4 KiB page
 * (a large page is cached one 4 KiB slice at a time, so every entry means the same thing). An
 * empty slot holds UINT64_MAX, which no va >> 12 can equal, and a non-canonical address is
 * never inserted, so the lookup can come before any other check. A miss goes to the walker with
 * the walk cache of the last 2 MiB region (struct vg_walk_cache), so a sequential scan over
 * 4 KiB pages reads one page-table entry per page, not `levels`. Hit/miss counters are
 * cumulative statistics: vg_as_flush drops the translations, not the counts.
 *
 * Reads copy each page's piece straight out of the source's mapping (vg_mem_ptr), so the cost
 * per page is one cache probe, one range lookup and one memcpy.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "vigil/arch.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE (1ull << PAGE_SHIFT)
#define PAGE_MASK (PAGE_SIZE - 1)
#define CR3_ADDR 0x000ffffffffff000ull

static void tlb_reset(struct vg_as *as)
{
	for (size_t i = 0; i < VG_TLB_SIZE; i++) {
		as->tlb[i].vpage = UINT64_MAX;
		as->tlb[i].ppage = 0;
	}
	as->wc = (struct vg_walk_cache){ UINT64_MAX, 0, 0 };
}

int vg_as_init(struct vg_as *as, struct vg_mem *mem, uint64_t root, int levels)
{
	if (!as || !mem || (levels != 4 && levels != 5))
		return -EINVAL;
	as->mem = mem;
	as->root = root & CR3_ADDR;
	as->levels = levels;
	as->arch = VG_ARCH_X86_64;
	as->va_bits = levels == 5 ? 57 : 48;
	as->user = false;
	as->tlb_hits = 0;
	as->tlb_misses = 0;
	vg_as_flush(as);
	return 0;
}

int vg_as_init_arm64(struct vg_as *as, struct vg_mem *mem, uint64_t root, int va_bits, bool user)
{
	int levels = vg_arm64_levels(va_bits);

	if (!as || !mem || levels < 0)
		return -EINVAL;
	as->mem = mem;
	/* a TTBR's BADDR: ASID in bits 63..48, CnP in bit 0; with LPA2 BADDR[51:48] sit in
	 * bits 5..2 */
	as->root = root & 0x0000fffffffff000ull;
	if (va_bits == 52)
		as->root |= (root & 0x3cull) << 46;
	as->levels = levels;
	as->arch = VG_ARCH_ARM64;
	as->va_bits = va_bits;
	as->user = user;
	as->tlb_hits = 0;
	as->tlb_misses = 0;
	tlb_reset(as);
	return 0;
}

void vg_as_flush(struct vg_as *as)
{
	tlb_reset(as);
	/* a new snapshot: the source's own cached bytes (a remote page cache) go too */
	vg_mem_refresh(as->mem);
}

static int walk_and_fill(struct vg_as *as, uint64_t va, uint64_t *ppage, uint64_t *page_size)
{
	struct vg_tlb_entry *t = &as->tlb[(va >> PAGE_SHIFT) & (VG_TLB_SIZE - 1)];
	uint64_t pa;
	int ret;

	as->tlb_misses++;
	if (as->arch == VG_ARCH_ARM64)
		ret = vg_arm64_translate_wc(as->mem, as->root, as->va_bits, as->user, va, &pa,
					    page_size, &as->wc);
	else
		ret = vg_x86_translate_wc(as->mem, as->root, as->levels, va, &pa, page_size,
					  &as->wc);
	if (ret)
		return ret;
	t->vpage = va >> PAGE_SHIFT;
	t->ppage = pa & ~PAGE_MASK;
	*ppage = t->ppage;
	return 0;
}

/* Physical address of the 4 KiB page holding VA: the hot path of every read. */
static inline int page_of(struct vg_as *as, uint64_t va, uint64_t *ppage)
{
	uint64_t vp = va >> PAGE_SHIFT;
	const struct vg_tlb_entry *t = &as->tlb[vp & (VG_TLB_SIZE - 1)];

	if (__builtin_expect(t->vpage == vp, 1)) {
		as->tlb_hits++;
		*ppage = t->ppage;
		return 0;
	}
	return walk_and_fill(as, va, ppage, NULL);
}

int vg_as_translate(struct vg_as *as, uint64_t va, uint64_t *pa, uint64_t *page_size)
{
	uint64_t ppage;
	int ret;

	if (!as || !pa)
		return -EINVAL;
	/* The cache does not remember mapping sizes, so a caller asking for one gets a walk. */
	if (page_size)
		ret = walk_and_fill(as, va, &ppage, page_size);
	else
		ret = page_of(as, va, &ppage);
	if (ret)
		return ret;
	*pa = ppage | (va & PAGE_MASK);
	return 0;
}

/*
 * Whole pages are copied front to back in 64-byte steps. A memcpy whose size is not known at
 * compile time (inlined or glibc's) loads the end of the source first to handle the tail; on a
 * page that is not cached that is one more miss, out of stream order. bench_read measured the
 * in-order loop at ~0.8 of a constant-size memcpy from RAM, memcpy(out, src, n) at ~0.6, and the
 * loop is also faster on cached pages.
 */
static inline void copy_page(uint8_t *out, const uint8_t *src)
{
	size_t k;

	for (k = 0; k < PAGE_SIZE; k += 64)
		memcpy(out + k, src + k, 64);
}

/* Copies one piece that lies inside a single 4 KiB page. */
static int read_piece(struct vg_as *as, uint64_t va, uint8_t *out, size_t n)
{
	const uint8_t *src;
	uint64_t ppage;
	int ret;

	ret = page_of(as, va, &ppage);
	if (ret)
		return ret;
	src = vg_mem_ptr(as->mem, ppage | (va & PAGE_MASK), n);
	if (__builtin_expect(src != NULL, 1)) {
		if (n == PAGE_SIZE)
			copy_page(out, src);
		else
			memcpy(out, src, n);
		/* a remote page the broker could not bring reads as zeros: not guest data */
		return __builtin_expect(vg_mem_failed(as->mem), 0) ? -EIO : 0;
	}
	/* The page may straddle two ranges of an odd layout; vg_mem_read copes or fails. */
	return vg_mem_read(as->mem, ppage | (va & PAGE_MASK), out, n);
}

int vg_as_read(struct vg_as *as, uint64_t va, void *buf, size_t len)
{
	uint8_t *out = buf;
	int ret;

	if (!as || (!buf && len))
		return -EINVAL;
	if (!len)
		return 0;
	/* A read may not wrap from the top of the address space back to 0. */
	if (len - 1 > UINT64_MAX - va)
		return -EFAULT;
	while (len) {
		size_t n = PAGE_SIZE - (va & PAGE_MASK);

		if (n > len)
			n = len;
		ret = read_piece(as, va, out, n);
		if (ret)
			return ret;
		out += n;
		va += n;
		len -= n;
	}
	return 0;
}

int vg_as_read_u64(struct vg_as *as, uint64_t va, uint64_t *out)
{
	uint64_t v;
	int ret;

	if (!out)
		return -EINVAL;
	ret = vg_as_read(as, va, &v, sizeof(v));
	if (ret)
		return ret;
	*out = le64toh(v);
	return 0;
}

int vg_as_read_u32(struct vg_as *as, uint64_t va, uint32_t *out)
{
	uint32_t v;
	int ret;

	if (!out)
		return -EINVAL;
	ret = vg_as_read(as, va, &v, sizeof(v));
	if (ret)
		return ret;
	*out = le32toh(v);
	return 0;
}

int vg_as_read_str(struct vg_as *as, uint64_t va, char *buf, size_t max)
{
	size_t len = 0, room;

	if (!as || !buf || !max)
		return -EINVAL;
	room = max - 1;
	if (room > INT_MAX)
		room = INT_MAX;
	/* Page by page, so a string ending just before an unmapped page is still read whole. */
	while (len < room) {
		size_t n = PAGE_SIZE - (va & PAGE_MASK);
		const char *nul;

		if (n > room - len)
			n = room - len;
		if (read_piece(as, va, (uint8_t *)buf + len, n)) {
			if (!len)
				return -EFAULT;
			break;
		}
		nul = memchr(buf + len, '\0', n);
		if (nul) {
			len = (size_t)(nul - buf);
			break;
		}
		len += n;
		if (va + n < va)
			break; /* the top of the address space ends the string */
		va += n;
	}
	buf[len] = '\0';
	return (int)len;
}

int vg_as_for_each_leaf(struct vg_as *as, uint64_t lo, uint64_t hi,
			int (*cb)(uint64_t va, uint64_t pa, uint64_t page_size, void *ctx),
			void *ctx)
{
	if (!as)
		return -EINVAL;
	if (as->arch == VG_ARCH_ARM64)
		return vg_arm64_for_each_leaf(as->mem, as->root, as->va_bits, as->user, lo, hi, cb,
					      ctx, VG_AS_MAX_TABLES);
	return vg_x86_for_each_leaf(as->mem, as->root, as->levels, lo, hi, cb, ctx);
}
