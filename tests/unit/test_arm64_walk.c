// SPDX-License-Identifier: MIT
/*
 * AArch64 walker tests over synthetic 4 KiB-granule tables in a buffer that serves as guest
 * RAM (physical 0 .. len): the kernel (TTBR1) half with 48-bit 4-level and 39-bit 3-level
 * tables, 4 KiB pages, 2 MiB and 1 GiB blocks; a process's (TTBR0) half with a tagged pointer;
 * the descriptors the MMU faults on; leaf enumeration; pointer-authentication stripping.
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
#define TABLE 3ull /* valid table descriptor (and, at the last level, a page) */
#define BLOCK 1ull
#define AF (1ull << 10)
#define UXN (1ull << 54)

/* physical layout */
#define L0 0x1000ull
#define L1 0x2000ull
#define L2 0x3000ull
#define L3 0x4000ull
#define L1_39 0x5000ull /* root of the 39-bit tables */
#define UL0 0x6000ull	/* user half */
#define UL1 0x7000ull
#define UL2 0x8000ull
#define UL3 0x9000ull
#define DATA0 0x10000ull
#define DATA1 0x11000ull
#define BIG2M 0x200000ull

#define KIMG 0xffff800008000000ull   /* L0[256] L1[0] L2[64] */
#define LINEAR 0xffff000000000000ull /* L0[0] L1[0]: a 1 GiB block onto physical 0 */

struct fixture {
	uint8_t *ram;
	struct vg_mem *mem;
	struct vg_as as;
};

static void put(uint8_t *ram, uint64_t table, unsigned int idx, uint64_t v)
{
	memcpy(ram + table + idx * 8ull, &v, 8);
}

/*
 * Kernel half, 48-bit:
 *   KIMG            4 KiB page -> DATA0   (L3[0]), KIMG+0x1000 -> DATA1 (L3[1], UXN and AF set)
 *   KIMG+0x2000     reserved encoding 0b01 at the last level: faults
 *   KIMG+0x200000   2 MiB block -> BIG2M  (L2[65])
 *   KIMG+0x400000   2 MiB block with frame bit 13 set: faults (L2[66])
 *   LINEAR          1 GiB block -> 0      (L0[0] -> L1 at 0x2000's sibling, see below)
 *   L0[1]           a block at level 0: faults;  L0[2]: a table far outside RAM
 * User half, 48-bit: 0x400000 -> DATA1 (UL0[0] UL1[0] UL2[2] UL3[0]).
 * Kernel half, 39-bit: L1_39[256] -> L2 (so KIMG's 39-bit twin 0xffffffc008000000 works).
 */
static void build(uint8_t *ram)
{
	put(ram, L0, 256, L1 | TABLE);
	put(ram, L1, 0, L2 | TABLE);
	put(ram, L2, 64, L3 | TABLE);
	put(ram, L3, 0, DATA0 | TABLE | AF);
	put(ram, L3, 1, DATA1 | TABLE | AF | UXN);
	put(ram, L3, 2, DATA1 | BLOCK | AF);
	put(ram, L2, 65, BIG2M | BLOCK | AF);
	put(ram, L2, 66, BIG2M | (1ull << 13) | BLOCK | AF);
	/* the linear map: L0[0] -> a level-1 table whose entry 0 is a 1 GiB block at 0 */
	put(ram, L0, 0, 0xa000 | TABLE);
	put(ram, 0xa000, 0, 0 | BLOCK | AF);
	put(ram, L0, 1, 0 | BLOCK | AF);
	put(ram, L0, 2, 0x7ff000000ull | TABLE);
	put(ram, UL0, 0, UL1 | TABLE);
	put(ram, UL1, 0, UL2 | TABLE);
	put(ram, UL2, 2, UL3 | TABLE);
	put(ram, UL3, 0, DATA1 | TABLE | AF);
	put(ram, L1_39, 256, L2 | TABLE);
	memcpy(ram + DATA0, "data-zero", 10);
	memcpy(ram + DATA1, "data-one", 9);
	memcpy(ram + BIG2M + 0x1234, "big-block", 10);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vg_err err = { 0 };

	f->ram = calloc(1, RAM_SIZE);
	build(f->ram);
	assert_int_equal(vg_mem_open_buffer(&f->mem, f->ram, RAM_SIZE, &err), 0);
	assert_int_equal(vg_as_init_arm64(&f->as, f->mem, L0, 48, false), 0);
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

static void test_init(void **state)
{
	struct fixture *f = *state;
	struct vg_as as;

	assert_int_equal(vg_as_init_arm64(&as, f->mem, L0, 47, false), -EINVAL);
	assert_int_equal(vg_as_init_arm64(&as, f->mem, L0, 64, false), -EINVAL);
	assert_int_equal(vg_as_init_arm64(&as, f->mem, L0 | 1 | (5ull << 48), 48, false), 0);
	assert_int_equal(as.root, L0); /* CnP and ASID dropped */
	assert_int_equal(as.levels, 4);
	assert_int_equal(vg_arm64_levels(39), 3);
	assert_int_equal(vg_arm64_levels(52), 5);
}

static void test_translate(void **state)
{
	struct fixture *f = *state;
	uint64_t pa, ps;
	char buf[16];

	assert_int_equal(vg_as_translate(&f->as, KIMG + 0x10, &pa, &ps), 0);
	assert_int_equal(pa, DATA0 + 0x10);
	assert_int_equal(ps, 4096);
	assert_int_equal(vg_as_translate(&f->as, KIMG + 0x1008, &pa, &ps), 0);
	assert_int_equal(pa, DATA1 + 8);
	assert_int_equal(vg_as_translate(&f->as, KIMG + 0x201234, &pa, &ps), 0);
	assert_int_equal(pa, BIG2M + 0x1234);
	assert_int_equal(ps, 2u << 20);
	assert_int_equal(vg_as_translate(&f->as, LINEAR + 0x123456, &pa, &ps), 0);
	assert_int_equal(pa, 0x123456);
	assert_int_equal(ps, 1u << 30);
	assert_int_equal(vg_as_read(&f->as, KIMG + 0x201234, buf, 10), 0);
	assert_string_equal(buf, "big-block");
	assert_int_equal(vg_as_read_str(&f->as, KIMG, buf, sizeof(buf)), 9);
	assert_string_equal(buf, "data-zero");
}

static void test_faults(void **state)
{
	struct fixture *f = *state;
	uint64_t pa;

	assert_int_equal(vg_as_translate(&f->as, KIMG + 0x2000, &pa, NULL), -EFAULT);
	assert_int_equal(vg_as_translate(&f->as, KIMG + 0x3000, &pa, NULL), -EFAULT);
	assert_int_equal(vg_as_translate(&f->as, KIMG + 0x400000, &pa, NULL), -EFAULT);
	assert_int_equal(vg_as_translate(&f->as, LINEAR + (1ull << 39), &pa, NULL), -EFAULT);
	assert_int_equal(vg_as_translate(&f->as, LINEAR + (2ull << 39), &pa, NULL), -EFAULT);
	/* not in the kernel half, or carrying a signature: not canonical */
	assert_int_equal(vg_as_translate(&f->as, 0x400000, &pa, NULL), -EINVAL);
	assert_int_equal(vg_as_translate(&f->as, KIMG ^ (0x5aull << 48), &pa, NULL), -EINVAL);
}

static void test_user_half(void **state)
{
	struct fixture *f = *state;
	struct vg_as u;
	uint64_t pa;
	char buf[16];

	assert_int_equal(vg_as_init_arm64(&u, f->mem, UL0, 48, true), 0);
	assert_int_equal(vg_as_translate(&u, 0x400004, &pa, NULL), 0);
	assert_int_equal(pa, DATA1 + 4);
	/* a tagged pointer (TBI0, MTE tag 0xb) reads the same bytes */
	assert_int_equal(vg_as_read_str(&u, 0x0b00000000400000ull, buf, sizeof(buf)), 8);
	assert_string_equal(buf, "data-one");
	assert_int_equal(vg_as_translate(&u, KIMG, &pa, NULL), -EINVAL);
	assert_int_equal(vg_as_translate(&u, 1ull << 48, &pa, NULL), -EINVAL);
	assert_int_equal(vg_arm64_untag(0x0b00000000400000ull), 0x400000);
}

static void test_39bit(void **state)
{
	struct fixture *f = *state;
	struct vg_as as;
	uint64_t pa;

	assert_int_equal(vg_as_init_arm64(&as, f->mem, L1_39, 39, false), 0);
	assert_int_equal(as.levels, 3);
	assert_int_equal(vg_as_translate(&as, 0xffffffc008000010ull, &pa, NULL), 0);
	assert_int_equal(pa, DATA0 + 0x10);
	assert_int_equal(vg_as_translate(&as, 0xffffff8008000000ull, &pa, NULL), -EFAULT);
	assert_int_equal(vg_as_translate(&as, 0xfffeffc008000000ull, &pa, NULL), -EINVAL);
}

static void test_lpa2_addr(void **state)
{
	/* OA[51:50] live in bits 9:8 of an LPA2 descriptor; the 48-bit format has none */
	uint64_t d = 0x0001234567890000ull | (3ull << 8) | TABLE;

	assert_int_equal(vg_arm64_desc_addr(d, 52), 0x000d234567890000ull);
	assert_int_equal(vg_arm64_desc_addr(d, 48), 0x0000234567890000ull);
}

struct leaves {
	uint64_t va[16], pa[16], size[16];
	int n;
};

static int leaf_cb(uint64_t va, uint64_t pa, uint64_t size, void *ctx)
{
	struct leaves *l = ctx;

	if (l->n < 16) {
		l->va[l->n] = va;
		l->pa[l->n] = pa;
		l->size[l->n] = size;
	}
	l->n++;
	return 0;
}

static void test_leaves(void **state)
{
	struct fixture *f = *state;
	struct leaves l = { 0 };

	/* the whole kernel half: the linear 1 GiB block, then the image's pages and block */
	assert_int_equal(vg_as_for_each_leaf(&f->as, 0, UINT64_MAX, leaf_cb, &l), 0);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.va[0], LINEAR);
	assert_int_equal(l.size[0], 1u << 30);
	assert_int_equal(l.va[1], KIMG);
	assert_int_equal(l.pa[1], DATA0);
	assert_int_equal(l.va[2], KIMG + 0x1000);
	assert_int_equal(l.va[3], KIMG + 0x200000);
	assert_int_equal(l.size[3], 2u << 20);
	/* a sub-range, and the table cap */
	memset(&l, 0, sizeof(l));
	assert_int_equal(vg_as_for_each_leaf(&f->as, KIMG + 0x1000, KIMG + 0x1fffff, leaf_cb, &l),
			 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(
		vg_arm64_for_each_leaf(f->mem, L0, 48, false, 0, UINT64_MAX, leaf_cb, &l, 2),
		-E2BIG);
}

static void test_hostile_loop(void **state)
{
	struct fixture *f = *state;
	struct leaves l = { 0 };
	struct vg_as as;

	/* every entry of a table pointing back at the table itself */
	for (unsigned int i = 0; i < 512; i++)
		put(f->ram, 0xb000, i, 0xb000 | TABLE);
	assert_int_equal(vg_as_init_arm64(&as, f->mem, 0xb000, 48, false), 0);
	assert_int_equal(vg_as_for_each_leaf(&as, 0, UINT64_MAX, leaf_cb, &l), -E2BIG);
	/* a translation is four reads whatever the tables say: here the table is its own page */
	uint64_t pa = 0;

	assert_int_equal(vg_as_translate(&as, KIMG + 8, &pa, NULL), 0);
	assert_int_equal(pa, 0xb008);
}

static void test_strip_pac(void **state)
{
	/* a kernel return address signed in bits 63..48 (no tags in the kernel half) */
	assert_int_equal(vg_arm64_strip_pac(0x3a9baa3581818000ull, 48, false),
			 0xffffaa3581818000ull);
	assert_int_equal(vg_arm64_strip_pac(0xffffaa3581818000ull, 48, false),
			 0xffffaa3581818000ull);
	/* a user one with TBI: the tag byte stays, bits 54..48 are cleared */
	assert_int_equal(vg_arm64_strip_pac(0x0a3f0000004005a0ull, 48, true),
			 0x0a000000004005a0ull);
	/* 39-bit kernel */
	assert_int_equal(vg_arm64_strip_pac(0x3f9e0ec008001234ull, 39, false),
			 0xffffffc008001234ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init, setup, teardown),
		cmocka_unit_test_setup_teardown(test_translate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_half, setup, teardown),
		cmocka_unit_test_setup_teardown(test_39bit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lpa2_addr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leaves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_loop, setup, teardown),
		cmocka_unit_test(test_strip_pac),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
