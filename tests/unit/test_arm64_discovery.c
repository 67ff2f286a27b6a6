// SPDX-License-Identifier: MIT
/*
 * The AArch64 discovery pieces over synthetic memory: the exported-symbol table found by
 * content (suffix-merged names, the _gpl restart, junk around it), the VMCOREINFO reader, the
 * ADRP/ADD/LDR reference reader (real instruction encodings, capstone), the swapper_pg_dir
 * search by shape in the right layout and its "misplaced" signal in the wrong one, the code
 * probe, and translating a banner between candidate layouts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/linux.h"
#include "vmi/linux/kpgd.h"

#define IMG_VA 0xffff800008010000ull

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	memcpy(b + off, &v, 4);
}

static void put64(uint8_t *b, size_t off, uint64_t v)
{
	memcpy(b + off, &v, 8);
}

/* ---- ksymtab ---- */

struct kst_img {
	uint8_t b[0x10000];
};

/* An entry at P: value, name and namespace offsets relative to their own fields. */
static void entry(uint8_t *b, size_t p, uint64_t value_off, size_t name, size_t ns)
{
	put32(b, p, (uint32_t)(int32_t)((int64_t)value_off - (int64_t)p));
	put32(b, p + 4, (uint32_t)(int32_t)((int64_t)name - (int64_t)(p + 4)));
	put32(b, p + 8, (uint32_t)(int32_t)((int64_t)ns - (int64_t)(p + 8)));
}

static void build_ksymtab(struct kst_img *k)
{
	/* strings: "init_net" is the tail of "xx_init_net", as the linker merges them */
	static const char strs[] = "\0alpha\0xx_init_net\0init_task\0jiffies\0beta_gpl\0gamma_gpl";
	const size_t s = 0x8000, tab = 0x1000;
	const size_t alpha = s + 1, init_net = s + 10, init_task = s + 19, jiffies = s + 29,
		     beta = s + 37, gamma = s + 46, empty = s;

	memset(k->b, 0xff, sizeof(k->b)); /* junk all around */
	memset(k->b + tab - 24, 0, 24);
	memcpy(k->b + s, strs, sizeof(strs));
	entry(k->b, tab + 0, 0x9000, alpha, empty);
	entry(k->b, tab + 12, 0x9010, init_net, empty);
	entry(k->b, tab + 24, 0x9020, init_task, empty);
	entry(k->b, tab + 36, 0x9030, jiffies, empty);
	entry(k->b, tab + 48, 0x9040, beta, empty); /* __ksymtab_gpl starts: names restart */
	entry(k->b, tab + 60, 0x9050, gamma, empty);
}

static void test_ksymtab(void **state)
{
	struct kst_img *k = malloc(sizeof(*k));
	struct vg_ksymtab kt;
	struct vg_err err = { 0 };
	uint64_t a;

	build_ksymtab(k);
	assert_int_equal(vg_ksymtab_parse(&kt, k->b, sizeof(k->b), IMG_VA, 0x4000, &err), 0);
	assert_int_equal(kt.count, 6);
	assert_int_equal(kt.stride, 12);
	assert_int_equal(kt.table_off, 0x1000);
	assert_int_equal(vg_ksymtab_lookup(&kt, "init_task", &a), 0);
	assert_int_equal(a, IMG_VA + 0x9020);
	assert_int_equal(vg_ksymtab_lookup(&kt, "init_net", &a), 0);
	assert_int_equal(a, IMG_VA + 0x9010);
	assert_int_equal(vg_ksymtab_lookup(&kt, "gamma_gpl", &a), 0);
	assert_int_equal(a, IMG_VA + 0x9050);
	assert_int_equal(vg_ksymtab_lookup(&kt, "xx_init_net", &a), -ENOENT);
	vg_ksymtab_free(&kt);

	/* no init_task anywhere: no table */
	memcpy(k->b + 0x8000 + 19, "init_tasQ", 9);
	assert_int_equal(vg_ksymtab_parse(&kt, k->b, sizeof(k->b), IMG_VA, 0, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "ksymtab"));
	free(k);
}

/* ---- VMCOREINFO ---- */

static void test_vmcoreinfo(void **state)
{
	static const char text[] = "OSRELEASE=6.1.0-50-arm64\n"
				   "PAGESIZE=4096\n"
				   "SYMBOL(swapper_pg_dir)=ffffdb9461c53000\n"
				   "SYMBOL(_stext)=ffffdb9460610000\n"
				   "NUMBER(VA_BITS)=48\n"
				   "NUMBER(kimage_voffset)=0xffffdb9420400000\n"
				   "NUMBER(PHYS_OFFSET)=0xfffff2ffc0000000\n"
				   "SYMBOL(swapper_pg_dir)=1234\n" /* a repeat does not override */
				   "NUMBER(TCR_EL1_T1SZ)=0x10\n"
				   "KERNELOFFSET=5b9458600000\n"
				   "KERNELPACMASK=0xffff000000000000\n"
				   "junk line without equals\n"
				   "SYMBOL(init_uts_ns)=-12\n"; /* not a number: ignored */
	struct vg_vmcoreinfo vi;
	char big[300];

	assert_int_equal(vg_vmcoreinfo_parse(&vi, text, sizeof(text) - 1), 0);
	assert_string_equal(vi.release, "6.1.0-50-arm64");
	assert_int_equal(vi.swapper_pg_dir, 0xffffdb9461c53000ull);
	assert_int_equal(vi.stext, 0xffffdb9460610000ull);
	assert_int_equal(vi.va_bits, 48);
	assert_int_equal(vi.kimage_voffset, 0xffffdb9420400000ull);
	assert_int_equal(vi.phys_offset, 0xfffff2ffc0000000ull);
	assert_int_equal(vi.kernel_offset, 0x5b9458600000ull);
	assert_int_equal(vi.pac_mask, 0xffff000000000000ull);
	assert_false(vi.have & VG_VMCI_UTS);
	/* no release: refused; an overlong line is skipped, not read past */
	assert_int_equal(vg_vmcoreinfo_parse(&vi, "NUMBER(VA_BITS)=48\n", 19), -ENOENT);
	memset(big, 'A', sizeof(big));
	memcpy(big + sizeof(big) - 20, "\nOSRELEASE=x\n", 13);
	assert_int_equal(vg_vmcoreinfo_parse(&vi, big, sizeof(big) - 7), 0);
	assert_string_equal(vi.release, "x");
	/* stops at a NUL */
	assert_int_equal(vg_vmcoreinfo_parse(&vi, "OSRELEASE=a\0OSRELEASE=b\n", 24), 0);
	assert_string_equal(vi.release, "a");
}

/* ---- code references ---- */

static uint32_t adrp(int rd, uint64_t pc, uint64_t target)
{
	int64_t pages = (int64_t)((target & ~0xfffull) - (pc & ~0xfffull)) >> 12;

	return 0x90000000u | ((uint32_t)(pages & 3) << 29) |
	       ((uint32_t)((pages >> 2) & 0x7ffff) << 5) | (uint32_t)rd;
}

static uint32_t add_imm(int rd, int rn, uint32_t imm)
{
	return 0x91000000u | imm << 10 | (uint32_t)rn << 5 | (uint32_t)rd;
}

static uint32_t ldr_uimm(int rt, int rn, uint32_t off)
{
	return 0xf9400000u | (off / 8) << 10 | (uint32_t)rn << 5 | (uint32_t)rt;
}

static uint32_t ldr_pre(int rt, int rn, int32_t off)
{
	return 0xf8400c00u | ((uint32_t)off & 0x1ff) << 12 | (uint32_t)rn << 5 | (uint32_t)rt;
}

static void test_code_refs(void **state)
{
	const uint64_t fn = 0xffff800008001000ull, var = 0xffff800009d5c940ull;
	uint32_t code[8];
	uint64_t refs[8];
	int n = 0;

	code[n] = adrp(20, fn + 4 * n, var), n++;
	code[n] = add_imm(20, 20, var & 0xfff), n++; /* x20 = var */
	code[n] = ldr_pre(19, 20, 80), n++;	     /* [var + 80], x20 moves there */
	code[n] = adrp(0, fn + 4 * n, fn + 0x3000), n++;
	code[n] = ldr_uimm(1, 0, 0x18), n++; /* [page + 0x18] */
	code[n] = 0x94000010u, n++;	     /* bl: x0..x18 unknown after */
	code[n] = add_imm(2, 0, 8), n++;     /* x0 unknown: nothing */
	code[n] = add_imm(3, 20, 16), n++;   /* x20 survived the call */
	n = vg_arm64_code_refs((const uint8_t *)code, sizeof(code), fn, refs, 8);
	assert_int_equal(n, 4);
	assert_int_equal(refs[0], var);
	assert_int_equal(refs[1], var + 80);
	assert_int_equal(refs[2], ((fn + 0x3000) & ~0xfffull) + 0x18);
	assert_int_equal(refs[3], var + 80 + 16);
	/* undecodable words are skipped, not fatal */
	memset(code, 0xff, sizeof(code));
	assert_int_equal(vg_arm64_code_refs((const uint8_t *)code, sizeof(code), fn, refs, 8), 0);
}

/* ---- swapper_pg_dir by shape, layouts ---- */

#define RAM (8u << 20)
#define VIRT 0x40000000ull
#define BANNER_OFF 0x100000ull
#define L0_OFF 0x200000ull
#define TRAMP_OFF 0x205000ull
#define KIMG 0xffff800008000000ull

static uint8_t *build_ram(void)
{
	static const char banner[] = "Linux version 6.1.0-test (vigil) #1 SMP\n";
	uint8_t *b = calloc(1, RAM);

	memcpy(b + BANNER_OFF + 0x3e0, banner, sizeof(banner));
	/* L0: the linear map below (a 1 GiB block of RAM under entry 0's level 1), the image
	 * above (KIMG -> the banner's page) */
	put64(b, L0_OFF + 0 * 8, (VIRT + L0_OFF + 0x1000) | 3);
	put64(b, L0_OFF + 256 * 8, (VIRT + L0_OFF + 0x2000) | 3);
	put64(b, L0_OFF + 0x1000 + 1 * 8, VIRT | 1 | (1 << 10));
	put64(b, L0_OFF + 0x2000 + 0 * 8, (VIRT + L0_OFF + 0x3000) | 3);
	put64(b, L0_OFF + 0x3000 + 64 * 8, (VIRT + L0_OFF + 0x4000) | 3);
	put64(b, L0_OFF + 0x4000 + 0 * 8, (VIRT + BANNER_OFF) | 3 | (1 << 10));
	/* a trampoline-like table: only the upper half, refused by shape */
	put64(b, TRAMP_OFF + 511 * 8, (VIRT + L0_OFF + 0x2000) | 3);
	/* AArch64 code under the banner: ret and nop, as .text ends */
	for (size_t off = BANNER_OFF - 0x1000; off < BANNER_OFF; off += 8) {
		put32(b, off, 0xd65f03c0);
		put32(b, off + 4, 0xd503201f);
	}
	return b;
}

static int layout_named(struct vg_mem *m, const char *name)
{
	for (int l = 0; l < vg_mem_layout_count(m); l++)
		if (!strcmp(vg_mem_layout_name(m, l), name))
			return l;
	return -1;
}

static void test_kpgd_scan(void **state)
{
	uint8_t *b = build_ram();
	struct vg_err err = { 0 };
	struct vg_kpgd roots[2];
	struct vg_mem *m;
	uint64_t va;
	int misplaced = 0;

	assert_int_equal(vg_mem_open_buffer(&m, b, RAM, &err), 0);
	assert_int_equal(vg_mem_set_layout(m, layout_named(m, "arm-virt")), 0);
	assert_int_equal(vg_arm64_kpgd_scan(m, VIRT + BANNER_OFF + 0x3e0, roots, 2, &misplaced), 1);
	assert_int_equal(roots[0].root, VIRT + L0_OFF);
	assert_int_equal(roots[0].va_bits, 48);
	assert_int_equal(roots[0].levels, 4);
	assert_int_equal(roots[0].banner_va, KIMG + 0x3e0);
	assert_int_equal(misplaced, 0);
	assert_int_equal(vg_arm64_kpgd_maps(m, VIRT + TRAMP_OFF, 48, VIRT + BANNER_OFF, &va), 0);
	/* the same bytes read as a board with RAM at 0: the tables point outside it */
	assert_int_equal(vg_mem_set_layout(m, layout_named(m, "arm-low")), 0);
	assert_int_equal(vg_arm64_kpgd_scan(m, BANNER_OFF + 0x3e0, roots, 2, &misplaced), 0);
	assert_true(misplaced > 0);
	vg_mem_close(m);
	free(b);
}

static void test_code_near_and_xlate(void **state)
{
	uint8_t *b = build_ram();
	struct vg_err err = { 0 };
	struct vg_mem *m;
	uint64_t pa;
	int flat, virt, low;

	assert_int_equal(vg_mem_open_buffer(&m, b, RAM, &err), 0);
	flat = layout_named(m, "flat");
	virt = layout_named(m, "arm-virt");
	low = layout_named(m, "arm-low");
	assert_true(flat >= 0 && virt >= 0 && low >= 0);
	assert_int_equal(vg_mem_set_layout(m, low), 0);
	assert_true(vg_arm64_code_near(m, BANNER_OFF + 0x3e0, 64 << 10));
	assert_false(vg_arm64_code_near(m, L0_OFF + 0x100000, 64 << 10));
	/* in the PC layout that code is in the legacy hole: not seen */
	assert_int_equal(vg_mem_set_layout(m, flat), 0);
	assert_false(vg_arm64_code_near(m, BANNER_OFF + 0x3e0, 64 << 10));
	assert_int_equal(vg_mem_layout_xlate(m, flat, BANNER_OFF, virt, &pa), 0);
	assert_int_equal(pa, VIRT + BANNER_OFF);
	assert_int_equal(vg_mem_layout_xlate(m, virt, VIRT + 0xa0000, low, &pa), 0);
	assert_int_equal(pa, 0xa0000);
	/* the PC layout has a hole where the board has RAM */
	assert_int_equal(vg_mem_layout_xlate(m, low, 0xa0000, flat, &pa), -EFAULT);
	assert_int_equal(vg_mem_layout_xlate(m, virt, 0x1000, flat, &pa), -EFAULT);
	assert_int_equal(vg_mem_layout_xlate(m, 9, 0, flat, &pa), -EINVAL);
	vg_mem_close(m);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ksymtab),
		cmocka_unit_test(test_vmcoreinfo),
		cmocka_unit_test(test_code_refs),
		cmocka_unit_test(test_kpgd_scan),
		cmocka_unit_test(test_code_near_and_xlate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
