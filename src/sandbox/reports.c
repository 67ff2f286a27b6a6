// SPDX-License-Identifier: MIT
/*
 * Campaign reports from the store: the CSV (one row per sample and environment, the columns
 * of SBX_CSV_HEADER, RFC 4180 quoting) and one JSON file per sample holding its description
 * and its result in every environment. Paths and labels in the store came from samples and
 * AV reports, so every field is quoted or escaped, never pasted.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sbx_int.h"
#include "vigil/sandbox.h"
#include "vigil/util.h"

static void csv_field(FILE *f, const char *s, bool last)
{
	if (strpbrk(s, ",\"\r\n")) {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else {
		fputs(s, f);
	}
	fputc(last ? '\n' : ',', f);
}

static int csv_row(void *ctx, const struct sbx_row *r)
{
	FILE *f = ctx;
	char finer[600], label[16], bscore[16], dur[32];
	bool ran = !strcmp(r->verdict, "ran") || !strcmp(r->verdict, "crashed");

	snprintf(finer, sizeof(finer), "%s: %s", r->verdict, r->reason);
	snprintf(label, sizeof(label), "%d", r->label_score);
	snprintf(bscore, sizeof(bscore), "%d", r->behaviour_score);
	snprintf(dur, sizeof(dur), "%lld", (long long)r->duration_ms);
	csv_field(f, r->sha256, false);
	csv_field(f, r->file_type, false);
	csv_field(f, r->machine, false);
	csv_field(f, r->linkage, false);
	csv_field(f, r->env, false);
	csv_field(f, r->research, false);
	csv_field(f, r->exit_status, false);
	csv_field(f, finer, false);
	csv_field(f, r->cls[0] ? r->cls : "-", false);
	csv_field(f, r->label_score >= 0 ? label : "", false);
	csv_field(f, ran ? bscore : "", false);
	csv_field(f, r->behaviours, false);
	csv_field(f, r->service_impact, false);
	csv_field(f, ran ? dur : "", true);
	return ferror(f) ? -EIO : 0;
}

int sbx_report_csv(struct sbx_store *st, const char *path, struct vg_err *err)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (!f)
		return vg_errf(err, errno, "%s: %m", path);
	fputs(SBX_CSV_HEADER "\n", f);
	rc = sbx_store_each(st, 0, true, csv_row, f, err);
	if (fclose(f) && !rc)
		rc = vg_errf(err, errno, "writing %s: %m", path);
	if (rc == -EIO && !err->code)
		vg_errf(err, EIO, "writing %s", path);
	return rc;
}

struct jdir {
	const char *dir;
	char sha[65];
	json_t *doc; /* the sample being gathered */
	unsigned files;
	struct vg_err *err;
};

static int flush(struct jdir *d)
{
	char path[4200];
	int rc = 0;

	if (!d->doc)
		return 0;
	snprintf(path, sizeof(path), "%s/%s.json", d->dir, d->sha);
	if (json_dump_file(d->doc, path, JSON_INDENT(2) | JSON_SORT_KEYS))
		rc = vg_errf(d->err, EIO, "writing %s", path);
	else
		d->files++;
	json_decref(d->doc);
	d->doc = NULL;
	return rc;
}

static int json_row(void *ctx, const struct sbx_row *r)
{
	struct jdir *d = ctx;
	json_t *res;
	int rc;

	if (d->doc && strcmp(d->sha, r->sha256) && (rc = flush(d)))
		return rc;
	if (!d->doc) {
		d->doc = json_loads(r->sample_json, 0, NULL);
		if (!json_is_object(d->doc)) {
			json_decref(d->doc);
			d->doc = json_pack("{ss}", "sha256", r->sha256);
		}
		if (!d->doc)
			return vg_errf(d->err, ENOMEM, "out of memory");
		json_object_set_new(d->doc, "runs", json_object());
		sbx_copy(d->sha, sizeof(d->sha), r->sha256);
	}
	res = json_loads(r->result_json, 0, NULL);
	if (!res)
		res = json_null();
	json_object_set_new(res, "duration_ms", json_integer(r->duration_ms));
	json_object_set_new(res, "wall_ms", json_integer(r->wall_ms));
	json_object_set_new(json_object_get(d->doc, "runs"), r->env, res);
	return 0;
}

int sbx_report_json_dir(struct sbx_store *st, const char *dir, unsigned *nfiles, struct vg_err *err)
{
	struct jdir d = { .dir = dir, .err = err };
	int rc;

	if ((rc = vg_mkdir_p(dir, 0755)) < 0)
		return vg_errf(err, -rc, "creating %s: %s", dir, strerror(-rc));
	rc = sbx_store_each(st, 0, true, json_row, &d, err);
	if (!rc)
		rc = flush(&d);
	json_decref(d.doc);
	*nfiles = d.files;
	return rc;
}
