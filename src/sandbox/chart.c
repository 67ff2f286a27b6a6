// SPDX-License-Identifier: MIT
/*
 * The campaign chart (PNG, drawn with cairo): for each environment, a stacked bar of its runs'
 * outcomes (executable, ran with a non-zero exit, crashed, failed to load, not executable,
 * environment error) and a bar of the mean behaviour score over the runs that ran, so the
 * environments can be compared at a glance.
 */
#include <cairo.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sbx_int.h"
#include "vigil/sandbox.h"

#define MAX_ENVS 8
#define NCAT 6
#define W 960
#define H 480

static const char *const cat_names[NCAT] = { "executable",     "ran, exit != 0", "crashed",
					     "failed to load", "not executable", "env error" };
static const double cat_rgb[NCAT][3] = {
	{ 0.20, 0.60, 0.30 }, { 0.55, 0.75, 0.40 }, { 0.85, 0.35, 0.25 },
	{ 0.95, 0.65, 0.20 }, { 0.55, 0.55, 0.60 }, { 0.25, 0.25, 0.30 },
};

struct env_stats {
	char name[16];
	unsigned cat[NCAT], runs, ran;
	double score_sum;
};

struct stats {
	struct env_stats e[MAX_ENVS];
	unsigned n;
};

static int gather(void *ctx, const struct sbx_row *r)
{
	struct stats *s = ctx;
	struct env_stats *e = NULL;
	int c;

	for (unsigned i = 0; i < s->n; i++)
		if (!strcmp(s->e[i].name, r->env))
			e = &s->e[i];
	if (!e) {
		if (s->n == MAX_ENVS)
			return 0;
		e = &s->e[s->n++];
		sbx_copy(e->name, sizeof(e->name), r->env);
	}
	if (!strcmp(r->verdict, "ran"))
		c = !strcmp(r->research, "executable") ? 0 : 1;
	else if (!strcmp(r->verdict, "crashed"))
		c = 2;
	else if (!strcmp(r->verdict, "load-failed"))
		c = 3;
	else if (!strcmp(r->verdict, "not-executable"))
		c = 4;
	else
		c = 5;
	e->cat[c]++;
	e->runs++;
	if (c <= 2) {
		e->ran++;
		e->score_sum += r->behaviour_score;
	}
	return 0;
}

static void text(cairo_t *cr, double x, double y, double size, const char *s, bool center)
{
	cairo_text_extents_t ext;

	cairo_set_font_size(cr, size);
	cairo_text_extents(cr, s, &ext);
	cairo_move_to(cr, center ? x - ext.width / 2 - ext.x_bearing : x, y);
	cairo_show_text(cr, s);
}

static void axes(cairo_t *cr, double x0, double y0, double w, double h, double max,
		 const char *title)
{
	char buf[32];

	cairo_set_source_rgb(cr, 0, 0, 0);
	cairo_set_line_width(cr, 1);
	cairo_move_to(cr, x0, y0 - h);
	cairo_line_to(cr, x0, y0);
	cairo_line_to(cr, x0 + w, y0);
	cairo_stroke(cr);
	for (int t = 0; t <= 4; t++) {
		double y = y0 - h * t / 4;

		snprintf(buf, sizeof(buf), "%.0f", max * t / 4);
		text(cr, x0 - 30, y + 4, 11, buf, false);
		cairo_set_source_rgba(cr, 0, 0, 0, 0.12);
		cairo_move_to(cr, x0, y);
		cairo_line_to(cr, x0 + w, y);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0, 0, 0);
	}
	text(cr, x0 + w / 2, y0 - h - 14, 14, title, true);
}

static void draw(cairo_t *cr, const struct stats *s)
{
	const double x0 = 60, y0 = H - 70, ph = H - 150, pw = 470, x1 = 640, pw2 = 280;
	unsigned max_runs = 1;
	double bw, bw2;
	char buf[64];

	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	for (unsigned i = 0; i < s->n; i++)
		max_runs = s->e[i].runs > max_runs ? s->e[i].runs : max_runs;
	max_runs = (max_runs + 3) / 4 * 4; /* whole numbers on the four grid lines */
	axes(cr, x0, y0, pw, ph, max_runs, "runs by outcome");
	axes(cr, x1, y0, pw2, ph, 100, "mean behaviour score (runs that ran)");
	bw = s->n ? pw / (s->n * 1.6 + 0.6) : pw;
	bw2 = s->n ? pw2 / (s->n * 1.6 + 0.6) : pw2;
	for (unsigned i = 0; i < s->n; i++) {
		const struct env_stats *e = &s->e[i];
		double x = x0 + bw * (0.6 + 1.6 * i), y = y0, mean;

		for (int c = 0; c < NCAT; c++) {
			double hh = ph * e->cat[c] / max_runs;

			if (!e->cat[c])
				continue;
			cairo_set_source_rgb(cr, cat_rgb[c][0], cat_rgb[c][1], cat_rgb[c][2]);
			cairo_rectangle(cr, x, y - hh, bw, hh);
			cairo_fill(cr);
			if (hh >= 14) {
				cairo_set_source_rgb(cr, 1, 1, 1);
				snprintf(buf, sizeof(buf), "%u", e->cat[c]);
				text(cr, x + bw / 2, y - hh / 2 + 4, 11, buf, true);
			}
			y -= hh;
		}
		cairo_set_source_rgb(cr, 0, 0, 0);
		text(cr, x + bw / 2, y0 + 18, 12, e->name, true);
		mean = e->ran ? e->score_sum / e->ran : 0;
		x = x1 + bw2 * (0.6 + 1.6 * i);
		cairo_set_source_rgb(cr, 0.30, 0.40, 0.75);
		cairo_rectangle(cr, x, y0 - ph * (mean > 100 ? 100 : mean) / 100, bw2,
				ph * (mean > 100 ? 100 : mean) / 100);
		cairo_fill(cr);
		cairo_set_source_rgb(cr, 0, 0, 0);
		snprintf(buf, sizeof(buf), "%.1f", mean);
		text(cr, x + bw2 / 2, y0 - ph * (mean > 100 ? 100 : mean) / 100 - 5, 11, buf, true);
		text(cr, x + bw2 / 2, y0 + 18, 12, e->name, true);
	}
	for (int c = 0; c < NCAT; c++) {
		double lx = x0 + (c % 3) * 170, ly = H - 34 + (c / 3) * 18;

		cairo_set_source_rgb(cr, cat_rgb[c][0], cat_rgb[c][1], cat_rgb[c][2]);
		cairo_rectangle(cr, lx, ly - 10, 12, 12);
		cairo_fill(cr);
		cairo_set_source_rgb(cr, 0, 0, 0);
		text(cr, lx + 17, ly, 11, cat_names[c], false);
	}
	text(cr, W / 2.0, 24, 16, "vigil sandbox: environments compared", true);
}

int sbx_report_chart(struct sbx_store *st, const char *path, struct vg_err *err)
{
	struct stats s = { 0 };
	cairo_surface_t *sf;
	cairo_t *cr;
	cairo_status_t cs;
	int rc = sbx_store_each(st, 0, true, gather, &s, err);

	if (rc)
		return rc;
	rc = sbx_cairo_load(err);
	if (rc)
		return rc;
	sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
	cr = cairo_create(sf);
	draw(cr, &s);
	cairo_destroy(cr);
	cs = cairo_surface_write_to_png(sf, path);
	cairo_surface_destroy(sf);
	if (cs != CAIRO_STATUS_SUCCESS)
		return vg_errf(err, EIO, "writing %s: %s", path, cairo_status_to_string(cs));
	return 0;
}
