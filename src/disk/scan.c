// SPDX-License-Identifier: MIT
/*
 * The scan pipeline: list the source, run the name and metadata checks over the table, read
 * the file contents the checks need (scan_content.c), let the checks that compare several
 * files conclude, and put the findings in a stable order (path, then check).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scan_int.h"
#include "vigil/clock.h"

bool vg_scan_on(const struct vg_scan *c, const char *id)
{
	if (!c->o->only)
		return true;
	for (const char *const *p = c->o->only; *p; p++)
		if (!strcmp(*p, id))
			return true;
	return false;
}

void vg_scan_want(struct vg_scan *c, uint32_t idx, vg_want_fn fn, const void *arg)
{
	if (c->nwants == c->capwants) {
		size_t cap = c->capwants ? c->capwants * 2 : 64;
		void *p = realloc(c->wants, cap * sizeof(*c->wants));

		if (!p) {
			c->ret = -ENOMEM;
			return;
		}
		c->wants = p;
		c->capwants = cap;
	}
	c->wants[c->nwants++] = (struct vg_want){ .idx = idx, .fn = fn, .arg = arg };
}

static int cmp_finding(const void *a, const void *b)
{
	const struct vg_dfinding *x = a, *y = b;
	int r = strcmp(x->target, y->target);

	if (!r)
		r = strcmp(x->check, y->check);
	return r ? r : strcmp(x->summary, y->summary);
}

static void count(struct vg_disk_scan *out)
{
	for (size_t i = 0; i < out->tab.n; i++) {
		out->stats.files += S_ISREG(out->tab.v[i].mode);
		out->stats.dirs += S_ISDIR(out->tab.v[i].mode);
	}
	out->stats.entries = out->tab.n;
}

int vg_disk_scan(struct vg_fsrc *src, const struct vg_disk_scan_opts *o, struct vg_disk_scan *out,
		 struct vg_err *err)
{
	struct vg_scan c = { .src = src, .o = o, .out = out, .t = &out->tab };
	double t0 = vg_mono_msf();
	int ret;

	memset(out, 0, sizeof(*out));
	snprintf(out->source_kind, sizeof(out->source_kind), "%s", src->kind ? src->kind : "");
	snprintf(out->warning, sizeof(out->warning), "%s", src->warning);
	ret = vg_fsrc_list(src, &out->tab, err);
	if (ret)
		return ret;
	out->stats.list_ms = vg_mono_msf() - t0;
	count(out);
	if (o->hash) {
		out->hash = calloc(out->tab.n ? out->tab.n : 1, sizeof(*out->hash));
		out->hashed = calloc(out->tab.n ? out->tab.n : 1, 1);
		if (!out->hash || !out->hashed) {
			vg_disk_scan_free(out);
			return vg_errf(err, ENOMEM, "out of memory");
		}
	}
	t0 = vg_mono_msf();
	vg_rules_meta(&c);
	vg_rules_files(&c);
	vg_rules_trojan(&c);
	vg_rules_config(&c);
	vg_rules_preload(&c);
	vg_rules_logs(&c);
	if (!c.ret)
		vg_scan_content(&c);
	/* always: it also frees what the log checks collected */
	vg_rules_logs_end(&c);
	out->stats.check_ms = vg_mono_msf() - t0;
	free(c.wants);
	/* content checks run on several threads: their findings come in any order */
	if (out->findings.n)
		qsort(out->findings.v, out->findings.n, sizeof(*out->findings.v), cmp_finding);
	if (c.ret) {
		vg_disk_scan_free(out);
		return vg_errf(err, -c.ret, "out of memory during the checks");
	}
	return 0;
}

void vg_disk_scan_free(struct vg_disk_scan *s)
{
	vg_ftab_free(&s->tab);
	vg_dfindings_free(&s->findings);
	free(s->hash);
	free(s->hashed);
	s->hash = NULL;
	s->hashed = NULL;
}
