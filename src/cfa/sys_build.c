// SPDX-License-Identifier: MIT
/*
 * Static syscall model of a program: the program, its DT_NEEDED closure (searched as ld.so
 * does: DT_RUNPATH/DT_RPATH with $ORIGIN, then the default directories, under --sysroot),
 * its interpreter and any extra modules, each scanned (sys_scan.c); imports are resolved to
 * the first module exporting them in load order, tail jumps are followed (8 hops at most),
 * and every call whose target reaches a function with syscall instructions becomes a call
 * site listing those functions. Addresses become file offsets, as the device reports them.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sys_int.h"
#include "vigil/agent.h"

#define MAX_HOPS 8
#define MAX_LIST 64

static const char *const default_dirs[] = { "/lib/x86_64-linux-gnu",
					    "/usr/lib/x86_64-linux-gnu",
					    "/lib64",
					    "/usr/lib64",
					    "/lib",
					    "/usr/lib" };

struct bmod {
	char path[PATH_MAX];
	struct sys_elf e;
	struct sys_scan s;
	uint8_t idkind, idlen, id[32];
	uint32_t flags, base; /* base: global index of s.fns[0] */
};

struct bld {
	struct bmod *m;
	size_t n, cap;
	const char *sysroot;
	/* output */
	struct vg_sys_func *funcs;
	struct vg_sys_insn *insns;
	struct vg_sys_site *sites;
	uint32_t *lists;
	char *strs;
	size_t nfuncs, ninsns, nsites, nlists, nstrs, capf, capi, caps, capl, capstr;
	struct vg_sys_mod *mods;
};

#define GROW(v, n, cap, err)                                                    \
	do {                                                                    \
		if ((n) == (cap)) {                                             \
			size_t c_ = (cap) ? (cap)*2 : 1024;                     \
			void *p_ = realloc((v), c_ * sizeof(*(v)));             \
			if (!p_)                                                \
				return vg_errf((err), ENOMEM, "out of memory"); \
			(v) = p_;                                               \
			(cap) = c_;                                             \
		}                                                               \
	} while (0)

static uint32_t add_str(struct bld *b, const char *s)
{
	size_t n = strlen(s) + 1;
	uint32_t at;

	while (b->nstrs + n > b->capstr) {
		size_t c = b->capstr ? b->capstr * 2 : 65536;
		char *p = realloc(b->strs, c);

		if (!p)
			return VG_SYS_NONE;
		b->strs = p;
		b->capstr = c;
	}
	at = (uint32_t)b->nstrs;
	memcpy(b->strs + b->nstrs, s, n);
	b->nstrs += n;
	return at;
}

static bool exists(const char *p)
{
	return access(p, R_OK) == 0;
}

static void rooted(const struct bld *b, const char *p, char *out, size_t n)
{
	snprintf(out, n, "%s%s", b->sysroot ? b->sysroot : "", p);
}

static int add_module(struct bld *b, const char *path, uint32_t flags, struct vg_err *err)
{
	char real[PATH_MAX];

	if (!realpath(path, real))
		return vg_errf(err, errno, "%s: %m", path);
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->m[i].path, real))
			return 0;
	if (b->n >= VG_SYS_MAX_MODULES)
		return vg_errf(err, E2BIG, "more than %u modules", VG_SYS_MAX_MODULES);
	GROW(b->m, b->n, b->cap, err);
	memset(&b->m[b->n], 0, sizeof(b->m[0]));
	snprintf(b->m[b->n].path, sizeof(b->m[0].path), "%s", real);
	b->m[b->n].flags = flags;
	b->n++;
	return 0;
}

/* One DT_NEEDED name of module M, searched as ld.so would; 0 when found (or skipped). */
static int find_needed(struct bld *b, size_t m, const char *name, struct vg_err *err)
{
	char cand[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX];

	if (strchr(name, '/')) {
		rooted(b, name, cand, sizeof(cand));
		return exists(cand) ? add_module(b, cand, 0, err) : 0;
	}
	snprintf(tmp, sizeof(tmp), "%s", b->m[m].path);
	snprintf(dir, sizeof(dir), "%s", dirname(tmp));
	if (b->m[m].e.runpath) {
		char rp[4096], *save = NULL;

		snprintf(rp, sizeof(rp), "%s", b->m[m].e.runpath);
		for (char *d = strtok_r(rp, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
			int w;

			if (!strncmp(d, "$ORIGIN", 7)) {
				w = snprintf(cand, sizeof(cand), "%s%s/%s", dir, d + 7, name);
			} else {
				rooted(b, d, tmp, sizeof(tmp));
				w = snprintf(cand, sizeof(cand), "%s/%s", tmp, name);
			}
			if (w > 0 && (size_t)w < sizeof(cand) && exists(cand))
				return add_module(b, cand, 0, err);
		}
	}
	for (size_t i = 0; i < sizeof(default_dirs) / sizeof(default_dirs[0]); i++) {
		int w;

		rooted(b, default_dirs[i], tmp, sizeof(tmp));
		w = snprintf(cand, sizeof(cand), "%s/%s", tmp, name);
		if (w > 0 && (size_t)w < sizeof(cand) && exists(cand))
			return add_module(b, cand, 0, err);
	}
	return vg_errf(err, ENOENT, "%s needs %s, which is in none of its library directories",
		       b->m[m].path, name);
}

static int load_all(struct bld *b, struct vg_err *err)
{
	for (size_t i = 0; i < b->n; i++) {
		struct bmod *m = &b->m[i];
		int r;

		if ((r = vg_sys_elf_open(&m->e, m->path, err)) ||
		    (r = vg_sys_scan_module(&m->e, &m->s, err)))
			return vg_err_prefix(err, "%s", m->path);
		if ((r = vg_agent_module_ident(m->path, &m->idkind, m->id, &m->idlen, err)))
			return r;
		if (m->e.interp && i == 0) {
			char p[PATH_MAX];

			rooted(b, m->e.interp, p, sizeof(p));
			if (exists(p) && (r = add_module(b, p, 0, err)))
				return r;
		}
		for (size_t k = 0; k < m->e.nneeded; k++)
			if ((r = find_needed(b, i, m->e.needed[k], err)))
				return r;
	}
	return 0;
}

/* Global function index of a call's target, or VG_SYS_NONE. */
static uint32_t target_fn(const struct bld *b, size_t mi, const struct sys_call *c)
{
	if (c->kind == SYS_T_LOCAL) {
		long f = vg_sys_scan_fn_at(&b->m[mi].s, c->target);

		return f >= 0 ? b->m[mi].base + (uint32_t)f : VG_SYS_NONE;
	}
	if (c->kind != SYS_T_IMPORT)
		return VG_SYS_NONE;
	for (size_t i = 0; i < b->n; i++) {
		uint64_t a = vg_sys_elf_export(&b->m[i].e, c->import);
		long f;

		if (a && (f = vg_sys_scan_fn_at(&b->m[i].s, a)) >= 0)
			return b->m[i].base + (uint32_t)f;
	}
	return VG_SYS_NONE;
}

struct gfn {
	uint32_t mod, local;
	uint32_t *tails; /* tail-jump targets (global) */
	uint32_t ntails;
	bool has_sys;
	bool itail; /* jumps through a function pointer: may end up anywhere */
};

static int tails(struct bld *b, struct gfn *g, size_t ng, struct vg_err *err)
{
	for (size_t mi = 0; mi < b->n; mi++)
		for (size_t k = 0; k < b->m[mi].s.ncalls; k++) {
			const struct sys_call *c = &b->m[mi].s.calls[k];
			uint32_t t, from = b->m[mi].base + c->fn;
			uint32_t *p;

			if (!c->tail || from >= ng)
				continue;
			if (c->kind == SYS_T_INDIRECT) {
				g[from].itail = true;
				continue;
			}
			if ((t = target_fn(b, mi, c)) == VG_SYS_NONE)
				continue;
			p = realloc(g[from].tails, (g[from].ntails + 1) * sizeof(*p));
			if (!p)
				return vg_errf(err, ENOMEM, "out of memory");
			p[g[from].ntails++] = t;
			g[from].tails = p;
		}
	return 0;
}

/* Functions with syscalls reachable from F by tail jumps (F included); *INDIRECT when one of
 * them jumps through a function pointer. */
static void closure(const struct gfn *g, uint32_t f, int hops, uint32_t *out, uint32_t *n,
		    bool *indirect)
{
	for (uint32_t i = 0; i < *n; i++)
		if (out[i] == (f | 0x80000000u) || out[i] == f)
			return;
	if (*n >= MAX_LIST)
		return;
	out[(*n)++] = g[f].has_sys ? f : (f | 0x80000000u); /* visited mark for the others */
	*indirect |= g[f].itail;
	if (hops <= 0)
		return;
	for (uint32_t i = 0; i < g[f].ntails; i++)
		closure(g, g[f].tails[i], hops - 1, out, n, indirect);
}

/* Both struct vg_sys_insn and struct vg_sys_site begin with the u32 file offset. */
static int cmp_off(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t dedupe(void *v, uint32_t n, size_t sz)
{
	uint32_t w = 0;
	char *p = v;

	for (uint32_t i = 0; i < n; i++) {
		if (w && cmp_off(p + (w - 1) * sz, p + i * sz) == 0)
			continue;
		memmove(p + w * sz, p + i * sz, sz);
		w++;
	}
	return w;
}

static int emit(struct bld *b, struct gfn *g, struct vg_err *err)
{
	uint32_t list[MAX_LIST];

	b->mods = calloc(b->n, sizeof(*b->mods));
	if (!b->mods)
		return vg_errf(err, ENOMEM, "out of memory");
	for (size_t mi = 0; mi < b->n; mi++) {
		struct bmod *m = &b->m[mi];
		struct vg_sys_mod *md = &b->mods[mi];

		md->idkind = m->idkind;
		md->idlen = m->idlen;
		memcpy(md->id, m->id, sizeof(md->id));
		md->name = add_str(b, m->path);
		md->flags = m->flags | VG_SYS_MOD_ANALYSED;
		md->func = (uint32_t)b->nfuncs;
		md->nfunc = (uint32_t)m->s.nfns;
		for (size_t k = 0; k < m->s.nfns; k++) {
			const struct sys_fn *f = &m->s.fns[k];
			int64_t lo = vg_sys_elf_off(&m->e, f->lo), hi = vg_sys_elf_off(&m->e, f->hi - 1);
			char nm[32];

			GROW(b->funcs, b->nfuncs, b->capf, err);
			if (!f->name)
				snprintf(nm, sizeof(nm), "fn_%llx", (unsigned long long)f->lo);
			b->funcs[b->nfuncs++] = (struct vg_sys_func){
				.mod = (uint32_t)mi,
				.lo = lo < 0 ? 0 : (uint32_t)lo,
				.hi = hi < 0 ? 0 : (uint32_t)hi + 1,
				.name = add_str(b, f->name ? f->name : nm),
			};
		}
		/* syscall instructions, in address (and so file offset) order */
		md->insn = (uint32_t)b->ninsns;
		for (size_t k = 0; k < m->s.nscs; k++) {
			const struct sys_sc *sc = &m->s.scs[k];
			int64_t off = vg_sys_elf_off(&m->e, sc->ip);

			if (off < 0 || off > UINT32_MAX)
				continue;
			GROW(b->insns, b->ninsns, b->capi, err);
			b->insns[b->ninsns++] = (struct vg_sys_insn){
				.off = (uint32_t)off,
				.func = m->base + sc->fn,
				.depth = (int16_t)sc->depth,
				.nr = sc->nr,
				.flags = sc->sigframe ? VG_SYS_I_SIGFRAME : 0,
			};
		}
		md->ninsn = (uint32_t)b->ninsns - md->insn;
		/* call sites; calls are in address order too */
		md->site = (uint32_t)b->nsites;
		for (size_t k = 0; k < m->s.ncalls; k++) {
			const struct sys_call *c = &m->s.calls[k];
			int64_t off = c->tail ? -1 : vg_sys_elf_off(&m->e, c->rp);
			uint32_t t, n = 0, flags = 0, start = (uint32_t)b->nlists;

			if (off < 0 || off > UINT32_MAX)
				continue;
			if (c->kind == SYS_T_INDIRECT) {
				flags = VG_SYS_S_INDIRECT;
			} else {
				bool ind = false;

				if ((t = target_fn(b, mi, c)) == VG_SYS_NONE)
					continue;
				closure(g, t, MAX_HOPS, list, &n, &ind);
				if (ind)
					flags = VG_SYS_S_INDIRECT;
			}
			for (uint32_t i = 0; i < n; i++) {
				if (list[i] & 0x80000000u)
					continue;
				GROW(b->lists, b->nlists, b->capl, err);
				b->lists[b->nlists++] = list[i];
			}
			if (!flags && b->nlists == start)
				continue;
			GROW(b->sites, b->nsites, b->caps, err);
			b->sites[b->nsites++] = (struct vg_sys_site){
				.off = (uint32_t)off,
				.list = start,
				.nlist = (uint32_t)b->nlists - start,
				.flags = flags,
			};
		}
		md->nsite = (uint32_t)b->nsites - md->site;
		/* file order can differ from address order across segments: sort, drop repeats */
		qsort(b->insns + md->insn, md->ninsn, sizeof(*b->insns), cmp_off);
		qsort(b->sites + md->site, md->nsite, sizeof(*b->sites), cmp_off);
		md->ninsn = dedupe(b->insns + md->insn, md->ninsn, sizeof(*b->insns));
		b->ninsns = md->insn + md->ninsn;
		md->nsite = dedupe(b->sites + md->site, md->nsite, sizeof(*b->sites));
		b->nsites = md->site + md->nsite;
	}
	if (b->nstrs > UINT32_MAX || b->nlists > VG_SYS_MAX_ITEMS || b->nfuncs > VG_SYS_MAX_ITEMS)
		return vg_errf(err, E2BIG, "the model is too big");
	return 0;
}

static void bld_free(struct bld *b)
{
	for (size_t i = 0; i < b->n; i++) {
		vg_sys_scan_free(&b->m[i].s);
		vg_sys_elf_close(&b->m[i].e);
	}
	free(b->m);
	free(b->funcs);
	free(b->insns);
	free(b->sites);
	free(b->lists);
	free(b->strs);
	free(b->mods);
}

int vg_sys_model_build(struct vg_sys_model *m, const char *binary,
		       const struct vg_sys_build_opts *o, struct vg_err *err)
{
	struct bld b = { .sysroot = o ? o->sysroot : NULL };
	struct vg_sys_model v = { 0 };
	struct gfn *g = NULL;
	size_t ng = 0;
	void *buf = NULL;
	size_t len = 0;
	int r;

	memset(m, 0, sizeof(*m));
	r = add_module(&b, binary, VG_SYS_MOD_MAIN, err);
	for (size_t i = 0; o && i < o->nlibs && !r; i++)
		r = add_module(&b, o->libs[i], 0, err);
	if (!r)
		r = load_all(&b, err);
	for (size_t i = 0; i < b.n && !r; i++) {
		b.m[i].base = (uint32_t)ng;
		ng += b.m[i].s.nfns;
	}
	if (!r && !(g = calloc(ng ? ng : 1, sizeof(*g))))
		r = vg_errf(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < b.n && !r; i++)
		for (size_t k = 0; k < b.m[i].s.nfns; k++)
			g[b.m[i].base + k].has_sys = b.m[i].s.fns[k].has_sys;
	if (!r)
		r = tails(&b, g, ng, err);
	if (!r)
		r = emit(&b, g, err);
	if (!r) {
		v.mods = b.mods;
		v.nmods = (uint32_t)b.n;
		v.funcs = b.funcs;
		v.nfuncs = (uint32_t)b.nfuncs;
		v.insns = b.insns;
		v.ninsns = (uint32_t)b.ninsns;
		v.sites = b.sites;
		v.nsites = (uint32_t)b.nsites;
		v.lists = b.lists;
		v.nlists = (uint32_t)b.nlists;
		v.strs = b.strs;
		v.nstrs = (uint32_t)b.nstrs;
		r = vg_sys_model_serialize(&v, &buf, &len, err);
	}
	for (size_t i = 0; g && i < ng; i++)
		free(g[i].tails);
	free(g);
	bld_free(&b);
	if (!r) {
		r = vg_sys_model_from_buf(m, buf, len, err);
		if (r)
			free(buf);
		else
			m->map = buf, m->maplen = len;
	}
	return r;
}
