// SPDX-License-Identifier: MIT
/*
 * x86-64 discovery steps: the kernel page tables (CR3 from a dump's CPU notes, else a page
 * near the banner read as a PML4/PML5 that maps it through the kernel-text window), the
 * facts kallsyms gives (_text, both KASLR slides, init_top_pgt, paging mode, the direct map)
 * and the check of a raw file's layout against the kernel's own e820 map.
 */
#include <errno.h>
#include <time.h>

#include "discover_int.h"

#define START_KERNEL_MAP_TEXT 0xffffffff81000000ull
#define E820_MAX 256

const char *const vg_x86_core_syms[VG_CORE_SYMS] = {
	"_text",	"linux_banner",		"init_task",  "modules", "page_offset_base",
	"init_top_pgt", "__pgtable_l5_enabled", "e820_table",
};

int vg_x86_roots(struct vg_mem *mem, uint64_t banner_pa, struct vg_kpgd *roots, int max)
{
	struct vg_cpu_state cpu;
	int n = 0;

	if (!vg_mem_cpu_state(mem, &cpu) && cpu.valid && cpu.cr3) {
		int levels = (cpu.cr4 & (1ull << 12)) ? 5 : 4;
		/* with PTI the user copy of the PGD is the kernel's | 0x1000 */
		uint64_t cand[2] = { cpu.cr3 & ~0xfffull & 0x000ffffffffff000ull,
				     cpu.cr3 & ~0x1fffull & 0x000ffffffffff000ull };

		for (int i = 0; i < 2 && n < max; i++)
			if (!vg_kpgd_maps(mem, cand[i], levels, banner_pa, &roots[n].banner_va)) {
				roots[n].arch = VG_ARCH_X86_64;
				roots[n].root = cand[i];
				roots[n].levels = levels;
				n++;
			}
	}
	return n + vg_kpgd_scan(mem, banner_pa, roots + n, max - n);
}

int vg_x86_facts(struct vg_linux *lx, struct vg_err *err)
{
	uint64_t a;
	uint32_t l5;

	if (vg_linux_sym(lx, "_text", &lx->text_va))
		return vg_errf(err, ENOENT, "kernel symbols have no _text");
	lx->kaslr_slide = lx->text_va - START_KERNEL_MAP_TEXT;
	if (vg_as_translate(&lx->kas, lx->text_va, &lx->phys_slide, NULL))
		lx->phys_slide = 0;
	/* prefer the kernel's own top-level table over whichever candidate mapped the banner */
	if (!vg_linux_sym(lx, "init_top_pgt", &a) && !vg_as_translate(&lx->kas, a, &a, NULL) &&
	    a != lx->kas.root) {
		uint64_t va;

		if (!vg_kpgd_maps(lx->mem, a, lx->levels, lx->banner_pa, &va) &&
		    va == lx->banner_va)
			vg_as_init(&lx->kas, lx->mem, a, lx->levels);
	}
	if (!vg_linux_sym(lx, "__pgtable_l5_enabled", &a) && !vg_as_read_u32(&lx->kas, a, &l5) &&
	    (l5 != 0) != (lx->levels == 5))
		return vg_errf(err, EINVAL, "page tables walk as %d-level but the kernel says %s",
			       lx->levels, l5 ? "5-level" : "4-level");
	if (!vg_linux_sym(lx, "page_offset_base", &a)) {
		if (vg_as_read_u64(&lx->kas, a, &lx->page_offset_base))
			return vg_errf(err, EFAULT, "cannot read page_offset_base");
	} else {
		lx->page_offset_base =
			lx->levels == 5 ? 0xff11000000000000ull : 0xffff888000000000ull;
	}
	return 0;
}

/* The kernel's e820 RAM entries must lie inside the layout's ranges (raw RAM files only). */
bool vg_x86_layout_ok(struct vg_linux *lx)
{
	uint64_t tab, addr, size;
	uint32_t nr, type;
	const struct vg_offsets *o = &lx->off;
	const struct vg_mem_range *r = vg_mem_ranges(lx->mem);
	size_t nrng = vg_mem_nranges(lx->mem);
	int npc = 0;

	/* only a choice between PC layouts needs the check */
	for (int l = 0; l < vg_mem_layout_count(lx->mem); l++)
		npc += vg_mem_layout_arch(lx->mem, l) == VG_ARCH_X86_64;
	if (npc < 2)
		return true;
	if (o->e820_nr < 0 || o->e820_entries < 0 || o->e820_entry_size < 20)
		return true; /* cannot tell: accept */
	if (vg_linux_sym(lx, "e820_table", &tab) || vg_as_read_u64(&lx->kas, tab, &tab) ||
	    vg_as_read_u32(&lx->kas, tab + o->e820_nr, &nr) || nr > E820_MAX)
		return true;
	for (uint32_t i = 0; i < nr; i++) {
		uint64_t e = tab + o->e820_entries + (uint64_t)i * o->e820_entry_size;
		bool inside = false;

		if (vg_as_read_u64(&lx->kas, e, &addr) || vg_as_read_u64(&lx->kas, e + 8, &size) ||
		    vg_as_read_u32(&lx->kas, e + 16, &type))
			return true;
		if (type != 1 || size == 0)
			continue;
		for (size_t k = 0; k < nrng; k++)
			if (addr >= r[k].start && addr + size <= r[k].start + r[k].size)
				inside = true;
		if (!inside)
			return false;
	}
	return true;
}
