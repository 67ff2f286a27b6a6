/* SPDX-License-Identifier: MIT */
/*
 * Internal: a loaded x86-64 ELF image for the model builder - sections, function symbols, the
 * instrumentation hooks' addresses and read access by virtual address. Input is untrusted:
 * every read is bounds-checked against the section it falls in.
 */
#ifndef VIGIL_CFA_ELFIMG_H
#define VIGIL_CFA_ELFIMG_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/err.h"

struct elf_sec {
	uint64_t addr, size;
	const uint8_t *data; /* NULL for NOBITS */
	int exec, write;
	char name[32];
};

struct elf_sym {
	uint64_t addr, size;
	char *name;
};

struct elfimg {
	uint8_t *file;
	size_t len;
	struct elf_sec *secs;
	size_t nsecs;
	struct elf_sym *funcs; /* STT_FUNC with size, sorted by address, aliases removed */
	size_t nfuncs;
	uint64_t base;
	uint64_t hook_pc, hook_guard, hook_enter, hook_exit; /* 0 when absent */
	uint64_t guards_lo, guards_hi;			     /* __sancov_guards section */
	uint64_t *relative;				     /* R_X86_64_RELATIVE addends */
	size_t nrelative;
	uint8_t build_id[32];
	uint32_t build_id_len;
};

/* NEED_FUNCS: fail unless the ELF has function symbols (the model builder needs them). On
 * failure IMG is released. */
int vg_cfa_elfimg_open(struct elfimg *img, const char *path, int need_funcs, struct vg_err *err);
void vg_cfa_elfimg_close(struct elfimg *img);
/* Pointer to LEN bytes at virtual address VA inside one section, or NULL. */
const uint8_t *vg_cfa_elfimg_at(const struct elfimg *img, uint64_t va, size_t len);
/* Index of the function starting exactly at VA, or -1. */
long vg_cfa_elfimg_func_at(const struct elfimg *img, uint64_t va);

#endif
