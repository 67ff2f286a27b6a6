// SPDX-License-Identifier: MIT
/* Findings and their alert form (DESIGN.md §6: EVE-like JSON lines). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "vigil/ids.h"
#include "vigil/json.h"

const char *vg_severity_name(enum vg_severity s)
{
	static const char *const names[] = { "info", "low", "medium", "high", "critical" };

	return (unsigned)s < 5 ? names[s] : "info";
}

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

void vg_alert_write(FILE *out, const char *host, const char *source, const struct vg_finding *x,
		    const char *event)
{
	struct timeval tv;
	struct tm tm;
	char ts[64];
	struct vg_json j;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
	vg_json_init(&j, out, false);
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "ts", ts);
	vg_json_kstr(&j, "host", host);
	vg_json_kstr(&j, "source", source);
	if (event)
		vg_json_kstr(&j, "event", event);
	vg_json_key(&j, "target");
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "kind", x->target_kind);
	vg_json_kstr(&j, "id", x->target_id);
	vg_json_obj_close(&j);
	vg_json_kstr(&j, "check", x->check);
	vg_json_kstr(&j, "severity", vg_severity_name(x->severity));
	vg_json_kstr(&j, "summary", x->summary);
	/* evidence is already a JSON object built from escaped values */
	vg_json_kraw(&j, "evidence", x->evidence);
	if (x->attack) {
		vg_json_key(&j, "attack");
		vg_json_arr_open(&j);
		vg_json_str(&j, x->attack);
		vg_json_arr_close(&j);
	}
	vg_json_obj_close(&j);
	vg_json_end(&j);
}
