/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the gather files (internal to src/ids): pointer sanity, the snapshot's
 * error notes, which module owns an address, and symbol+offset text for evidence.
 */
#ifndef VIGIL_IDS_GATHER_INT_H
#define VIGIL_IDS_GATHER_INT_H

#include "vigil/ids.h"

static inline bool vg_ids_kptr(uint64_t p)
{
	return p >= 0xff00000000000000ull;
}

/* Appends WHAT to s->gather_errors ("; "-separated). */
void vg_ids_note(struct vg_snapshot *s, const char *what);
/* Name of the listed module whose memory holds A, "(unlisted module memory)" for the rest of
 * the module area (vg_linux_module_area, less the kernel image), "" elsewhere. */
const char *vg_ids_owner(const struct vg_snapshot *s, uint64_t a);
/* The AArch64 syscall path instead of x86-64's dispatchers (gather_dispatch_arm64.c). */
void vg_ids_gather_dispatch_arm64(struct vg_linux *lx, struct vg_snapshot *s);
/* "sym+0xoff" (or "sym", or "0xaddr" when no symbol is within 1 MiB) into OUT. */
void vg_ids_symoff(struct vg_linux *lx, uint64_t a, char *out, size_t len);

#endif
