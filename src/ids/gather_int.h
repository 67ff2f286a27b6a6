/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the gather files (internal to src/ids): pointer sanity, the snapshot's
 * error notes, which module owns an address, and symbol+offset text for evidence.
 */
#ifndef VIGIL_IDS_GATHER_INT_H
#define VIGIL_IDS_GATHER_INT_H

#include "vigil/ids.h"

/* MODULES_VADDR = __START_KERNEL_map + KERNEL_IMAGE_SIZE (1 GiB with RANDOMIZE_BASE): below
 * it is the (slid) kernel image, never module memory */
#define VG_MODULES_LO 0xffffffffc0000000ull
#define VG_MODULES_HI 0xffffffffff000000ull

static inline bool vg_ids_kptr(uint64_t p)
{
	return p >= 0xff00000000000000ull;
}

/* Appends WHAT to s->gather_errors ("; "-separated). */
void vg_ids_note(struct vg_snapshot *s, const char *what);
/* Name of the listed module whose memory holds A, "(unlisted module memory)" for the rest of
 * the module area, "" elsewhere. */
const char *vg_ids_owner(const struct vg_snapshot *s, uint64_t a);
/* "sym+0xoff" (or "sym", or "0xaddr" when no symbol is within 1 MiB) into OUT. */
void vg_ids_symoff(struct vg_linux *lx, uint64_t a, char *out, size_t len);

#endif
