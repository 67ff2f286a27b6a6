/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the drivers (file.c, ...), the parsers of whole-image formats (raw.c,
 * elfcore.c, lime.c) and the generic part (source.c). A driver brings bytes (struct
 * vg_mem_ops); a parser receives a whole file as one read-only byte image, validates it and
 * adds one or more layouts; source.c owns the layouts, the lookup and the reads.
 *
 * A layout is built in a struct vg_range_vec and handed to vg_mem_add_layout, which sorts the
 * ranges, rejects overlaps and merges neighbours that are contiguous both in physical and in file
 * space, so every layout is canonical: two sources describing the same RAM produce equal lists.
 */
#ifndef VIGIL_MEM_IMPL_H
#define VIGIL_MEM_IMPL_H

#include <stdbool.h>
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

/*
 * A driver: how bytes at an offset of its address space (struct vg_mem_range.file_off + the
 * offset inside the range) reach us. Every op but pread may be NULL.
 */
struct vg_mem_ops {
	const char *name;
	/* Copies LEN bytes at OFF; 0 or -errno (-EFAULT outside the source). */
	int (*pread)(void *priv, uint64_t off, void *buf, size_t len);
	/* A pointer to LEN bytes at OFF, valid until close, or NULL. BULK: the caller is about to
	 * read all of it, so bring it in one step. */
	const uint8_t *(*map)(void *priv, uint64_t off, size_t len, bool bulk);
	int (*check)(void *priv); /* vg_mem_check() */
	int (*live)(void *priv);  /* vg_mem_live() */
	int (*ident)(void *priv, char *buf, size_t len);
	void (*close)(void *priv);
};

struct vg_mem {
	enum vg_mem_kind kind;
	const struct vg_mem_ops *ops;
	void *priv;
	/* The whole source as bytes when the driver holds it mapped (files, buffers): parsers read
	 * headers from here and reads are a memcpy, the fast path that skips the ops. */
	const uint8_t *base;
	size_t len;
	uint64_t size; /* bytes in the driver's address space */
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

/* A source with driver OPS and its private state (taken over: closed by vg_mem_close, also on
 * failure); NAME is what it was opened by. NULL when out of memory (priv closed). */
struct vg_mem *vg_mem_new(const struct vg_mem_ops *ops, void *priv, const char *name,
			  uint64_t size);
/* Parses a whole-image source (base/len set) as KIND (VG_MEM_DETECT: by content) and checks it
 * describes RAM; on failure closes M and prefixes the message with its name. */
int vg_mem_parse_image(struct vg_mem **out, struct vg_mem *m, enum vg_mem_kind kind,
		       struct vg_err *err);
/* The file driver (file.c): PATH mapped read-only and shared. */
int vg_mem_file_open(struct vg_mem **out, const char *path, enum vg_mem_kind kind,
		     struct vg_err *err);

/* Parsers: fill m's layouts (and cpu state) from m->base/m->len. */
int vg_mem_raw_parse(struct vg_mem *m, struct vg_err *err);
int vg_mem_elfcore_parse(struct vg_mem *m, struct vg_err *err);
int vg_mem_lime_parse(struct vg_mem *m, struct vg_err *err);

/* LiME's per-range header magic ("EMiL" on disk, little-endian u32). */
#define VG_LIME_MAGIC 0x4C694D45u

#endif
