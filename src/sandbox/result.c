// SPDX-License-Identifier: MIT
/*
 * A sample's description and a run's result in the two output forms: JSON members (shared by
 * `sandbox one -j`, the campaign store and the per-sample reports) and the human summary.
 */
#include <stdio.h>
#include <string.h>

#include "vigil/sandbox.h"

const char *sbx_linkage(const struct sbx_ident *id)
{
	if (!id || !id->is_elf || id->malformed)
		return "-";
	return id->dynamic ? "dynamic" : "static";
}

void sbx_sample_json_fields(struct vg_json *j, const struct sbx_sample *s)
{
	vg_json_kstr(j, "sha256", s->sha256);
	if (s->path)
		vg_json_kstr(j, "path", s->path);
	vg_json_kuint(j, "size", s->size);
	vg_json_kstr(j, "file_type", s->id->ftype);
	vg_json_kstr(j, "machine", s->id->is_elf ? s->id->machine_name : "-");
	vg_json_kstr(j, "linkage", sbx_linkage(s->id));
	if (s->id->dynamic)
		vg_json_kstr(j, "interp", s->id->interp);
	vg_json_key(j, "labels");
	if (!s->labels.present) {
		vg_json_null(j);
		return;
	}
	vg_json_obj_open(j);
	vg_json_kuint(j, "engines", s->labels.engines);
	vg_json_kuint(j, "detected", s->labels.detected);
	vg_json_kstr(j, "family", s->labels.family);
	vg_json_kuint(j, "family_votes", s->labels.family_votes);
	vg_json_kstr(j, "class", s->labels.cls);
	vg_json_kuint(j, "class_votes", s->labels.class_votes);
	vg_json_kint(j, "label_score", s->label_score);
	vg_json_obj_close(j);
}

void sbx_result_print(FILE *out, const struct sbx_sample *s, const char *env,
		      const struct sbx_result *res, const struct sbx_scores *sc)
{
	const struct sbx_report *r = &res->r;
	char buf[SBX_NOTE];

	fprintf(out, "sample     %s  %s\n", s->sha256, s->path ? s->path : "");
	fprintf(out, "type       %s, %s, %s%s%s\n", s->id->ftype,
		s->id->is_elf ? s->id->machine_name : "-", sbx_linkage(s->id),
		s->id->dynamic ? " " : "", s->id->dynamic ? s->id->interp : "");
	fprintf(out, "env        %s\n", env);
	fprintf(out, "verdict    %s (research); %s: %s\n",
		res->o.executable ? "executable" : "not executable", sbx_verdict_name(res->o.v),
		res->o.reason);
	fprintf(out, "exit       %s\n", res->o.exit_str);
	if (s->labels.present)
		fprintf(out, "labels     class %s%s%s, label score %d (%u/%u engines)\n",
			s->labels.cls, s->labels.family[0] ? ", family " : "", s->labels.family,
			s->label_score, s->labels.detected, s->labels.engines);
	if (!res->ran) {
		fprintf(out, "not run    (wall %lld ms)\n", (long long)res->wall_ms);
		return;
	}
	fprintf(out, "duration   %lld ms (wall %lld ms, %d attempt%s)\n",
		(long long)r->st.duration_ms, (long long)res->wall_ms, res->attempts,
		res->attempts == 1 ? "" : "s");
	sbx_service_impact(&r->svc, buf, sizeof(buf));
	fprintf(out, "services   %s\n", buf);
	fprintf(out, "syscalls   %u, network events %u, files +%u ~%u -%u\n", r->sc.total,
		r->net.events, r->files.created, r->files.modified, r->files.deleted);
	fprintf(out, "behaviour  score %d\n", r->behaviour_score);
	for (int b = 0; b < SBX_B__COUNT; b++)
		if (r->bhv & (1u << b))
			fprintf(out, "  %-16s %-10s %3d  %s\n", sbx_bhv_table[b].id,
				sbx_bhv_table[b].attack,
				sc ? sc->weights[b] : sbx_bhv_table[b].weight, r->evidence[b]);
	if (r->missing[0])
		fprintf(out, "missing    %s\n", r->missing);
}
