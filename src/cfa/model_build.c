// SPDX-License-Identifier: MIT
/*
 * Model builder: disassembles every function of an instrumented x86-64 ELF with capstone and
 * derives the site graph described in include/vigil/cfa_model.h - event sites, return points,
 * intraprocedural site-to-site edges, calls with their return points, tail calls, jump tables
 * (the two common x86-64 shapes; an unresolved one makes every site of the function a successor),
 * address-taken functions, loop headers and nesting (cfa_loops.c) and the reduced sites
 * (cfa_reduce.c). The ELF is untrusted: every walk is bounded by the function's instructions.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfa_build.h"

enum ik { I_OTHER, I_HOOK, I_ENTERHOOK, I_CALL, I_ICALL, I_JMP, I_IJMP, I_JCC, I_RET, I_STOP };

struct ins {
	uint64_t addr, target, rdi;
	uint32_t size, jt, njt;
	uint8_t kind, rdi_set, ijmp_reg;
};

struct fn {
	struct ins *ins;
	size_t nins;
	uint32_t *visit;
	int instr;
};

static int vpush(void **v, uint32_t *n, uint32_t *cap, size_t esz, const void *x)
{
	if (*n == *cap) {
		uint32_t nc = *cap ? *cap * 2 : 64;
		void *p;

		if (nc > VG_CFA_MAX_NODES * 4u)
			return -E2BIG;
		p = realloc(*v, (size_t)nc * esz);
		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = nc;
	}
	memcpy((char *)*v + (size_t)*n * esz, x, esz);
	(*n)++;
	return 0;
}

int vg_cfa_vpush64(uint64_t **v, uint32_t *n, uint32_t *cap, uint64_t x)
{
	return vpush((void **)v, n, cap, 8, &x);
}

#define PUSH(vec, x) vpush((void **)&(vec).v, &(vec).n, &(vec).cap, sizeof(*(vec).v), &(x))

static long ins_at(const struct fn *f, uint64_t addr)
{
	size_t lo = 0, hi = f->nins;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->ins[mid].addr == addr)
			return (long)mid;
		if (f->ins[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* SELF: the function whose code holds the reference; -finstrument-functions makes every function
 * pass its own address to the hook, which is not taking it for an indirect call. */
static void mark_taken(struct bld *b, uint64_t va, long self)
{
	long k = vg_cfa_elfimg_func_at(&b->img, va);

	if (k >= 0 && k != self)
		b->fflags[k] |= VG_CFA_F_ADDR_TAKEN;
}

/* Jump tables: `jmp [idx*8 + table]` (non-PIE) or `lea rT,[rip+table]; movsxd; add; jmp r`. */
static int jump_table(struct bld *b, struct fn *f, size_t i, uint64_t lo, uint64_t hi,
		      const cs_x86 *x)
{
	struct ins *in = &f->ins[i];
	uint64_t table = 0;
	int rel = 0;

	if (x->op_count == 1 && x->operands[0].type == X86_OP_MEM &&
	    x->operands[0].mem.base == X86_REG_INVALID && x->operands[0].mem.scale == 8) {
		table = (uint64_t)x->operands[0].mem.disp;
	} else if (x->op_count == 1 && x->operands[0].type == X86_OP_REG) {
		for (size_t k = 1; k <= 10 && k <= i; k++)
			if (f->ins[i - k].rdi_set == 2) { /* lea r, [rip+X] recorded in rdi */
				table = f->ins[i - k].rdi;
				rel = 1;
				break;
			}
	}
	if (!table)
		return 0;
	in->jt = b->jt.n;
	for (uint32_t k = 0; k < 1024; k++) {
		uint64_t t;
		const uint8_t *p =
			vg_cfa_elfimg_at(&b->img, table + (rel ? 4 : 8) * k, rel ? 4 : 8);

		if (!p)
			break;
		if (rel) {
			int32_t d;

			memcpy(&d, p, 4);
			t = table + (uint64_t)(int64_t)d;
		} else {
			memcpy(&t, p, 8);
		}
		if (t < lo || t >= hi)
			break;
		if (PUSH(b->jt, t))
			return -ENOMEM;
		in->njt++;
	}
	return 0;
}

static int disasm_fn(struct bld *b, csh h, size_t fi, struct vg_err *err)
{
	const struct elf_sym *s = &b->img.funcs[fi];
	struct fn *f = &b->fns[fi];
	const uint8_t *code = vg_cfa_elfimg_at(&b->img, s->addr, s->size);
	size_t size = s->size, cap = 0;
	uint64_t addr = s->addr;
	cs_insn *ci = cs_malloc(h);

	if (!code || !ci) {
		cs_free(ci, 1);
		return 0; /* NOBITS or out of file: no code to model */
	}
	while (size) {
		const uint8_t *p = code;
		uint64_t a = addr;
		size_t sz = size;

		if (!cs_disasm_iter(h, &p, &sz, &a, ci)) {
			code++, addr++, size--; /* data in text: skip a byte */
			continue;
		}
		if (f->nins == cap) {
			cap = cap ? cap * 2 : 64;
			void *np = realloc(f->ins, cap * sizeof(*f->ins));

			if (!np) {
				cs_free(ci, 1);
				return vg_errf(err, ENOMEM, "disassembly: out of memory");
			}
			f->ins = np;
		}
		struct ins *in = &f->ins[f->nins++];
		const cs_x86 *x = &ci->detail->x86;

		memset(in, 0, sizeof(*in));
		in->addr = ci->address;
		in->size = ci->size;
		switch (ci->id) {
		case X86_INS_CALL:
			if (x->op_count == 1 && x->operands[0].type == X86_OP_IMM) {
				in->target = (uint64_t)x->operands[0].imm;
				in->kind = I_CALL;
				if (in->target && (in->target == b->img.hook_pc ||
						   in->target == b->img.hook_guard))
					in->kind = I_HOOK;
				else if (in->target && (in->target == b->img.hook_enter ||
							in->target == b->img.hook_exit))
					in->kind = I_ENTERHOOK;
			} else {
				in->kind = I_ICALL;
			}
			break;
		case X86_INS_JMP:
			if (x->op_count == 1 && x->operands[0].type == X86_OP_IMM) {
				in->kind = I_JMP;
				in->target = (uint64_t)x->operands[0].imm;
			} else {
				in->kind = I_IJMP;
				if (jump_table(b, f, f->nins - 1, s->addr, s->addr + s->size, x))
					return vg_errf(err, ENOMEM, "jump tables: out of memory");
			}
			break;
		case X86_INS_RET:
		case X86_INS_RETF:
			in->kind = I_RET;
			break;
		case X86_INS_HLT:
		case X86_INS_UD2:
		case X86_INS_INT3:
			in->kind = I_STOP;
			break;
		default:
			if (cs_insn_group(h, ci, CS_GRP_JUMP) && x->op_count == 1 &&
			    x->operands[0].type == X86_OP_IMM) {
				in->kind = I_JCC;
				in->target = (uint64_t)x->operands[0].imm;
				break;
			}
			in->kind = I_OTHER;
			for (int k = 0; k < x->op_count; k++) {
				const cs_x86_op *o = &x->operands[k];
				uint64_t v = 0;

				if (o->type == X86_OP_IMM)
					v = (uint64_t)o->imm;
				else if (o->type == X86_OP_MEM && o->mem.base == X86_REG_RIP &&
					 ci->id == X86_INS_LEA)
					v = ci->address + ci->size + (uint64_t)o->mem.disp;
				if (v)
					mark_taken(b, v, (long)fi);
			}
			/* Remember the value put in a register: guard pointers and jump tables. */
			if (x->op_count == 2 && x->operands[0].type == X86_OP_REG) {
				const cs_x86_op *o = &x->operands[1];

				if (ci->id == X86_INS_LEA && o->type == X86_OP_MEM &&
				    o->mem.base == X86_REG_RIP) {
					in->rdi = ci->address + ci->size + (uint64_t)o->mem.disp;
					in->rdi_set = 2;
				} else if (ci->id == X86_INS_MOV && o->type == X86_OP_IMM) {
					in->rdi = (uint64_t)o->imm;
					in->rdi_set = 3;
				}
				in->ijmp_reg = (uint8_t)(x->operands[0].reg == X86_REG_RDI ||
							 x->operands[0].reg == X86_REG_EDI);
			}
			break;
		}
		code = p, addr = a, size = sz;
	}
	cs_free(ci, 1);
	f->visit = calloc(f->nins ? f->nins : 1, sizeof(uint32_t));
	if (!f->visit)
		return vg_errf(err, ENOMEM, "out of memory");
	return 0;
}

static int32_t guard_index(const struct bld *b, const struct fn *f, size_t i)
{
	for (size_t k = 1; k <= 8 && k <= i; k++) {
		const struct ins *p = &f->ins[i - k];

		if (p->kind != I_OTHER)
			break;
		if (p->rdi_set && p->ijmp_reg && p->rdi >= b->img.guards_lo &&
		    p->rdi < b->img.guards_hi)
			return (int32_t)((p->rdi - b->img.guards_lo) / 4);
	}
	return -1;
}

static int off_insert(struct bld *b, uint32_t off, uint32_t node)
{
	if (b->offmap_n * 2 >= b->offmap_cap) {
		uint32_t nc = b->offmap_cap ? b->offmap_cap * 2 : 1024;
		struct vg_cfa_slot *ns = malloc((size_t)nc * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		memset(ns, 0xff, (size_t)nc * sizeof(*ns));
		for (uint32_t i = 0; i < b->offmap_cap; i++)
			if (b->offmap[i].key != VG_CFA_NONE) {
				uint32_t j = (b->offmap[i].key * 0x9e3779b1u) & (nc - 1);

				while (ns[j].key != VG_CFA_NONE)
					j = (j + 1) & (nc - 1);
				ns[j] = b->offmap[i];
			}
		free(b->offmap);
		b->offmap = ns;
		b->offmap_cap = nc;
	}
	uint32_t j = (off * 0x9e3779b1u) & (b->offmap_cap - 1);

	while (b->offmap[j].key != VG_CFA_NONE) {
		if (b->offmap[j].key == off)
			return 0;
		j = (j + 1) & (b->offmap_cap - 1);
	}
	b->offmap[j].key = off;
	b->offmap[j].node = node;
	b->offmap_n++;
	return 0;
}

static uint32_t off_find(const struct bld *b, uint32_t off)
{
	if (!b->offmap_cap)
		return VG_CFA_NONE;
	uint32_t j = (off * 0x9e3779b1u) & (b->offmap_cap - 1);

	while (b->offmap[j].key != VG_CFA_NONE) {
		if (b->offmap[j].key == off)
			return b->offmap[j].node;
		j = (j + 1) & (b->offmap_cap - 1);
	}
	return VG_CFA_NONE;
}

static int new_node(struct bld *b, uint32_t off, uint32_t func, uint32_t flags, int32_t guard,
		    uint32_t *out)
{
	struct vg_cfa_node n = {
		.off = off, .func = func, .flags = flags, .loop = VG_CFA_NONE, .guard = guard
	};
	uint32_t idx = b->nodes.n;
	int rc;

	if (idx >= VG_CFA_MAX_NODES)
		return -E2BIG;
	rc = PUSH(b->nodes, n);
	if (!rc)
		rc = off_insert(b, off, idx);
	*out = idx;
	return rc;
}

static int add_u32(struct bld *b, uint32_t x)
{
	for (uint32_t i = 0; i < b->tsucc.n; i++)
		if (b->tsucc.v[i] == x)
			return 0;
	return PUSH(b->tsucc, x);
}

static int add_call(struct bld *b, uint32_t callee, uint32_t rp)
{
	struct vg_cfa_call c = { callee, rp };

	for (uint32_t i = 0; i < b->tcall.n; i++)
		if (b->tcall.v[i].callee == callee && b->tcall.v[i].rp == rp)
			return 0;
	return PUSH(b->tcall, c);
}

static int rp_node(struct bld *b, uint32_t fi, uint64_t addr, uint32_t *out)
{
	uint32_t off = (uint32_t)(addr - b->img.base);

	*out = off_find(b, off);
	if (*out != VG_CFA_NONE)
		return 0;
	return new_node(b, off, fi, VG_CFA_N_RP, -1, out);
}

/* Explores from instruction START of function FI until the next sites; fills tsucc/tcall/tflags. */
static int walk(struct bld *b, uint32_t fi, long start)
{
	struct fn *f = &b->fns[fi];
	uint64_t lo = b->img.funcs[fi].addr, hi = lo + b->img.funcs[fi].size;
	uint32_t gen = ++b->gen;
	int rc = 0;

	b->tsucc.n = b->tcall.n = 0;
	b->tflags = 0;
	b->stack.n = 0;
	if (start >= 0 && (size_t)start < f->nins && (rc = PUSH(b->stack, start)))
		return rc;
	while (b->stack.n && !rc) {
		long i = b->stack.v[--b->stack.n];

		for (; i >= 0 && (size_t)i < f->nins && f->visit[i] != gen; i++) {
			struct ins *in = &f->ins[i];
			uint32_t rp, n;
			long g, t;

			f->visit[i] = gen;
			if (in->kind == I_HOOK) {
				n = off_find(b, (uint32_t)(in->addr + in->size - b->img.base));
				rc = n == VG_CFA_NONE ? -EINVAL : add_u32(b, n);
				break;
			}
			if (in->kind == I_CALL) {
				g = vg_cfa_elfimg_func_at(&b->img, in->target);
				if ((rc = rp_node(b, fi, in->addr + in->size, &rp)))
					break;
				if (g >= 0 && b->fns[g].instr) {
					rc = add_call(b, (uint32_t)g, rp);
					break;
				}
				rc = add_call(b, VG_CFA_CALL_EXTERNAL, rp);
				if (rc)
					break;
				continue;
			}
			if (in->kind == I_ICALL) {
				if ((rc = rp_node(b, fi, in->addr + in->size, &rp)) ||
				    (rc = add_call(b, VG_CFA_CALL_INDIRECT, rp)))
					break;
				continue; /* the target may be uninstrumented code that just returns
					   */
			}
			if (in->kind == I_JMP) {
				if (in->target >= lo && in->target < hi) {
					t = ins_at(f, in->target);
					if (t >= 0)
						rc = PUSH(b->stack, t);
					break;
				}
				g = vg_cfa_elfimg_func_at(&b->img, in->target);
				if (g >= 0 && b->fns[g].instr)
					rc = add_call(b, (uint32_t)g, VG_CFA_NONE);
				else
					b->tflags |= VG_CFA_N_CANRET;
				break;
			}
			if (in->kind == I_IJMP) {
				if (!in->njt) {
					b->tflags |= VG_CFA_N_IJMP | VG_CFA_N_CANRET;
					rc = add_call(b, VG_CFA_CALL_INDIRECT, VG_CFA_NONE);
					break;
				}
				for (uint32_t k = 0; k < in->njt && !rc; k++) {
					t = ins_at(f, b->jt.v[in->jt + k]);
					if (t >= 0)
						rc = PUSH(b->stack, t);
				}
				break;
			}
			if (in->kind == I_JCC) {
				t = ins_at(f, in->target);
				if (t >= 0 && (rc = PUSH(b->stack, t)))
					break;
				continue;
			}
			if (in->kind == I_RET) {
				b->tflags |= VG_CFA_N_CANRET;
				break;
			}
			if (in->kind == I_STOP)
				break;
		}
	}
	return rc;
}

static int commit_node(struct bld *b, uint32_t n)
{
	struct vg_cfa_node *x = &b->nodes.v[n];
	int rc = 0;

	x->succ = b->succ.n;
	x->nsucc = b->tsucc.n;
	x->call = b->calls.n;
	x->ncall = b->tcall.n;
	x->flags |= b->tflags;
	for (uint32_t i = 0; i < b->tsucc.n && !rc; i++)
		rc = PUSH(b->succ, b->tsucc.v[i]);
	for (uint32_t i = 0; i < b->tcall.n && !rc; i++)
		rc = PUSH(b->calls, b->tcall.v[i]);
	return rc;
}

static int find_sites(struct bld *b)
{
	int have_guard = 0, have_pc = 0, have_func = 0, rc;

	for (size_t fi = 0; fi < b->img.nfuncs; fi++) {
		struct fn *f = &b->fns[fi];

		for (size_t i = 0; i < f->nins; i++) {
			if (f->ins[i].kind == I_ENTERHOOK && f->ins[i].target == b->img.hook_enter)
				have_func = f->instr = 1;
			if (f->ins[i].kind != I_HOOK)
				continue;
			f->instr = 1;
			if (f->ins[i].target == b->img.hook_guard)
				have_guard = 1;
			else
				have_pc = 1;
		}
	}
	b->kind = have_guard  ? VG_RT_KIND_GUARD
		  : have_pc   ? VG_RT_KIND_PC
		  : have_func ? VG_RT_KIND_FUNC
			      : 0;
	for (size_t fi = 0; fi < b->img.nfuncs; fi++) {
		struct fn *f = &b->fns[fi];
		uint32_t n;

		if (!f->instr)
			continue;
		b->fflags[fi] |= VG_CFA_F_INSTR;
		if (b->kind == VG_RT_KIND_FUNC) {
			rc = new_node(b, (uint32_t)(b->img.funcs[fi].addr - b->img.base),
				      (uint32_t)fi, VG_CFA_N_SITE | VG_CFA_N_ENTRY, -1, &n);
			if (rc)
				return rc;
			continue;
		}
		for (size_t i = 0; i < f->nins; i++) {
			if (f->ins[i].kind != I_HOOK)
				continue;
			rc = new_node(b, (uint32_t)(f->ins[i].addr + f->ins[i].size - b->img.base),
				      (uint32_t)fi, VG_CFA_N_SITE, guard_index(b, f, i), &n);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Direct callees of every function and its entry sites. */
static int func_lists(struct bld *b)
{
	int rc = 0;

	for (size_t fi = 0; fi < b->img.nfuncs && !rc; fi++) {
		struct fn *f = &b->fns[fi];

		b->tsucc.n = 0;
		for (size_t i = 0; i < f->nins && !rc; i++) {
			const struct ins *in = &f->ins[i];
			long g = in->kind == I_CALL || in->kind == I_JMP
					 ? vg_cfa_elfimg_func_at(&b->img, in->target)
					 : -1;

			if (in->kind == I_ICALL)
				b->fflags[fi] |= VG_CFA_F_ICALL;
			if (g >= 0 && (size_t)g != fi && b->fns[g].instr)
				rc = add_u32(b, (uint32_t)g);
			else if (in->kind == I_CALL && g < 0)
				b->fflags[fi] |= VG_CFA_F_XCALL;
			else if (in->kind == I_CALL && !b->fns[g].instr)
				b->fflags[fi] |= VG_CFA_F_XCALL;
		}
		b->fcallee[fi] = b->lists.n;
		b->fncallee[fi] = b->tsucc.n;
		for (uint32_t i = 0; i < b->tsucc.n && !rc; i++)
			rc = PUSH(b->lists, b->tsucc.v[i]);
	}
	return rc;
}

static int entries(struct bld *b)
{
	int rc = 0;

	for (size_t fi = 0; fi < b->img.nfuncs && !rc; fi++) {
		b->fentry[fi] = b->lists.n;
		b->fnentry[fi] = 0;
		if (!b->fns[fi].instr)
			continue;
		if (b->kind == VG_RT_KIND_FUNC) {
			uint32_t n = off_find(b, (uint32_t)(b->img.funcs[fi].addr - b->img.base));

			rc = PUSH(b->lists, n);
			b->fnentry[fi] = 1;
			continue;
		}
		rc = walk(b, (uint32_t)fi, 0);
		for (uint32_t i = 0; i < b->tsucc.n && !rc; i++) {
			b->nodes.v[b->tsucc.v[i]].flags |= VG_CFA_N_ENTRY;
			rc = PUSH(b->lists, b->tsucc.v[i]);
		}
		b->fnentry[fi] = b->tsucc.n;
		if (!b->tsucc.n) {
			b->fns[fi].instr = 0;
			b->fflags[fi] &= ~VG_CFA_F_INSTR;
		}
	}
	return rc;
}

/* Function granularity: one node per call instruction, keyed by the call-site event the runtime
 * records before the callee's entry, listing what that call may reach. */
static int call_sites(struct bld *b)
{
	int rc = 0;

	for (size_t fi = 0; fi < b->img.nfuncs && !rc; fi++) {
		const struct fn *f = &b->fns[fi];

		if (!f->instr)
			continue;
		for (size_t i = 0; i < f->nins && !rc; i++) {
			const struct ins *in = &f->ins[i];
			uint32_t n, callee;
			long g;

			if (in->kind != I_CALL && in->kind != I_ICALL)
				continue;
			g = in->kind == I_CALL ? vg_cfa_elfimg_func_at(&b->img, in->target) : -1;
			callee = in->kind == I_ICALL	     ? VG_CFA_CALL_INDIRECT
				 : g >= 0 && b->fns[g].instr ? (uint32_t)g
							     : VG_CFA_CALL_EXTERNAL;
			rc = new_node(b,
				      (uint32_t)(in->addr + in->size - b->img.base) |
					      VG_RT_CALLSITE_BIT,
				      (uint32_t)fi, VG_CFA_N_SITE | VG_CFA_N_RP, -1, &n);
			b->tsucc.n = b->tcall.n = 0;
			b->tflags = 0;
			if (!rc)
				rc = add_call(b, callee, n);
			if (!rc)
				rc = commit_node(b, n);
		}
	}
	return rc;
}

static void scan_data_pointers(struct bld *b)
{
	for (size_t i = 0; i < b->img.nsecs; i++) {
		const struct elf_sec *s = &b->img.secs[i];

		/* clang's PC table lists every instrumented function: that is not taking its
		 * address */
		if (s->exec || !s->data || !strcmp(s->name, "__sancov_pcs"))
			continue;
		for (uint64_t o = 0; o + 8 <= s->size; o += 8) {
			uint64_t v;

			memcpy(&v, s->data + o, 8);
			mark_taken(b, v, -1);
		}
	}
	for (size_t i = 0; i < b->img.nrelative; i++)
		mark_taken(b, b->img.relative[i], -1);
}

static int build_graph(struct bld *b, struct vg_err *err)
{
	csh h;
	int rc = 0;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return vg_errf(err, EINVAL, "capstone: cannot open an x86-64 disassembler");
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	for (size_t fi = 0; fi < b->img.nfuncs && !rc; fi++)
		rc = disasm_fn(b, h, fi, err);
	cs_close(&h);
	if (rc)
		return rc;
	scan_data_pointers(b);
	rc = find_sites(b);
	if (!rc && !b->kind)
		return vg_errf(err, EINVAL,
			       "binary has no vigil instrumentation hooks (build it with "
			       "-fsanitize-coverage=trace-pc[-guard] or -finstrument-functions and "
			       "link libvigil-rt)");
	if (!rc)
		rc = func_lists(b);
	if (!rc)
		rc = entries(b);
	if (!rc && b->kind == VG_RT_KIND_FUNC)
		rc = call_sites(b);
	if (b->kind != VG_RT_KIND_FUNC)
		for (uint32_t n = 0; n < b->nodes.n && !rc; n++) {
			struct vg_cfa_node *x = &b->nodes.v[n];
			const struct fn *f = &b->fns[x->func];
			uint64_t va = (uint64_t)x->off + b->img.base;
			long i = ins_at(f, va);

			if (i < 0 && va == b->img.funcs[x->func].addr + b->img.funcs[x->func].size)
				i = (long)f->nins; /* call at the very end: nothing follows */
			rc = walk(b, x->func, i);
			if (!rc)
				rc = commit_node(b, n);
		}
	if (rc)
		return vg_errf(err, -rc, "building the site graph: %s", strerror(-rc));
	return 0;
}

void vg_cfa_bld_free(struct bld *b)
{
	for (size_t i = 0; b->fns && i < b->img.nfuncs; i++) {
		free(b->fns[i].ins);
		free(b->fns[i].visit);
	}
	free(b->fns);
	free(b->fflags);
	free(b->fentry);
	free(b->fnentry);
	free(b->fcallee);
	free(b->fncallee);
	free(b->nodes.v);
	free(b->succ.v);
	free(b->calls.v);
	free(b->lists.v);
	free(b->jt.v);
	free(b->tsucc.v);
	free(b->tcall.v);
	free(b->stack.v);
	free(b->sumback.v);
	free(b->offmap);
	vg_cfa_elfimg_close(&b->img);
}

int vg_cfa_bld_open(struct bld *b, const char *path, struct vg_err *err)
{
	size_t n;
	int rc;

	memset(b, 0, sizeof(*b));
	rc = vg_cfa_elfimg_open(&b->img, path, 1, err);
	if (rc)
		return rc;
	n = b->img.nfuncs;
	b->fns = calloc(n, sizeof(*b->fns));
	b->fflags = calloc(n, 4);
	b->fentry = calloc(n, 4);
	b->fnentry = calloc(n, 4);
	b->fcallee = calloc(n, 4);
	b->fncallee = calloc(n, 4);
	if (!b->fns || !b->fflags || !b->fentry || !b->fnentry || !b->fcallee || !b->fncallee)
		return vg_errf(err, ENOMEM, "out of memory");
	return build_graph(b, err);
}

int vg_cfa_elf_build_id(const char *elf_path, uint8_t id[32], uint32_t *len, struct vg_err *err)
{
	struct elfimg img;
	int rc = vg_cfa_elfimg_open(&img, elf_path, 0, err);

	if (rc)
		return rc;
	memcpy(id, img.build_id, 32);
	*len = img.build_id_len;
	vg_cfa_elfimg_close(&img);
	return 0;
}
