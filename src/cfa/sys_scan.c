// SPDX-License-Identifier: MIT
/*
 * One module's disassembly (capstone), reduced to what the syscall model needs:
 *  - functions: .eh_frame FDEs (every compiled function, named or not) plus symbol ranges the
 *    unwind tables miss (hand-written assembly);
 *  - syscall instructions, with the number when eax/rax is set by an immediate on every path
 *    into it within its block (a jump target in between makes it "any"), and the depth of
 *    the return address from the unwind table at that instruction;
 *  - calls and tail jumps leaving the function: to a local address, through a PLT stub or a
 *    GOT slot to an import (resolved across modules by sys_build.c), or indirect.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>

#include "sys_int.h"

#define MAX_TARGETS 4096

static int push(void **v, size_t *n, size_t *cap, size_t sz, const void *x)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		void *p = realloc(*v, c * sz);

		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	memcpy((char *)*v + *n * sz, x, sz);
	(*n)++;
	return 0;
}

static int cmp_fn(const void *a, const void *b)
{
	const struct sys_fn *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return (x->fde < 0) - (y->fde < 0); /* the unwind table's view first */
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_name_addr(const void *a, const void *b)
{
	const struct sys_name *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int build_fns(const struct sys_elf *e, struct sys_scan *s)
{
	size_t cap = 0, w = 0;

	for (size_t i = 0; i < e->nfdes; i++) {
		struct sys_fn f = { .lo = e->fdes[i].lo, .hi = e->fdes[i].hi, .fde = (int64_t)i };

		if (push((void **)&s->fns, &s->nfns, &cap, sizeof(f), &f))
			return -ENOMEM;
	}
	for (size_t i = 0; i < e->img.nfuncs; i++) {
		struct sys_fn f = { .lo = e->img.funcs[i].addr,
				    .hi = e->img.funcs[i].addr + e->img.funcs[i].size,
				    .fde = -1 };

		if (push((void **)&s->fns, &s->nfns, &cap, sizeof(f), &f))
			return -ENOMEM;
	}
	qsort(s->fns, s->nfns, sizeof(*s->fns), cmp_fn);
	/* overlaps: the first (unwind-table) range wins; names from symbols at its start */
	for (size_t i = 0; i < s->nfns; i++) {
		if (w && s->fns[i].lo < s->fns[w - 1].hi)
			continue;
		s->fns[w++] = s->fns[i];
	}
	s->nfns = w;
	for (size_t i = 0; i < s->nfns; i++) {
		long k = vg_cfa_elfimg_func_at(&e->img, s->fns[i].lo);

		s->fns[i].name = k >= 0 ? e->img.funcs[k].name : NULL;
	}
	return 0;
}

static bool plt_section(const struct elf_sec *sec)
{
	return !strncmp(sec->name, ".plt", 4);
}

/* Direct call targets anywhere in the code: where functions without unwind data or symbols
 * begin (stripped code built without unwind tables, like busybox's own). */
static int call_targets(const struct sys_elf *e, csh h, cs_insn *ci, uint64_t **out, size_t *n)
{
	size_t cap = 0;

	for (size_t i = 0; i < e->img.nsecs; i++) {
		const struct elf_sec *sec = &e->img.secs[i];
		const uint8_t *p = sec->data;
		size_t sz = sec->size;
		uint64_t a = sec->addr;

		if (!sec->exec || !p || plt_section(sec))
			continue;
		while (sz) {
			if (!cs_disasm_iter(h, &p, &sz, &a, ci)) {
				p++, sz--, a++;
				continue;
			}
			const cs_x86 *x = &ci->detail->x86;
			uint64_t t;

			if (ci->id != X86_INS_CALL || x->op_count != 1 ||
			    x->operands[0].type != X86_OP_IMM)
				continue;
			t = (uint64_t)x->operands[0].imm;
			if (t >= sec->addr && t < sec->addr + sec->size &&
			    push((void **)out, n, &cap, sizeof(t), &t))
				return -ENOMEM;
		}
	}
	qsort(*out, *n, sizeof(**out), cmp_u64);
	return 0;
}

/* Code no function covers becomes functions split at the call targets inside it. */
static int fill_gaps(const struct sys_elf *e, struct sys_scan *s, csh h, cs_insn *ci)
{
	uint64_t *t = NULL;
	size_t nt = 0, cap = s->nfns, n0 = s->nfns, k = 0;
	int r = call_targets(e, h, ci, &t, &nt);

	for (size_t i = 0; i < e->img.nsecs && !r; i++) {
		const struct elf_sec *sec = &e->img.secs[i];
		uint64_t at = sec->addr, end = sec->addr + sec->size;

		if (!sec->exec || !sec->data || plt_section(sec))
			continue;
		while (at < end && !r) {
			struct sys_scan known = { .fns = s->fns, .nfns = n0 }; /* sorted part */
			long f = vg_sys_scan_fn_at(&known, at);
			uint64_t next = end;

			if (f >= 0) {
				at = s->fns[f].hi;
				continue;
			}
			/* the gap runs to the next function (fns[] is sorted until we append) */
			for (size_t j = 0; j < n0; j++)
				if (s->fns[j].lo > at) {
					next = s->fns[j].lo < end ? s->fns[j].lo : end;
					break;
				}
			while (k < nt && t[k] <= at)
				k++;
			for (uint64_t lo = at; lo < next && !r;) {
				uint64_t hi = k < nt && t[k] < next ? t[k++] : next;
				struct sys_fn fn = { .lo = lo, .hi = hi, .fde = -1 };
				long prev =
					lo == at && (lo & 15) ? vg_sys_scan_fn_at(&known, lo - 1) : -1;

				/* unaligned code right after a function that no call enters is
				 * that function's tail beyond its unwind data (clone3's child) */
				if (prev >= 0 && s->fns[prev].hi == lo &&
				    s->fns[prev].lo >= sec->addr &&
				    !bsearch(&lo, t, nt, sizeof(*t), cmp_u64))
					s->fns[prev].hi = hi;
				else if (hi > lo)
					r = push((void **)&s->fns, &s->nfns, &cap, sizeof(fn), &fn);
				lo = hi;
			}
			at = next;
		}
	}
	free(t);
	if (!r)
		qsort(s->fns, s->nfns, sizeof(*s->fns), cmp_fn);
	return r;
}

long vg_sys_scan_fn_at(const struct sys_scan *s, uint64_t va)
{
	size_t lo = 0, hi = s->nfns;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (va < s->fns[mid].lo)
			hi = mid;
		else if (va >= s->fns[mid].hi)
			lo = mid + 1;
		else
			return (long)mid;
	}
	return -1;
}

static const char *plt_at(const struct sys_scan *s, uint64_t va)
{
	size_t lo = 0, hi = s->nplt;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->plt[mid].addr == va)
			return s->plt[mid].name;
		if (s->plt[mid].addr < va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool is_rip_mem(const cs_x86_op *o)
{
	return o->type == X86_OP_MEM && o->mem.base == X86_REG_RIP &&
	       o->mem.index == X86_REG_INVALID;
}

/* PLT stubs: "jmp [rip+slot]", maybe after endbr64; the slot's relocation names the import. */
static int scan_plt(const struct sys_elf *e, csh h, cs_insn *ci, struct sys_scan *s)
{
	size_t cap = 0;

	for (size_t i = 0; i < e->img.nsecs; i++) {
		const struct elf_sec *sec = &e->img.secs[i];
		const uint8_t *p = sec->data;
		size_t sz = sec->size;
		uint64_t a = sec->addr;

		if (!sec->exec || !p || strncmp(sec->name, ".plt", 4))
			continue;
		while (sz) {
			uint64_t at = a;

			if (!cs_disasm_iter(h, &p, &sz, &a, ci)) {
				p++, sz--, a++;
				continue;
			}
			const cs_x86 *x = &ci->detail->x86;
			const char *name;
			struct sys_name n;

			if (ci->id != X86_INS_JMP || x->op_count != 1 ||
			    !is_rip_mem(&x->operands[0]))
				continue;
			name = vg_sys_elf_import(e, a + (uint64_t)x->operands[0].mem.disp);
			if (!name)
				continue;
			n = (struct sys_name){ .addr = at, .name = (char *)name };
			if (push((void **)&s->plt, &s->nplt, &cap, sizeof(n), &n))
				return -ENOMEM;
			if (at >= sec->addr + 4 &&
			    !memcmp(p - ci->size - 4, "\xf3\x0f\x1e\xfa", 4)) {
				n.addr = at - 4;
				if (push((void **)&s->plt, &s->nplt, &cap, sizeof(n), &n))
					return -ENOMEM;
			}
		}
	}
	qsort(s->plt, s->nplt, sizeof(*s->plt), cmp_name_addr);
	return 0;
}

static bool is_ax(x86_reg r)
{
	return r == X86_REG_AL || r == X86_REG_AH || r == X86_REG_AX || r == X86_REG_EAX ||
	       r == X86_REG_RAX;
}

/* Whether this instruction may change eax other than the ways classify() understands. */
static bool writes_ax(const cs_insn *ci)
{
	const cs_x86 *x = &ci->detail->x86;

	for (uint8_t i = 0; i < ci->detail->regs_write_count; i++)
		if (is_ax(ci->detail->regs_write[i]))
			return true;
	for (uint8_t i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_REG && is_ax(x->operands[i].reg) &&
		    (x->operands[i].access & CS_AC_WRITE))
			return true;
	return false;
}

struct fnctx {
	const struct sys_elf *e;
	struct sys_scan *s;
	size_t sccap, callcap;
	uint64_t *targets;
	size_t ntargets;
};

static bool is_target(const struct fnctx *c, uint64_t a)
{
	return bsearch(&a, c->targets, c->ntargets, sizeof(uint64_t), cmp_u64) != NULL;
}

static int add_call(struct fnctx *c, uint32_t fn, uint64_t rp, bool tail, const cs_x86 *x,
		    uint64_t next)
{
	struct sys_call k = { .rp = rp, .fn = fn, .tail = tail, .kind = SYS_T_INDIRECT };
	const cs_x86_op *o = &x->operands[0];

	if (x->op_count != 1)
		return 0;
	if (o->type == X86_OP_IMM) {
		uint64_t t = (uint64_t)o->imm;

		k.import = plt_at(c->s, t);
		k.kind = k.import ? SYS_T_IMPORT : SYS_T_LOCAL;
		k.target = t;
	} else if (is_rip_mem(o)) {
		k.import = vg_sys_elf_import(c->e, next + (uint64_t)o->mem.disp);
		k.kind = k.import ? SYS_T_IMPORT : SYS_T_INDIRECT;
	} else if (tail) {
		return 0; /* a jump through a register: a jump table, not a call */
	}
	return push((void **)&c->s->calls, &c->s->ncalls, &c->callcap, sizeof(k), &k);
}

static int scan_fn(struct fnctx *c, csh h, cs_insn *ci, uint32_t fi)
{
	const struct sys_fn *f = &c->s->fns[fi];
	const uint8_t *code = vg_cfa_elfimg_at(&c->e->img, f->lo, (size_t)(f->hi - f->lo)), *p;
	size_t sz, tcap = 0;
	uint64_t a, ax = 0;
	bool known = false;
	int r;

	if (!code || f->hi - f->lo > (64u << 20))
		return 0;
	/* pass 1: where control may join from elsewhere in the function */
	c->ntargets = 0;
	for (p = code, sz = (size_t)(f->hi - f->lo), a = f->lo; sz;) {
		if (!cs_disasm_iter(h, &p, &sz, &a, ci)) {
			p++, sz--, a++;
			continue;
		}
		const cs_x86 *x = &ci->detail->x86;

		if (cs_insn_group(h, ci, CS_GRP_JUMP) && x->op_count == 1 &&
		    x->operands[0].type == X86_OP_IMM && c->ntargets < MAX_TARGETS) {
			uint64_t t = (uint64_t)x->operands[0].imm;

			if (t >= f->lo && t < f->hi &&
			    push((void **)&c->targets, &c->ntargets, &tcap, sizeof(t), &t))
				return -ENOMEM;
		}
	}
	qsort(c->targets, c->ntargets, sizeof(uint64_t), cmp_u64);
	/* pass 2: syscalls with the value eax holds, calls and tail jumps */
	for (p = code, sz = (size_t)(f->hi - f->lo), a = f->lo; sz;) {
		uint64_t at = a;

		if (!cs_disasm_iter(h, &p, &sz, &a, ci)) {
			p++, sz--, a++;
			known = false;
			continue;
		}
		const cs_x86 *x = &ci->detail->x86;

		if (is_target(c, at))
			known = false;
		switch (ci->id) {
		case X86_INS_SYSCALL: {
			const struct sys_fde *fde = f->fde >= 0 ? &c->e->fdes[f->fde] : NULL;
			struct sys_sc sc = { .ip = a, .fn = fi, .depth = -1 };

			sc.nr = known && ax < VG_SYS_ANY_NR ? (uint16_t)ax : VG_SYS_ANY_NR;
			if (fde) {
				sc.depth = vg_sys_cfi_depth(c->e, fde, at);
				sc.sigframe = c->e->cies[fde->cie].sigframe;
			}
			c->s->fns[fi].has_sys = true;
			if (push((void **)&c->s->scs, &c->s->nscs, &c->sccap, sizeof(sc), &sc))
				return -ENOMEM;
			known = false; /* the kernel's result */
			continue;
		}
		case X86_INS_CALL:
			if ((r = add_call(c, fi, a, false, x, a)))
				return r;
			known = false;
			continue;
		case X86_INS_JMP:
			if (x->op_count == 1 && x->operands[0].type == X86_OP_IMM) {
				uint64_t t = (uint64_t)x->operands[0].imm;

				if ((t < f->lo || t >= f->hi) &&
				    (r = add_call(c, fi, 0, true, x, a)))
					return r;
			} else if ((r = add_call(c, fi, 0, true, x, a))) {
				return r;
			}
			continue;
		case X86_INS_MOV:
			if (x->op_count == 2 && x->operands[0].type == X86_OP_REG &&
			    (x->operands[0].reg == X86_REG_EAX ||
			     x->operands[0].reg == X86_REG_RAX) &&
			    x->operands[1].type == X86_OP_IMM) {
				ax = (uint64_t)x->operands[1].imm;
				known = true;
				continue;
			}
			break;
		case X86_INS_XOR:
		case X86_INS_SUB:
			if (x->op_count == 2 && x->operands[0].type == X86_OP_REG &&
			    x->operands[1].type == X86_OP_REG &&
			    x->operands[0].reg == x->operands[1].reg &&
			    (x->operands[0].reg == X86_REG_EAX ||
			     x->operands[0].reg == X86_REG_RAX)) {
				ax = 0;
				known = true;
				continue;
			}
			break;
		}
		if (known && writes_ax(ci))
			known = false;
	}
	return 0;
}

int vg_sys_scan_module(const struct sys_elf *e, struct sys_scan *s, struct vg_err *err)
{
	struct fnctx c = { .e = e, .s = s };
	cs_insn *ci;
	csh h;
	int r;

	memset(s, 0, sizeof(*s));
	if (build_fns(e, s))
		return vg_errf(err, ENOMEM, "out of memory");
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return vg_errf(err, EIO, "capstone could not be opened");
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	ci = cs_malloc(h);
	r = ci ? scan_plt(e, h, ci, s) : -ENOMEM;
	if (!r)
		r = fill_gaps(e, s, h, ci);
	for (size_t i = 0; i < s->nfns && !r; i++)
		r = scan_fn(&c, h, ci, (uint32_t)i);
	if (ci)
		cs_free(ci, 1);
	cs_close(&h);
	free(c.targets);
	if (r)
		return vg_errf(err, -r, "disassembly: %s", strerror(-r));
	return 0;
}

void vg_sys_scan_free(struct sys_scan *s)
{
	free(s->fns);
	free(s->scs);
	free(s->calls);
	free(s->plt);
	memset(s, 0, sizeof(*s));
}
