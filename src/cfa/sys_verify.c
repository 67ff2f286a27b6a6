// SPDX-License-Identifier: MIT
/*
 * Syscall verifier engine (contract in include/vigil/sysverify.h). Per event the work is an
 * array index (token), a one-entry successor cache per token (loops take the same step
 * again) and, on a miss, a keyed hash and a binary search in the trained transitions. Each
 * token is judged once, on first use (sys_judge.c); a folded repetition checks only its
 * wrap-around step.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sys_verify_int.h"

static struct thr *thread_of(struct vg_sys_verifier *v, uint32_t tid)
{
	uint32_t key = tid + 1, i;

	if ((v->nth + 1) * 2 > v->thcap) {
		uint32_t cap = v->thcap ? v->thcap * 2 : 64;
		struct thr *n = calloc(cap, sizeof(*n)), *o = v->th;

		if (!n)
			return NULL;
		for (uint32_t k = 0; k < v->thcap; k++) {
			if (!o[k].tid)
				continue;
			for (i = o[k].tid * 0x9e3779b1u & (cap - 1); n[i].tid;
			     i = (i + 1) & (cap - 1))
				;
			n[i] = o[k];
		}
		free(o);
		v->th = n;
		v->thcap = cap;
	}
	for (i = key * 0x9e3779b1u & (v->thcap - 1); v->th[i].tid; i = (i + 1) & (v->thcap - 1))
		if (v->th[i].tid == key)
			return &v->th[i];
	v->th[i].tid = key;
	v->th[i].prev = VG_SYS_NONE;
	v->nth++;
	v->tot.threads++;
	return &v->th[i];
}

/* ---- batch callbacks ---- */

static int on_module(void *ctx, const struct vg_sb_module *m)
{
	struct vg_sys_verifier *v = ctx;
	struct dmod *d;
	size_t n;

	if (m->id >= VG_SYS_MAX_DEVMODS)
		return -EBADMSG;
	if (m->id >= v->nmods) {
		uint32_t cap = m->id + 1 > v->nmods * 2 ? m->id + 1 : v->nmods * 2;
		struct dmod *p = realloc(v->mods, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		memset(p + v->nmods, 0, (cap - v->nmods) * sizeof(*p));
		v->mods = p;
		v->nmods = cap;
	}
	d = &v->mods[m->id];
	if (!d->defined)
		v->tot.modules++;
	d->defined = true;
	d->mm = vg_sys_find_mod(v->m, m->idkind, m->ident, m->idlen);
	d->ident = m->idkind ? vg_sys_ident_hash(m->idkind, m->ident, m->idlen)
			     : vg_sys_ident_hash(0, (const uint8_t *)m->name,
						 (uint8_t)(m->namelen > 32 ? 32 : m->namelen));
	n = m->namelen < sizeof(d->name) - 1 ? m->namelen : sizeof(d->name) - 1;
	memcpy(d->name, m->name, n);
	d->name[n] = 0;
	return 0;
}

static int on_token(void *ctx, const struct vg_sb_token *t)
{
	struct vg_sys_verifier *v = ctx;
	struct dtok *d;

	if (t->id >= VG_SYS_MAX_TOKENS)
		return -EBADMSG;
	if (t->id >= v->ntoks) {
		uint32_t cap = t->id + 1 > v->ntoks * 2 ? t->id + 1 : v->ntoks * 2;
		struct dtok *p = realloc(v->toks, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		memset(p + v->ntoks, 0, (cap - v->ntoks) * sizeof(*p));
		v->toks = p;
		v->ntoks = cap;
	}
	d = &v->toks[t->id];
	if (d->defined && !memcmp(&d->t, t, sizeof(*t)))
		return 0; /* a repeated definition (not yet acknowledged when it was sent) */
	if (!d->defined)
		v->tot.tokens++;
	memset(d, 0, sizeof(*d));
	d->defined = true;
	d->t = *t;
	d->succ = VG_SYS_NONE;
	return 0;
}

static int on_events(void *ctx, uint32_t tid)
{
	struct vg_sys_verifier *v = ctx;

	v->cur = thread_of(v, tid);
	v->nhist = 0;
	v->nitems = 0;
	return v->cur ? 0 : -ENOMEM;
}

static void push_item(struct vg_sys_verifier *v, uint32_t first, uint32_t last, uint64_t events)
{
	v->ifirst[v->nitems % HIST] = first;
	v->ilast[v->nitems % HIST] = last;
	v->ievents[v->nitems % HIST] = events;
	v->nitems++;
}

static void undefined(struct vg_sys_verifier *v, uint32_t token)
{
	struct vg_sys_alert a = { .check = VG_SYS_C_UNDEFINED, .severity = VG_SEV_MEDIUM };

	(void)token;
	a.reason = "a batch used a syscall definition the gateway never received (a batch is "
		   "missing)";
	a.tid = v->cur->tid - 1;
	a.nr = VG_SYS_NONE;
	a.code.word = a.site.word = a.expected_word = -1;
	vg_sys_raise_alert(v, &a);
}

static uint64_t pair_key(uint64_t a, uint64_t b)
{
	uint64_t k[2] = { a, b };

	return vg_sys_shash(k, sizeof(k));
}

/* The step from the thread's previous syscall to token T. */
static void step(struct vg_sys_verifier *v, uint32_t prev, uint32_t t)
{
	struct dtok *p, *d = &v->toks[t];
	struct vg_sys_alert a = { .check = VG_SYS_C_TRANSITION };
	uint64_t k;

	if (prev == VG_SYS_NONE || prev >= v->ntoks || !v->toks[prev].judged ||
	    (!v->o.train && !(v->m->flags & VG_SYS_M_TRAINED)))
		return; /* without training there is nothing to learn or check about steps */
	p = &v->toks[prev];
	if (p->succ == t && p->succ_ok)
		return;
	k = pair_key(p->key, d->key);
	if (v->o.train) {
		vg_sys_set_add(&v->trtrans, k);
	} else if ((v->m->flags & VG_SYS_M_TRAINED) &&
		   !vg_sys_sorted_has(v->m->trans, v->m->ntrans, k)) {
		v->worst = v->worst > VG_SEV_LOW + 1 ? v->worst : VG_SEV_LOW + 1;
		if (vg_sys_set_has(&v->badpairs, k))
			return; /* reported already: it still counts against the batch */
		vg_sys_set_add(&v->badpairs, k);
		vg_sys_name(v, d);
		vg_sys_name(v, p);
		a.severity = VG_SEV_LOW;
		a.reason = "this system call never followed the previous one in training";
		a.tid = v->cur->tid - 1;
		a.nr = d->t.nr;
		a.argkey = d->t.argkey;
		a.code = d->code;
		a.site = d->site;
		a.expected_word = -1;
		a.prev = &p->code;
		a.prev_nr = p->t.nr;
		vg_sys_raise_alert(v, &a);
		return;
	}
	p->succ = t;
	p->succ_ok = true;
}

static int on_event(void *ctx, uint32_t t)
{
	struct vg_sys_verifier *v = ctx;
	struct dtok *d;

	v->res->events++;
	if (t >= v->ntoks || !v->toks[t].defined) {
		undefined(v, t);
		v->cur->prev = VG_SYS_NONE;
		v->hist[v->nhist++ % HIST] = VG_SYS_NONE;
		push_item(v, VG_SYS_NONE, VG_SYS_NONE, 1);
		return 0;
	}
	d = &v->toks[t];
	if (!d->judged)
		vg_sys_judge(v, d);
	else if (d->sev > v->worst)
		v->worst = d->sev; /* judged before: its findings still count for this batch */
	step(v, v->cur->prev, t);
	v->cur->prev = t;
	v->hist[v->nhist++ % HIST] = t;
	push_item(v, t, t, 1);
	return 0;
}

/* After PERIOD events repeat, the last HIST events are the cycle, ending with its last. */
static void rotate(struct vg_sys_verifier *v, uint32_t period)
{
	uint32_t cycle[HIST];

	for (uint32_t i = 0; i < period; i++)
		cycle[i] = v->hist[(v->nhist - period + i) % HIST];
	for (uint32_t j = 0; j < HIST; j++)
		v->hist[(v->nhist + j) % HIST] = cycle[period - 1 - (HIST - 1 - j) % period];
	v->nhist += HIST;
}

static int on_repeat(void *ctx, uint32_t period, uint64_t count)
{
	struct vg_sys_verifier *v = ctx;
	uint32_t first;

	if (period > HIST || period > v->nhist)
		return -EBADMSG;
	first = v->hist[(v->nhist - period) % HIST];
	v->res->events += (uint64_t)period * count;
	/* inner steps were checked on the first pass; only the wrap-around is new */
	if (first != VG_SYS_NONE)
		step(v, v->cur->prev, first);
	push_item(v, first, v->cur->prev, (uint64_t)period * count);
	rotate(v, period);
	return 0;
}

/* A loop around a loop: the last ITEMS items again, COUNT times. The decoder checked that the
 * group is self-contained, so every copy makes the same steps as the first: only the step
 * from its end back to its start is new, and the events are counted. */
static int on_group(void *ctx, uint32_t items, uint64_t count)
{
	struct vg_sys_verifier *v = ctx;
	uint64_t events = 0;
	uint32_t first, last;

	if (items > HIST || items > v->nitems)
		return -EBADMSG;
	first = v->ifirst[(v->nitems - items) % HIST];
	last = v->ilast[(v->nitems - 1) % HIST];
	for (uint32_t k = 1; k <= items; k++)
		events += v->ievents[(v->nitems - k) % HIST];
	v->res->events += events * count;
	if (first != VG_SYS_NONE)
		step(v, v->cur->prev, first);
	v->cur->prev = last;
	if (events <= HIST && events <= v->nhist)
		rotate(v, (uint32_t)events);
	push_item(v, first, last, events * count);
	return 0;
}

static int on_gap(void *ctx, uint32_t tid, uint64_t count)
{
	struct vg_sys_verifier *v = ctx;
	struct vg_sys_alert a = { .check = VG_SYS_C_LOST, .severity = VG_SEV_MEDIUM };
	struct thr *t = thread_of(v, tid);

	if (!t)
		return -ENOMEM;
	t->prev = VG_SYS_NONE;
	v->tot.lost += count;
	a.reason = "the device could not record some system calls (its ring buffer was full)";
	a.tid = tid;
	a.nr = VG_SYS_NONE;
	a.count = count;
	a.code.word = a.site.word = a.expected_word = -1;
	vg_sys_raise_alert(v, &a);
	return 0;
}

static int on_proc(void *ctx, uint32_t pid, uint32_t ppid, uint32_t ptid)
{
	struct vg_sys_verifier *v = ctx;

	(void)ppid;
	(void)ptid;
	if (!vg_sys_set_has(&v->procs, (uint64_t)pid + 1) &&
	    vg_sys_set_add(&v->procs, (uint64_t)pid + 1))
		v->tot.processes++;
	return 0;
}

static int on_exec(void *ctx, uint32_t pid, uint32_t module, const char *path, size_t len)
{
	struct vg_sys_verifier *v = ctx;
	struct vg_sys_alert a = { .check = VG_SYS_C_EXEC, .severity = VG_SEV_HIGH };
	const struct dmod *d;

	if (module >= v->nmods || !v->mods[module].defined)
		return 0; /* its syscalls will say "undefined" */
	d = &v->mods[module];
	if (v->o.train) {
		vg_sys_set_add(&v->trexecs, d->ident);
		return 0;
	}
	if ((d->mm != VG_SYS_NONE && (v->m->mods[d->mm].flags & VG_SYS_MOD_MAIN)) ||
	    vg_sys_sorted_has(v->m->execs, v->m->nexecs, d->ident))
		return 0;
	a.reason = "a process executed a file that is neither the program nor one it executed in "
		   "training";
	a.pid = pid;
	a.nr = VG_SYS_NONE;
	a.path = path;
	a.pathlen = len;
	a.code.module = d->name;
	a.code.word = a.site.word = a.expected_word = -1;
	vg_sys_raise_alert(v, &a);
	return 0;
}

static int on_stats(void *ctx, uint64_t observed, uint64_t dropped)
{
	struct vg_sys_verifier *v = ctx;

	v->res->observed = observed;
	v->res->dropped = dropped;
	return 0;
}

static const struct vg_sb_visitor visitor = {
	.module = on_module,
	.token = on_token,
	.proc = on_proc,
	.exec = on_exec,
	.events = on_events,
	.event = on_event,
	.repeat = on_repeat,
	.group = on_group,
	.gap = on_gap,
	.stats = on_stats,
};

int vg_sys_verifier_batch(struct vg_sys_verifier *v, const uint8_t *buf, size_t len,
			  struct vg_sys_result *res, struct vg_err *err)
{
	int r;

	memset(res, 0, sizeof(*res));
	v->res = res;
	v->cur = NULL;
	v->worst = 0;
	v->incomplete = false;
	r = vg_sb_parse(buf, len, &visitor, v, err);
	v->res = NULL;
	if (r == -EBADMSG && !err->code)
		r = vg_errf(err, EBADMSG, "batch: a definition or repetition out of range");
	if (r == -ENOMEM && !err->code)
		r = vg_errf(err, ENOMEM, "out of memory");
	if (r)
		return r;
	res->verdict = v->worst >= VG_SEV_HIGH + 1 ? VG_SYS_V_VIOLATION
		       : v->incomplete		   ? VG_SYS_V_INCOMPLETE
		       : v->worst		   ? VG_SYS_V_ANOMALY
						   : VG_SYS_V_CLEAN;
	v->tot.batches++;
	v->tot.events += res->events;
	if (res->verdict == VG_SYS_V_VIOLATION ||
	    (res->verdict != VG_SYS_V_CLEAN && v->tot.worst != VG_SYS_V_VIOLATION &&
	     (v->tot.worst == VG_SYS_V_CLEAN || res->verdict == VG_SYS_V_INCOMPLETE)))
		v->tot.worst = res->verdict;
	return 0;
}

int vg_sys_verifier_new(struct vg_sys_verifier **out, const struct vg_sys_model *m,
			const struct vg_sys_verify_opts *o, struct vg_err *err)
{
	struct vg_sys_verifier *v = calloc(1, sizeof(*v));

	if (!v)
		return vg_errf(err, ENOMEM, "out of memory");
	if (sodium_init() < 0) {
		free(v);
		return vg_errf(err, EIO, "libsodium could not be initialised");
	}
	v->m = m;
	if (o)
		v->o = *o;
	*out = v;
	return 0;
}

void vg_sys_verifier_reset(struct vg_sys_verifier *v)
{
	free(v->mods);
	free(v->toks);
	free(v->th);
	v->mods = NULL;
	v->toks = NULL;
	v->th = NULL;
	v->nmods = v->ntoks = v->thcap = v->nth = 0;
}

void vg_sys_verifier_totals(const struct vg_sys_verifier *v, struct vg_sys_totals *t)
{
	*t = v->tot;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorted union of OLD (sorted) and the set S, appended to OUT. */
static uint32_t merge(uint64_t *out, const uint64_t *old, uint32_t nold, const struct u64set *s)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < nold; i++)
		out[n++] = old[i];
	for (uint32_t i = 0; i < s->cap; i++)
		if (s->v[i])
			out[n++] = s->v[i];
	qsort(out, n, sizeof(*out), cmp_u64);
	uint32_t w = 0;

	for (uint32_t i = 0; i < n; i++)
		if (!w || out[w - 1] != out[i])
			out[w++] = out[i];
	return w;
}

int vg_sys_verifier_train_into(const struct vg_sys_verifier *v, struct vg_sys_model *m,
			       void **owned, struct vg_err *err)
{
	size_t n = (size_t)m->ntuples + v->trtuples.n + m->ntrans + v->trtrans.n + m->nexecs +
		   v->trexecs.n;
	uint64_t *buf = malloc((n ? n : 1) * sizeof(*buf)), *p;

	if (!buf)
		return vg_errf(err, ENOMEM, "out of memory");
	p = buf;
	m->ntuples = merge(p, m->tuples, m->ntuples, &v->trtuples);
	m->tuples = p;
	p += m->ntuples;
	m->ntrans = merge(p, m->trans, m->ntrans, &v->trtrans);
	m->trans = p;
	p += m->ntrans;
	m->nexecs = merge(p, m->execs, m->nexecs, &v->trexecs);
	m->execs = p;
	m->flags |= VG_SYS_M_TRAINED;
	*owned = buf;
	return 0;
}

void vg_sys_verifier_free(struct vg_sys_verifier *v)
{
	if (!v)
		return;
	vg_sys_verifier_reset(v);
	free(v->procs.v);
	free(v->badpairs.v);
	free(v->trtuples.v);
	free(v->trtrans.v);
	free(v->trexecs.v);
	free(v);
}

const char *vg_sys_check_name(enum vg_sys_check c)
{
	static const char *const n[VG_SYS_C_KINDS] = {
		[VG_SYS_C_INJECTED] = "cfa.syscall-injected-code",
		[VG_SYS_C_BADINSN] = "cfa.syscall-bad-instruction",
		[VG_SYS_C_WRONGNR] = "cfa.syscall-wrong-number",
		[VG_SYS_C_CALLSITE] = "cfa.syscall-bad-callsite",
		[VG_SYS_C_UNMODELLED] = "cfa.syscall-unmodelled",
		[VG_SYS_C_UNSEEN] = "cfa.syscall-unseen",
		[VG_SYS_C_TRANSITION] = "cfa.syscall-unseen-transition",
		[VG_SYS_C_EXEC] = "cfa.unexpected-exec",
		[VG_SYS_C_LOST] = "cfa.events-lost",
		[VG_SYS_C_UNDEFINED] = "cfa.batch-undefined",
	};

	return c > 0 && c < VG_SYS_C_KINDS ? n[c] : "cfa.syscall";
}

const char *vg_sys_check_attack(enum vg_sys_check c)
{
	switch (c) {
	case VG_SYS_C_INJECTED:
		return "T1055,T1203";
	case VG_SYS_C_BADINSN:
	case VG_SYS_C_WRONGNR:
	case VG_SYS_C_CALLSITE:
		return "T1203";
	case VG_SYS_C_EXEC:
		return "T1059";
	default:
		return NULL;
	}
}

const char *vg_sys_verdict_name(enum vg_sys_verdict v)
{
	static const char *const n[] = { "clean", "anomaly", "violation", "incomplete" };

	return (unsigned)v < 4 ? n[v] : "?";
}
