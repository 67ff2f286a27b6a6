/* SPDX-License-Identifier: MIT */
/* Small typed readers of kernel virtual memory (internal to src/vmi/linux). */
#ifndef VIGIL_KREAD_H
#define VIGIL_KREAD_H

#include "vigil/linux.h"

/* A kernel pointer must be canonical and in the upper half; anything else is corrupt data. */
static inline bool vg_kptr_ok(uint64_t p)
{
	return p >= 0xff00000000000000ull && (p & 7) == 0;
}

static inline int vg_kread_ptr(struct vg_linux *lx, uint64_t va, uint64_t *out)
{
	int ret = vg_as_read_u64(&lx->kas, va, out);

	if (!ret && *out && !vg_kptr_ok(*out))
		return -EFAULT;
	return ret;
}

static inline int vg_kread_s32(struct vg_linux *lx, uint64_t va, int32_t *out)
{
	return vg_as_read_u32(&lx->kas, va, (uint32_t *)out);
}

#endif
