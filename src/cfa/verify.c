// SPDX-License-Identifier: MIT
/*
 * CFA verifier engine (contract in include/vigil/cfa_verify.h). Per stream it keeps the current
 * node, a shadow stack of frames (return point, function, path hash, open loops) and the
 * measurement chain. A transition u -> t is accepted, in this order, as: an intraprocedural edge
 * (possibly through reduced sites, reconstructed by a bounded search), a call from u to t's
 * function (direct callee, indirect call to an address-taken function, callback from
 * uninstrumented code), a tail call, or a return (pop, then retry from the return point). After a
 * violation, an unknown event or a gap the stream resynchronises on the next site.
 *
 * Path measurements: a 64-bit hash per function invocation over the nodes it visits outside
 * loops (each loop contributes only its header); each loop iteration is hashed separately and
 * its count kept (C-FLAT folding). These hashes identify paths for the trained sets; the attested
 * value is the cryptographic chain (chain.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "verify_int.h"
#include "vigil/rt.h"

/* 1 if newly inserted, 0 if present, -1 on allocation failure. */
static int set_add(struct u64set *s, uint64_t k)
{
	if (!k)
		k = 1;
	if (s->n * 2 >= s->cap) {
		uint32_t nc = s->cap ? s->cap * 2 : 256;
		uint64_t *nv = calloc(nc, 8);

		if (!nv)
			return -1;
		for (uint32_t i = 0; i < s->cap; i++)
			if (s->v[i]) {
				uint32_t j = (uint32_t)(s->v[i] * 0x9e3779b97f4a7c15ull >> 32) &
					     (nc - 1);

				while (nv[j])
					j = (j + 1) & (nc - 1);
				nv[j] = s->v[i];
			}
		free(s->v);
		s->v = nv;
		s->cap = nc;
	}
	uint32_t j = (uint32_t)(k * 0x9e3779b97f4a7c15ull >> 32) & (s->cap - 1);

	while (s->v[j]) {
		if (s->v[j] == k)
			return 0;
		j = (j + 1) & (s->cap - 1);
	}
	s->v[j] = k;
	s->n++;
	return 1;
}

static inline uint64_t mix(uint64_t h, uint32_t x)
{
	h = (h ^ x) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static void emit(struct vg_cfa_verifier *v, struct stream *s, uint32_t sid,
		 enum vg_cfa_alert_kind k, uint32_t from, uint32_t to, const char *reason,
		 uint64_t count, uint64_t limit)
{
	const struct vg_cfa_model *m = v->m;
	struct vg_cfa_alert a = { .kind = k,
				  .stream = sid,
				  .index = s->nev ? s->nev - 1 : 0,
				  .from_ev = from,
				  .to_ev = to,
				  .reason = reason,
				  .count = count,
				  .limit = limit,
				  .from_func = VG_CFA_NONE,
				  .to_func = VG_CFA_NONE,
				  .owner = v->owner };
	uint32_t n;

	if (++s->alerts[k] > v->o.max_alerts || !v->o.alert)
		return;
	if (from != VG_CFA_NONE && (n = vg_cfa_lookup(m, from & ~VG_RT_EXIT_BIT)) != VG_CFA_NONE)
		a.from_func = m->nodes[n].func;
	if (to != VG_CFA_NONE && (n = vg_cfa_lookup(m, to & ~VG_RT_EXIT_BIT)) != VG_CFA_NONE)
		a.to_func = m->nodes[n].func;
	/* last[] holds the newest event too; evidence is what came before it */
	n = s->nev > VG_CFA_LAST ? VG_CFA_LAST : (uint32_t)s->nev;
	for (uint32_t i = 0; i + 1 < n; i++)
		a.last[a.nlast++] = s->last[(s->nev - n + i) % VG_CFA_LAST];
	v->o.alert(v->o.ctx, &a);
}

static void check_key(struct vg_cfa_verifier *v, struct stream *s, uint32_t sid, int iter,
		      uint32_t owner, uint64_t h, uint32_t ev)
{
	uint64_t key = vg_cfa_path_key(owner, h);
	int fresh = set_add(iter ? &v->iters : &v->paths, key);

	if (fresh < 0) {
		v->oom = 1;
		return;
	}
	if (iter && fresh)
		v->ls[owner].distinct++;
	if (!fresh || v->o.train || !v->trained ||
	    vg_cfa_sorted_has(iter ? v->m->iters : v->m->paths, iter ? v->m->niters : v->m->npaths,
			      key))
		return;
	v->owner = iter ? v->m->nodes[owner].func : owner;
	emit(v, s, sid, VG_CFA_A_UNSEEN_PATH, VG_CFA_NONE, ev,
	     iter ? "loop iteration path never seen in training"
		  : "function path never seen in training",
	     0, 0);
	v->owner = VG_CFA_NONE;
}

static void close_loop(struct vg_cfa_verifier *v, struct stream *s, uint32_t sid, uint32_t ev)
{
	struct oloop *L = &s->lp[--s->nlp];
	struct lstat *st = &v->ls[L->h];

	check_key(v, s, sid, 1, L->h, L->ih, ev);
	st->instances++;
	st->total += L->iters;
	if (L->iters > st->max_iters)
		st->max_iters = L->iters;
	if (!v->o.train && v->trained && v->m->nloopmax && L->iters > v->m->loopmax[L->h]) {
		v->owner = v->m->nodes[L->h].func;
		emit(v, s, sid, VG_CFA_A_LOOP, v->m->nodes[L->h].off, ev,
		     "loop ran more iterations than in any training run", L->iters,
		     v->m->loopmax[L->h]);
		v->owner = VG_CFA_NONE;
	}
}

static void finish_frame(struct vg_cfa_verifier *v, struct stream *s, uint32_t sid, uint32_t ev)
{
	struct frame *f = &s->fr[s->nfr - 1];

	while (s->nlp > f->loops_base)
		close_loop(v, s, sid, ev);
	if (!f->resync)
		check_key(v, s, sid, 0, f->func, f->ph, ev);
	s->nfr--;
}

static int in_loop(const struct vg_cfa_model *m, uint32_t t, uint32_t h)
{
	uint32_t x = (m->nodes[t].flags & VG_CFA_N_HEADER) ? t : m->nodes[t].loop;

	for (int k = 0; x != VG_CFA_NONE && k < 64; k++) {
		if (x == h)
			return 1;
		x = m->nodes[x].loop;
	}
	return 0;
}

/* Moves the current frame to node T (an intraprocedural step). */
static void advance(struct vg_cfa_verifier *v, struct stream *s, uint32_t sid, uint32_t t)
{
	const struct vg_cfa_model *m = v->m;
	struct frame *f = &s->fr[s->nfr - 1];
	uint32_t ev = m->nodes[t].off;

	if (m->nodes[s->cur].flags & VG_CFA_N_DENY_SRC)
		for (uint32_t i = 0; i < m->ndeny; i++)
			if (m->deny[i].kind == VG_CFA_DENY_SITE_EDGE && m->deny[i].a == s->cur &&
			    m->deny[i].b == t)
				emit(v, s, sid, VG_CFA_A_DENIED, m->nodes[s->cur].off, ev,
				     "operator-denied edge taken", 0, 0);
	if (m->nodes[t].flags & VG_CFA_N_HEADER) {
		/* Reaching an open header closes the loops above it and ends an iteration;
		 * reaching a closed one opens it (irreducible flow cannot stack it twice). */
		uint32_t k = s->nlp;

		while (k > f->loops_base && s->nlp - k < 64 && s->lp[k - 1].h != t)
			k--;
		if (k > f->loops_base && s->lp[k - 1].h == t) {
			struct oloop *L;

			while (s->nlp > k)
				close_loop(v, s, sid, ev);
			L = &s->lp[s->nlp - 1];
			check_key(v, s, sid, 1, t, L->ih, ev);
			L->iters++;
			L->ih = mix(0x51ed27, t);
			s->cur = t;
			return;
		}
	}
	while (s->nlp > f->loops_base && !in_loop(m, t, s->lp[s->nlp - 1].h))
		close_loop(v, s, sid, ev);
	if (m->nodes[t].flags & VG_CFA_N_HEADER) {
		struct oloop *L = s->nlp > f->loops_base ? &s->lp[s->nlp - 1] : NULL;

		if (s->nlp < MAX_LOOPS) {
			if (L)
				L->ih = mix(L->ih, t);
			else
				f->ph = mix(f->ph, t);
			L = &s->lp[s->nlp++];
			L->h = t;
			L->iters = 0;
			L->ih = mix(0x51ed27, t);
		}
		s->cur = t;
		return;
	}
	if (s->nlp > f->loops_base)
		s->lp[s->nlp - 1].ih = mix(s->lp[s->nlp - 1].ih, t);
	else
		f->ph = mix(f->ph, t);
	s->cur = t;
}

static int push(struct vg_cfa_verifier *v, struct stream *s, uint32_t sid, uint32_t t, uint32_t rp,
		int ext, int resync)
{
	const struct vg_cfa_model *m = v->m;
	uint32_t g = m->nodes[t].func, caller = s->nfr ? s->fr[s->nfr - 1].func : VG_CFA_NONE;
	struct frame *f;

	if (s->nfr == MAX_FRAMES) {
		emit(v, s, sid, VG_CFA_A_STACK, VG_CFA_NONE, m->nodes[t].off, "shadow stack full",
		     0, MAX_FRAMES);
		s->any = 1;
		return -1;
	}
	if (m->funcs[g].flags & VG_CFA_F_DENIED)
		emit(v, s, sid, VG_CFA_A_DENIED, s->last[(s->nev + VG_CFA_LAST - 2) % VG_CFA_LAST],
		     m->nodes[t].off, "operator-denied function entered", 0, 0);
	if ((m->funcs[g].flags & VG_CFA_F_DENY_DST) && caller != VG_CFA_NONE)
		for (uint32_t i = 0; i < m->ndeny; i++)
			if (m->deny[i].kind == VG_CFA_DENY_FUNC_EDGE && m->deny[i].a == caller &&
			    m->deny[i].b == g)
				emit(v, s, sid, VG_CFA_A_DENIED,
				     s->last[(s->nev + VG_CFA_LAST - 2) % VG_CFA_LAST],
				     m->nodes[t].off, "operator-denied call edge taken", 0, 0);
	f = &s->fr[s->nfr++];
	f->rp = rp;
	f->func = g;
	f->ph = mix(0x5eed, g);
	f->loops_base = s->nlp;
	f->ext = (uint8_t)ext;
	f->resync = (uint8_t)resync;
	s->cur = t;
	s->ext_rp = VG_CFA_NONE;
	f->ph = mix(f->ph, t);
	if (m->nodes[t].flags & VG_CFA_N_HEADER && s->nlp < MAX_LOOPS) {
		struct oloop *L = &s->lp[s->nlp++];

		L->h = t;
		L->iters = 0;
		L->ih = mix(0x51ed27, t);
	}
	return 0;
}

static void resync(struct vg_cfa_verifier *v, struct stream *s, uint32_t sid, uint32_t t)
{
	while (s->nfr)
		finish_frame(v, s, sid, v->m->nodes[t].off);
	s->any = 0;
	push(v, s, sid, t, VG_CFA_NONE, 0, 1);
}

/* Reduced-site reconstruction: a path u -> (reduced)* -> t, unique by construction. */
static int search(const struct vg_cfa_model *m, uint32_t u, uint32_t t, uint32_t *path, int depth)
{
	const struct vg_cfa_node *d = &m->nodes[u];

	for (uint32_t i = 0; i < d->nsucc; i++) {
		uint32_t e = m->succ[d->succ + i], y = e & VG_CFA_SUCC_MASK;

		if (y == t) {
			path[depth] = e;
			return depth + 1;
		}
		if ((m->nodes[y].flags & VG_CFA_N_REDUCED) && depth + 1 < SEARCH_DEPTH) {
			int r = search(m, y, t, path, depth + 1);

			if (r) {
				path[depth] = e;
				return r;
			}
		}
	}
	return 0;
}

static int try_intra(struct vg_cfa_verifier *v, struct stream *s, uint32_t sid, uint32_t u,
		     uint32_t t)
{
	const struct vg_cfa_model *m = v->m;
	const struct vg_cfa_node *d = &m->nodes[u];
	uint32_t path[SEARCH_DEPTH];
	int n;

	for (uint32_t i = 0; i < d->nsucc; i++) {
		uint32_t e = m->succ[d->succ + i];

		if ((e & VG_CFA_SUCC_MASK) == t) {
			advance(v, s, sid, t);
			return 1;
		}
	}
	if ((d->flags & VG_CFA_N_IJMP) && m->nodes[t].func == d->func &&
	    !(m->nodes[t].flags & VG_CFA_N_RP)) {
		advance(v, s, sid, t);
		return 1;
	}
	/* reduced sites are never entries, so only a same-function target can be behind them */
	if (m->nodes[t].func != d->func || !(v->redsucc[u >> 3] & (1u << (u & 7))))
		return 0;
	n = search(m, u, t, path, 0);
	for (int i = 0; i < n; i++)
		advance(v, s, sid, path[i] & VG_CFA_SUCC_MASK);
	return n > 0;
}

static int is_entry_of(const struct vg_cfa_model *m, uint32_t t, uint32_t g)
{
	const struct vg_cfa_func *f = &m->funcs[g];

	for (uint32_t i = 0; i < f->nentry; i++)
		if (m->lists[f->entry + i] == t)
			return 1;
	return 0;
}

static int try_call(struct vg_cfa_verifier *v, struct stream *s, uint32_t sid, uint32_t u,
		    uint32_t t)
{
	const struct vg_cfa_model *m = v->m;
	const struct vg_cfa_node *d = &m->nodes[u];
	uint32_t tf = m->funcs[m->nodes[t].func].flags;
	int entry = !!(m->nodes[t].flags & VG_CFA_N_ENTRY);

	for (uint32_t i = 0; i < d->ncall; i++) {
		const struct vg_cfa_call *c = &m->calls[d->call + i];
		int ok;

		if (c->callee < m->nfuncs)
			ok = m->nodes[t].func == c->callee && is_entry_of(m, t, c->callee);
		else if (c->callee == VG_CFA_CALL_INDIRECT)
			ok = entry && (tf & VG_CFA_F_ADDR_TAKEN);
		else
			ok = entry && (tf & VG_CFA_F_ENTERABLE);
		if (!ok)
			continue;
		if (c->rp == VG_CFA_NONE) { /* tail call: the new function returns to our caller */
			struct frame f = s->fr[s->nfr - 1];

			finish_frame(v, s, sid, m->nodes[t].off);
			push(v, s, sid, t, f.rp, f.ext, f.resync);
		} else {
			push(v, s, sid, t, c->rp, c->callee == VG_CFA_CALL_EXTERNAL, 0);
		}
		return 1;
	}
	if (s->ext_rp == u && entry && (tf & VG_CFA_F_ENTERABLE)) {
		push(v, s, sid, t, u, 1, 0); /* another callback from the same external call */
		return 1;
	}
	return 0;
}

static void violation(struct vg_cfa_verifier *v, struct stream *s, uint32_t sid, uint32_t t,
		      const char *why)
{
	uint32_t from = s->nev >= 2 ? s->last[(s->nev - 2) % VG_CFA_LAST] : VG_CFA_NONE;

	emit(v, s, sid, VG_CFA_A_CFG, from, v->m->nodes[t].off, why, 0, 0);
	resync(v, s, sid, t);
}

/* A return point as event: a function's last block tail-jumped into the hook, so the event is
 * its caller's return address. Exactly one return must lead there. */
static void step_return_event(struct vg_cfa_verifier *v, struct stream *s, uint32_t sid, uint32_t t)
{
	const struct vg_cfa_model *m = v->m;
	struct frame f;

	if (s->cur == ROOT || !s->nfr || !(m->nodes[s->cur].flags & VG_CFA_N_CANRET) ||
	    s->fr[s->nfr - 1].rp != t) {
		violation(v, s, sid, t, "return to a place the call did not come from");
		return;
	}
	f = s->fr[s->nfr - 1];
	finish_frame(v, s, sid, m->nodes[t].off);
	if (!s->nfr) {
		s->any = 1;
		return;
	}
	advance(v, s, sid, f.rp);
	s->ext_rp = f.ext ? f.rp : VG_CFA_NONE;
}

static void step_block(struct vg_cfa_verifier *v, struct stream *s, uint32_t sid, uint32_t t)
{
	const struct vg_cfa_model *m = v->m;

	if (m->nodes[t].flags & VG_CFA_N_RP) {
		step_return_event(v, s, sid, t);
		return;
	}

	for (uint32_t guard = 0; guard <= MAX_FRAMES + 1; guard++) {
		uint32_t u = s->cur;

		if (u == ROOT) {
			if ((m->nodes[t].flags & VG_CFA_N_ENTRY) &&
			    (m->funcs[m->nodes[t].func].flags & VG_CFA_F_ENTERABLE)) {
				push(v, s, sid, t, VG_CFA_NONE, 1, 0);
				return;
			}
			violation(v, s, sid, t,
				  "entry into a function that is not enterable from outside");
			return;
		}
		if (try_intra(v, s, sid, u, t)) {
			s->ext_rp = VG_CFA_NONE;
			return;
		}
		if (try_call(v, s, sid, u, t))
			return;
		if (!(m->nodes[u].flags & (VG_CFA_N_CANRET | VG_CFA_N_IJMP)) || !s->nfr) {
			violation(v, s, sid, t, "transition not in the control-flow graph");
			return;
		}
		struct frame f = s->fr[s->nfr - 1];

		finish_frame(v, s, sid, m->nodes[t].off);
		if (f.resync) {
			resync(v, s, sid, t); /* returned past what we know: start over here */
			return;
		}
		if (f.rp == VG_CFA_NONE || !s->nfr) {
			s->cur = ROOT;
			continue;
		}
		advance(v, s, sid, f.rp);
		s->ext_rp = f.ext ? f.rp : VG_CFA_NONE;
	}
	violation(v, s, sid, t, "return chain longer than the shadow stack");
}

static int callee_ok(const struct vg_cfa_model *m, uint32_t caller, uint32_t g)
{
	const struct vg_cfa_func *f = &m->funcs[caller];
	uint32_t gf = m->funcs[g].flags;

	for (uint32_t i = 0; i < f->ncallees; i++)
		if (m->lists[f->callees + i] == g)
			return 1;
	if ((gf & VG_CFA_F_ADDR_TAKEN) && (f->flags & (VG_CFA_F_ICALL | VG_CFA_F_XCALL)))
		return 1;
	return (gf & VG_CFA_F_ENTERABLE) && (f->flags & VG_CFA_F_XCALL);
}

static uint32_t prev_event(const struct stream *s)
{
	return s->nev >= 2 ? s->last[(s->nev - 2) % VG_CFA_LAST] : VG_CFA_NONE;
}

/* May the announced call site (or, without one, the caller) enter function G? */
static int call_ok(const struct vg_cfa_model *m, const struct stream *s, uint32_t g)
{
	uint32_t gf = m->funcs[g].flags;

	if (s->callsite == VG_RT_CALLSITE_EXT)
		return !!(gf & VG_CFA_F_ENTERABLE);
	if (s->callsite != VG_CFA_NONE) {
		const struct vg_cfa_node *d = &m->nodes[s->callsite];

		for (uint32_t i = 0; i < d->ncall; i++) {
			uint32_t c = m->calls[d->call + i].callee;

			if (c == g || (c == VG_CFA_CALL_INDIRECT && (gf & VG_CFA_F_ADDR_TAKEN)) ||
			    (c == VG_CFA_CALL_EXTERNAL && (gf & VG_CFA_F_ENTERABLE)))
				return 1;
		}
		return 0;
	}
	return s->nfr ? callee_ok(m, s->fr[s->nfr - 1].func, g) : !!(gf & VG_CFA_F_ENTERABLE);
}

static void step_func(struct vg_cfa_verifier *v, struct stream *s, uint32_t sid, uint32_t ev,
		      uint32_t t)
{
	const struct vg_cfa_model *m = v->m;
	uint32_t g = m->nodes[t].func;

	if (m->nodes[t].flags & VG_CFA_N_RP) { /* call site announcement */
		if (s->nfr && s->fr[s->nfr - 1].func != g) {
			emit(v, s, sid, VG_CFA_A_CFG, prev_event(s), ev,
			     "call made from a function that is not the one running", 0, 0);
			while (s->nfr)
				finish_frame(v, s, sid, ev);
		}
		s->callsite = t;
		return;
	}
	if (ev & VG_RT_EXIT_BIT) {
		s->callsite = VG_CFA_NONE;
		if (s->nfr && s->fr[s->nfr - 1].func == g) {
			finish_frame(v, s, sid, ev);
			return;
		}
		emit(v, s, sid, VG_CFA_A_CFG, prev_event(s), ev,
		     "function exit does not match the shadow stack", 0, 0);
		while (s->nfr)
			finish_frame(v, s, sid, ev);
		return;
	}
	int ok = call_ok(m, s, g);

	s->callsite = VG_CFA_NONE;
	if (!ok)
		emit(v, s, sid, VG_CFA_A_CFG, prev_event(s), ev, "call not in the call graph", 0,
		     0);
	if (s->nfr)
		s->fr[s->nfr - 1].ph = mix(s->fr[s->nfr - 1].ph, g);
	push(v, s, sid, t, VG_CFA_NONE, 0, !ok);
}

int vg_cfa_verifier_feed(struct vg_cfa_verifier *v, uint32_t sid, const uint32_t *ev, size_t n)
{
	const struct vg_cfa_model *m = v->m;
	struct stream *s;
	int func_mode = m->kind == VG_RT_KIND_FUNC;

	if (sid >= VG_CFA_MAX_STREAMS)
		return -EINVAL;
	s = v->s[sid];
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -ENOMEM;
		s->cur = ROOT;
		s->ext_rp = VG_CFA_NONE;
		s->callsite = VG_CFA_NONE;
		vg_cfa_chain_init(&s->chain, v->o.key, m->build_id, sid);
		v->s[sid] = s;
		v->mask |= 1ull << sid;
	}
	vg_cfa_chain_add(&s->chain, ev, n);
	for (size_t i = 0; i < n; i++) {
		uint32_t e = ev[i], t;

		s->last[s->nev % VG_CFA_LAST] = e;
		s->nev++;
		if (e == VG_RT_GAP) {
			emit(v, s, sid, VG_CFA_A_LOST, VG_CFA_NONE, VG_CFA_NONE,
			     "the runtime dropped events here (ring full)", 0, 0);
			s->any = 1;
			continue;
		}
		if (func_mode && e == VG_RT_CALLSITE_EXT) {
			s->callsite = VG_RT_CALLSITE_EXT;
			continue;
		}
		t = vg_cfa_lookup(m, func_mode ? e & ~VG_RT_EXIT_BIT : e);
		if (t == VG_CFA_NONE) {
			emit(v, s, sid, VG_CFA_A_UNKNOWN_EVENT, VG_CFA_NONE, e,
			     "event is not a site of this binary", 0, 0);
			s->any = 1;
			continue;
		}
		if (func_mode) {
			step_func(v, s, sid, e, t);
			continue;
		}
		if (s->any) {
			resync(v, s, sid, t);
			continue;
		}
		step_block(v, s, sid, t);
	}
	return v->oom ? -ENOMEM : 0;
}

void vg_cfa_verifier_finish(struct vg_cfa_verifier *v)
{
	for (uint32_t i = 0; i < VG_CFA_MAX_STREAMS; i++) {
		struct stream *s = v->s[i];

		if (!s)
			continue;
		while (s->nfr)
			finish_frame(v, s, i, VG_CFA_NONE);
		s->cur = ROOT;
		vg_cfa_chain_flush(&s->chain);
	}
}
