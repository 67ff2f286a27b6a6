// SPDX-License-Identifier: MIT
/*
 * What the verifier's findings mean to an operator: each finding as an alert of the one
 * schema (DESIGN.md §6, written by vigil/alert.h), and the verdict the counts add up to.
 */
#include <errno.h>
#include <stdlib.h>

#include "vigil/cfa_run.h"
#include "vigil/json.h"
#include "vigil/rt.h"

static const char *const verdict_names[] = {
	[VG_CFA_CLEAN] = "clean",
	[VG_CFA_INCOMPLETE] = "incomplete",
	[VG_CFA_ANOMALY] = "anomaly",
	[VG_CFA_VIOLATION] = "violation",
};

const char *vg_cfa_verdict_name(enum vg_cfa_verdict v)
{
	return (unsigned)v <= VG_CFA_VIOLATION ? verdict_names[v] : "?";
}

enum vg_cfa_verdict vg_cfa_verdict_of(const uint64_t c[VG_CFA_A_KINDS])
{
	if (c[VG_CFA_A_CFG] || c[VG_CFA_A_DENIED] || c[VG_CFA_A_UNKNOWN_EVENT] || c[VG_CFA_A_STACK])
		return VG_CFA_VIOLATION;
	if (c[VG_CFA_A_UNSEEN_PATH] || c[VG_CFA_A_LOOP])
		return VG_CFA_ANOMALY;
	if (c[VG_CFA_A_LOST])
		return VG_CFA_INCOMPLETE;
	return VG_CFA_CLEAN;
}

static const char *summary(enum vg_cfa_alert_kind k)
{
	switch (k) {
	case VG_CFA_A_CFG:
		return "control flow left the program's control-flow graph";
	case VG_CFA_A_DENIED:
		return "the program took a flow the operator denied";
	case VG_CFA_A_UNSEEN_PATH:
		return "the program took a valid path that no training run took";
	case VG_CFA_A_LOOP:
		return "a loop ran more iterations than in any training run";
	case VG_CFA_A_UNKNOWN_EVENT:
		return "the trace contains an event that is not a site of this binary";
	case VG_CFA_A_LOST:
		return "the runtime lost events; the trace is incomplete";
	default:
		return "the shadow stack overflowed";
	}
}

/* An event with the function it belongs to, so the evidence reads without the model. */
static void event(struct vg_json *j, const struct vg_cfa_model *m, uint32_t ev)
{
	uint32_t n = vg_cfa_lookup(m, m->kind == VG_RT_KIND_FUNC ? ev & ~VG_RT_EXIT_BIT : ev);

	vg_json_obj_open(j);
	vg_json_khex(j, "event", ev);
	vg_json_kstr(j, "function", n == VG_CFA_NONE ? "?" : vg_cfa_func_name(m, m->nodes[n].func));
	vg_json_obj_close(j);
}

int vg_cfa_alert_make(const struct vg_cfa_model *m, const struct vg_cfa_alert *a,
		      const char *target_kind, const char *target_id, struct vg_alert *out,
		      char **evidence)
{
	enum vg_severity sev = VG_SEV_HIGH;
	struct vg_json j;

	*evidence = NULL;
	if (vg_json_init_mem(&j, false))
		return -ENOMEM;
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "reason", a->reason);
	vg_json_kuint(&j, "stream", a->stream);
	vg_json_kuint(&j, "event_index", a->index);
	if (a->from_ev != VG_CFA_NONE) {
		vg_json_key(&j, "from");
		event(&j, m, a->from_ev);
	}
	if (a->to_ev != VG_CFA_NONE) {
		vg_json_key(&j, "to");
		event(&j, m, a->to_ev);
	}
	if (a->owner != VG_CFA_NONE)
		vg_json_kstr(&j, "function", vg_cfa_func_name(m, a->owner));
	if (a->kind == VG_CFA_A_LOOP) {
		vg_json_kuint(&j, "iterations", a->count);
		vg_json_kuint(&j, "trained_max", a->limit);
	}
	vg_json_key(&j, "last_events");
	vg_json_arr_open(&j);
	for (uint32_t i = 0; i < a->nlast && i < VG_CFA_LAST; i++)
		event(&j, m, a->last[i]);
	vg_json_arr_close(&j);
	vg_json_obj_close(&j);
	*evidence = vg_json_mem_take(&j, NULL);
	if (!*evidence)
		return -ENOMEM;
	vg_severity_parse(vg_cfa_alert_severity(a->kind), &sev);
	*out = (struct vg_alert){
		.source = "cfa",
		.target_kind = target_kind,
		.target_id = target_id,
		.check = vg_cfa_alert_check(a->kind),
		.severity = sev,
		.summary = summary(a->kind),
		.evidence = *evidence,
		/* exploitation for code execution: code reuse after memory corruption */
		.attack = a->kind == VG_CFA_A_CFG || a->kind == VG_CFA_A_UNKNOWN_EVENT ? "T1203"
										       : NULL,
	};
	return 0;
}
