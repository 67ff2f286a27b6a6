// SPDX-License-Identifier: MIT
/*
 * Building layouts: range vectors and the canonical form every layout is stored in (sorted,
 * no overlaps, neighbours contiguous in both physical and driver space merged), so two sources
 * describing the same RAM produce equal lists. Leaf helpers for the parsers and drivers.
 */
#include <errno.h>
#include <stdlib.h>

#include "vmi/mem/mem_impl.h"

int vg_range_push(struct vg_range_vec *v, uint64_t start, uint64_t size, uint64_t file_off)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		struct vg_mem_range *r;

		if (v->n >= VG_MEM_MAX_RANGES)
			return -E2BIG;
		r = realloc(v->r, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		v->r = r;
		v->cap = cap;
	}
	v->r[v->n++] = (struct vg_mem_range){ .start = start, .size = size, .file_off = file_off };
	return 0;
}

void vg_range_vec_free(struct vg_range_vec *v)
{
	free(v->r);
	*v = (struct vg_range_vec){ 0 };
}

int vg_range_carve(struct vg_range_vec *v, uint64_t lo, uint64_t hi)
{
	size_t n = v->n;
	int ret;

	/* Pieces above the hole are appended and never revisited: they cannot intersect it. */
	for (size_t i = 0; i < n; i++) {
		struct vg_mem_range r = v->r[i];
		uint64_t end = r.start + r.size;

		if (end <= lo || r.start >= hi)
			continue;
		if (r.start < lo) {
			v->r[i].size = lo - r.start;
		} else {
			v->r[i].size = 0; /* dropped below */
		}
		if (end > hi) {
			ret = vg_range_push(v, hi, end - hi, r.file_off + (hi - r.start));
			if (ret)
				return ret;
		}
	}
	size_t k = 0;
	for (size_t i = 0; i < v->n; i++)
		if (v->r[i].size)
			v->r[k++] = v->r[i];
	v->n = k;
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct vg_mem_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

void vg_range_sort(struct vg_range_vec *v)
{
	if (v->n)
		qsort(v->r, v->n, sizeof(*v->r), cmp_range);
}

int vg_mem_add_layout(struct vg_mem *m, const char *name, struct vg_range_vec *v,
		      struct vg_err *err)
{
	struct vg_mem_layout *l;
	size_t k = 0;
	uint64_t total = 0;

	if (m->nlayouts >= VG_MEM_MAX_LAYOUTS) {
		vg_range_vec_free(v);
		return vg_errf(err, E2BIG, "too many candidate layouts");
	}
	vg_range_sort(v);
	for (size_t i = 0; i < v->n; i++) {
		struct vg_mem_range *r = &v->r[i];

		if (k) {
			struct vg_mem_range *p = &v->r[k - 1];
			uint64_t pend = p->start + p->size;

			if (r->start < pend) {
				uint64_t ps = p->start, rs = r->start;

				vg_range_vec_free(v);
				return vg_errf(err, EINVAL,
					       "ranges at physical 0x%llx and 0x%llx overlap",
					       (unsigned long long)ps, (unsigned long long)rs);
			}
			if (r->start == pend && r->file_off == p->file_off + p->size) {
				p->size += r->size;
				continue;
			}
		}
		v->r[k++] = *r;
	}
	for (size_t i = 0; i < k; i++)
		total += v->r[i].size;
	l = &m->layouts[m->nlayouts++];
	l->name = name;
	l->r = v->r;
	l->n = k;
	l->total = total;
	*v = (struct vg_range_vec){ 0 };
	return 0;
}
