// SPDX-License-Identifier: MIT
/*
 * A process's memory areas (lxproc.h), as /proc/PID/maps lists them. Linux 6.1 keeps them in
 * the mm's maple tree (mm_struct.mm_mt): an encoded node pointer carries the node type in bits
 * 3-6 (maple_leaf_64 = 1, maple_range_64 = 2, maple_arange_64 = 3) and the 256-byte node
 * address in the rest; range nodes hold 16 slots, allocation-range nodes 10, and a leaf's
 * slots are the vm_area_struct pointers. Older kernels link them through mm->mmap/vm_next.
 *
 * The tree is guest data: nodes are bounded in number and depth, every slot is checked to be
 * a kernel pointer, and an area is kept only if it points back to this mm and is ordered; the
 * result is sorted and de-duplicated, so an aliased or looping tree cannot repeat areas.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/lxproc.h"
#include "kread.h"

#define MAPLE_NODE_SIZE 256
#define MAPLE_MAX_DEPTH 16
#define MAPLE_MAX_NODES 16384
#define MT_LEAF_64 1
#define MT_RANGE_64 2
#define MT_ARANGE_64 3

struct area {
	uint64_t start, end, vma;
};

struct vwalk {
	struct vg_linux *lx;
	uint64_t mm;
	int32_t r64_slot, a64_slot, o_start, o_end, o_mm;
	struct area *v;
	size_t n, cap, nodes;
	bool broken;
};

/* Keeps VMA if it is one of this mm's areas. */
static void add_vma(struct vwalk *w, uint64_t vma)
{
	struct area a = { .vma = vma };
	uint64_t mm;

	if (w->n >= VG_LXP_MAX_VMAS || !vg_kptr_ok(vma) ||
	    vg_as_read_u64(&w->lx->kas, vma + (uint64_t)w->o_start, &a.start) ||
	    vg_as_read_u64(&w->lx->kas, vma + (uint64_t)w->o_end, &a.end) ||
	    vg_as_read_u64(&w->lx->kas, vma + (uint64_t)w->o_mm, &mm) || mm != w->mm ||
	    a.end <= a.start)
		return;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		struct area *p = realloc(w->v, cap * sizeof(*p));

		if (!p) {
			w->broken = true;
			return;
		}
		w->v = p;
		w->cap = cap;
	}
	w->v[w->n++] = a;
}

static void walk_node(struct vwalk *w, uint64_t enode, int depth)
{
	uint8_t node[MAPLE_NODE_SIZE];
	unsigned type = (unsigned)(enode >> 3) & 0xf;
	int nslots = type == MT_ARANGE_64 ? 10 : 16;
	int32_t slot = type == MT_ARANGE_64 ? w->a64_slot : w->r64_slot;
	uint64_t addr = enode & ~0xffull;

	if (depth > MAPLE_MAX_DEPTH || ++w->nodes > MAPLE_MAX_NODES || slot < 0 ||
	    (type != MT_LEAF_64 && type != MT_RANGE_64 && type != MT_ARANGE_64) ||
	    !vg_kptr_ok(addr) || slot + 8 * nslots > MAPLE_NODE_SIZE ||
	    vg_as_read(&w->lx->kas, addr, node, sizeof(node))) {
		w->broken = true;
		return;
	}
	for (int i = 0; i < nslots && !w->broken; i++) {
		uint64_t e;

		memcpy(&e, node + slot + 8 * i, 8);
		if (!e)
			continue;
		if (type == MT_LEAF_64)
			add_vma(w, e);
		else if ((e & 3) == 2 && e > 4096)
			walk_node(w, e, depth + 1);
	}
}

static int cmp_area(const void *a, const void *b)
{
	const struct area *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int collect(struct vwalk *w)
{
	struct vg_linux *lx = w->lx;
	int32_t mt = vg_linux_btf_offset(lx, "mm_struct", "mm_mt");
	int32_t mmap = vg_linux_btf_offset(lx, "mm_struct", "mmap");
	uint64_t root;

	if (mt >= 0) {
		int32_t ro = vg_linux_btf_offset(lx, "maple_tree", "ma_root");

		w->r64_slot = vg_linux_btf_offset(lx, "maple_range_64", "slot");
		w->a64_slot = vg_linux_btf_offset(lx, "maple_arange_64", "slot");
		if (ro < 0 || vg_as_read_u64(&lx->kas, w->mm + (uint64_t)(mt + ro), &root))
			return -EFAULT;
		if ((root & 3) == 2 && root > 4096)
			walk_node(w, root, 0);
		else if (root)
			add_vma(w, root); /* a tree of one entry keeps it in the root */
		return w->broken ? -EFAULT : 0;
	}
	if (mmap >= 0) {
		int32_t next = vg_linux_btf_offset(lx, "vm_area_struct", "vm_next");

		if (next < 0 || vg_kread_ptr(lx, w->mm + (uint64_t)mmap, &root))
			return -EFAULT;
		while (root && w->n < VG_LXP_MAX_VMAS) {
			add_vma(w, root);
			if (vg_kread_ptr(lx, root + (uint64_t)next, &root))
				return -EFAULT;
		}
		return 0;
	}
	return -ENOTSUP;
}

static void special_name(struct vg_linux *lx, uint64_t vma, const struct vg_task_extra *x,
			 struct vg_vma *v)
{
	uint64_t ops = 0, spec_ops, priv;
	int32_t o_ops = vg_linux_btf_offset(lx, "vm_area_struct", "vm_ops");
	int32_t o_priv = vg_linux_btf_offset(lx, "vm_area_struct", "vm_private_data");
	int32_t o_name = vg_linux_btf_offset(lx, "vm_special_mapping", "name");

	if (x->start_brk && v->start <= x->brk && v->end >= x->start_brk) {
		snprintf(v->path, sizeof(v->path), "[heap]");
		return;
	}
	if (x->start_stack && v->start <= x->start_stack && v->end >= x->start_stack) {
		snprintf(v->path, sizeof(v->path), "[stack]");
		return;
	}
	/* vdso and vvar: special mappings name themselves */
	if (o_ops >= 0 && o_priv >= 0 && o_name >= 0 &&
	    !vg_linux_sym(lx, "special_mapping_vmops", &spec_ops) &&
	    !vg_kread_ptr(lx, vma + (uint64_t)o_ops, &ops) && ops == spec_ops &&
	    !vg_kread_ptr(lx, vma + (uint64_t)o_priv, &priv) && priv)
		vg_kread_strp(lx, priv + (uint64_t)o_name, v->path, 64);
}

static void read_vma(struct vg_linux *lx, uint64_t vma, const struct vg_task_extra *x,
		     struct vg_vma *v)
{
	int32_t o_file = vg_linux_btf_offset(lx, "vm_area_struct", "vm_file");
	int32_t o_inode = vg_linux_btf_offset(lx, "file", "f_inode");
	int32_t o_ino = vg_linux_btf_offset(lx, "inode", "i_ino");
	int32_t o_sb = vg_linux_btf_offset(lx, "inode", "i_sb");
	int32_t o_dev = vg_linux_btf_offset(lx, "super_block", "s_dev");
	int32_t o_fpath = vg_linux_btf_offset(lx, "file", "f_path");
	uint64_t file = 0, inode = 0, sb = 0;
	uint32_t dev = 0;
	bool deleted = false;

	if (o_file >= 0 && !vg_kread_ptr(lx, vma + (uint64_t)o_file, &file) && file) {
		if (o_inode >= 0 && o_ino >= 0 &&
		    !vg_kread_ptr(lx, file + (uint64_t)o_inode, &inode) && inode)
			vg_as_read_u64(&lx->kas, inode + (uint64_t)o_ino, &v->ino);
		if (inode && o_sb >= 0 && o_dev >= 0 &&
		    !vg_kread_ptr(lx, inode + (uint64_t)o_sb, &sb) && sb &&
		    !vg_as_read_u32(&lx->kas, sb + (uint64_t)o_dev, &dev))
			v->dev = (dev >> 20) << 8 | (dev & 0xff); /* kernel dev_t: 12:20 */
		if (o_fpath >= 0 &&
		    !vg_dpath(lx, file + (uint64_t)o_fpath, v->path, sizeof(v->path) - 10,
			      &deleted) &&
		    deleted)
			strcat(v->path, " (deleted)");
		return;
	}
	v->pgoff = 0; /* maps prints an offset for file mappings only */
	special_name(lx, vma, x, v);
}

int vg_task_vmas(struct vg_linux *lx, const struct vg_task *t,
		 int (*fn)(void *ctx, const struct vg_vma *v), void *ctx)
{
	struct vwalk w = { .lx = lx, .mm = t->mm };
	struct vg_task_extra x;
	int32_t o_flags = vg_linux_btf_offset(lx, "vm_area_struct", "vm_flags");
	int32_t o_pgoff = vg_linux_btf_offset(lx, "vm_area_struct", "vm_pgoff");
	struct vg_vma *v;
	uint64_t last_end = 0;
	int ret;

	if (!t->mm)
		return 0;
	w.o_start = vg_linux_btf_offset(lx, "vm_area_struct", "vm_start");
	w.o_end = vg_linux_btf_offset(lx, "vm_area_struct", "vm_end");
	w.o_mm = vg_linux_btf_offset(lx, "vm_area_struct", "vm_mm");
	if (w.o_start < 0 || w.o_end < 0 || w.o_mm < 0 || o_flags < 0 || o_pgoff < 0)
		return -ENOTSUP;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	ret = collect(&w);
	if (!ret) {
		qsort(w.v, w.n, sizeof(*w.v), cmp_area);
		vg_task_extra(lx, t, &x);
	}
	/* in address order; an area overlapping the one before is a tree that lies */
	for (size_t i = 0; !ret && i < w.n; i++) {
		if (w.v[i].start < last_end)
			continue;
		memset(v, 0, sizeof(*v));
		v->start = w.v[i].start;
		v->end = w.v[i].end;
		vg_as_read_u64(&lx->kas, w.v[i].vma + (uint64_t)o_flags, &v->flags);
		vg_as_read_u64(&lx->kas, w.v[i].vma + (uint64_t)o_pgoff, &v->pgoff);
		read_vma(lx, w.v[i].vma, &x, v);
		v->path[sizeof(v->path) - 1] = '\0';
		ret = fn(ctx, v);
		last_end = v->end;
	}
	free(v);
	free(w.v);
	return ret;
}
