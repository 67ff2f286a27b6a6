// SPDX-License-Identifier: MIT
/*
 * The syscall dispatchers. x86-64 kernels since 6.9, and stable kernels it was backported to
 * (Debian's 6.1.y included), dispatch system calls through a generated switch in
 * x64_sys_call (and x32_sys_call, ia32_sys_call) rather than through sys_call_table: each case
 * is a direct jmp or call to its __x64_sys_* handler. A rootkit that rewrites one of those
 * branches redirects a syscall without touching any table. We disassemble each dispatcher
 * (bounded by the next kallsyms symbol and a cap) with capstone and keep every direct branch
 * that leaves the function for something other than a syscall handler.
 *
 * The bytes are guest data: capstone is bounded by the buffer; an undecodable byte is skipped
 * one at a time, so a hostile dispatcher cannot stop the walk short of its end.
 */
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>

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

	for (; q && q < ks->syms + ks->count; q++)
		if (q->addr > fn)
			return q->addr - fn < DISPATCH_MAX_BYTES ? q->addr - fn
								 : DISPATCH_MAX_BYTES;
	return 0;
}

static void add_edge(struct vg_linux *lx, struct vg_snapshot *s, const char *func, uint64_t site,
		     uint64_t target, const char *mnemonic)
{
	const struct vg_ksym *at = vg_kallsyms_near(&lx->ksyms, target);
	struct vg_dispatch_edge *e;

	if (at && at->addr == target && handler_name(vg_ksym_name(&lx->ksyms, at)))
		return;
	if (s->ndispatch >= VG_IDS_MAX_DISPATCH)
		return;
	e = &s->dispatch[s->ndispatch++];
	memset(e, 0, sizeof(*e));
	e->func = func;
	e->site = site;
	e->target = target;
	snprintf(e->insn, sizeof(e->insn), "%.15s", mnemonic);
	if (at && at->addr == target)
		snprintf(e->sym, sizeof(e->sym), "%s", vg_ksym_name(&lx->ksyms, at));
	else if (target)
		vg_ids_symoff(lx, target, e->sym, sizeof(e->sym));
	snprintf(e->owner, sizeof(e->owner), "%s", vg_ids_owner(s, target));
}

static int check_one(struct vg_linux *lx, csh h, cs_insn *ci, struct vg_snapshot *s,
		     const char *func)
{
	uint64_t fn, size, addr;
	const uint8_t *p;
	uint8_t *code;
	size_t left;

	if (vg_linux_sym(lx, func, &fn))
		return 0; /* this kernel has no such dispatcher */
	size = func_size(lx, fn);
	code = size ? malloc(size) : NULL;
	if (!code || vg_as_read(&lx->kas, fn, code, size)) {
		free(code);
		return -1;
	}
	p = code;
	left = size;
	addr = fn;
	while (left) {
		const cs_x86 *x;

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
		s->dispatch_branches++;
		/* the ftrace site at the entry (after an endbr64) may call a tracer trampoline;
		 * the text view checks ftrace sites */
		if (cs_insn_group(h, ci, CS_GRP_CALL) && ci->address - fn <= 4)
			continue;
		if ((uint64_t)x->operands[0].imm >= fn && (uint64_t)x->operands[0].imm < fn + size)
			continue;
		add_edge(lx, s, func, ci->address, (uint64_t)x->operands[0].imm, ci->mnemonic);
	}
	free(code);
	return 0;
}

void vg_ids_gather_dispatch(struct vg_linux *lx, struct vg_snapshot *s)
{
	cs_insn *ci;
	csh h;
	int bad = 0;

	s->dispatch = calloc(VG_IDS_MAX_DISPATCH, sizeof(*s->dispatch));
	if (!s->dispatch || cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) {
		vg_ids_note(s, "syscall dispatcher: no disassembler");
		return;
	}
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	ci = cs_malloc(h);
	for (size_t i = 0; ci && i < sizeof(dispatchers) / sizeof(dispatchers[0]); i++)
		bad |= check_one(lx, h, ci, s, dispatchers[i]);
	if (ci)
		cs_free(ci, 1);
	cs_close(&h);
	if (!ci || bad)
		vg_ids_note(s, "syscall dispatcher unreadable");
	else
		s->have_dispatch = true;
}
