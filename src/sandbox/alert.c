// SPDX-License-Identifier: MIT
/*
 * A finished run as an alert of the one schema (DESIGN.md §6, written by vigil/alert.h):
 * check sandbox-threat-score about the sample, raised when the run's behaviour score or the
 * sample's label score reaches the campaign's threshold; severity medium, high from 60,
 * critical from 80; the behaviours' ATT&CK techniques as its attack ids.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/sandbox.h"

int sbx_run_alert(const struct sbx_row *r, int min_score, struct vg_alert *a,
		  struct sbx_alert_text *t)
{
	int score = r->behaviour_score > r->label_score ? r->behaviour_score : r->label_score;
	size_t at = 0;
	char ids[512];
	struct vg_json j;

	memset(t, 0, sizeof(*t));
	if (score < min_score)
		return 0;
	snprintf(t->summary, sizeof(t->summary), "sample %.12s scored %d in %s (%s)", r->sha256,
		 score, r->env, r->behaviours[0] ? r->behaviours : "no behaviours");
	snprintf(ids, sizeof(ids), "%s", r->behaviours);
	for (char *save, *b = strtok_r(ids, ";", &save); b; b = strtok_r(NULL, ";", &save)) {
		int k = sbx_bhv_find(b);
		int n;

		if (k < 0)
			continue;
		n = snprintf(t->attack + at, sizeof(t->attack) - at, "%s%s", at ? "," : "",
			     sbx_bhv_table[k].attack);
		if (n < 0 || (size_t)n >= sizeof(t->attack) - at)
			break;
		at += (size_t)n;
	}
	if (vg_json_init_mem(&j, false))
		return -ENOMEM;
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "env", r->env);
	vg_json_kstr(&j, "path", r->path);
	vg_json_kstr(&j, "verdict", r->verdict);
	vg_json_kint(&j, "behaviour_score", r->behaviour_score);
	if (r->label_score >= 0) {
		vg_json_kint(&j, "label_score", r->label_score);
		vg_json_kstr(&j, "class", r->cls);
	}
	vg_json_kstr(&j, "behaviours", r->behaviours);
	vg_json_kstr(&j, "service_impact", r->service_impact);
	vg_json_obj_close(&j);
	t->evidence = vg_json_mem_take(&j, NULL);
	if (!t->evidence)
		return -ENOMEM;
	*a = (struct vg_alert){
		.source = "sandbox",
		.target_kind = "sample",
		.target_id = r->sha256,
		.check = "sandbox-threat-score",
		.severity = score >= 80	  ? VG_SEV_CRITICAL
			    : score >= 60 ? VG_SEV_HIGH
					  : VG_SEV_MEDIUM,
		.summary = t->summary,
		.evidence = t->evidence,
		.attack = t->attack,
	};
	return 1;
}
