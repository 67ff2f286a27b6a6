// SPDX-License-Identifier: MIT
/* Findings, their evidence built with the vg_json writer, and their alert form (the envelope
 * itself is core/alert.c's). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/ids.h"

/* Room for one more finding in F->v[F->n]; past the cap that slot is scratch, reused by every
 * dropped finding, so a hostile guest's flood costs no memory. */
static int reserve(struct vg_findings *f)
{
	size_t cap;
	void *p;

	if (f->n < f->cap)
		return 0;
	cap = f->cap ? f->cap * 2 : 16;
	if (cap > VG_MAX_FINDINGS + 1)
		cap = VG_MAX_FINDINGS + 1;
	p = realloc(f->v, cap * sizeof(*f->v));
	if (!p)
		return -ENOMEM;
	f->v = p;
	f->cap = cap;
	return 0;
}

struct vg_json *vg_finding_begin(struct vg_findings *f, const char *check, enum vg_severity sev,
				 const char *attack, const char *kind, const char *id,
				 struct vg_err *err)
{
	struct vg_finding *x;

	if (f->ev.out) {
		vg_errf(err, EBUSY, "%s finding: another finding is still being built", check);
		return NULL;
	}
	if (reserve(f) || vg_json_init_mem(&f->ev, false)) {
		vg_errf(err, ENOMEM, "%s finding: out of memory (%zu findings so far)", check,
			f->n);
		return NULL;
	}
	x = &f->v[f->n];
	memset(x, 0, sizeof(*x));
	x->check = check;
	x->severity = sev;
	x->attack = attack;
	snprintf(x->target_kind, sizeof(x->target_kind), "%s", kind);
	snprintf(x->target_id, sizeof(x->target_id), "%s", id);
	vg_json_obj_open(&f->ev);
	return &f->ev;
}

int vg_finding_end(struct vg_findings *f, struct vg_err *err, const char *summary_fmt, ...)
{
	struct vg_finding *x = &f->v[f->n];
	size_t len = 0;
	va_list ap;
	char *ev;

	if (!f->ev.out)
		return vg_errf(err, EINVAL, "finding: vg_finding_end without vg_finding_begin");
	vg_json_obj_close(&f->ev);
	ev = vg_json_mem_take(&f->ev, &len);
	if (!ev)
		return vg_errf(err, ENOMEM, "%s finding: out of memory writing its evidence",
			       x->check);
	if (f->n >= VG_MAX_FINDINGS) {
		free(ev);
		f->dropped++;
		return 0;
	}
	/* evidence that does not fit is dropped whole rather than cut into invalid JSON */
	if (len >= sizeof(x->evidence))
		snprintf(x->evidence, sizeof(x->evidence), "{\"truncated\":true}");
	else
		memcpy(x->evidence, ev, len + 1);
	free(ev);
	va_start(ap, summary_fmt);
	vsnprintf(x->summary, sizeof(x->summary), summary_fmt, ap);
	va_end(ap);
	f->n++;
	return 0;
}

void vg_findings_free(struct vg_findings *f)
{
	if (f->ev.out)
		vg_json_mem_free(&f->ev);
	free(f->v);
	memset(f, 0, sizeof(*f));
}

void vg_finding_alert(const struct vg_finding *x, const char *event, struct vg_alert *a)
{
	*a = (struct vg_alert){
		.source = "ids",
		.event = event,
		.target_kind = x->target_kind,
		.target_id = x->target_id,
		.check = x->check,
		.severity = x->severity,
		.summary = x->summary,
		.evidence = x->evidence,
		.attack = x->attack,
	};
}
