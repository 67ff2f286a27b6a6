// SPDX-License-Identifier: MIT
/*
 * The AArch64 syscall path. An SVC from EL0 runs el0_svc -> do_el0_svc(regs), which calls
 * el0_svc_common(regs, scno, __NR_syscalls, sys_call_table) and it invoke_syscall(), which
 * calls table[scno](regs) (do_el0_svc_compat the same with compat_sys_call_table). Unlike
 * x86-64's generated switch there are no per-syscall branches to rewrite; a rootkit that
 * leaves the table alone patches this path instead: a branch in it sent to its own code, or
 * do_el0_svc's ADRP/ADD aimed at a table of its own. So each function of the path (the two
 * entry points and the el0_svc_common / invoke_syscall copies they call, found by following
 * their direct branches) is disassembled with capstone, and
 *  - every direct branch (b, bl, b.cond, cbz/cbnz, tbz/tbnz) that leaves the function must
 *    land exactly at a kernel function's start inside kernel text;
 *  - every address the entry points form that holds a syscall table (its slots mostly
 *    __arm64_* handlers) must be the kernel's own, inside the image.
 * Anything else is an edge for the syscall-hook check (checks_deep.c). Decoded branches are
 * remembered per function body (dispatch_memo.c); an undecodable word is skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>

#include "dispatch_memo.h"
#include "gather_int.h"

#define FUNC_MAX_BYTES (16u << 10)
#define PATH_MAX_FUNCS 8
#define REFS_MAX 64
#define TABLE_PROBE 64

struct path_fn {
	const char *name; /* the static name the edge carries */
	uint64_t va, size;
};

/* Inside one of the path's functions (the compiler shares tails between them)? */
static bool in_path(const struct path_fn *path, int n, uint64_t t)
{
	for (int i = 0; i < n; i++)
		if (t - path[i].va < path[i].size)
			return true;
	return false;
}

static const char *const entries[] = { "do_el0_svc", "do_el0_svc_compat" };
static const char *const callees[] = { "el0_svc_common", "invoke_syscall" };

struct disasm {
	csh h;
	cs_insn *ci;
	bool tried;
};

static uint64_t func_size(struct vg_linux *lx, uint64_t fn)
{
	const struct vg_kallsyms *ks = &lx->ksyms;
	const struct vg_ksym *q = vg_kallsyms_near(ks, fn);

	for (; q && q < ks->syms + ks->count; q++) {
		uint64_t a = vg_ksym_addr(ks, q);

		if (a > fn)
			return a - fn < FUNC_MAX_BYTES ? a - fn : FUNC_MAX_BYTES;
	}
	return 0;
}

/* The target of a direct branch: its last immediate operand (tbz has the bit number first). */
static bool branch_target(const cs_insn *ci, uint64_t *t)
{
	const cs_arm64 *a = &ci->detail->arm64;

	if (!a->op_count || a->operands[a->op_count - 1].type != ARM64_OP_IMM)
		return false;
	*t = (uint64_t)a->operands[a->op_count - 1].imm;
	return true;
}

static int decode(struct disasm *d, const uint8_t *code, size_t size, uint64_t fn,
		  struct dm_branch **out, size_t *n)
{
	const uint8_t *p = code;
	size_t left = size, cap = 0;
	uint64_t addr = fn, t;

	*out = NULL;
	*n = 0;
	while (left >= 4) {
		struct dm_branch *b;

		if (!cs_disasm_iter(d->h, &p, &left, &addr, d->ci)) {
			p += 4;
			left -= 4;
			addr += 4;
			continue;
		}
		if ((!cs_insn_group(d->h, d->ci, CS_GRP_JUMP) &&
		     !cs_insn_group(d->h, d->ci, CS_GRP_CALL)) ||
		    !branch_target(d->ci, &t))
			continue; /* not a branch, or an indirect one (br, blr, ret) */
		if (*n == cap) {
			void *q;

			if (cap >= DM_MAX_BRANCHES)
				return -E2BIG;
			cap = cap ? cap * 2 : 64;
			q = realloc(*out, cap * sizeof(**out));
			if (!q)
				return -ENOMEM;
			*out = q;
		}
		b = &(*out)[(*n)++];
		memset(b, 0, sizeof(*b));
		b->off = (uint32_t)(d->ci->address - fn);
		b->target = (int64_t)(t - fn);
		b->is_call = cs_insn_group(d->h, d->ci, CS_GRP_CALL);
		snprintf(b->mnemonic, sizeof(b->mnemonic), "%.18s", d->ci->mnemonic);
	}
	return 0;
}

static int branches_of(struct vg_linux *lx, struct disasm *d, const uint8_t *code, size_t size,
		       uint64_t fn, struct dm_branch **v, size_t *n)
{
	int ret;

	if (!vg_dispatch_memo_load(lx, code, size, v, n))
		return 0;
	if (!d->tried) {
		d->tried = true;
		if (cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &d->h) == CS_ERR_OK) {
			cs_option(d->h, CS_OPT_DETAIL, CS_OPT_ON);
			d->ci = cs_malloc(d->h);
		}
	}
	if (!d->ci)
		return -ENOEXEC;
	ret = decode(d, code, size, fn, v, n);
	if (ret) {
		free(*v);
		return ret;
	}
	vg_dispatch_memo_store(lx, code, size, *v, *n);
	return 0;
}

static void add_edge(struct vg_linux *lx, struct vg_snapshot *s, const char *func, uint64_t site,
		     uint64_t target, const char *insn)
{
	struct vg_dispatch_edge *e;

	if (s->ndispatch >= VG_IDS_MAX_DISPATCH)
		return;
	e = &s->dispatch[s->ndispatch++];
	memset(e, 0, sizeof(*e));
	e->func = func;
	e->site = site;
	e->target = target;
	snprintf(e->insn, sizeof(e->insn), "%.15s", insn);
	vg_ids_symoff(lx, target, e->sym, sizeof(e->sym));
	snprintf(e->owner, sizeof(e->owner), "%s", vg_ids_owner(s, target));
}

/* A kernel function's entry: a kallsyms symbol exactly there, inside the kernel's text. */
static bool kernel_function(struct vg_linux *lx, uint64_t t, uint64_t stext, uint64_t etext)
{
	const struct vg_ksym *k = vg_kallsyms_near(&lx->ksyms, t);

	return t >= stext && t < etext && k && vg_ksym_addr(&lx->ksyms, k) == t;
}

/* Does A hold a syscall table (most of its first slots name __arm64_* handlers)? */
static bool looks_like_table(struct vg_linux *lx, uint64_t a)
{
	uint64_t v[TABLE_PROBE];
	int good = 0;

	if (vg_as_read(&lx->kas, a, v, sizeof(v)))
		return false;
	for (int i = 0; i < TABLE_PROBE; i++) {
		const struct vg_ksym *k = vg_kallsyms_near(&lx->ksyms, v[i]);

		good += k && vg_ksym_addr(&lx->ksyms, k) == v[i] &&
			!strncmp(vg_ksym_name(&lx->ksyms, k), "__arm64_", 8);
	}
	return good >= TABLE_PROBE * 3 / 4;
}

/* The tables an entry point forms must be the kernel's (inside its image). */
static void check_tables(struct vg_linux *lx, struct vg_snapshot *s, const struct path_fn *f,
			 const uint8_t *code, size_t size)
{
	uint64_t refs[REFS_MAX];
	int n = vg_arm64_code_refs(code, size, f->va, refs, REFS_MAX);

	for (int i = 0; i < n; i++)
		if (!vg_linux_in_image(lx, refs[i]) && looks_like_table(lx, refs[i]))
			add_edge(lx, s, f->name, f->va, refs[i], "adrp");
}

/* Adds the path's functions this one calls (el0_svc_common.*, invoke_syscall). */
static void follow(struct vg_linux *lx, const struct dm_branch *v, size_t n, uint64_t fn,
		   struct path_fn *path, int *npath)
{
	for (size_t i = 0; i < n && *npath < PATH_MAX_FUNCS; i++) {
		uint64_t t = fn + (uint64_t)v[i].target;
		const struct vg_ksym *k = vg_kallsyms_near(&lx->ksyms, t);
		bool seen = false;

		if (!k || vg_ksym_addr(&lx->ksyms, k) != t)
			continue;
		for (int j = 0; j < *npath; j++)
			seen |= path[j].va == t;
		for (size_t c = 0; c < sizeof(callees) / sizeof(callees[0]) && !seen; c++)
			if (!strncmp(vg_ksym_name(&lx->ksyms, k), callees[c], strlen(callees[c]))) {
				path[(*npath)++] =
					(struct path_fn){ callees[c], t, func_size(lx, t) };
				break;
			}
	}
}

void vg_ids_gather_dispatch_arm64(struct vg_linux *lx, struct vg_snapshot *s)
{
	struct path_fn path[PATH_MAX_FUNCS];
	struct disasm d = { 0 };
	uint64_t stext, etext;
	int npath = 0, ret = 0;

	if (vg_linux_sym(lx, "_stext", &stext) || vg_linux_sym(lx, "_etext", &etext)) {
		vg_ids_note(s, "syscall path: no _stext/_etext");
		return;
	}
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		uint64_t a;

		if (!vg_linux_sym(lx, entries[i], &a))
			path[npath++] = (struct path_fn){ entries[i], a, func_size(lx, a) };
	}
	/* the path grows while it is walked: callees are appended behind their callers */
	for (int i = 0; i < npath && !ret; i++) {
		const struct path_fn *f = &path[i];
		struct dm_branch *v = NULL;
		uint64_t size = f->size;
		uint8_t *code = size ? malloc(size) : NULL;
		size_t n = 0;

		if (!code || vg_as_read(&lx->kas, f->va, code, size)) {
			free(code);
			ret = -EFAULT;
			break;
		}
		ret = branches_of(lx, &d, code, size, f->va, &v, &n);
		if (!ret && i < (int)(sizeof(entries) / sizeof(entries[0])))
			check_tables(lx, s, f, code, size);
		free(code);
		if (ret)
			break;
		for (size_t k = 0; k < n; k++) {
			uint64_t t = f->va + (uint64_t)v[k].target;

			s->dispatch_branches++;
			if (in_path(path, npath, t) || kernel_function(lx, t, stext, etext))
				continue;
			add_edge(lx, s, f->name, f->va + v[k].off, t, v[k].mnemonic);
		}
		follow(lx, v, n, f->va, path, &npath);
		free(v);
	}
	if (d.ci)
		cs_free(d.ci, 1);
	if (d.tried && d.h)
		cs_close(&d.h);
	if (ret == -ENOEXEC)
		vg_ids_note(s, "syscall path: no disassembler");
	else if (ret || !npath)
		vg_ids_note(s, "syscall path unreadable");
	else
		s->have_dispatch = true;
}
