/* SPDX-License-Identifier: MIT */
/*
 * Internal to the syscall model builder: one ELF module's extra views (sys_elf.c), its unwind
 * tables (sys_cfi.c) and its disassembly summary (sys_scan.c), assembled by sys_build.c.
 * Input files are the operator's, but are still read with every offset checked.
 */
#ifndef VIGIL_CFA_SYS_INT_H
#define VIGIL_CFA_SYS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elfimg.h"
#include "vigil/err.h"
#include "vigil/sysmodel.h"

struct sys_load {
	uint64_t vaddr, memsz, off, filesz;
};

struct sys_name {
	uint64_t addr;
	char *name;
};

struct sys_cie {
	uint64_t code_align;
	int64_t data_align;
	size_t ins, ins_len; /* initial instructions: offsets in .eh_frame */
	uint8_t enc;	     /* FDE pointer encoding */
	bool sigframe;
};

struct sys_fde {
	uint64_t lo, hi;
	size_t ins, ins_len;
	uint32_t cie;
};

struct sys_elf {
	struct elfimg img;
	struct sys_load *loads;
	size_t nloads;
	struct sys_name *exports; /* defined functions in .dynsym, sorted by name */
	size_t nexports;
	struct sys_name *imports; /* GOT slot address -> symbol, sorted by address */
	size_t nimports;
	char **needed;
	size_t nneeded;
	char *runpath, *interp;
	const uint8_t *eh; /* .eh_frame */
	uint64_t eh_addr;
	size_t eh_len;
	struct sys_cie *cies;
	size_t ncies;
	struct sys_fde *fdes; /* sorted by lo */
	size_t nfdes;
};

int vg_sys_elf_open(struct sys_elf *e, const char *path, struct vg_err *err);
void vg_sys_elf_close(struct sys_elf *e);
/* File offset of virtual address VA, or -1 when no PT_LOAD maps it from the file. */
int64_t vg_sys_elf_off(const struct sys_elf *e, uint64_t va);
/* The export NAME's address, or 0. */
uint64_t vg_sys_elf_export(const struct sys_elf *e, const char *name);
/* The import whose GOT slot is at SLOT, or NULL. */
const char *vg_sys_elf_import(const struct sys_elf *e, uint64_t slot);

/* .eh_frame (sys_cfi.c) */
int vg_sys_cfi_parse(struct sys_elf *e, struct vg_err *err);
/* Bytes from the stack pointer to the return address at PC inside F, or -1 when the frame is
 * not addressed from the stack pointer there. */
int vg_sys_cfi_depth(const struct sys_elf *e, const struct sys_fde *f, uint64_t pc);

/* One module's disassembly summary (sys_scan.c): everything in virtual addresses. */
struct sys_fn {
	uint64_t lo, hi;
	const char *name; /* borrowed from the ELF's symbols, or NULL */
	int64_t fde;	  /* index in fdes, -1 */
	bool has_sys;
};

struct sys_sc {
	uint64_t ip; /* address after the syscall instruction */
	uint32_t fn;
	int depth;
	uint16_t nr;
	bool sigframe;
};

enum sys_tgt_kind { SYS_T_LOCAL, SYS_T_IMPORT, SYS_T_INDIRECT };

struct sys_call {
	uint64_t rp;	    /* return address (calls) */
	uint32_t fn;	    /* caller */
	uint8_t kind;	    /* enum sys_tgt_kind */
	bool tail;	    /* a jump out of the function, not a call */
	uint64_t target;    /* local target address */
	const char *import; /* import name (borrowed) */
};

struct sys_scan {
	struct sys_fn *fns;
	size_t nfns;
	struct sys_sc *scs;
	size_t nscs;
	struct sys_call *calls;
	size_t ncalls;
	struct sys_name *plt; /* PLT stub address -> import name (borrowed) */
	size_t nplt;
};

int vg_sys_scan_module(const struct sys_elf *e, struct sys_scan *s, struct vg_err *err);
void vg_sys_scan_free(struct sys_scan *s);
/* Index of the function containing VA, or -1. */
long vg_sys_scan_fn_at(const struct sys_scan *s, uint64_t va);

#endif
