// SPDX-License-Identifier: MIT
/*
 * Finding the kernel page tables with no CR3. The kernel image maps itself at
 * __START_KERNEL_map (0xffffffff80000000, 1 GiB window) and its top-level table
 * (init_top_pgt) lives inside the image. So: for each page near the banner, read it as a PML4
 * and as a PML5 and ask whether the kernel-text window maps the banner's physical page. Pages
 * that pass are validated further by kallsyms (linux_banner's address must match).
 */
#include <errno.h>
#include <string.h>

#include "vigil/linux.h"
#include "kpgd.h"

#define KTEXT_LO 0xffffffff80000000ull
#define KTEXT_HI 0xffffffffbfffffffull
#define PTE_ADDR 0x000ffffffffff000ull
/* init_top_pgt is in .data, after .rodata and its banner; early tables sit just before */
#define SPAN_BELOW (32ull << 20)
#define SPAN_ABOVE (96ull << 20)

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

int vg_kpgd_maps(struct vg_mem *mem, uint64_t root, int levels, uint64_t pa, uint64_t *va)
{
	struct vg_as as;
	struct find_ctx f = { .want_pa = pa };

	if (vg_as_init(&as, mem, root, levels))
		return -EINVAL;
	if (vg_as_for_each_leaf(&as, KTEXT_LO, KTEXT_HI, leaf_cb, &f) != 1)
		return -ENOENT;
	*va = f.va;
	return 0;
}

/* Cheap shape test before a walk: top entry 511 present and pointing into RAM near the image. */
static bool plausible_top(const uint8_t *pg, uint64_t lo, uint64_t hi)
{
	uint64_t e, t;

	memcpy(&e, pg + 511 * 8, 8);
	if (!(e & 1) || (e & 0x80))
		return false;
	t = e & PTE_ADDR;
	return t >= lo && t < hi;
}

int vg_kpgd_scan(struct vg_mem *mem, uint64_t banner_pa, struct vg_kpgd *out, int max)
{
	uint64_t lo = banner_pa > SPAN_BELOW ? banner_pa - SPAN_BELOW : 0;
	uint64_t hi = banner_pa + SPAN_ABOVE;
	int n = 0;

	/* upward from the banner first: that is where .data and init_top_pgt are */
	uint64_t first = banner_pa & ~0xfffull, span = (hi - (lo & ~0xfffull)) / 4096;

	for (uint64_t i = 0; i < span && n < max; i++) {
		uint64_t pa = first + i * 4096 < hi ? first + i * 4096
						    : first - (i - (hi - first) / 4096 + 1) * 4096;
		const uint8_t *pg = pa >= lo ? vg_mem_ptr(mem, pa, 4096) : NULL;

		if (!pg || !plausible_top(pg, lo, hi))
			continue;
		for (int levels = 4; levels <= 5 && n < max; levels++) {
			uint64_t va;

			if (vg_kpgd_maps(mem, pa, levels, banner_pa, &va) == 0) {
				out[n].arch = VG_ARCH_X86_64;
				out[n].root = pa;
				out[n].levels = levels;
				out[n].banner_va = va;
				n++;
			}
		}
	}
	return n;
}
