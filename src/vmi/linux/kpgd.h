/* SPDX-License-Identifier: MIT */
/* Kernel page-table discovery (internal to src/vmi/linux): candidate roots that map the
 * banner, for x86-64 (kpgd.c) and AArch64 (kpgd_arm64.c). */
#ifndef VIGIL_KPGD_H
#define VIGIL_KPGD_H

#include "vigil/linux.h"

struct vg_kpgd {
	enum vg_arch arch;
	uint64_t root;
	int levels;
	int va_bits; /* AArch64 */
	uint64_t banner_va;
	bool from_vmcoreinfo; /* named by the guest's VMCOREINFO, not found by search */
};

/* Does ROOT (as a LEVELS-level table) map physical PA in the kernel-text window? Sets *va. */
int vg_kpgd_maps(struct vg_mem *mem, uint64_t root, int levels, uint64_t pa, uint64_t *va);

/* Candidate roots near the banner that map it; returns how many (at most max). */
int vg_kpgd_scan(struct vg_mem *mem, uint64_t banner_pa, struct vg_kpgd *out, int max);

/*
 * AArch64: pages near the banner that are a kernel (TTBR1) top-level table of 48, 39 or 52
 * VA bits whose upper half maps the banner; returns how many (at most max). *MISPLACED counts
 * pages shaped like such a table whose entries point outside this layout's RAM: the guest's
 * RAM is elsewhere in its physical address space than this layout assumes.
 */
int vg_arm64_kpgd_scan(struct vg_mem *mem, uint64_t banner_pa, struct vg_kpgd *out, int max,
		       int *misplaced);
/* Does ROOT (VA_BITS kernel table) map PA in the upper half of the kernel's space? Sets *va. */
int vg_arm64_kpgd_maps(struct vg_mem *mem, uint64_t root, int va_bits, uint64_t pa, uint64_t *va);
/* Is the memory in the MAX bytes below the banner AArch64 code? A content test that needs no
 * layout: only AArch64's most common instructions are counted. */
bool vg_arm64_code_near(struct vg_mem *mem, uint64_t banner_pa, uint64_t max);

#endif
