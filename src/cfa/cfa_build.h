/* SPDX-License-Identifier: MIT */
/*
 * Internal state of the model builder shared by model_build.c (disassembly, site graph) and
 * model_finish.c (loops, event reduction, deny rules, assembling the model blob).
 */
#ifndef VIGIL_CFA_BUILD_H
#define VIGIL_CFA_BUILD_H

#include "elfimg.h"
#include "vigil/cfa_model.h"
#include "vigil/rt.h"

#define VEC(T)                   \
	struct {                 \
		T *v;            \
		uint32_t n, cap; \
	}

struct fn;

struct bld {
	struct elfimg img;
	struct fn *fns;
	uint32_t *fflags, *fentry, *fnentry, *fcallee, *fncallee; /* per function */
	VEC(struct vg_cfa_node) nodes;
	VEC(uint32_t) succ;
	VEC(struct vg_cfa_call) calls;
	VEC(uint32_t) lists;
	VEC(uint64_t) jt;
	VEC(uint32_t) tsucc;
	VEC(struct vg_cfa_call) tcall;
	VEC(long) stack;
	VEC(uint64_t) sumback; /* (node << 32 | return point): call summary edges closing a loop */
	uint32_t tflags;
	struct vg_cfa_slot *offmap;
	uint32_t offmap_n, offmap_cap;
	uint32_t gen;
	uint32_t kind;
};

int vg_cfa_bld_open(struct bld *b, const char *path, struct vg_err *err);
int vg_cfa_vpush64(uint64_t **v, uint32_t *n, uint32_t *cap, uint64_t x);
void vg_cfa_bld_free(struct bld *b);

#endif
