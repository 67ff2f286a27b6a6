/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the memory-source parsers (raw.c, elfcore.c, lime.c) and the generic
 * part (source.c). A parser receives the whole file as one read-only byte image, validates it and
 * adds one or more layouts; source.c owns the mapping, the lookup and the reads.
 *
 * A layout is built in a struct vg_range_vec and handed to vg_mem_add_layout, which sorts the
 * ranges, rejects overlaps and merges neighbours that are contiguous both in physical and in file
 * space, so every layout is canonical: two sources describing the same RAM produce equal lists.
 */
#ifndef VIGIL_MEM_IMPL_H
#define VIGIL_MEM_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/mem.h"

#define VG_MEM_MAX_LAYOUTS 4
/* More ranges than any real dump has (QEMU writes a handful, LiME one per System RAM block);
 * a hostile file cannot make us allocate more than this many entries. */
#define VG_MEM_MAX_RANGES (1u << 16)
/* x86 physical addresses are at most 52 bits; anything beyond is not a PC's RAM. */
#define VG_MEM_MAX_PA (1ull << 52)

/* The legacy VGA/ROM window of a PC and the 4 GiB line the PCI hole ends at. */
#define VG_PC_LEGACY_LO 0xa0000ull
#define VG_PC_LEGACY_HI 0x100000ull
#define VG_4G (1ull << 32)

struct vg_range_vec {
	struct vg_mem_range *r;
	size_t n, cap;
};

struct vg_mem_layout {
	const char *name; /* static string */
	struct vg_mem_range *r;
	size_t n;
	uint64_t total;
};

struct vg_mem {
	enum vg_mem_kind kind;
	const uint8_t *base; /* whole file image */
	size_t len;
	int mapped; /* 1 when base is our mmap of path */
	char *path;

	struct vg_mem_layout layouts[VG_MEM_MAX_LAYOUTS];
	int nlayouts, cur;
	/* Index of the range the last lookup hit: reads cluster (page-table walks, scans), so this
	 * saves the binary search most of the time. Makes a vg_mem single-threaded. */
	size_t hint;

	struct vg_cpu_state cpu; /* CPU 0 from a QEMU note */
	int ncpus, ncpus_qemu, ncpus_prstatus;
};

/* Appends a range; -ENOMEM, or -E2BIG past VG_MEM_MAX_RANGES. */
int vg_range_push(struct vg_range_vec *v, uint64_t start, uint64_t size, uint64_t file_off);
void vg_range_vec_free(struct vg_range_vec *v);

/* Sorts by start address. */
void vg_range_sort(struct vg_range_vec *v);

/* Removes [lo, hi) from every range (splitting ranges that straddle it). */
int vg_range_carve(struct vg_range_vec *v, uint64_t lo, uint64_t hi);

/* Takes ownership of v's array (v is left empty): sorts, checks for overlaps (-EINVAL with a
 * message), merges, and appends it as layout NAME. */
int vg_mem_add_layout(struct vg_mem *m, const char *name, struct vg_range_vec *v,
		      struct vg_err *err);

/* Parsers: fill m's layouts (and cpu state) from m->base/m->len. */
int vg_mem_raw_parse(struct vg_mem *m, struct vg_err *err);
int vg_mem_elfcore_parse(struct vg_mem *m, struct vg_err *err);
int vg_mem_lime_parse(struct vg_mem *m, struct vg_err *err);

/* LiME's per-range header magic ("EMiL" on disk, little-endian u32). */
#define VG_LIME_MAGIC 0x4C694D45u

#endif
