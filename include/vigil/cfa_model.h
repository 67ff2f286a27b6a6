/* SPDX-License-Identifier: MIT */
/*
 * CFA reference model: the control-flow graph of one instrumented x86-64 ELF, expressed over the
 * runtime's event ids (include/vigil/rt.h), plus what training and the operator add.
 *
 * Nodes are either event sites (one per instrumentation call; its event value is the call's
 * return address minus the load base) or return points (the instruction after a call, never
 * recorded). Each node lists the sites reachable from it without passing another site (succ,
 * VG_CFA_SUCC_BACK marks loop back edges), the calls it may make before the next site (callee
 * function, return-point node), and whether it may return (VG_CFA_N_CANRET).
 *
 * The file is one little-endian blob loaded with mmap; vg_cfa_model_from_buf() validates every
 * count, offset and index, so a model from an untrusted place cannot make the verifier read out
 * of bounds. Builders: model_build.c (ELF + capstone), model_write.c (serialise, train, deny).
 */
#ifndef VIGIL_CFA_MODEL_H
#define VIGIL_CFA_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/err.h"

#define VG_CFA_MODEL_MAGIC 0x444d414643475600ull /* "\0VGCFAMD" */
#define VG_CFA_MODEL_VERSION 1u
#define VG_CFA_NONE 0xffffffffu
#define VG_CFA_CALL_INDIRECT 0xfffffffeu
#define VG_CFA_CALL_EXTERNAL 0xfffffffdu
#define VG_CFA_SUCC_BACK 0x80000000u
#define VG_CFA_SUCC_MASK 0x7fffffffu
#define VG_CFA_MAX_NODES 0x01000000u

enum vg_cfa_node_flags {
	VG_CFA_N_SITE = 1u << 0,
	VG_CFA_N_RP = 1u << 1,
	VG_CFA_N_ENTRY = 1u << 2,   /* first site of its function */
	VG_CFA_N_HEADER = 1u << 3,  /* loop header (target of a back edge) */
	VG_CFA_N_CANRET = 1u << 4,  /* may return (or tail-jump out) before the next site */
	VG_CFA_N_IJMP = 1u << 5,    /* unresolved indirect jump: any site of the function follows */
	VG_CFA_N_REDUCED = 1u << 6, /* switched off at start-up: its occurrence is implied */
	VG_CFA_N_DENY_SRC = 1u << 7 /* source of an operator-denied site edge */
};

enum vg_cfa_func_flags {
	VG_CFA_F_ADDR_TAKEN = 1u << 0,
	VG_CFA_F_ENTERABLE =
		1u << 1, /* may be entered from outside (main, callbacks, init arrays) */
	VG_CFA_F_DENIED = 1u << 2,
	VG_CFA_F_INSTR = 1u << 3,    /* has event sites (or function-granularity hooks) */
	VG_CFA_F_DENY_DST = 1u << 4, /* target of an operator-denied call edge */
	VG_CFA_F_ICALL = 1u << 5,    /* makes indirect calls */
	VG_CFA_F_XCALL = 1u << 6,    /* calls uninstrumented code (which may call back) */
};

enum vg_cfa_model_flags {
	VG_CFA_M_TRAINED = 1u << 0,
};

struct vg_cfa_node {
	uint32_t off; /* event value (sites) or return address offset (return points) */
	uint32_t func;
	uint32_t flags;
	uint32_t loop; /* innermost enclosing loop header; for a header, its parent's header */
	uint32_t succ, nsucc;
	uint32_t call, ncall;
	int32_t guard; /* __sancov_guards index, -1 when unknown */
	uint32_t pad;
};

struct vg_cfa_call {
	uint32_t callee; /* function index, VG_CFA_CALL_INDIRECT or VG_CFA_CALL_EXTERNAL */
	uint32_t rp;	 /* return-point node, VG_CFA_NONE for a tail call */
};

struct vg_cfa_func {
	uint32_t lo, hi; /* offsets from the load base */
	uint32_t name;	 /* offset into the string table */
	uint32_t flags;
	uint32_t entry, nentry;	    /* entry site nodes, in lists[] */
	uint32_t callees, ncallees; /* direct callees (function indices), in lists[] */
};

struct vg_cfa_slot {
	uint32_t key; /* event value; VG_CFA_NONE = empty */
	uint32_t node;
};

enum vg_cfa_deny_kind { VG_CFA_DENY_FUNC_EDGE = 1, VG_CFA_DENY_SITE_EDGE = 2 };

struct vg_cfa_deny {
	uint32_t kind, a, b, pad; /* function indices or node indices */
};

/* Loaded (or being built) model: views of the arrays. */
struct vg_cfa_model {
	uint32_t kind; /* enum vg_rt_kind the binary is instrumented for */
	uint32_t flags;
	uint64_t base;
	uint8_t build_id[32];
	uint32_t build_id_len;
	const struct vg_cfa_node *nodes;
	uint32_t nnodes;
	const struct vg_cfa_func *funcs;
	uint32_t nfuncs;
	const uint32_t *succ;
	uint32_t nsucc;
	const struct vg_cfa_call *calls;
	uint32_t ncalls;
	const uint32_t *lists;
	uint32_t nlists;
	const struct vg_cfa_slot *slots;
	uint32_t nslots; /* power of two */
	const struct vg_cfa_deny *deny;
	uint32_t ndeny;
	const uint64_t *paths; /* sorted keys vg_cfa_path_key(func, path hash) seen in training */
	uint32_t npaths;
	const uint64_t *iters; /* sorted keys vg_cfa_path_key(header, iteration hash) */
	uint32_t niters;
	const uint32_t *loopmax; /* per node: most iterations of one loop instance in training */
	uint32_t nloopmax;	 /* nnodes when trained, else 0 */
	const char *strs;
	uint32_t nstrs;
	void *map; /* owned mapping or allocation */
	size_t maplen;
	int mapped;
};

struct vg_cfa_build_opts {
	const char *const *deny; /* FUNCTION, CALLER->CALLEE or 0xSITE->0xSITE */
	size_t ndeny;
	int no_reduce; /* keep every site switched on */
};

int vg_cfa_model_build(struct vg_cfa_model *m, const char *elf_path,
		       const struct vg_cfa_build_opts *opts, struct vg_err *err);
/* Reads an ELF's GNU build id (up to 32 bytes); 0 length when it has none. */
int vg_cfa_elf_build_id(const char *elf_path, uint8_t id[32], uint32_t *len, struct vg_err *err);
/* -ENOEXEC with the missing flag named when ELF_PATH carries a sanitizer's own coverage
 * runtime (clang links it unless -fno-sanitize-link-runtime): its weak hooks take the place of
 * libvigil-rt's, so the program would never attach to the trace region. 0 otherwise, and for
 * binaries without symbols (nothing to tell). (rtcheck.c) */
int vg_cfa_check_runtime(const char *elf_path, struct vg_err *err);

int vg_cfa_model_load(struct vg_cfa_model *m, const char *path, struct vg_err *err);
/* Validates BUF and points M's views into it (M does not own BUF). */
int vg_cfa_model_from_buf(struct vg_cfa_model *m, const void *buf, size_t len, struct vg_err *err);
int vg_cfa_model_serialize(const struct vg_cfa_model *m, void **buf, size_t *len,
			   struct vg_err *err);
int vg_cfa_model_save(const struct vg_cfa_model *m, const char *path, struct vg_err *err);
void vg_cfa_model_free(struct vg_cfa_model *m);

/* Is M the model of the binary (or the trace of it) with build id ID? (model_info.c) */
bool vg_cfa_model_same_build(const struct vg_cfa_model *m, const uint8_t *id, uint32_t len);
/* "trace-pc-guard", "trace-pc" or "functions" for a VG_RT_KIND_*. */
const char *vg_cfa_kind_name(uint32_t kind);

/* What `vigil cfa info` shows: counts over the model's nodes and functions. */
struct vg_cfa_model_stats {
	uint32_t sites, return_points, reduced, loop_headers, unresolved_ijmp;
	uint32_t instrumented, address_taken;
};
void vg_cfa_model_stats(const struct vg_cfa_model *m, struct vg_cfa_model_stats *st);

/* Node with event value EV (a site, or a return point: see model_finish.c), or VG_CFA_NONE. */
static inline uint32_t vg_cfa_lookup(const struct vg_cfa_model *m, uint32_t ev)
{
	uint32_t mask = m->nslots - 1, i = (ev * 0x9e3779b1u) & mask;

	for (uint32_t n = 0; n < m->nslots; n++, i = (i + 1) & mask) {
		if (m->slots[i].key == ev)
			return m->slots[i].node;
		if (m->slots[i].key == VG_CFA_NONE)
			return VG_CFA_NONE;
	}
	return VG_CFA_NONE;
}

static inline const char *vg_cfa_func_name(const struct vg_cfa_model *m, uint32_t f)
{
	if (f >= m->nfuncs || m->funcs[f].name >= m->nstrs)
		return "?";
	return m->strs + m->funcs[f].name;
}

static inline uint64_t vg_cfa_path_key(uint32_t owner, uint64_t hash)
{
	uint64_t k = hash ^ ((uint64_t)owner * 0x9e3779b97f4a7c15ull);

	k ^= k >> 31;
	return k;
}

int vg_cfa_sorted_has(const uint64_t *a, uint32_t n, uint64_t key);

#endif
