/* SPDX-License-Identifier: MIT */
/*
 * Syscall model: which code may make which system calls, called from where, for one program
 * and the libraries it loads. Built statically from the ELF files with capstone and their
 * unwind tables (src/cfa/sys_build.c, sys_scan.c, sys_cfi.c) and refined by training on
 * recordings of clean runs (src/cfa/sys_verify.c).
 *
 * Static part, per module (an ELF file, identified by build id or content hash):
 *   syscall instructions: where (file offset just after the instruction, as the kernel
 *     reports the instruction pointer), the function holding it, the syscall number when an
 *     immediate sets it (else any), and the stack depth at which the function's return address
 *     lies when it executes (from .eh_frame), or unknown;
 *   call sites: return addresses (file offsets) of calls whose target, directly or through
 *     tail jumps, PLT stubs and imports resolved across modules, is a function holding syscall
 *     instructions; and indirect call sites.
 *   So "call site C reaches syscall S" when S's function is in C's list: the automaton's
 *   edges from a call site to the syscalls it may make.
 * Trained part: the set of syscall tuples seen (code, call site, number, argument kinds, and
 * for exec the path), the set of transitions between consecutive tuples of a thread, and
 * which files were executed.
 *
 * The file is one little-endian blob (magic "VGSYSMD1"); vg_sys_model_from_buf() checks
 * every count, offset, index and sort order, so a model from an untrusted place cannot make
 * the verifier read out of bounds (fuzzed by tests/fuzz/fuzz_sysmodel.c).
 */
#ifndef VIGIL_SYSMODEL_H
#define VIGIL_SYSMODEL_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/err.h"

#define VG_SYS_MODEL_VERSION 1u
#define VG_SYS_NONE 0xffffffffu
#define VG_SYS_ANY_NR 0xffffu
#define VG_SYS_DEPTH_UNKNOWN (-1)
#define VG_SYS_MAX_MODULES 4096u
#define VG_SYS_MAX_ITEMS (1u << 26)

enum vg_sys_mod_flags {
	VG_SYS_MOD_MAIN = 1u << 0,     /* the program itself */
	VG_SYS_MOD_ANALYSED = 1u << 1, /* static tables present (else trained only) */
};

enum vg_sys_insn_flags {
	VG_SYS_I_SIGFRAME = 1u << 0, /* in a signal trampoline: no caller to check */
};

enum vg_sys_site_flags {
	VG_SYS_S_INDIRECT = 1u << 0, /* an indirect call: any syscall-making function */
};

enum vg_sys_model_flags {
	VG_SYS_M_TRAINED = 1u << 0,
};

struct vg_sys_mod {
	uint8_t idkind, idlen, pad[2];
	uint8_t id[32];
	uint32_t name; /* string table offset */
	uint32_t flags;
	uint32_t func, nfunc; /* ranges in the tables below */
	uint32_t insn, ninsn;
	uint32_t site, nsite;
};

struct vg_sys_func {
	uint32_t mod;
	uint32_t lo, hi; /* file offsets */
	uint32_t name;
};

struct vg_sys_insn {
	uint32_t off;  /* file offset of the instruction after the syscall instruction */
	uint32_t func; /* global function index */
	int16_t depth; /* bytes from the stack pointer to the return address, or -1 */
	uint16_t nr;   /* VG_SYS_ANY_NR when not a known immediate */
	uint32_t flags;
};

struct vg_sys_site {
	uint32_t off;	      /* file offset of the return address */
	uint32_t list, nlist; /* functions (with syscalls) the call may reach, in lists[] */
	uint32_t flags;
};

struct vg_sys_model {
	uint32_t flags;
	const struct vg_sys_mod *mods;
	uint32_t nmods;
	const struct vg_sys_func *funcs;
	uint32_t nfuncs;
	const struct vg_sys_insn *insns; /* per module, sorted by off */
	uint32_t ninsns;
	const struct vg_sys_site *sites; /* per module, sorted by off */
	uint32_t nsites;
	const uint32_t *lists;
	uint32_t nlists;
	const uint64_t *tuples; /* sorted: trained syscall tuples */
	uint32_t ntuples;
	const uint64_t *trans; /* sorted: trained transitions */
	uint32_t ntrans;
	const uint64_t *execs; /* sorted: identities (vg_sys_ident_hash) of executed files */
	uint32_t nexecs;
	const char *strs;
	uint32_t nstrs;
	void *map; /* owned mapping or allocation */
	size_t maplen;
	int mapped;
};

struct vg_sys_build_opts {
	const char *const *libs; /* extra modules (dlopen'ed plugins, executed helpers) */
	size_t nlibs;
	const char *sysroot; /* where the device's / is on this host, or NULL */
};

int vg_sys_model_build(struct vg_sys_model *m, const char *binary,
		       const struct vg_sys_build_opts *o, struct vg_err *err);
int vg_sys_model_load(struct vg_sys_model *m, const char *path, struct vg_err *err);
int vg_sys_model_from_buf(struct vg_sys_model *m, const void *buf, size_t len, struct vg_err *err);
int vg_sys_model_serialize(const struct vg_sys_model *m, void **buf, size_t *len,
			   struct vg_err *err);
int vg_sys_model_save(const struct vg_sys_model *m, const char *path, struct vg_err *err);
void vg_sys_model_free(struct vg_sys_model *m);

/* A module's identity folded to 64 bits (trained tuples and executed files refer to it). */
uint64_t vg_sys_ident_hash(uint8_t idkind, const uint8_t *id, uint8_t idlen);
/* The model's module with this identity, or VG_SYS_NONE. */
uint32_t vg_sys_find_mod(const struct vg_sys_model *m, uint8_t idkind, const uint8_t *id,
			 uint8_t idlen);
/* Module MOD's syscall instruction / call site at file offset OFF, or NULL. */
const struct vg_sys_insn *vg_sys_find_insn(const struct vg_sys_model *m, uint32_t mod,
					   uint64_t off);
const struct vg_sys_site *vg_sys_find_site(const struct vg_sys_model *m, uint32_t mod,
					   uint64_t off);
const char *vg_sys_str(const struct vg_sys_model *m, uint32_t off);
int vg_sys_sorted_has(const uint64_t *a, uint32_t n, uint64_t key);

#endif
