// SPDX-License-Identifier: MIT
/* Active-finding bookkeeping for ids watch and serve (see ids_watch.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/ids_watch.h"

bool vg_finding_same(const struct vg_finding *a, const struct vg_finding *b)
{
	return !strcmp(a->check, b->check) && !strcmp(a->target_id, b->target_id) &&
	       !strcmp(a->summary, b->summary);
}

static bool contains(const struct vg_findings *f, const struct vg_finding *x)
{
	for (size_t i = 0; i < f->n; i++)
		if (vg_finding_same(&f->v[i], x))
			return true;
	return false;
}

bool vg_watch_differs(const struct vg_watch *w, const struct vg_findings *look)
{
	if (look->n != w->active.n)
		return true;
	for (size_t i = 0; i < look->n; i++)
		if (!contains(&w->active, &look->v[i]))
			return true;
	return false;
}

int vg_findings_push(struct vg_findings *f, const struct vg_finding *x)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		void *p = realloc(f->v, cap * sizeof(*f->v));

		if (!p)
			return -ENOMEM;
		f->v = p;
		f->cap = cap;
	}
	f->v[f->n++] = *x;
	return 0;
}

int vg_watch_commit(struct vg_watch *w, const struct vg_findings *a, const struct vg_findings *b,
		    vg_watch_emit_fn emit, void *ctx)
{
	size_t out = 0;

	/* resolved: active, and absent from both looks */
	for (size_t i = 0; i < w->active.n; i++) {
		const struct vg_finding *x = &w->active.v[i];

		if (!contains(a, x) && !contains(b, x)) {
			emit(ctx, x, "resolved");
			continue;
		}
		w->active.v[out++] = *x;
	}
	w->active.n = out;
	/* new: in both looks and not yet active */
	for (size_t i = 0; i < a->n; i++) {
		const struct vg_finding *x = &a->v[i];

		if (!contains(b, x) || contains(&w->active, x))
			continue;
		if (vg_findings_push(&w->active, x))
			return -ENOMEM;
		emit(ctx, x, "alert");
	}
	return 0;
}

void vg_watch_clear(struct vg_watch *w, vg_watch_emit_fn emit, void *ctx)
{
	for (size_t i = 0; i < w->active.n; i++)
		emit(ctx, &w->active.v[i], "resolved");
	w->active.n = 0;
}

void vg_watch_free(struct vg_watch *w)
{
	vg_findings_free(&w->active);
}
