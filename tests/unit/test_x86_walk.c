// SPDX-License-Identifier: MIT
/*
 * x86-64 walker and address-space tests over synthetic page tables built in a buffer that
 * serves as guest RAM (vg_mem_open_buffer: physical 0 .. len). The tables mix 4 KiB, 2 MiB and
 * 1 GiB mappings in 4- and 5-level layouts, plus the hostile cases: PS at the top level,
 * reserved bits under a large frame, a table outside RAM, self-referencing tables.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/arch.h"

#define RAM_SIZE (8u << 20)
#define P (1ull << 0)
#define RW (1ull << 1)
#define PS (1ull << 7)
#define NX (1ull << 63)
#define PAT_LARGE (1ull << 12)

/* Physical layout of the synthetic guest. */
#define PML4 0x1000ull
#define PDPT_LO 0x2000ull
#define PD_LO 0x3000ull
#define PT_LO 0x4000ull
#define PML5 0x5000ull
#define PDPT_HI 0x6000ull
#define DATA0 0x10000ull /* 4 KiB frames */
#define DATA1 0x11000ull
#define DATA2 0x12000ull
#define BIG2M 0x200000ull /* 2 MiB frame */

#define KTEXT 0xffffffff80000000ull /* 1 GiB page onto physical 0 */

struct fixture {
	uint8_t *ram;
	struct vg_mem *mem;
	struct vg_as as;
};

static void put64(uint8_t *ram, uint64_t pa, uint64_t v)
{
	memcpy(ram + pa, &v, sizeof(v)); /* host is little-endian x86-64, as the guest */
}

static void set_entry(uint8_t *ram, uint64_t table, unsigned int idx, uint64_t v)
{
	put64(ram, table + idx * 8ull, v);
}

/*
 * Low half (all levels index 0 down to the PD):
 *   0x400000  4 KiB -> DATA0          (PD 2, PT 0)
 *   0x401000  4 KiB -> DATA1, NX and ignored/pkey bits 52..62 set in the PTE
 *   0x5ff000  4 KiB -> DATA2          (PD 2, PT 511), followed directly by
 *   0x600000  2 MiB -> BIG2M          (PD 3)
 *   0xa00000  2 MiB with reserved bit 13 set (PD 5): invalid
 *   0xc00000  2 MiB -> BIG2M with the PAT bit (PD 6)
 * PML4[1]: PS set (illegal at PML4). PML4[2]: table far outside RAM.
 * High half: PML4[511] -> PDPT_HI, PDPT_HI[510] = 1 GiB page at physical 0 (KTEXT).
 * 5-level: PML5[0], PML5[1] and PML5[511] all point to the same PML4; PML5[3] has PS.
 */
static void build_tables(uint8_t *ram)
{
	set_entry(ram, PML4, 0, PDPT_LO | P | RW);
	set_entry(ram, PML4, 1, 0 | P | RW | PS); /* frame 0: only the level is wrong */
	set_entry(ram, PML4, 2, 0x7ff000000ull | P | RW);
	set_entry(ram, PML4, 511, PDPT_HI | P | RW);
	set_entry(ram, PDPT_LO, 0, PD_LO | P | RW);
	set_entry(ram, PD_LO, 2, PT_LO | P | RW);
	set_entry(ram, PD_LO, 3, BIG2M | P | RW | PS);
	set_entry(ram, PD_LO, 5, BIG2M | (1ull << 13) | P | RW | PS);
	set_entry(ram, PD_LO, 6, BIG2M | PAT_LARGE | P | RW | PS);
	set_entry(ram, PT_LO, 0, DATA0 | P | RW);
	set_entry(ram, PT_LO, 1, DATA1 | P | NX | 0x7ff0000000000000ull);
	set_entry(ram, PT_LO, 511, DATA2 | P | RW);
	set_entry(ram, PDPT_HI, 510, 0 | P | RW | PS);

	set_entry(ram, PML5, 0, PML4 | P | RW);
	set_entry(ram, PML5, 1, PML4 | P | RW);
	set_entry(ram, PML5, 3, 0 | P | RW | PS);
	set_entry(ram, PML5, 511, PML4 | P | RW);

	memcpy(ram + DATA0, "DATA0...", 8);
	memcpy(ram + DATA1, "DATA1...", 8);
	memcpy(ram + DATA2 + 4088, "tail4k::", 8);
	memcpy(ram + BIG2M, "head2m::", 8);
	memcpy(ram + BIG2M + 0x1234, "mid2m...", 8);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->ram = calloc(1, RAM_SIZE);
	if (!f->ram || vg_mem_open_buffer(&f->mem, f->ram, RAM_SIZE, NULL))
		return -1;
	build_tables(f->ram);
	if (vg_as_init(&f->as, f->mem, PML4, 4))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vg_mem_close(f->mem);
	free(f->ram);
	free(f);
	return 0;
}

static void expect_pa(struct vg_as *as, uint64_t va, uint64_t want_pa, uint64_t want_size)
{
	uint64_t pa = 0, size = 0;

	assert_int_equal(vg_as_translate(as, va, &pa, &size), 0);
	assert_int_equal(pa, want_pa);
	assert_int_equal(size, want_size);
}

static void test_init_args(void **state)
{
	struct fixture *f = *state;
	struct vg_as as;

	assert_int_equal(vg_as_init(&as, f->mem, PML4, 3), -EINVAL);
	assert_int_equal(vg_as_init(&as, f->mem, PML4, 6), -EINVAL);
	/* CR3 flag/PCID bits and bit 63 (no-flush) must be dropped from the root. */
	assert_int_equal(vg_as_init(&as, f->mem, PML4 | 0x18 | 0x5 | (1ull << 63), 4), 0);
	assert_int_equal(as.root, PML4);
	expect_pa(&as, 0x400010, DATA0 + 0x10, 4096);
}

static void test_translate_4level(void **state)
{
	struct fixture *f = *state;

	expect_pa(&f->as, 0x400000, DATA0, 4096);
	expect_pa(&f->as, 0x400abc, DATA0 + 0xabc, 4096);
	/* NX and bits 52..62 are not part of the frame. */
	expect_pa(&f->as, 0x401008, DATA1 + 8, 4096);
	expect_pa(&f->as, 0x5fffff, DATA2 + 0xfff, 4096);
	expect_pa(&f->as, 0x600000, BIG2M, 2u << 20);
	expect_pa(&f->as, 0x7fffff, BIG2M + 0x1fffff, 2u << 20);
	/* PAT bit 12 of a large entry is not a frame bit. */
	expect_pa(&f->as, 0xc01234, BIG2M + 0x1234, 2u << 20);
	expect_pa(&f->as, KTEXT, 0, 1u << 30);
	expect_pa(&f->as, KTEXT + 0x3fffffff, 0x3fffffff, 1u << 30);
}

static void test_translate_faults(void **state)
{
	struct fixture *f = *state;
	uint64_t pa = 0x5a5a;

	/* Not present at each level. */
	assert_int_equal(vg_as_translate(&f->as, 0x402000, &pa, NULL), -EFAULT);   /* PTE */
	assert_int_equal(vg_as_translate(&f->as, 0x800000, &pa, NULL), -EFAULT);   /* PDE */
	assert_int_equal(vg_as_translate(&f->as, 1ull << 30, &pa, NULL), -EFAULT); /* PDPTE */
	assert_int_equal(vg_as_translate(&f->as, 3ull << 39, &pa, NULL), -EFAULT); /* PML4E */
	/* PS in a PML4 entry is reserved. */
	assert_int_equal(vg_as_translate(&f->as, (1ull << 39) + 0x400000, &pa, NULL), -EFAULT);
	/* Reserved frame bits under a 2 MiB page. */
	assert_int_equal(vg_as_translate(&f->as, 0xa00000, &pa, NULL), -EFAULT);
	/* Next-level table outside RAM. */
	assert_int_equal(vg_as_translate(&f->as, 2ull << 39, &pa, NULL), -EFAULT);
	/* Root outside RAM. */
	struct vg_as bad;
	assert_int_equal(vg_as_init(&bad, f->mem, 1ull << 40, 4), 0);
	assert_int_equal(vg_as_translate(&bad, 0x400000, &pa, NULL), -EFAULT);
	/* Non-canonical for 48 bits. */
	assert_int_equal(vg_as_translate(&f->as, 0x0000800000000000ull, &pa, NULL), -EINVAL);
	assert_int_equal(vg_as_translate(&f->as, 0xffff7fffffffffffull, &pa, NULL), -EINVAL);
	assert_int_equal(vg_as_translate(&f->as, 0x0001000000400000ull, &pa, NULL), -EINVAL);
	assert_int_equal(pa, 0x5a5a); /* untouched on failure */
	/* Mapped, but the frame lies beyond RAM: translation works, the read does not. */
	uint64_t v;
	expect_pa(&f->as, KTEXT + (64u << 20), 64u << 20, 1u << 30);
	assert_int_equal(vg_as_read_u64(&f->as, KTEXT + (64u << 20), &v), -EFAULT);
}

static void test_translate_5level(void **state)
{
	struct fixture *f = *state;
	struct vg_as as5;
	uint64_t pa;

	assert_int_equal(vg_as_init(&as5, f->mem, PML5, 5), 0);
	expect_pa(&as5, 0x400000, DATA0, 4096);
	expect_pa(&as5, 0x600010, BIG2M + 0x10, 2u << 20);
	/* PML5[1]: bit 48 selects it, which a 4-level walk would call non-canonical. */
	expect_pa(&as5, 0x0001000000400008ull, DATA0 + 8, 4096);
	/* High half of 57-bit: PML5[511] -> PML4[511] -> PDPT[510]. */
	expect_pa(&as5, 0xffffffff80001000ull, 0x1000, 1u << 30);
	/* Canonical under 57 bits, not under 48, and nothing mapped there. */
	assert_int_equal(vg_as_translate(&as5, 0x0000800000000000ull, &pa, NULL), -EFAULT);
	assert_int_equal(vg_as_translate(&as5, 0xff00000000000000ull, &pa, NULL), -EFAULT);
	/* Non-canonical for 57 bits. */
	assert_int_equal(vg_as_translate(&as5, 0x0100000000000000ull, &pa, NULL), -EINVAL);
	assert_int_equal(vg_as_translate(&as5, 0xfeffffffffffffffull, &pa, NULL), -EINVAL);
	/* PS at PML5 is reserved. */
	assert_int_equal(vg_as_translate(&as5, (3ull << 48) + 0x400000, &pa, NULL), -EFAULT);
	/* Same answers from the uncached walker. */
	uint64_t size = 0;
	assert_int_equal(vg_x86_translate(f->mem, PML5, 5, 0x0001000000600020ull, &pa, &size), 0);
	assert_int_equal(pa, BIG2M + 0x20);
	assert_int_equal(size, 2u << 20);
}

static void test_read_cross_pages(void **state)
{
	struct fixture *f = *state;
	char buf[32] = { 0 };
	uint64_t v64;
	uint32_t v32;

	/* Last 8 bytes of a 4 KiB page, then the first 8 of the 2 MiB page after it. */
	assert_int_equal(vg_as_read(&f->as, 0x5ffff8, buf, 16), 0);
	assert_memory_equal(buf, "tail4k::head2m::", 16);
	assert_int_equal(vg_as_read(&f->as, 0x601234, buf, 8), 0);
	assert_memory_equal(buf, "mid2m...", 8);
	/* The same physical bytes through the 1 GiB kernel mapping. */
	assert_int_equal(vg_as_read(&f->as, KTEXT + DATA2 + 4088, buf, 8), 0);
	assert_memory_equal(buf, "tail4k::", 8);
	assert_int_equal(vg_as_read_u64(&f->as, 0x400000, &v64), 0);
	assert_int_equal(v64, 0x2e2e2e3041544144ull); /* "DATA0..." little-endian */
	assert_int_equal(vg_as_read_u32(&f->as, 0x401000, &v32), 0);
	assert_int_equal(v32, 0x41544144u);
	/* Any unmapped byte fails the whole read. */
	assert_int_equal(vg_as_read(&f->as, 0x401ff8, buf, 16), -EFAULT);
	assert_int_equal(vg_as_read(&f->as, 0x7ffff8, buf, 16), -EFAULT);
	/* No wrap from the top of the address space to 0, even when both ends are mapped. */
	set_entry(f->ram, PDPT_HI, 511, 0x8000 | P | RW);
	set_entry(f->ram, 0x8000, 511, BIG2M | P | RW | PS);
	set_entry(f->ram, PD_LO, 0, BIG2M | P | RW | PS);
	assert_int_equal(vg_as_read(&f->as, 0xfffffffffffffff8ull, buf, 8), 0);
	assert_int_equal(vg_as_read(&f->as, 0, buf, 8), 0);
	assert_int_equal(vg_as_read(&f->as, 0xfffffffffffffff8ull, buf, 16), -EFAULT);
	assert_int_equal(vg_as_read(&f->as, 0x400000, buf, 0), 0);
}

static void test_read_str(void **state)
{
	struct fixture *f = *state;
	char buf[64];

	memcpy(f->ram + DATA0 + 0x100, "swapper/0", 10);
	assert_int_equal(vg_as_read_str(&f->as, 0x400100, buf, sizeof(buf)), 9);
	assert_string_equal(buf, "swapper/0");
	/* Cut by max: max-1 bytes and a terminator. */
	assert_int_equal(vg_as_read_str(&f->as, 0x400100, buf, 5), 4);
	assert_string_equal(buf, "swap");
	/* Cut by an unmapped page: 0x402000 is not present. */
	memcpy(f->ram + DATA1 + 4090, "abcdef", 6);
	assert_int_equal(vg_as_read_str(&f->as, 0x401ffa, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "abcdef");
	/* A string running from a 4 KiB page into the 2 MiB page. */
	memcpy(f->ram + BIG2M, "xyz", 4);
	memcpy(f->ram + DATA2 + 4094, "uv", 2);
	assert_int_equal(vg_as_read_str(&f->as, 0x5ffffe, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "uvxyz");
	assert_int_equal(vg_as_read_str(&f->as, 0x402000, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(vg_as_read_str(&f->as, 0x400100, buf, 0), -EINVAL);
}

static void test_cache(void **state)
{
	struct fixture *f = *state;
	uint64_t v, pa;

	assert_int_equal(f->as.tlb_hits, 0);
	assert_int_equal(f->as.tlb_misses, 0);
	assert_int_equal(vg_as_read_u64(&f->as, 0x400000, &v), 0);
	assert_int_equal(f->as.tlb_misses, 1);
	assert_int_equal(f->as.tlb_hits, 0);
	assert_int_equal(vg_as_read_u64(&f->as, 0x400ff0, &v), 0);
	assert_int_equal(vg_as_translate(&f->as, 0x400123, &pa, NULL), 0);
	assert_int_equal(pa, DATA0 + 0x123);
	assert_int_equal(f->as.tlb_hits, 2);
	assert_int_equal(f->as.tlb_misses, 1);
	/* Large pages are cached per 4 KiB slice (slots 0xfe, 0xff: clear of 0x400000's slot). */
	assert_int_equal(vg_as_read_u64(&f->as, 0x6fe000, &v), 0);
	assert_int_equal(vg_as_read_u64(&f->as, 0x6ff234, &v), 0);
	assert_int_equal(f->as.tlb_misses, 3);
	assert_int_equal(vg_as_translate(&f->as, 0x6ff000, &pa, NULL), 0);
	assert_int_equal(pa, BIG2M + 0xff000);
	assert_int_equal(f->as.tlb_hits, 3);
	/* A failed walk caches nothing. */
	assert_int_equal(vg_as_read_u64(&f->as, 0x402000, &v), -EFAULT);
	assert_int_equal(vg_as_read_u64(&f->as, 0x402000, &v), -EFAULT);
	assert_int_equal(f->as.tlb_misses, 5);

	/* Retarget the PTE behind the cache's back: the cache keeps the old page until flushed. */
	set_entry(f->ram, PT_LO, 0, DATA2 | P | RW);
	assert_int_equal(vg_as_translate(&f->as, 0x400000, &pa, NULL), 0);
	assert_int_equal(pa, DATA0);
	vg_as_flush(&f->as);
	assert_int_equal(vg_as_translate(&f->as, 0x400000, &pa, NULL), 0);
	assert_int_equal(pa, DATA2);
	assert_int_equal(f->as.tlb_misses, 6);
	/* Two pages sharing a slot evict each other. */
	set_entry(f->ram, PT_LO, 256, DATA1 | P | RW); /* 0x500000: 256 pages above 0x400000 */
	assert_int_equal(vg_as_translate(&f->as, 0x500000, &pa, NULL), 0);
	assert_int_equal(pa, DATA1);
	assert_int_equal(vg_as_translate(&f->as, 0x400000, &pa, NULL), 0);
	assert_int_equal(pa, DATA2);
	assert_int_equal(f->as.tlb_misses, 8);
}

static void test_walk_cache(void **state)
{
	struct fixture *f = *state;
	uint64_t pa, size;

	/* Neighbouring misses in one 2 MiB region reuse its page table (read fresh per PTE)... */
	expect_pa(&f->as, 0x400000, DATA0, 4096);
	assert_int_equal(f->as.wc.vregion, 0x400000 >> 21);
	assert_int_equal(f->as.wc.frame, PT_LO);
	set_entry(f->ram, PT_LO, 2, DATA2 | P | RW);
	expect_pa(&f->as, 0x402000, DATA2, 4096);
	/* ...but not the upper levels: a retargeted PDE is seen only after a flush. */
	set_entry(f->ram, PD_LO, 2, 0x7000ull | P | RW); /* a fresh, empty PT */
	set_entry(f->ram, 0x7000ull, 1, DATA0 | P | RW);
	expect_pa(&f->as, 0x401000, DATA1, 4096);
	vg_as_flush(&f->as);
	assert_int_equal(f->as.wc.vregion, UINT64_MAX);
	expect_pa(&f->as, 0x401000, DATA0, 4096);
	assert_int_equal(vg_as_translate(&f->as, 0x400000, &pa, NULL), -EFAULT);

	/* Large pages: the region's frame answers directly, with the right size and offset. */
	expect_pa(&f->as, 0x6fe000, BIG2M + 0xfe000, 2u << 20);
	assert_int_equal(f->as.wc.size, 2u << 20);
	assert_int_equal(vg_as_translate(&f->as, 0x6ff234, &pa, NULL), 0);
	assert_int_equal(pa, BIG2M + 0xff234);
	expect_pa(&f->as, KTEXT + 0x200000, 0x200000, 1u << 30);
	assert_int_equal(vg_as_translate(&f->as, KTEXT + 0x3ff008, &pa, NULL), 0);
	assert_int_equal(pa, 0x3ff008);
	assert_int_equal(
		vg_x86_translate_wc(f->mem, PML4, 4, KTEXT + 0x201000, &pa, &size, &f->as.wc), 0);
	assert_int_equal(pa, 0x201000);
	assert_int_equal(size, 1u << 30);
	/* A zeroed cache is empty, not a mapping of region 0. */
	struct vg_walk_cache zero = { 0 };
	assert_int_equal(vg_x86_translate_wc(f->mem, PML4, 4, 0x1000, &pa, NULL, &zero), -EFAULT);
	/* A different region walks again from the root: 0xa00000's PDE is invalid. */
	assert_int_equal(vg_as_translate(&f->as, 0xa00000, &pa, NULL), -EFAULT);
}

struct leaf {
	uint64_t va, pa, size;
};

struct leaves {
	struct leaf v[16];
	size_t n;
	size_t stop_after; /* 0: never */
	uint64_t count;
};

static int collect(uint64_t va, uint64_t pa, uint64_t size, void *ctx)
{
	struct leaves *l = ctx;

	l->count++;
	if (l->n < 16)
		l->v[l->n++] = (struct leaf){ va, pa, size };
	if (l->stop_after && l->count == l->stop_after)
		return 7;
	return 0;
}

static void expect_leaf(const struct leaves *l, size_t i, uint64_t va, uint64_t pa, uint64_t size)
{
	assert_true(i < l->n);
	assert_int_equal(l->v[i].va, va);
	assert_int_equal(l->v[i].pa, pa);
	assert_int_equal(l->v[i].size, size);
}

static void test_leaves(void **state)
{
	struct fixture *f = *state;
	struct leaves l = { 0 };

	assert_int_equal(vg_as_for_each_leaf(&f->as, 0, UINT64_MAX, collect, &l), 0);
	/* Invalid entries (PS in PML4, reserved bits) and the out-of-RAM table are skipped. */
	assert_int_equal(l.n, 6);
	expect_leaf(&l, 0, 0x400000, DATA0, 4096);
	expect_leaf(&l, 1, 0x401000, DATA1, 4096);
	expect_leaf(&l, 2, 0x5ff000, DATA2, 4096);
	expect_leaf(&l, 3, 0x600000, BIG2M, 2u << 20);
	expect_leaf(&l, 4, 0xc00000, BIG2M, 2u << 20);
	expect_leaf(&l, 5, KTEXT, 0, 1u << 30); /* sign-extended from PML4 index 511 */

	/* A sub-range: leaves overlapping it, including a large page it starts inside. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(vg_as_for_each_leaf(&f->as, 0x401800, 0x600800, collect, &l), 0);
	assert_int_equal(l.n, 3);
	expect_leaf(&l, 0, 0x401000, DATA1, 4096);
	expect_leaf(&l, 2, 0x600000, BIG2M, 2u << 20);

	/* Only the high half; ends in the non-canonical hole are clamped. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(
		vg_as_for_each_leaf(&f->as, 0x0000900000000000ull, UINT64_MAX, collect, &l), 0);
	assert_int_equal(l.n, 1);
	expect_leaf(&l, 0, KTEXT, 0, 1u << 30);

	/* The callback's non-zero return stops the walk and comes back. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 2;
	assert_int_equal(vg_as_for_each_leaf(&f->as, 0, UINT64_MAX, collect, &l), 7);
	assert_int_equal(l.count, 2);

	assert_int_equal(vg_as_for_each_leaf(&f->as, 5, 4, collect, &l), -EINVAL);
}

static void test_leaves_5level(void **state)
{
	struct fixture *f = *state;
	struct leaves l = { 0 };
	struct vg_as as5;

	assert_int_equal(vg_as_init(&as5, f->mem, PML5, 5), 0);
	assert_int_equal(vg_as_for_each_leaf(&as5, 0, UINT64_MAX, collect, &l), 0);
	/* PML5[0], [1], [511] each see the six leaves; [3] (PS) is skipped. */
	assert_int_equal(l.count, 18);
	expect_leaf(&l, 0, 0x400000, DATA0, 4096);
	expect_leaf(&l, 6, 0x0001000000400000ull, DATA0, 4096);
	/* PML5[511] + PML4[0]: sign-extended from bit 56. */
	expect_leaf(&l, 12, 0xffff000000400000ull, DATA0, 4096);
	assert_int_equal(l.n, 16);
}

static int count_only(uint64_t va, uint64_t pa, uint64_t size, void *ctx)
{
	(*(uint64_t *)ctx)++;
	return 0;
}

static void test_hostile_aliasing(void **state)
{
	struct fixture *f = *state;
	struct vg_as as;
	uint64_t n = 0, pa;
	unsigned int i;

	/* One table whose every entry points at itself: at every level, every slot is present. */
	memset(f->ram, 0, 0x8000);
	for (i = 0; i < 512; i++)
		set_entry(f->ram, PML4, i, PML4 | P | RW);
	assert_int_equal(vg_as_init(&as, f->mem, PML4, 4), 0);
	assert_int_equal(vg_as_for_each_leaf(&as, 0, UINT64_MAX, count_only, &n), -E2BIG);
	assert_int_equal(n, VG_AS_MAX_LEAVES);
	/* Translation is still exactly four reads: the self-reference lands on the table. */
	assert_int_equal(vg_as_translate(&as, 0x7654321, &pa, NULL), 0);
	assert_int_equal(pa, PML4 + 0x321);

	/* Chains of tables that alias one empty PT everywhere: no leaves, bounded by tables. */
	memset(f->ram, 0, 0x8000);
	for (i = 0; i < 512; i++) {
		set_entry(f->ram, PML4, i, PDPT_LO | P | RW);
		set_entry(f->ram, PDPT_LO, i, PD_LO | P | RW);
		set_entry(f->ram, PD_LO, i, PT_LO | P | RW);
	}
	n = 0;
	assert_int_equal(vg_as_for_each_leaf(&as, 0, UINT64_MAX, count_only, &n), -E2BIG);
	assert_int_equal(n, 0);
	/* Root outside RAM. */
	assert_int_equal(vg_as_init(&as, f->mem, 1ull << 40, 4), 0);
	assert_int_equal(vg_as_for_each_leaf(&as, 0, UINT64_MAX, count_only, &n), -EFAULT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_translate_4level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_translate_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_translate_5level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_cross_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_str, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leaves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leaves_5level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_aliasing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
