// SPDX-License-Identifier: MIT
/* The IDS configuration and one look at a guest (see ids_look.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vigil/ids_look.h"
#include "vigil/ids_watch.h"

bool vg_ids_check_known(const char *id)
{
	for (const struct vg_ids_check *k = vg_ids_checks; k->id; k++)
		if (!strcmp(k->id, id))
			return true;
	return false;
}

static int add_mod(struct vg_ids_config *c, size_t *n, const char *m)
{
	char **p;

	for (size_t i = 0; i < *n; i++)
		if (!strcmp(c->mods[i], m))
			return 0;
	p = realloc(c->mods, (*n + 2) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	c->mods = p;
	p[(*n)++] = (char *)m; /* borrowed from the setup, the policy or the baseline */
	p[*n] = NULL;
	return 0;
}

static int add_port(struct vg_ids_config *c, uint16_t port)
{
	uint16_t *p;

	for (size_t i = 0; i < c->nports; i++)
		if (c->ports[i] == port)
			return 0;
	p = realloc(c->ports, (c->nports + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	c->ports = p;
	p[c->nports++] = port;
	return 0;
}

/* The allowlists from the command line, the policy and the baseline, merged: the unknown-module
 * check runs when any of them names modules; ports are the union. */
static int merge(struct vg_ids_config *c, const struct vg_ids_setup *s)
{
	bool mods = s->allow_modules || c->policy.have_modules || c->have_baseline;
	size_t n = 0;
	int ret = 0;

	for (size_t i = 0; s->allow_modules && s->allow_modules[i] && !ret; i++)
		ret = add_mod(c, &n, s->allow_modules[i]);
	for (size_t i = 0; i < c->policy.nmodules && !ret; i++)
		ret = add_mod(c, &n, c->policy.modules[i]);
	for (size_t i = 0; c->have_baseline && i < c->baseline.nmodules && !ret; i++)
		ret = add_mod(c, &n, c->baseline.modules[i]);
	if (!ret && mods && !c->mods) {
		c->mods = calloc(1, sizeof(*c->mods));
		ret = c->mods ? 0 : -ENOMEM;
	}
	for (size_t i = 0; i < s->nallow_ports && !ret; i++)
		ret = add_port(c, s->allow_ports[i]);
	for (size_t i = 0; i < c->policy.nports && !ret; i++)
		ret = add_port(c, c->policy.ports[i]);
	for (size_t i = 0; c->have_baseline && i < c->baseline.nlisten && !ret; i++)
		ret = add_port(c, c->baseline.listen[i].port);
	if (ret)
		return ret;
	c->io.allowed_modules = mods ? (const char *const *)c->mods : NULL;
	c->io.allowed_ports = c->nports ? c->ports : NULL;
	c->io.nallowed_ports = c->nports;
	return 0;
}

/* The setup's checks narrow the set; the policy's disable list narrows it further. */
static void select_checks(struct vg_ids_config *c, const struct vg_ids_setup *s)
{
	size_t n = 0;

	if (!s->only && !c->policy.ndisabled) {
		c->io.only = NULL;
		return;
	}
	for (const struct vg_ids_check *k = vg_ids_checks; k->id; k++) {
		bool want = !s->only;

		for (size_t i = 0; s->only && s->only[i] && !want; i++)
			want = !strcmp(s->only[i], k->id);
		if (want && vg_policy_check_enabled(&c->policy, k->id) && n < VG_IDS_MAX_ONLY)
			c->only[n++] = k->id;
	}
	c->only[n] = NULL;
	c->io.only = c->only;
}

int vg_ids_config_init(struct vg_ids_config *c, const struct vg_ids_setup *s, struct vg_err *err)
{
	int ret;

	memset(c, 0, sizeof(*c));
	vg_policy_init(&c->policy);
	for (size_t i = 0; s->only && s->only[i]; i++)
		if (!vg_ids_check_known(s->only[i]))
			return vg_errf(err, EINVAL, "unknown check '%s'; see 'vigil ids checks'",
				       s->only[i]);
	if (s->policy && (ret = vg_policy_load(&c->policy, s->policy, err)))
		return ret;
	if (s->baseline) {
		ret = vg_baseline_load(&c->baseline, s->baseline, err);
		if (ret) {
			vg_policy_free(&c->policy);
			return ret;
		}
		c->have_baseline = true;
	}
	if (merge(c, s)) {
		vg_ids_config_free(c);
		return vg_errf(err, ENOMEM, "merging the allowlists: out of memory");
	}
	ret = vg_policy_listener_opts(&c->policy, c->have_baseline ? &c->baseline : NULL, &c->io,
				      &c->listener_rules, err);
	if (ret) {
		vg_ids_config_free(c);
		return ret;
	}
	select_checks(c, s);
	return 0;
}

void vg_ids_config_free(struct vg_ids_config *c)
{
	free(c->mods);
	free(c->ports);
	free(c->listener_rules);
	vg_policy_free(&c->policy);
	if (c->have_baseline)
		vg_baseline_free(&c->baseline);
	vg_text_cache_free(&c->text_cache);
	memset(c, 0, sizeof(*c));
}

int vg_ids_select(const struct vg_ids_config *c, const char *const *names, size_t ncount,
		  const char **out, size_t nout, struct vg_err *err)
{
	size_t n = 0;

	if (!nout)
		return vg_errf(err, EINVAL, "no room for checks");
	for (size_t i = 0; i < ncount; i++) {
		if (!vg_ids_check_known(names[i]))
			return vg_errf(err, EINVAL, "unknown check '%.64s'", names[i]);
		if (n + 1 >= nout)
			return vg_errf(err, E2BIG, "too many checks named");
		if (vg_policy_check_enabled(&c->policy, names[i]))
			out[n++] = names[i];
	}
	out[n] = NULL;
	return 0;
}

int vg_ids_look(struct vg_guest *g, struct vg_ids_config *c, struct vg_findings *f, char *warn,
		size_t wlen, struct vg_err *err)
{
	struct vg_snapshot s;
	int ret;

	warn[0] = 0;
	ret = vg_ids_gather(&g->lx, &s, err);
	if (ret)
		return ret;
	if (c->have_baseline && c->baseline.text)
		vg_ids_gather_text_cached(&g->lx, c->baseline.text, &c->text_cache, &s);
	if (c->have_baseline && strcmp(c->baseline.release, s.release))
		snprintf(warn, wlen, "baseline was recorded on kernel %s, the guest runs %s; ",
			 c->baseline.release, s.release);
	ret = vg_ids_run(&s, &c->io, f, err);
	if (!ret && c->have_baseline)
		ret = vg_baseline_compare(&c->baseline, &s, c->policy.new_executables, &c->io, f,
					  err);
	if (s.gather_errors[0])
		snprintf(warn + strlen(warn), wlen - strlen(warn), "%s", s.gather_errors);
	vg_ids_snapshot_free(&s);
	if (ret)
		return ret;
	vg_policy_apply(&c->policy, f);
	return 0;
}

int vg_ids_scan(struct vg_guest *g, struct vg_ids_config *c, struct vg_findings *out, char *warn,
		size_t wlen, struct vg_err *err)
{
	struct vg_findings a = { 0 }, b = { 0 };
	int ret;

	vg_as_flush(&g->lx.kas);
	ret = vg_ids_look(g, c, &a, warn, wlen, err);
	if (!ret && a.n) {
		vg_as_flush(&g->lx.kas);
		ret = vg_ids_look(g, c, &b, warn, wlen, err);
	}
	for (size_t i = 0; !ret && i < a.n; i++) {
		bool confirmed = false;

		for (size_t k = 0; k < b.n && !confirmed; k++)
			confirmed = vg_finding_same(&a.v[i], &b.v[k]);
		if (confirmed && vg_findings_push(out, &a.v[i]))
			ret = vg_errf(err, ENOMEM, "keeping findings: out of memory");
	}
	if (!ret)
		out->dropped += a.dropped;
	vg_findings_free(&a);
	vg_findings_free(&b);
	return ret;
}

int vg_ids_baseline_take(struct vg_guest *g, struct vg_baseline *b, char *warn, size_t wlen,
			 struct vg_err *err)
{
	struct vg_text_ref *text = calloc(1, sizeof(*text));
	struct vg_err terr = { 0 };
	struct vg_snapshot s;
	uint8_t key[16];
	int ret;

	warn[0] = 0;
	if (!text)
		return vg_errf(err, ENOMEM, "out of memory");
	if (sodium_init() < 0) {
		free(text);
		return vg_errf(err, EIO, "libsodium could not be initialised");
	}
	/* the key stays on the host: the guest cannot aim a patch at a hash it cannot compute */
	randombytes_buf(key, sizeof(key));
	if (vg_ids_text_hash(&g->lx, key, text, &terr)) {
		snprintf(warn, wlen, "kernel text not recorded: %s; ", terr.msg);
		free(text);
		text = NULL;
	}
	sodium_memzero(key, sizeof(key));
	ret = vg_ids_gather(&g->lx, &s, err);
	if (ret) {
		if (text) {
			vg_text_ref_free(text);
			free(text);
		}
		return ret;
	}
	/* the baseline owns TEXT from here, also when recording fails */
	ret = vg_baseline_from_snapshot(b, &s, g->lx.banner, g->lx.text_va, text, err);
	if (s.gather_errors[0])
		snprintf(warn + strlen(warn), wlen - strlen(warn), "%s", s.gather_errors);
	vg_ids_snapshot_free(&s);
	return ret;
}
