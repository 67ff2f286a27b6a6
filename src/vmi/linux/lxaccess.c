// SPDX-License-Identifier: MIT
/* Reading a discovered kernel's memory, and a process's through its own page tables. */
#include <errno.h>

#include "discover_int.h"

int vg_linux_read(struct vg_linux *lx, uint64_t va, void *buf, size_t len)
{
	return vg_as_read(&lx->kas, va, buf, len);
}

int vg_linux_user_as(struct vg_linux *lx, uint64_t pgd, struct vg_as *out)
{
	if (pgd < lx->page_offset_base)
		return -EINVAL;
	if (lx->arch == VG_ARCH_ARM64)
		return vg_as_init_arm64(out, lx->mem, vg_linux_pa(lx, pgd), lx->va_bits, true);
	return vg_as_init(out, lx->mem, vg_linux_pa(lx, pgd), lx->levels);
}

const char *vg_linux_paging_name(const struct vg_linux *lx)
{
	if (lx->arch == VG_ARCH_ARM64)
		return lx->va_bits == 39   ? "AArch64 39-bit 3-level"
		       : lx->va_bits == 52 ? "AArch64 52-bit 5-level (LPA2)"
					   : "AArch64 48-bit 4-level";
	return lx->levels == 5 ? "x86-64 5-level" : "x86-64 4-level";
}
