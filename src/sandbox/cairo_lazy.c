// SPDX-License-Identifier: MIT
/*
 * Cairo, loaded when a chart is drawn. Linked normally, libcairo and the fifteen libraries
 * it needs (pixman, freetype, fontconfig, X11, xcb, png, ...) are mapped and relocated at
 * the start of every vigil process, a few milliseconds each time, for the one command that
 * draws. So vigil defines the cairo calls chart.c makes and forwards them to libcairo opened
 * with dlopen by sbx_cairo_load(), which chart.c calls before drawing.
 */
#include <dlfcn.h>
#include <errno.h>

#include <cairo.h>

#include "sbx_int.h"

#define CAIRO_SONAME "libcairo.so.2"

#define CAIRO_FNS(X)                  \
	X(cairo_create)               \
	X(cairo_destroy)              \
	X(cairo_fill)                 \
	X(cairo_image_surface_create) \
	X(cairo_line_to)              \
	X(cairo_move_to)              \
	X(cairo_paint)                \
	X(cairo_rectangle)            \
	X(cairo_select_font_face)     \
	X(cairo_set_font_size)        \
	X(cairo_set_line_width)       \
	X(cairo_set_source_rgb)       \
	X(cairo_set_source_rgba)      \
	X(cairo_show_text)            \
	X(cairo_status_to_string)     \
	X(cairo_stroke)               \
	X(cairo_surface_destroy)      \
	X(cairo_surface_write_to_png) \
	X(cairo_text_extents)

#define DECLARE(n) static __typeof__(n) *p_##n;
CAIRO_FNS(DECLARE)
static bool loaded;

int sbx_cairo_load(struct vg_err *err)
{
	void *h;

	if (loaded)
		return 0;
	h = dlopen(CAIRO_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return vg_errf(err, ENOENT, "charts need %s: %s", CAIRO_SONAME, dlerror());
#define RESOLVE(n)                       \
	*(void **)&p_##n = dlsym(h, #n); \
	if (!p_##n)                      \
		return vg_errf(err, ENOENT, "%s lacks %s", CAIRO_SONAME, #n);
	CAIRO_FNS(RESOLVE)
#undef RESOLVE
	loaded = true;
	return 0;
}

/* Only chart.c calls these, and only after sbx_cairo_load() succeeded. */
cairo_t *cairo_create(cairo_surface_t *target)
{
	return p_cairo_create(target);
}

void cairo_destroy(cairo_t *cr)
{
	p_cairo_destroy(cr);
}

void cairo_fill(cairo_t *cr)
{
	p_cairo_fill(cr);
}

cairo_surface_t *cairo_image_surface_create(cairo_format_t format, int width, int height)
{
	return p_cairo_image_surface_create(format, width, height);
}

void cairo_line_to(cairo_t *cr, double x, double y)
{
	p_cairo_line_to(cr, x, y);
}

void cairo_move_to(cairo_t *cr, double x, double y)
{
	p_cairo_move_to(cr, x, y);
}

void cairo_paint(cairo_t *cr)
{
	p_cairo_paint(cr);
}

void cairo_rectangle(cairo_t *cr, double x, double y, double width, double height)
{
	p_cairo_rectangle(cr, x, y, width, height);
}

void cairo_select_font_face(cairo_t *cr, const char *family, cairo_font_slant_t slant,
			    cairo_font_weight_t weight)
{
	p_cairo_select_font_face(cr, family, slant, weight);
}

void cairo_set_font_size(cairo_t *cr, double size)
{
	p_cairo_set_font_size(cr, size);
}

void cairo_set_line_width(cairo_t *cr, double width)
{
	p_cairo_set_line_width(cr, width);
}

void cairo_set_source_rgb(cairo_t *cr, double red, double green, double blue)
{
	p_cairo_set_source_rgb(cr, red, green, blue);
}

void cairo_set_source_rgba(cairo_t *cr, double red, double green, double blue, double alpha)
{
	p_cairo_set_source_rgba(cr, red, green, blue, alpha);
}

void cairo_show_text(cairo_t *cr, const char *utf8)
{
	p_cairo_show_text(cr, utf8);
}

const char *cairo_status_to_string(cairo_status_t status)
{
	return p_cairo_status_to_string(status);
}

void cairo_stroke(cairo_t *cr)
{
	p_cairo_stroke(cr);
}

void cairo_surface_destroy(cairo_surface_t *surface)
{
	p_cairo_surface_destroy(surface);
}

cairo_status_t cairo_surface_write_to_png(cairo_surface_t *surface, const char *filename)
{
	return p_cairo_surface_write_to_png(surface, filename);
}

void cairo_text_extents(cairo_t *cr, const char *utf8, cairo_text_extents_t *extents)
{
	p_cairo_text_extents(cr, utf8, extents);
}
