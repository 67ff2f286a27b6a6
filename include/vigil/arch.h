/* SPDX-License-Identifier: MIT */
/*
 * Virtual address spaces over guest physical memory: the x86-64 page-table walker (4- and
 * 5-level paging, 2 MiB and 1 GiB pages) with a small translation cache. Reads may cross page
 * boundaries; any unmapped or out-of-RAM byte fails the whole read with -EFAULT.
 *
 * Page tables are guest data and so hostile: a walk is at most `levels` steps, every table
 * address is checked against RAM by vg_mem, reserved/huge bits at the wrong level fail the walk.
 */
#ifndef VIGIL_ARCH_H
#define VIGIL_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/mem.h"

#define VG_TLB_SIZE 256 /* entries; direct-mapped on the 4 KiB virtual page number */

struct vg_tlb_entry {
	uint64_t vpage; /* va >> 12, or UINT64_MAX when empty */
	uint64_t ppage; /* physical address of the 4 KiB page */
};

/* The last 2 MiB virtual region a walk went through and what maps it: its page table
 * (size 4 KiB) or the 2 MiB / 1 GiB page covering it. A miss inside the same region then costs
 * one entry read (or none) instead of a full walk, which is what sequential scans need. */
struct vg_walk_cache {
	uint64_t vregion; /* va >> 21, or UINT64_MAX when empty */
	uint64_t frame;	  /* physical address of the page table, or base of the large page */
	uint64_t size;	  /* 4096 for a page table, else the large page's size */
};

struct vg_as {
	struct vg_mem *mem;
	uint64_t root; /* physical address of the top-level table (CR3 without flag bits) */
	int levels;    /* 4 or 5 */
	struct vg_tlb_entry tlb[VG_TLB_SIZE];
	uint64_t tlb_hits, tlb_misses;
	struct vg_walk_cache wc; /* cleared with the TLB by vg_as_flush */
};

/* levels must be 4 or 5; root is masked to a 4 KiB boundary (CR3 flag/PCID bits dropped). */
int vg_as_init(struct vg_as *as, struct vg_mem *mem, uint64_t root, int levels);

/* Drops cached translations and the source's cached bytes (vg_mem_refresh): call between
 * snapshots of a live guest. vg_as_init starts with an empty cache but leaves the source's. */
void vg_as_flush(struct vg_as *as);

/* Translates VA. On success *pa is the physical address and, if page_size is not NULL,
 * *page_size the size of the mapping page (4 KiB, 2 MiB or 1 GiB). -EFAULT when not mapped,
 * -EINVAL for a non-canonical address. */
int vg_as_translate(struct vg_as *as, uint64_t va, uint64_t *pa, uint64_t *page_size);

/* Reads LEN bytes at VA, crossing pages as needed. */
int vg_as_read(struct vg_as *as, uint64_t va, void *buf, size_t len);

/* Convenience readers for kernel structures. */
int vg_as_read_u64(struct vg_as *as, uint64_t va, uint64_t *out);
int vg_as_read_u32(struct vg_as *as, uint64_t va, uint32_t *out);

/* Reads a NUL-terminated string of at most max-1 bytes into buf (always terminated).
 * Returns the length, or -EFAULT if the first byte is unreadable; a string cut by an
 * unmapped page or by max is returned truncated. */
int vg_as_read_str(struct vg_as *as, uint64_t va, char *buf, size_t max);

/* Visits every mapped leaf in [lo, hi] in address order: cb(va, pa, page_size, ctx); a
 * non-zero return stops the walk and is returned. Hostile tables can alias one table many
 * times, so the walk gives up with -E2BIG after VG_AS_MAX_LEAVES leaves.
 * A large page that only overlaps the range is visited with its own start address; ends in the
 * non-canonical hole are clamped to it; lo > hi is -EINVAL. Entries the CPU would fault on and
 * tables outside RAM are skipped (they map nothing); an unreadable root is -EFAULT. */
#define VG_AS_MAX_LEAVES (1u << 22)
int vg_as_for_each_leaf(struct vg_as *as, uint64_t lo, uint64_t hi,
			int (*cb)(uint64_t va, uint64_t pa, uint64_t page_size, void *ctx),
			void *ctx);

/* Tables one vg_as_for_each_leaf may read (each is 512 entries): a hostile set of tables can
 * alias one table full of non-present entries everywhere, which yields no leaves but would
 * otherwise cost 512^levels entry reads. Exceeding it is also -E2BIG. */
#define VG_AS_MAX_TABLES (1u << 16)

/* The uncached x86-64 walker under vg_as (src/vmi/arch/x86_64.c), for callers that must not
 * disturb or trust a cache, e.g. when probing candidate roots. Same results as above. */
int vg_x86_canonical(uint64_t va, int levels); /* 1 when VA is canonical for 48/57-bit */
int vg_x86_translate(struct vg_mem *mem, uint64_t root, int levels, uint64_t va, uint64_t *pa,
		     uint64_t *page_size);
/* Same, consulting and refilling WC, which starts zeroed or as vg_as_flush leaves it and must be
 * emptied again whenever the tables may have changed. */
int vg_x86_translate_wc(struct vg_mem *mem, uint64_t root, int levels, uint64_t va, uint64_t *pa,
			uint64_t *page_size, struct vg_walk_cache *wc);
int vg_x86_for_each_leaf(struct vg_mem *mem, uint64_t root, int levels, uint64_t lo, uint64_t hi,
			 int (*cb)(uint64_t va, uint64_t pa, uint64_t page_size, void *ctx),
			 void *ctx);

#endif
