// SPDX-License-Identifier: MIT
/* Findings and their alert form (the envelope itself is core/alert.c's). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/ids.h"

int vg_finding_add(struct vg_findings *f, const char *check, enum vg_severity sev,
		   const char *attack, const char *kind, const char *id, const char *summary,
		   const char *evidence_fmt, ...)
{
	struct vg_finding *x;
	va_list ap;
	int n;

	if (f->n >= VG_MAX_FINDINGS) {
		f->dropped++;
		return 0;
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		void *p = realloc(f->v, cap * sizeof(*f->v));

		if (!p)
			return -ENOMEM;
		f->v = p;
		f->cap = cap;
	}
	x = &f->v[f->n];
	memset(x, 0, sizeof(*x));
	x->check = check;
	x->severity = sev;
	x->attack = attack;
	snprintf(x->target_kind, sizeof(x->target_kind), "%s", kind);
	snprintf(x->target_id, sizeof(x->target_id), "%s", id);
	snprintf(x->summary, sizeof(x->summary), "%s", summary);
	x->evidence[0] = '{';
	va_start(ap, evidence_fmt);
	n = vsnprintf(x->evidence + 1, sizeof(x->evidence) - 2, evidence_fmt, ap);
	va_end(ap);
	/* evidence that does not fit is dropped whole rather than cut into invalid JSON */
	if (n < 0 || (size_t)n >= sizeof(x->evidence) - 2)
		snprintf(x->evidence, sizeof(x->evidence), "{\"truncated\":true}");
	else
		strcat(x->evidence, "}");
	f->n++;
	return 0;
}

void vg_findings_free(struct vg_findings *f)
{
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
