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

/* A pointer to bytes (a string) needs no alignment: only the kernel half. */
static inline bool vg_kstr_ok(uint64_t p)
{
	return p >= 0xff00000000000000ull;
}

/* Reads a char * at VA and the string it points to (at most MAX-1 bytes); -EFAULT when the
 * pointer is not a kernel address or nothing can be read. */
static inline int vg_kread_strp(struct vg_linux *lx, uint64_t va, char *buf, size_t max)
{
	uint64_t p;

	if (vg_as_read_u64(&lx->kas, va, &p) || !vg_kstr_ok(p))
		return -EFAULT;
	return vg_as_read_str(&lx->kas, p, buf, max) < 0 ? -EFAULT : 0;
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
