// SPDX-License-Identifier: MIT
/*
 * Where the kernel keeps its image and its modules, per architecture. x86-64: the image in the
 * 1 GiB at __START_KERNEL_map, modules from MODULES_VADDR above it. AArch64 (6.x, with
 * RANDOMIZE_MODULE_REGION_FULL as Debian builds it): module_alloc_base lies anywhere in the
 * 2 GiB below _end, so modules may sit on either side of the image, and a full region spills
 * up to base + 2 GiB; the window that covers every case overlaps the image, which
 * vg_linux_in_image tells apart.
 */
#include "vigil/linux.h"

#define X86_MODULES_LO 0xffffffffc0000000ull
#define X86_MODULES_HI 0xffffffffff000000ull
#define X86_IMAGE_LO 0xffffffff80000000ull
#define SZ_2G (2ull << 30)

void vg_linux_module_area(struct vg_linux *lx, uint64_t *lo, uint64_t *hi)
{
	if (lx->arch != VG_ARCH_ARM64) {
		*lo = X86_MODULES_LO;
		*hi = X86_MODULES_HI;
		return;
	}
	/* module_alloc_base is in [_end - 2 GiB, _stext], its region runs to base + 2 GiB */
	*lo = lx->kimage_end - SZ_2G;
	*hi = lx->kimage_end + SZ_2G;
}

bool vg_linux_in_image(const struct vg_linux *lx, uint64_t va)
{
	if (lx->arch != VG_ARCH_ARM64)
		return va >= X86_IMAGE_LO && va < X86_MODULES_LO;
	return va >= lx->text_va && va < lx->kimage_end;
}
