// SPDX-License-Identifier: MIT
/*
 * A sample's description as JSON members, shared by `sandbox one -j`, the campaign store and
 * the per-sample reports.
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
