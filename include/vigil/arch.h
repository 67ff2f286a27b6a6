/* SPDX-License-Identifier: MIT */
/*
 * Virtual address spaces over guest physical memory: the x86-64 page-table walker (4- and
 * 5-level paging, 2 MiB and 1 GiB pages) and the AArch64 one (4 KiB granule: 39-bit 3-level,
 * 48-bit 4-level and 52-bit LPA2 5-level tables, 2 MiB and 1 GiB blocks; the kernel's TTBR1
 * half or a process's TTBR0 half), with a small translation cache in front of either. Reads
 * may cross page boundaries; any unmapped or out-of-RAM byte fails the whole read with -EFAULT.
 *
 * Page tables are guest data and so hostile: a walk is at most `levels` steps, every table
 * address is checked against RAM by vg_mem, reserved/huge bits at the wrong level fail the walk.
 */
#ifndef VIGIL_ARCH_H
#define VIGIL_ARCH_H

#include <stdbool.h>
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
	int levels;    /* x86-64: 4 or 5; AArch64: 3, 4 or 5 (from va_bits) */
	enum vg_arch arch;
	int va_bits; /* AArch64: size of the half the tables map (39, 48, 52) */
	bool user;   /* AArch64: the TTBR0 (user) half, else the TTBR1 (kernel) half */
	struct vg_tlb_entry tlb[VG_TLB_SIZE];
	uint64_t tlb_hits, tlb_misses;
	struct vg_walk_cache wc; /* cleared with the TLB by vg_as_flush */
};

/* x86-64: levels must be 4 or 5; root is masked to a 4 KiB boundary (CR3 flag/PCID bits
 * dropped). */
int vg_as_init(struct vg_as *as, struct vg_mem *mem, uint64_t root, int levels);
/* AArch64, 4 KiB granule: VA_BITS 39, 48 or 52 (LPA2); USER picks the TTBR0 half (addresses
 * from 0, the top byte ignored as TCR_EL1.TBI0 does for Linux's processes), else the TTBR1
 * half (kernel addresses, all bits above VA_BITS set). ROOT is the table's physical address
 * (a TTBR's BADDR; ASID and CnP bits dropped). */
int vg_as_init_arm64(struct vg_as *as, struct vg_mem *mem, uint64_t root, int va_bits, bool user);

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

/* The uncached AArch64 walker (src/vmi/arch/arm64.c), same contract, for a table of VA_BITS
 * mapping the user or kernel half (see vg_as_init_arm64). Non-canonical addresses are -EINVAL;
 * a descriptor the MMU would fault on (a block at a level without blocks, a reserved page
 * type, bits set inside a block's frame) maps nothing. */
int vg_arm64_levels(int va_bits); /* 3, 4 or 5; -EINVAL for an unsupported size */
int vg_arm64_canonical(uint64_t va, int va_bits, bool user);
int vg_arm64_translate_wc(struct vg_mem *mem, uint64_t root, int va_bits, bool user, uint64_t va,
			  uint64_t *pa, uint64_t *page_size, struct vg_walk_cache *wc);
int vg_arm64_for_each_leaf(struct vg_mem *mem, uint64_t root, int va_bits, bool user, uint64_t lo,
			   uint64_t hi,
			   int (*cb)(uint64_t va, uint64_t pa, uint64_t page_size, void *ctx),
			   void *ctx, uint32_t max_tables);
/* A table descriptor's (or page's) output address, for 48- and 52-bit (LPA2) formats. */
uint64_t vg_arm64_desc_addr(uint64_t desc, int va_bits);

/* The addresses AArch64 code at VA forms with ADRP and an ADD or a load/store offset (how
 * position-independent code reaches a global), in order, at most MAX into OUT; returns how
 * many (-ENOEXEC without a disassembler). Candidates only: the code is the guest's. */
int vg_arm64_code_refs(const uint8_t *code, size_t len, uint64_t va, uint64_t *out, int max);

/*
 * Pointers as AArch64 Linux stores them. Under pointer authentication (ARMv8.3, `-cpu max`, the
 * kernel's PTR_AUTH_KERNEL) a return address saved on a stack carries a signature in the bits
 * above VA_BITS; vg_arm64_strip_pac removes it the way XPACI does (bit 55 says which half the
 * address is in; TBI says the top byte is a tag and stays out of the signature). A user pointer
 * may carry a tag in its top byte (TBI0, MTE): vg_arm64_untag drops it.
 */
uint64_t vg_arm64_strip_pac(uint64_t va, int va_bits, bool tbi);
uint64_t vg_arm64_untag(uint64_t va);

#endif
