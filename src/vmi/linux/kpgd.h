/* SPDX-License-Identifier: MIT */
/* Kernel page-table discovery (internal to src/vmi/linux). */
#ifndef VIGIL_KPGD_H
#define VIGIL_KPGD_H

#include "vigil/linux.h"

struct vg_kpgd {
	uint64_t root;
	int levels;
	uint64_t banner_va;
};

/* Does ROOT (as a LEVELS-level table) map physical PA in the kernel-text window? Sets *va. */
int vg_kpgd_maps(struct vg_mem *mem, uint64_t root, int levels, uint64_t pa, uint64_t *va);

/* Candidate roots near the banner that map it; returns how many (at most max). */
int vg_kpgd_scan(struct vg_mem *mem, uint64_t banner_pa, struct vg_kpgd *out, int max);

#endif
