// SPDX-License-Identifier: MIT
/*
 * Verifier lifecycle and outputs (contract in include/vigil/cfa_verify.h): creation, per-stream
 * results, loop summaries, merging what training saw into a model, and the alert check names.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "verify_int.h"

static const char *const checks[VG_CFA_A_KINDS] = {
	[VG_CFA_A_CFG] = "cfa.cfg-violation",		[VG_CFA_A_DENIED] = "cfa.denied-flow",
	[VG_CFA_A_UNSEEN_PATH] = "cfa.unseen-path",	[VG_CFA_A_LOOP] = "cfa.loop-anomaly",
	[VG_CFA_A_UNKNOWN_EVENT] = "cfa.unknown-event", [VG_CFA_A_LOST] = "cfa.events-lost",
	[VG_CFA_A_STACK] = "cfa.stack-overflow",
};

static const char *const sev[VG_CFA_A_KINDS] = {
	[VG_CFA_A_CFG] = "high",	   [VG_CFA_A_DENIED] = "high",
	[VG_CFA_A_UNSEEN_PATH] = "medium", [VG_CFA_A_LOOP] = "medium",
	[VG_CFA_A_UNKNOWN_EVENT] = "high", [VG_CFA_A_LOST] = "medium",
	[VG_CFA_A_STACK] = "medium",
};

const char *vg_cfa_alert_check(enum vg_cfa_alert_kind k)
{
	return k > 0 && k < VG_CFA_A_KINDS ? checks[k] : "cfa.unknown";
}

const char *vg_cfa_alert_severity(enum vg_cfa_alert_kind k)
{
	return k > 0 && k < VG_CFA_A_KINDS ? sev[k] : "info";
}

uint64_t vg_cfa_verifier_streams(const struct vg_cfa_verifier *v)
{
	return v->mask;
}

void vg_cfa_verifier_result(const struct vg_cfa_verifier *v, uint32_t sid,
			    struct vg_cfa_stream_result *r)
{
	memset(r, 0, sizeof(*r));
	if (sid >= VG_CFA_MAX_STREAMS || !v->s[sid])
		return;
	r->events = v->s[sid]->nev;
	r->segments = v->s[sid]->chain.index;
	memcpy(r->measurement, v->s[sid]->chain.h, 32);
	memcpy(r->alerts, v->s[sid]->alerts, sizeof(r->alerts));
}

int vg_cfa_verifier_loops(const struct vg_cfa_verifier *v, struct vg_cfa_loop_summary **out,
			  size_t *n)
{
	size_t k = 0;

	*out = NULL;
	*n = 0;
	for (uint32_t i = 0; i < v->m->nnodes; i++)
		k += v->ls[i].instances > 0;
	if (!k)
		return 0;
	*out = calloc(k, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (uint32_t i = 0; i < v->m->nnodes; i++) {
		if (!v->ls[i].instances)
			continue;
		struct vg_cfa_loop_summary *L = &(*out)[(*n)++];

		L->header = i;
		L->instances = v->ls[i].instances;
		L->max_iters = v->ls[i].max_iters;
		L->total_iters = v->ls[i].total;
		L->distinct = v->ls[i].distinct;
	}
	return 0;
}

static int cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t merge(uint64_t *dst, const uint64_t *old, uint32_t nold, const struct u64set *s)
{
	uint32_t n = 0, w = 0;

	memcpy(dst, old, (size_t)nold * 8);
	n = nold;
	for (uint32_t i = 0; i < s->cap; i++)
		if (s->v[i])
			dst[n++] = s->v[i];
	qsort(dst, n, 8, cmp64);
	for (uint32_t i = 0; i < n; i++)
		if (!w || dst[w - 1] != dst[i])
			dst[w++] = dst[i];
	return w;
}

int vg_cfa_verifier_train_into(const struct vg_cfa_verifier *v, struct vg_cfa_model *m,
			       void **owned, struct vg_err *err)
{
	size_t np = (size_t)m->npaths + v->paths.n, ni = (size_t)m->niters + v->iters.n;
	char *blk = malloc((np + ni) * 8 + (size_t)m->nnodes * 4 + 8);

	if (!blk)
		return vg_errf(err, ENOMEM, "training: out of memory");
	uint64_t *p = (uint64_t *)blk, *it = p + np;
	uint32_t *lm = (uint32_t *)(it + ni);

	m->npaths = merge(p, m->paths, m->npaths, &v->paths);
	m->niters = merge(it, m->iters, m->niters, &v->iters);
	for (uint32_t i = 0; i < m->nnodes; i++) {
		uint64_t old = m->nloopmax ? m->loopmax[i] : 0, now = v->ls[i].max_iters;

		lm[i] = (uint32_t)(now > old ? (now > UINT32_MAX ? UINT32_MAX : now) : old);
	}
	m->paths = p;
	m->iters = it;
	m->loopmax = lm;
	m->nloopmax = m->nnodes;
	m->flags |= VG_CFA_M_TRAINED;
	*owned = blk;
	return 0;
}

int vg_cfa_verifier_new(struct vg_cfa_verifier **out, const struct vg_cfa_model *m,
			const struct vg_cfa_verify_opts *o, struct vg_err *err)
{
	struct vg_cfa_verifier *v = calloc(1, sizeof(*v));

	if (!v || !(v->ls = calloc(m->nnodes ? m->nnodes : 1, sizeof(*v->ls)))) {
		free(v);
		return vg_errf(err, ENOMEM, "verifier: out of memory");
	}
	v->m = m;
	v->o = *o;
	if (!v->o.max_alerts)
		v->o.max_alerts = 32;
	v->trained = !!(m->flags & VG_CFA_M_TRAINED);
	v->owner = VG_CFA_NONE;
	v->redsucc = calloc(m->nnodes / 8 + 1, 1);
	if (!v->redsucc) {
		free(v->ls);
		free(v);
		return vg_errf(err, ENOMEM, "verifier: out of memory");
	}
	for (uint32_t i = 0; i < m->nnodes; i++)
		for (uint32_t k = 0; k < m->nodes[i].nsucc; k++)
			if (m->nodes[m->succ[m->nodes[i].succ + k] & VG_CFA_SUCC_MASK].flags &
			    VG_CFA_N_REDUCED)
				v->redsucc[i >> 3] |= (uint8_t)(1u << (i & 7));
	*out = v;
	return 0;
}

void vg_cfa_verifier_free(struct vg_cfa_verifier *v)
{
	if (!v)
		return;
	for (uint32_t i = 0; i < VG_CFA_MAX_STREAMS; i++)
		free(v->s[i]);
	free(v->paths.v);
	free(v->iters.v);
	free(v->ls);
	free(v->redsucc);
	free(v);
}
