// SPDX-License-Identifier: MIT
/*
 * Model builder, second half: loop structure (DFS back edges from the entry sites, natural loop
 * bodies, innermost header per node), event reduction, operator deny rules, and assembling the
 * validated model blob.
 *
 * Event reduction: a site t is switched off when it is not an entry, not a loop header, makes no
 * call, cannot return, and for every node u that reaches t through switched-off sites the paths
 * from u through switched-off sites to the next recorded node stay unique. The verifier then
 * reconstructs the skipped sites exactly (a bounded search over switched-off successors), so
 * reduction changes what is recorded, never what is verified. Typical catch: one arm of every
 * if/else and straight-line blocks. A reduced site that still reports (its hook could not be
 * patched out and, for clang, its guard index was not found) is simply a direct successor.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfa_build.h"

#define REDUCE_DEPTH 32

struct csr {
	uint32_t *start, *v; /* v entries: node | 0x80000000 for a call-summary edge */
};

static int build_preds(const struct bld *b, struct csr *p)
{
	uint32_t n = b->nodes.n, total = 0;

	p->start = calloc((size_t)n + 1, 4);
	if (!p->start)
		return -ENOMEM;
	for (uint32_t x = 0; x < n; x++) {
		const struct vg_cfa_node *d = &b->nodes.v[x];

		for (uint32_t i = 0; i < d->nsucc; i++)
			p->start[(b->succ.v[d->succ + i] & VG_CFA_SUCC_MASK) + 1]++;
		for (uint32_t i = 0; i < d->ncall; i++)
			if (b->calls.v[d->call + i].rp != VG_CFA_NONE)
				p->start[b->calls.v[d->call + i].rp + 1]++;
	}
	for (uint32_t x = 0; x < n; x++)
		p->start[x + 1] += p->start[x];
	total = p->start[n];
	p->v = malloc((size_t)(total ? total : 1) * 4);
	uint32_t *fill = malloc((size_t)(n ? n : 1) * 4);

	if (!p->v || !fill) {
		free(fill);
		return -ENOMEM;
	}
	memcpy(fill, p->start, (size_t)n * 4);
	for (uint32_t x = 0; x < n; x++) {
		const struct vg_cfa_node *d = &b->nodes.v[x];

		for (uint32_t i = 0; i < d->nsucc; i++)
			p->v[fill[b->succ.v[d->succ + i] & VG_CFA_SUCC_MASK]++] = x;
		for (uint32_t i = 0; i < d->ncall; i++)
			if (b->calls.v[d->call + i].rp != VG_CFA_NONE)
				p->v[fill[b->calls.v[d->call + i].rp]++] = x | 0x80000000u;
	}
	free(fill);
	return 0;
}

static int push_back(struct bld *b, uint32_t x, uint32_t h)
{
	uint64_t pair = (uint64_t)x << 32 | h;

	return vg_cfa_vpush64(&b->sumback.v, &b->sumback.n, &b->sumback.cap, pair);
}

#define PUSH_BACK(b, x, h) push_back(b, x, h)

/* Iterative DFS marking back edges (VG_CFA_SUCC_BACK, or b->sumback for a call's summary edge
 * into its return point) and headers. */
static int mark_back_edges(struct bld *b)
{
	uint32_t n = b->nodes.n;
	uint8_t *color = calloc(n ? n : 1, 1);
	uint32_t *st = malloc((size_t)(n ? n : 1) * 8), sp = 0;

	if (!color || !st) {
		free(color);
		free(st);
		return -ENOMEM;
	}
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t r = 0; r < n; r++) {
			if (color[r] || (pass == 0 && !(b->nodes.v[r].flags & VG_CFA_N_ENTRY)))
				continue;
			color[r] = 1;
			st[0] = r, st[1] = 0, sp = 1;
			while (sp) {
				uint32_t x = st[2 * (sp - 1)], e = st[2 * (sp - 1) + 1]++;
				const struct vg_cfa_node *d = &b->nodes.v[x];
				uint32_t y;

				if (e < d->nsucc) {
					uint32_t *s = &b->succ.v[d->succ + e];

					y = *s & VG_CFA_SUCC_MASK;
					if (color[y] == 1) {
						*s |= VG_CFA_SUCC_BACK;
						b->nodes.v[y].flags |= VG_CFA_N_HEADER;
						continue;
					}
				} else if (e < d->nsucc + d->ncall) {
					y = b->calls.v[d->call + e - d->nsucc].rp;
					if (y != VG_CFA_NONE && color[y] == 1) {
						/* a loop closed through a call (clang may leave
						 * the header block without a site): the return
						 * point is the header */
						b->nodes.v[y].flags |= VG_CFA_N_HEADER;
						if (PUSH_BACK(b, x, y))
							goto oom;
						continue;
					}
					if (y == VG_CFA_NONE || color[y])
						continue;
				} else {
					color[x] = 2;
					sp--;
					continue;
				}
				if (color[y])
					continue;
				color[y] = 1;
				st[2 * sp] = y, st[2 * sp + 1] = 0, sp++;
			}
		}
	free(color);
	free(st);
	return 0;
oom:
	free(color);
	free(st);
	return -ENOMEM;
}

struct loop {
	uint32_t h, size, first; /* members in a shared array */
};

static int cmp_loop(const void *a, const void *c)
{
	const struct loop *x = a, *y = c;

	return x->size < y->size ? 1 : x->size > y->size ? -1 : 0;
}

static int is_back(const struct bld *b, uint32_t x, int summary, uint32_t h)
{
	const struct vg_cfa_node *d = &b->nodes.v[x];

	if (summary) {
		for (uint32_t i = 0; i < b->sumback.n; i++)
			if (b->sumback.v[i] == ((uint64_t)x << 32 | h))
				return 1;
		return 0;
	}
	for (uint32_t i = 0; i < d->nsucc; i++)
		if (b->succ.v[d->succ + i] == (h | VG_CFA_SUCC_BACK))
			return 1;
	return 0;
}

static int loop_nesting(struct bld *b, const struct csr *p)
{
	uint32_t n = b->nodes.n, nl = 0, nm = 0, capm = 1024;
	struct loop *loops = calloc(n ? n : 1, sizeof(*loops));
	uint32_t *stamp = calloc(n ? n : 1, 4), *st = malloc((size_t)(n ? n : 1) * 4);
	uint32_t *mem = malloc(capm * 4);
	int rc = 0;

	if (!loops || !stamp || !st || !mem) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t h = 0; h < n && !rc; h++) {
		if (!(b->nodes.v[h].flags & VG_CFA_N_HEADER))
			continue;
		struct loop *L = &loops[nl++];
		uint32_t sp = 0;

		L->h = h;
		L->first = nm;
		stamp[h] = nl;
		/* latches: preds with a back edge to h; the body is what reaches them backwards
		 * without passing h (the natural loop). */
		for (uint32_t i = p->start[h]; i < p->start[h + 1]; i++) {
			uint32_t x = p->v[i] & 0x7fffffffu;

			if (stamp[x] != nl && is_back(b, x, !!(p->v[i] & 0x80000000u), h))
				stamp[x] = nl, st[sp++] = x;
		}
		while (sp && !rc) {
			uint32_t x = st[--sp];

			if (nm == capm) {
				uint32_t *q = realloc(mem, (size_t)capm * 2 * 4);

				if (!q) {
					rc = -ENOMEM;
					break;
				}
				mem = q, capm *= 2;
			}
			mem[nm++] = x;
			for (uint32_t i = p->start[x]; i < p->start[x + 1]; i++) {
				uint32_t y = p->v[i] & 0x7fffffffu;

				if (stamp[y] != nl && b->nodes.v[y].func == b->nodes.v[h].func)
					stamp[y] = nl, st[sp++] = y;
			}
		}
		L->size = nm - L->first;
	}
	if (rc)
		goto out;
	/* Largest bodies first, so the innermost loop is assigned last. A header only gets a
	 * parent whose rank (size, then order) is strictly larger: overlapping irreducible loops
	 * then still form a forest, never a cycle the verifier could chase. */
	qsort(loops, nl, sizeof(*loops), cmp_loop);
	for (uint32_t l = 0; l < nl; l++)
		stamp[loops[l].h] = l + 1; /* rank: smaller = larger body */
	for (uint32_t l = 0; l < nl; l++)
		for (uint32_t k = 0; k < loops[l].size; k++) {
			uint32_t x = mem[loops[l].first + k];

			if (x == loops[l].h)
				continue;
			if ((b->nodes.v[x].flags & VG_CFA_N_HEADER) && stamp[x] <= l + 1)
				continue;
			b->nodes.v[x].loop = loops[l].h;
		}
out:
	free(loops);
	free(stamp);
	free(st);
	free(mem);
	return rc;
}

static int eligible(const struct bld *b, uint32_t t, const struct csr *p)
{
	const struct vg_cfa_node *d = &b->nodes.v[t];

	if (!(d->flags & VG_CFA_N_SITE) || (d->flags & VG_CFA_N_RP) ||
	    (d->flags & (VG_CFA_N_ENTRY | VG_CFA_N_HEADER | VG_CFA_N_CANRET | VG_CFA_N_IJMP)) ||
	    d->ncall || !d->nsucc || p->start[t] == p->start[t + 1])
		return 0;
	for (uint32_t i = p->start[t]; i < p->start[t + 1]; i++)
		if (p->v[i] & 0x80000000u)
			return 0;
	return 1;
}

/* Paths from U through reduced nodes reach every node at most once. */
static int unique_from(const struct bld *b, uint32_t u, uint32_t *seen, uint32_t gen, int depth)
{
	const struct vg_cfa_node *d = &b->nodes.v[u];

	if (depth > REDUCE_DEPTH)
		return 0;
	for (uint32_t i = 0; i < d->nsucc; i++) {
		uint32_t y = b->succ.v[d->succ + i] & VG_CFA_SUCC_MASK;

		if (seen[y] == gen)
			return 0;
		seen[y] = gen;
		if ((b->nodes.v[y].flags & VG_CFA_N_REDUCED) &&
		    !unique_from(b, y, seen, gen, depth + 1))
			return 0;
	}
	return 1;
}

static int check_reduce(const struct bld *b, uint32_t t, const struct csr *p, uint32_t *seen,
			uint32_t *gen, uint32_t *st)
{
	uint32_t sp = 0, g0 = ++*gen;

	st[sp++] = t;
	seen[t] = g0;
	while (sp) {
		uint32_t x = st[--sp];

		for (uint32_t i = p->start[x]; i < p->start[x + 1]; i++) {
			uint32_t u = p->v[i] & 0x7fffffffu, g;

			if (seen[u] == g0)
				continue;
			seen[u] = g0;
			if (b->nodes.v[u].flags & VG_CFA_N_REDUCED) {
				st[sp++] = u;
				continue;
			}
			g = ++*gen;
			if (!unique_from(b, u, seen, g, 0))
				return 0;
			/* unique_from reused SEEN with a fresh generation; restore our marks lazily
			 * by re-marking the predecessor walk's visited set. */
			seen[u] = g0;
		}
	}
	return 1;
}

static int reduce(struct bld *b, const struct csr *p)
{
	uint32_t n = b->nodes.n, gen = 0;
	uint32_t *seen = calloc(n ? n : 1, 4), *st = malloc((size_t)(n ? n : 1) * 4);

	if (!seen || !st) {
		free(seen);
		free(st);
		return -ENOMEM;
	}
	for (uint32_t t = 0; t < n; t++) {
		if (!eligible(b, t, p))
			continue;
		b->nodes.v[t].flags |= VG_CFA_N_REDUCED;
		if (!check_reduce(b, t, p, seen, &gen, st))
			b->nodes.v[t].flags &= ~VG_CFA_N_REDUCED;
	}
	free(seen);
	free(st);
	return 0;
}

static long func_by_name(const struct bld *b, const char *name, size_t len)
{
	for (size_t i = 0; i < b->img.nfuncs; i++)
		if (strlen(b->img.funcs[i].name) == len && !memcmp(b->img.funcs[i].name, name, len))
			return (long)i;
	return -1;
}

static uint32_t site_by_off(const struct bld *b, const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 16);

	for (uint32_t i = 0; i < b->nodes.n; i++)
		if ((b->nodes.v[i].flags & VG_CFA_N_SITE) && b->nodes.v[i].off == v)
			return i;
	return VG_CFA_NONE;
}

static int apply_deny(struct bld *b, const struct vg_cfa_build_opts *o, struct vg_cfa_deny *out,
		      uint32_t *nout, struct vg_err *err)
{
	*nout = 0;
	for (size_t i = 0; o && i < o->ndeny; i++) {
		const char *s = o->deny[i], *arrow = strstr(s, "->");
		struct vg_cfa_deny d = { 0 };

		if (!arrow) {
			long f = func_by_name(b, s, strlen(s));

			if (f < 0)
				return vg_errf(err, ENOENT, "--deny %s: no such function", s);
			b->fflags[f] |= VG_CFA_F_DENIED;
			continue;
		}
		if (!strncmp(s, "0x", 2)) {
			d.kind = VG_CFA_DENY_SITE_EDGE;
			d.a = site_by_off(b, s);
			d.b = site_by_off(b, arrow + 2);
			if (d.a == VG_CFA_NONE || d.b == VG_CFA_NONE)
				return vg_errf(err, ENOENT, "--deny %s: no such event site", s);
			b->nodes.v[d.a].flags |= VG_CFA_N_DENY_SRC;
		} else {
			long fa = func_by_name(b, s, (size_t)(arrow - s)),
			     fb = func_by_name(b, arrow + 2, strlen(arrow + 2));

			if (fa < 0 || fb < 0)
				return vg_errf(err, ENOENT, "--deny %s: no such function", s);
			d.kind = VG_CFA_DENY_FUNC_EDGE;
			d.a = (uint32_t)fa;
			d.b = (uint32_t)fb;
			b->fflags[fb] |= VG_CFA_F_DENY_DST;
		}
		out[(*nout)++] = d;
	}
	return 0;
}

static int assemble(struct bld *b, struct vg_cfa_model *m, struct vg_cfa_deny *deny, uint32_t ndeny,
		    struct vg_err *err)
{
	uint32_t nf = (uint32_t)b->img.nfuncs, nslots = 16, strsz = 1;
	struct vg_cfa_func *funcs = calloc(nf ? nf : 1, sizeof(*funcs));
	struct vg_cfa_model t = { 0 };
	char *strs;
	void *blob = NULL;
	size_t len = 0;
	int rc;

	for (uint32_t i = 0; i < nf; i++)
		strsz += (uint32_t)strlen(b->img.funcs[i].name) + 1;
	while (nslots < 2 * b->nodes.n + 2)
		nslots *= 2;
	strs = malloc(strsz);
	struct vg_cfa_slot *slots = malloc((size_t)nslots * sizeof(*slots));

	if (!funcs || !strs || !slots) {
		free(funcs), free(strs), free(slots);
		return vg_errf(err, ENOMEM, "out of memory");
	}
	memset(slots, 0xff, (size_t)nslots * sizeof(*slots));
	strs[0] = 0;
	strsz = 1;
	for (uint32_t i = 0; i < nf; i++) {
		struct vg_cfa_func *f = &funcs[i];
		size_t l = strlen(b->img.funcs[i].name) + 1;

		f->lo = (uint32_t)(b->img.funcs[i].addr - b->img.base);
		f->hi = (uint32_t)(f->lo + b->img.funcs[i].size);
		f->name = strsz;
		memcpy(strs + strsz, b->img.funcs[i].name, l);
		strsz += (uint32_t)l;
		f->flags = b->fflags[i];
		if ((f->flags & VG_CFA_F_ADDR_TAKEN) || !strcmp(b->img.funcs[i].name, "main"))
			f->flags |= VG_CFA_F_ENTERABLE;
		f->entry = b->fentry[i], f->nentry = b->fnentry[i];
		f->callees = b->fcallee[i], f->ncallees = b->fncallee[i];
	}
	/* Return points are keyed too: gcc may end a function with `jmp __sanitizer_cov_trace_pc`,
	 * whose event is then the caller's return address - a return event. */
	for (uint32_t i = 0; i < b->nodes.n; i++) {
		uint32_t j = (b->nodes.v[i].off * 0x9e3779b1u) & (nslots - 1);

		while (slots[j].key != VG_CFA_NONE)
			j = (j + 1) & (nslots - 1);
		slots[j].key = b->nodes.v[i].off;
		slots[j].node = i;
	}
	t.kind = b->kind;
	t.base = b->img.base;
	t.build_id_len = b->img.build_id_len;
	memcpy(t.build_id, b->img.build_id, 32);
	t.nodes = b->nodes.v, t.nnodes = b->nodes.n;
	t.funcs = funcs, t.nfuncs = nf;
	t.succ = b->succ.v, t.nsucc = b->succ.n;
	t.calls = b->calls.v, t.ncalls = b->calls.n;
	t.lists = b->lists.v, t.nlists = b->lists.n;
	t.slots = slots, t.nslots = nslots;
	t.deny = deny, t.ndeny = ndeny;
	t.strs = strs, t.nstrs = strsz;
	rc = vg_cfa_model_serialize(&t, &blob, &len, err);
	free(funcs), free(strs), free(slots);
	if (rc)
		return rc;
	rc = vg_cfa_model_from_buf(m, blob, len, err);
	if (rc) {
		free(blob);
		return vg_err_prefix(err, "internal error: built model does not validate");
	}
	m->map = blob;
	m->maplen = len;
	m->mapped = 0;
	return 0;
}

int vg_cfa_model_build(struct vg_cfa_model *m, const char *elf_path,
		       const struct vg_cfa_build_opts *opts, struct vg_err *err)
{
	struct bld b = { 0 };
	struct csr p = { 0 };
	struct vg_cfa_deny *deny = NULL;
	uint32_t ndeny = 0;
	/* a binary that can never be traced gets no model: say why now, not at the first run */
	int rc = vg_cfa_check_runtime(elf_path, err);

	memset(m, 0, sizeof(*m));
	if (rc || (rc = vg_cfa_bld_open(&b, elf_path, err)))
		goto out;
	rc = build_preds(&b, &p);
	if (!rc)
		rc = mark_back_edges(&b);
	if (!rc)
		rc = loop_nesting(&b, &p);
	if (!rc && b.kind != VG_RT_KIND_FUNC && !(opts && opts->no_reduce))
		rc = reduce(&b, &p);
	if (rc) {
		rc = vg_errf(err, -rc, "%s: analysing loops: %s", elf_path, strerror(-rc));
		goto out;
	}
	deny = calloc(opts && opts->ndeny ? opts->ndeny : 1, sizeof(*deny));
	if (!deny) {
		rc = vg_errf(err, ENOMEM, "out of memory");
		goto out;
	}
	rc = apply_deny(&b, opts, deny, &ndeny, err);
	if (!rc)
		rc = assemble(&b, m, deny, ndeny, err);
out:
	free(deny);
	free(p.start);
	free(p.v);
	vg_cfa_bld_free(&b);
	return rc;
}
