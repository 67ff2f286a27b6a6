// SPDX-License-Identifier: MIT
/*
 * .eh_frame: the compiler's own account of every function's extent and, instruction by
 * instruction, where its frame is (the CFA). Two things come from it: function boundaries for
 * code without symbols (Debian's libc has only .dynsym), and the stack depth of the return
 * address at each syscall instruction (CFA = rsp + N -> the return address is at rsp + N - 8),
 * which tells the gateway which stack word the device must report as the call site. Only the
 * CFA rule is interpreted; register rules are skipped. Every read is bounded by its record.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sys_int.h"

#define DW_EH_PE_omit 0xff
#define DW_EH_PE_pcrel 0x10
#define REG_RSP 7
#define MAX_STATE 16
#define MAX_RECORDS (1u << 22)

struct cur {
	const uint8_t *p;
	size_t off, end;
	int bad;
};

static uint64_t rd(struct cur *c, size_t n)
{
	uint64_t v = 0;

	if (c->bad || n > c->end - c->off) {
		c->bad = 1;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)c->p[c->off + i] << (8 * i);
	c->off += n;
	return v;
}

static uint64_t uleb(struct cur *c)
{
	uint64_t v = 0;

	for (int s = 0; s < 64; s += 7) {
		uint8_t b = (uint8_t)rd(c, 1);

		v |= (uint64_t)(b & 0x7f) << s;
		if (!(b & 0x80) || c->bad)
			return v;
	}
	c->bad = 1;
	return 0;
}

static int64_t sleb(struct cur *c)
{
	uint64_t v = 0;
	int s = 0;
	uint8_t b;

	do {
		if (s >= 64) {
			c->bad = 1;
			return 0;
		}
		b = (uint8_t)rd(c, 1);
		v |= (uint64_t)(b & 0x7f) << s;
		s += 7;
	} while ((b & 0x80) && !c->bad);
	if (s < 64 && (b & 0x40))
		v |= ~0ull << s;
	return (int64_t)v;
}

/* An encoded pointer; PC is the address the field itself sits at (for pcrel). */
static uint64_t enc_ptr(struct cur *c, uint8_t enc, uint64_t pc)
{
	uint64_t v;

	if (enc == DW_EH_PE_omit)
		return 0;
	switch (enc & 0x0f) {
	case 0x00:
		v = rd(c, 8);
		break;
	case 0x01:
		v = uleb(c);
		break;
	case 0x02:
		v = rd(c, 2);
		break;
	case 0x03:
		v = rd(c, 4);
		break;
	case 0x04:
		v = rd(c, 8);
		break;
	case 0x09:
		v = (uint64_t)sleb(c);
		break;
	case 0x0a:
		v = (uint64_t)(int64_t)(int16_t)rd(c, 2);
		break;
	case 0x0b:
		v = (uint64_t)(int64_t)(int32_t)rd(c, 4);
		break;
	case 0x0c:
		v = rd(c, 8);
		break;
	default:
		c->bad = 1;
		return 0;
	}
	if ((enc & 0x70) == DW_EH_PE_pcrel)
		v += pc;
	return v;
}

static int parse_cie(const struct sys_elf *e, struct cur *c, struct sys_cie *cie)
{
	const char *aug;
	size_t auglen;
	uint8_t version = (uint8_t)rd(c, 1);

	memset(cie, 0, sizeof(*cie));
	cie->enc = 0;
	aug = (const char *)c->p + c->off;
	auglen = strnlen(aug, c->end - c->off);
	if (auglen == c->end - c->off)
		return -1;
	c->off += auglen + 1;
	if (version == 4)
		rd(c, 2); /* address and segment size */
	cie->code_align = uleb(c);
	cie->data_align = sleb(c);
	if (version == 1)
		rd(c, 1);
	else
		uleb(c);
	if (aug[0] == 'z') {
		uint64_t len = uleb(c);
		size_t end;

		if (c->bad || len > c->end - c->off)
			return -1;
		end = c->off + len;
		for (size_t i = 1; i < auglen && !c->bad; i++) {
			switch (aug[i]) {
			case 'R':
				cie->enc = (uint8_t)rd(c, 1);
				break;
			case 'P': {
				uint8_t penc = (uint8_t)rd(c, 1);

				enc_ptr(c, penc & 0x7f, e->eh_addr + c->off);
				break;
			}
			case 'L':
				rd(c, 1);
				break;
			case 'S':
				cie->sigframe = true;
				break;
			default:
				i = auglen; /* unknown: the length lets us skip the rest */
			}
		}
		c->off = end;
	} else if (auglen) {
		return -1; /* without 'z' an unknown augmentation cannot be skipped */
	}
	cie->ins = c->off;
	cie->ins_len = c->end - c->off;
	return c->bad ? -1 : 0;
}

static int cmp_fde(const void *a, const void *b)
{
	const struct sys_fde *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* CIE index for the CIE at offset OFF, parsing it the first time. */
static long cie_at(struct sys_elf *e, size_t off, size_t **offs, size_t *cap)
{
	struct cur c = { .p = e->eh, .off = off, .end = e->eh_len };
	uint64_t len;
	struct sys_cie cie;

	for (size_t i = 0; i < e->ncies; i++)
		if ((*offs)[i] == off)
			return (long)i;
	len = rd(&c, 4);
	if (c.bad || len == 0xffffffff || len < 4 || len > c.end - c.off)
		return -1;
	c.end = c.off + len;
	if (rd(&c, 4) != 0 || parse_cie(e, &c, &cie))
		return -1;
	if (e->ncies == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		void *p = realloc(e->cies, nc * sizeof(*e->cies)), *q;

		if (!p)
			return -2;
		e->cies = p;
		q = realloc(*offs, nc * sizeof(**offs));
		if (!q)
			return -2;
		*offs = q;
		*cap = nc;
	}
	e->cies[e->ncies] = cie;
	(*offs)[e->ncies] = off;
	return (long)e->ncies++;
}

int vg_sys_cfi_parse(struct sys_elf *e, struct vg_err *err)
{
	size_t off = 0, fcap = 0, ccap = 0, *cieoffs = NULL;
	uint32_t records = 0;

	while (e->eh && off + 4 <= e->eh_len && records++ < MAX_RECORDS) {
		struct cur c = { .p = e->eh, .off = off, .end = e->eh_len };
		uint64_t len = rd(&c, 4), id;
		size_t body;
		long ci;

		if (len == 0)
			break; /* the terminator */
		if (len == 0xffffffff || len > c.end - c.off)
			break; /* 64-bit or truncated records: none in x86-64 .eh_frame */
		body = c.off;
		c.end = body + len;
		off = c.end;
		id = rd(&c, 4);
		if (id == 0 || c.bad || id > body)
			continue; /* a CIE, read when an FDE names it */
		ci = cie_at(e, body - id, &cieoffs, &ccap);
		if (ci == -2) {
			free(cieoffs);
			return vg_errf(err, ENOMEM, "out of memory");
		}
		if (ci < 0)
			continue;
		{
			uint8_t enc = e->cies[ci].enc;
			uint64_t lo = enc_ptr(&c, enc, e->eh_addr + c.off);
			uint64_t range = enc_ptr(&c, enc & 0x0f, 0);
			struct sys_fde *f;

			if (c.bad || !range || lo + range < lo)
				continue;
			if (e->cies[ci].code_align == 0)
				continue;
			/* 'z' augmentation data of the FDE */
			uleb(&c);
			if (c.bad)
				continue;
			if (e->nfdes == fcap) {
				size_t nc = fcap ? fcap * 2 : 256;
				void *p = realloc(e->fdes, nc * sizeof(*e->fdes));

				if (!p) {
					free(cieoffs);
					return vg_errf(err, ENOMEM, "out of memory");
				}
				e->fdes = p;
				fcap = nc;
			}
			f = &e->fdes[e->nfdes++];
			f->lo = lo;
			f->hi = lo + range;
			f->ins = c.off;
			f->ins_len = c.end - c.off;
			f->cie = (uint32_t)ci;
		}
	}
	free(cieoffs);
	qsort(e->fdes, e->nfdes, sizeof(*e->fdes), cmp_fde);
	return 0;
}

struct cfa {
	uint64_t reg;
	int64_t off;
	bool expr;
};

/* Runs one instruction stream until the location passes PC; 1 when it did. */
static int run(const struct sys_elf *e, const struct sys_cie *cie, size_t ins, size_t len,
	       uint64_t *loc, uint64_t pc, struct cfa *cfa, struct cfa *stack, int *sp,
	       const struct cfa *initial)
{
	struct cur c = { .p = e->eh, .off = ins, .end = ins + len };

	while (c.off < c.end && !c.bad) {
		uint8_t op = (uint8_t)rd(&c, 1), lo = op & 0x3f;
		uint64_t adv = 0;

		switch (op >> 6) {
		case 1:
			adv = lo;
			break;
		case 2:
			uleb(&c);
			continue;
		case 3:
			continue;
		}
		if (op >> 6 == 0) {
			switch (lo) {
			case 0x00:
				break;
			case 0x01:
				return 1; /* DW_CFA_set_loc: absolute, rare in .eh_frame: stop */
			case 0x02:
				adv = rd(&c, 1);
				break;
			case 0x03:
				adv = rd(&c, 2);
				break;
			case 0x04:
				adv = rd(&c, 4);
				break;
			case 0x05: /* offset_extended */
			case 0x09: /* register */
			case 0x14: /* val_offset */
			case 0x2f: /* GNU_negative_offset_extended */
				uleb(&c);
				uleb(&c);
				break;
			case 0x06: /* restore_extended */
			case 0x07: /* undefined */
			case 0x08: /* same_value */
			case 0x2e: /* GNU_args_size */
				uleb(&c);
				break;
			case 0x0a:
				if (*sp < MAX_STATE)
					stack[(*sp)++] = *cfa;
				break;
			case 0x0b:
				if (*sp > 0)
					*cfa = stack[--(*sp)];
				else
					*cfa = *initial;
				break;
			case 0x0c:
				cfa->reg = uleb(&c);
				cfa->off = (int64_t)uleb(&c);
				cfa->expr = false;
				break;
			case 0x0d:
				cfa->reg = uleb(&c);
				cfa->expr = false;
				break;
			case 0x0e:
				cfa->off = (int64_t)uleb(&c);
				break;
			case 0x0f: {
				uint64_t n = uleb(&c);

				if (n > c.end - c.off)
					return 1;
				c.off += n;
				cfa->expr = true;
				break;
			}
			case 0x10:   /* expression */
			case 0x16: { /* val_expression */
				uint64_t n;

				uleb(&c);
				n = uleb(&c);
				if (n > c.end - c.off)
					return 1;
				c.off += n;
				break;
			}
			case 0x11: /* offset_extended_sf */
			case 0x15: /* val_offset_sf */
				uleb(&c);
				sleb(&c);
				break;
			case 0x12:
				cfa->reg = uleb(&c);
				cfa->off = sleb(&c) * cie->data_align;
				cfa->expr = false;
				break;
			case 0x13:
				cfa->off = sleb(&c) * cie->data_align;
				break;
			default:
				return 1; /* unknown: stop where we are */
			}
		}
		if (adv) {
			*loc += adv * cie->code_align;
			if (*loc > pc)
				return 1;
		}
	}
	return 0;
}

int vg_sys_cfi_depth(const struct sys_elf *e, const struct sys_fde *f, uint64_t pc)
{
	const struct sys_cie *cie = &e->cies[f->cie];
	struct cfa cfa = { 0 }, initial, stack[MAX_STATE];
	uint64_t loc = f->lo;
	int sp = 0;

	if (pc < f->lo || pc >= f->hi || cie->sigframe)
		return -1;
	run(e, cie, cie->ins, cie->ins_len, &loc, UINT64_MAX, &cfa, stack, &sp, &cfa);
	initial = cfa;
	loc = f->lo;
	run(e, cie, f->ins, f->ins_len, &loc, pc, &cfa, stack, &sp, &initial);
	if (cfa.expr || cfa.reg != REG_RSP || cfa.off < 8 || cfa.off > 0x7fff)
		return -1;
	return (int)(cfa.off - 8);
}
