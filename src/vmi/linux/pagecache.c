// SPDX-License-Identifier: MIT
/*
 * A file's page cache from guest memory: the address_space's XArray (i_pages) is descended
 * over the requested index range only, each struct page (or folio, which may span several
 * indices through sibling or higher-level entries) is turned into the kernel's direct-map
 * address of its frame, and the bytes are read through vg_linux_read. Value entries (swap or
 * shadow) and holes read as zeros. The descent is bounded: every child node's shift must be
 * its parent's minus XA_CHUNK_SHIFT (so it cannot loop), and the nodes visited are capped.
 */
#include <errno.h>
#include <string.h>

#include <bpf/btf.h>

#include "kread.h"
#include "lxfs_int.h"

#define PAGE 4096ull
#define XA_CHUNK_SHIFT 6
#define MAX_NODES (1u << 20)
#define MAX_PFN (1ull << 40)
/* x86-64's vmemmap without KASLR (4- and 5-level paging) */
#define VMEMMAP_4L 0xffffea0000000000ull
#define VMEMMAP_5L 0xffd4000000000000ull

/*
 * The one architecture-specific step: a struct page's address to the kernel virtual address
 * of the frame it describes. x86-64 keeps struct pages in a virtual array (vmemmap_base,
 * randomised with KASLR) indexed by frame number, and maps all RAM at page_offset_base.
 */
static int page_kva(struct vg_lxfs *f, uint64_t page, uint64_t *va)
{
	uint64_t pfn;

	if (!f->vmemmap) {
		uint64_t sym;

		if (vg_linux_sym(f->lx, "vmemmap_base", &sym) ||
		    vg_linux_read(f->lx, sym, &f->vmemmap, sizeof(f->vmemmap)) ||
		    !vg_kptr_ok(f->vmemmap))
			f->vmemmap = f->lx->levels == 5 ? VMEMMAP_5L : VMEMMAP_4L;
	}
	if (page < f->vmemmap || (page - f->vmemmap) % (uint64_t)f->page_size)
		return -EFAULT;
	pfn = (page - f->vmemmap) / (uint64_t)f->page_size;
	if (pfn >= MAX_PFN)
		return -EFAULT;
	*va = f->lx->page_offset_base + pfn * PAGE;
	return 0;
}

/* Bit numbers of PG_dirty and PG_writeback (enum pageflags moved them across versions). */
static void page_bits(struct vg_lxfs *f)
{
	struct vg_err err = { 0 };
	const struct btf_type *t;
	const struct btf_enum *v;
	struct btf *btf;
	int32_t id;

	if (f->pg_dirty >= 0)
		return;
	btf = vg_linux_btf(f->lx, &err);
	id = btf ? btf__find_by_name_kind(btf, "pageflags", BTF_KIND_ENUM) : -1;
	if (id < 0)
		return;
	t = btf__type_by_id(btf, (uint32_t)id);
	v = btf_enum(t);
	for (int i = 0; i < btf_vlen(t); i++) {
		const char *n = btf__name_by_offset(btf, v[i].name_off);

		if (n && !strcmp(n, "PG_dirty"))
			f->pg_dirty = v[i].val;
		else if (n && !strcmp(n, "PG_writeback"))
			f->pg_writeback = v[i].val;
	}
}

struct pc {
	struct vg_lxfs *f;
	uint64_t first, last; /* page indices */
	uint64_t off;	      /* byte offset of buf[0] in the file */
	uint8_t *buf;
	size_t len;
	uint8_t *states;
	size_t nodes;
	int err;
};

static uint8_t state_of(struct pc *c, uint64_t folio)
{
	uint64_t flags;
	struct vg_lxfs *f = c->f;

	if (f->pg_dirty < 0 || f->pg_writeback < 0 ||
	    vg_linux_read(f->lx, folio + f->pg_flags, &flags, sizeof(flags)))
		return VG_LX_PAGE_DIRTY; /* unknown: not comparable */
	return flags & ((1ull << f->pg_dirty) | (1ull << f->pg_writeback)) ? VG_LX_PAGE_DIRTY
									   : VG_LX_PAGE_CLEAN;
}

/* Page INDEX is page number K of FOLIO. */
static void put_page(struct pc *c, uint64_t index, uint64_t folio, uint64_t k)
{
	uint64_t page = folio + k * (uint64_t)c->f->page_size, va;
	uint64_t start = index * PAGE, from, to;

	if (index < c->first || index > c->last)
		return;
	if (c->states)
		c->states[index - c->first] = state_of(c, folio);
	from = start > c->off ? start : c->off;
	to = start + PAGE < c->off + c->len ? start + PAGE : c->off + c->len;
	if (from >= to)
		return;
	if (page_kva(c->f, page, &va) ||
	    vg_linux_read(c->f->lx, va + (from - start), c->buf + (from - c->off), to - from)) {
		if (!c->err)
			c->err = -EFAULT;
	}
}

/* The part of [LO, LO + N) inside the range read, as [*A, *B]; false when none. */
static bool clip(const struct pc *c, uint64_t lo, uint64_t n, uint64_t *a, uint64_t *b)
{
	uint64_t hi = lo + n - 1;

	*a = lo > c->first ? lo : c->first;
	*b = hi < c->last ? hi : c->last;
	return *a <= *b;
}

/* ENTRY (a folio or a value) covers N indices from LO; the folio's first page is index
 * START. */
static void place(struct pc *c, uint64_t entry, uint64_t lo, uint64_t n, uint64_t start)
{
	uint64_t a, b;

	if (!clip(c, lo, n, &a, &b))
		return;
	if (entry & 1) {
		for (uint64_t i = a; c->states && i <= b; i++)
			c->states[i - c->first] = VG_LX_PAGE_SWAPPED;
		return;
	}
	if (!vg_kptr_ok(entry)) {
		c->err = -EFAULT;
		return;
	}
	for (uint64_t i = a; i <= b && !c->err; i++)
		put_page(c, i, entry, i - start);
}

static void descend(struct pc *c, uint64_t node, unsigned shift, uint64_t base)
{
	uint64_t slots[256];
	uint8_t s;
	int n = c->f->nslots;

	if (++c->nodes > MAX_NODES || c->err) {
		c->err = c->err ? c->err : -ELOOP;
		return;
	}
	if (!vg_kptr_ok(node) || vg_linux_read(c->f->lx, node + c->f->xa_shift, &s, 1) ||
	    s != shift || vg_linux_read(c->f->lx, node + c->f->xa_slots, slots, 8 * (size_t)n)) {
		c->err = -EFAULT;
		return;
	}
	for (int i = 0; i < n && !c->err; i++) {
		uint64_t e = slots[i], lo = base + ((uint64_t)i << shift);
		uint64_t hi = lo + (1ull << shift) - 1;
		int canon = i;

		if (!e || hi < c->first || lo > c->last)
			continue;
		if ((e & 3) == 2 && e < 4096) {
			/* a sibling: the rest of a multi-index entry that starts at slot e>>2 */
			canon = (int)(e >> 2);
			if (canon >= i)
				continue; /* retry and zero entries, or a bogus sibling */
			e = slots[canon];
			if ((e & 3) != 2)
				place(c, e, lo, 1ull << shift, base + ((uint64_t)canon << shift));
			continue;
		}
		if ((e & 3) == 2) {
			if (!shift) {
				c->err = -EFAULT; /* a node below the leaf level */
				return;
			}
			descend(c, e - 2, shift - XA_CHUNK_SHIFT, lo);
			continue;
		}
		place(c, e, lo, 1ull << shift, lo);
	}
}

int vg_lx_pagecache_read(struct vg_lxfs *f, uint64_t mapping, uint64_t off, void *buf, size_t len,
			 uint8_t *states, struct vg_err *err)
{
	struct pc c = { .f = f, .off = off, .buf = buf, .len = len, .states = states };
	uint64_t head;
	uint8_t shift;

	if (!len)
		return 0;
	if (states && off % PAGE)
		return vg_errf(err, EINVAL, "page states need a page-aligned offset");
	c.first = off / PAGE;
	c.last = (off + len - 1) / PAGE;
	memset(buf, 0, len);
	if (states) {
		memset(states, VG_LX_PAGE_MISSING, (size_t)(c.last - c.first + 1));
		page_bits(f);
	}
	if (vg_linux_read(f->lx, mapping + f->as_pages, &head, sizeof(head)))
		return vg_errf(err, EFAULT, "page cache of mapping %#llx unreadable",
			       (unsigned long long)mapping);
	if (!head)
		return 0;
	if ((head & 3) != 2 || head < 4096) {
		/* a single entry at index 0 */
		place(&c, head, 0, 1, 0);
	} else if (vg_linux_read(f->lx, head - 2 + f->xa_shift, &shift, 1) || shift % 6 ||
		   shift > 60) {
		c.err = -EFAULT;
	} else if (c.last >> shift < (uint64_t)f->nslots) {
		descend(&c, head - 2, shift, 0);
	} else {
		/* indices past what the tree can hold are holes */
		uint64_t last = c.last;

		c.last = ((uint64_t)f->nslots << shift) - 1;
		if (c.first <= c.last)
			descend(&c, head - 2, shift, 0);
		c.last = last;
	}
	if (c.err)
		return vg_errf(err, -c.err, "page cache of mapping %#llx is %s",
			       (unsigned long long)mapping,
			       c.err == -ELOOP ? "too large or cyclic" : "broken");
	return 0;
}
