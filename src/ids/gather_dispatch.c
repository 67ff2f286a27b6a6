// SPDX-License-Identifier: MIT
/*
 * The syscall dispatchers. x86-64 kernels since 6.9, and stable kernels it was backported to
 * (Debian's 6.1.y included), dispatch system calls through a generated switch in
 * x64_sys_call (and x32_sys_call, ia32_sys_call) rather than through sys_call_table: each case
 * is a direct jmp or call to its __x64_sys_* handler. A rootkit that rewrites one of those
 * branches redirects a syscall without touching any table. We disassemble each dispatcher
 * (bounded by the next kallsyms symbol and a cap) with capstone and keep every direct branch
 * that leaves the function for something other than a syscall handler. The branches of a
 * body seen before come from dispatch_memo.c, byte-for-byte checked, without capstone.
 *
 * The bytes are guest data: capstone is bounded by the buffer; an undecodable byte is skipped
 * one at a time, so a hostile dispatcher cannot stop the walk short of its end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>

#include "dispatch_memo.h"
#include "gather_int.h"

#define DISPATCH_MAX_BYTES (64u << 10)

static const char *const dispatchers[] = { "x64_sys_call", "x32_sys_call", "ia32_sys_call" };

/* Where a dispatcher may branch: syscall handlers, the "not implemented" handler, and the
 * compiler's thunks (return thunk, retpolines, stack protector). */
static bool handler_name(const char *n)
{
	static const char *const ok[] = {
		"__x64_sys_",	      "__ia32_sys_",	       "__ia32_compat_sys_",
		"__x32_compat_sys_",  "__x64_compat_sys_",     "sys_ni_syscall",
		"__x86_return_thunk", "__x86_indirect_thunk_", "__x86_indirect_call_thunk_",
		"__stack_chk_fail"
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strncmp(n, ok[i], strlen(ok[i])))
			return true;
	return false;
}

static uint64_t func_size(struct vg_linux *lx, uint64_t fn)
{
	const struct vg_kallsyms *ks = &lx->ksyms;
	const struct vg_ksym *q = vg_kallsyms_near(ks, fn);

	for (; q && q < ks->syms + ks->count; q++) {
		uint64_t a = vg_ksym_addr(ks, q);

		if (a > fn)
			return a - fn < DISPATCH_MAX_BYTES ? a - fn : DISPATCH_MAX_BYTES;
	}
	return 0;
}

static void add_edge(struct vg_linux *lx, struct vg_snapshot *s, const char *func, uint64_t site,
		     uint64_t target, const char *mnemonic)
{
	const struct vg_ksym *at = vg_kallsyms_near(&lx->ksyms, target);
	struct vg_dispatch_edge *e;

	if (at && vg_ksym_addr(&lx->ksyms, at) == target &&
	    handler_name(vg_ksym_name(&lx->ksyms, at)))
		return;
	if (s->ndispatch >= VG_IDS_MAX_DISPATCH)
		return;
	e = &s->dispatch[s->ndispatch++];
	memset(e, 0, sizeof(*e));
	e->func = func;
	e->site = site;
	e->target = target;
	snprintf(e->insn, sizeof(e->insn), "%.15s", mnemonic);
	if (at && vg_ksym_addr(&lx->ksyms, at) == target)
		snprintf(e->sym, sizeof(e->sym), "%s", vg_ksym_name(&lx->ksyms, at));
	else if (target)
		vg_ids_symoff(lx, target, e->sym, sizeof(e->sym));
	snprintf(e->owner, sizeof(e->owner), "%s", vg_ids_owner(s, target));
}

/* Every direct branch in CODE (the function at FN), by capstone. An undecodable byte is
 * skipped alone, so a hostile body cannot end the walk early. */
static int decode(csh h, cs_insn *ci, const uint8_t *code, size_t size, uint64_t fn,
		  struct dm_branch **out, size_t *n)
{
	const uint8_t *p = code;
	size_t left = size, cap = 0;
	uint64_t addr = fn;

	*out = NULL;
	*n = 0;
	while (left) {
		const cs_x86 *x;
		struct dm_branch *b;

		if (!cs_disasm_iter(h, &p, &left, &addr, ci)) {
			p++;
			left--;
			addr++;
			continue;
		}
		if (!cs_insn_group(h, ci, CS_GRP_JUMP) && !cs_insn_group(h, ci, CS_GRP_CALL))
			continue;
		x = &ci->detail->x86;
		if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
			continue; /* indirect: the switch compiles to direct branches only */
		if (*n == cap) {
			void *q;

			if (cap >= DM_MAX_BRANCHES)
				return -E2BIG;
			cap = cap ? cap * 2 : 1024;
			q = realloc(*out, cap * sizeof(**out));
			if (!q)
				return -ENOMEM;
			*out = q;
		}
		b = &(*out)[(*n)++];
		memset(b, 0, sizeof(*b));
		b->off = (uint32_t)(ci->address - fn);
		b->target = (int64_t)((uint64_t)x->operands[0].imm - fn);
		b->is_call = cs_insn_group(h, ci, CS_GRP_CALL);
		snprintf(b->mnemonic, sizeof(b->mnemonic), "%.18s", ci->mnemonic);
	}
	return 0;
}

/* The disassembler, opened on the first memo miss only: a kernel seen before needs none. */
struct disasm {
	csh h;
	cs_insn *ci;
	bool tried;
};

static int branches_of(struct vg_linux *lx, struct disasm *d, const uint8_t *code, size_t size,
		       uint64_t fn, struct dm_branch **v, size_t *n)
{
	int ret;

	if (!vg_dispatch_memo_load(lx, code, size, v, n))
		return 0;
	if (!d->tried) {
		d->tried = true;
		if (cs_open(CS_ARCH_X86, CS_MODE_64, &d->h) == CS_ERR_OK) {
			cs_option(d->h, CS_OPT_DETAIL, CS_OPT_ON);
			d->ci = cs_malloc(d->h);
		}
	}
	if (!d->ci)
		return -ENOEXEC;
	ret = decode(d->h, d->ci, code, size, fn, v, n);
	if (ret) {
		free(*v);
		return ret;
	}
	vg_dispatch_memo_store(lx, code, size, *v, *n);
	return 0;
}

static int check_one(struct vg_linux *lx, struct disasm *d, struct vg_snapshot *s, const char *func)
{
	struct dm_branch *v = NULL;
	uint64_t fn, size;
	uint8_t *code;
	size_t n = 0;
	int ret;

	if (vg_linux_sym(lx, func, &fn))
		return 0; /* this kernel has no such dispatcher */
	size = func_size(lx, fn);
	code = size ? malloc(size) : NULL;
	if (!code || vg_as_read(&lx->kas, fn, code, size)) {
		free(code);
		return -EFAULT;
	}
	ret = branches_of(lx, d, code, size, fn, &v, &n);
	free(code);
	if (ret)
		return ret;
	for (size_t i = 0; i < n; i++) {
		uint64_t site = fn + v[i].off, target = fn + (uint64_t)v[i].target;

		s->dispatch_branches++;
		/* the ftrace site at the entry (after an endbr64) may call a tracer trampoline;
		 * the text view checks ftrace sites */
		if (v[i].is_call && v[i].off <= 4)
			continue;
		if (target >= fn && target < fn + size)
			continue;
		add_edge(lx, s, func, site, target, v[i].mnemonic);
	}
	free(v);
	return 0;
}

void vg_ids_gather_dispatch(struct vg_linux *lx, struct vg_snapshot *s)
{
	struct disasm d = { 0 };
	int ret = 0;

	s->dispatch = calloc(VG_IDS_MAX_DISPATCH, sizeof(*s->dispatch));
	if (!s->dispatch)
		return;
	if (lx->arch == VG_ARCH_ARM64) {
		vg_ids_gather_dispatch_arm64(lx, s);
		return;
	}
	for (size_t i = 0; i < sizeof(dispatchers) / sizeof(dispatchers[0]); i++) {
		int r = check_one(lx, &d, s, dispatchers[i]);

		ret = ret ? ret : r;
	}
	if (d.ci)
		cs_free(d.ci, 1);
	if (d.tried && d.h)
		cs_close(&d.h);
	if (ret == -ENOEXEC)
		vg_ids_note(s, "syscall dispatcher: no disassembler");
	else if (ret)
		vg_ids_note(s, "syscall dispatcher unreadable");
	else
		s->have_dispatch = true;
}
