// SPDX-License-Identifier: MIT
/*
 * Where AArch64 code reaches its globals. A position-independent kernel addresses a variable
 * with ADRP (the 4 KiB page, PC-relative) followed by an ADD of the low 12 bits or a load or
 * store with them as its offset (and the compiler folds field offsets into that immediate, or
 * into a pre-indexed load's writeback). This follows those pairs through one function with
 * capstone: a register holds a known address after ADRP, keeps it through ADD #imm and
 * pre-indexed writeback, and loses it when anything else writes it or a call may clobber it.
 * The addresses found are candidates only; callers check each against what the variable they
 * look for must be (src/vmi/linux/dsyms.c).
 *
 * The code is guest memory: capstone is bounded by the buffer, an undecodable word is skipped.
 */
#include <errno.h>
#include <string.h>

#include <capstone/capstone.h>

#include "vigil/arch.h"

#define NREGS 32

/* x0..x30 and their w aliases as one index; -1 for anything else (sp, xzr, vector regs). */
static int gpr(unsigned int reg)
{
	if (reg >= ARM64_REG_X0 && reg <= ARM64_REG_X28)
		return (int)(reg - ARM64_REG_X0);
	if (reg >= ARM64_REG_W0 && reg <= ARM64_REG_W30)
		return (int)(reg - ARM64_REG_W0);
	if (reg == ARM64_REG_X29)
		return 29;
	if (reg == ARM64_REG_X30)
		return 30;
	return -1;
}

struct regs {
	uint64_t v[NREGS];
	bool known[NREGS];
};

static void emit(uint64_t *out, int max, int *n, uint64_t a)
{
	if (*n < max)
		out[*n] = a;
	(*n)++;
}

static void step(const cs_insn *ci, struct regs *r, uint64_t *out, int max, int *n)
{
	const cs_arm64 *a = &ci->detail->arm64;
	int d = a->op_count ? (a->operands[0].type == ARM64_OP_REG ? gpr(a->operands[0].reg) : -1)
			    : -1;

	if (ci->id == ARM64_INS_ADRP && d >= 0 && a->op_count == 2 &&
	    a->operands[1].type == ARM64_OP_IMM) {
		r->v[d] = (uint64_t)a->operands[1].imm;
		r->known[d] = true;
		return;
	}
	if (ci->id == ARM64_INS_ADD && d >= 0 && a->op_count == 3 &&
	    a->operands[1].type == ARM64_OP_REG && a->operands[2].type == ARM64_OP_IMM) {
		int s = gpr(a->operands[1].reg);
		uint64_t imm = (uint64_t)a->operands[2].imm;

		if (a->operands[2].shift.type == ARM64_SFT_LSL)
			imm <<= a->operands[2].shift.value;
		if (s >= 0 && r->known[s]) {
			r->v[d] = r->v[s] + imm;
			emit(out, max, n, r->v[d]);
			return;
		}
	}
	for (int i = 0; i < a->op_count; i++) {
		const cs_arm64_op *op = &a->operands[i];
		int b = op->type == ARM64_OP_MEM ? gpr(op->mem.base) : -1;

		if (b < 0 || !r->known[b] || op->mem.index != ARM64_REG_INVALID)
			continue;
		emit(out, max, n, r->v[b] + (int64_t)op->mem.disp);
		if (a->writeback)
			r->v[b] += (int64_t)op->mem.disp;
	}
	if (ci->id == ARM64_INS_BL || ci->id == ARM64_INS_BLR) {
		/* the callee may clobber x0..x18 (x19..x28 are callee-saved) */
		for (int i = 0; i <= 18; i++)
			r->known[i] = false;
		return;
	}
	/* anything else that writes a register leaves it unknown */
	for (int i = 0; i < a->op_count; i++) {
		const cs_arm64_op *op = &a->operands[i];
		int w = op->type == ARM64_OP_REG ? gpr(op->reg) : -1;

		if (w >= 0 && (op->access & CS_AC_WRITE))
			r->known[w] = false;
	}
}

int vg_arm64_code_refs(const uint8_t *code, size_t len, uint64_t va, uint64_t *out, int max)
{
	struct regs r;
	cs_insn *ci;
	csh h;
	int n = 0;

	if (cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &h) != CS_ERR_OK)
		return -ENOEXEC;
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	ci = cs_malloc(h);
	if (!ci) {
		cs_close(&h);
		return -ENOMEM;
	}
	memset(&r, 0, sizeof(r));
	while (len >= 4) {
		if (!cs_disasm_iter(h, &code, &len, &va, ci)) {
			code += 4;
			len -= 4;
			va += 4;
			continue;
		}
		step(ci, &r, out, max, &n);
	}
	cs_free(ci, 1);
	cs_close(&h);
	return n < max ? n : max;
}
