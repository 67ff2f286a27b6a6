/* SPDX-License-Identifier: MIT */
/*
 * Internal to the verifier: its state, shared by verify.c (the engine: per-event steps) and
 * verify_state.c (creation, results, loop summaries, training export).
 */
#ifndef VIGIL_CFA_VERIFY_INT_H
#define VIGIL_CFA_VERIFY_INT_H

#include "vigil/cfa_verify.h"

#define MAX_FRAMES 4096u
#define MAX_LOOPS 4096u
#define ROOT VG_CFA_NONE
#define SEARCH_DEPTH 32

struct frame {
	uint32_t rp; /* VG_CFA_NONE: returns to uninstrumented code (the root) */
	uint32_t func;
	uint64_t ph;
	uint32_t loops_base;
	uint8_t ext, resync;
};

struct oloop {
	uint32_t h, iters;
	uint64_t ih;
};

struct stream {
	uint32_t cur, ext_rp;
	uint32_t callsite; /* function granularity: call site announced for the next entry */
	int any;	   /* resynchronise on the next site */
	uint32_t nfr, nlp;
	struct frame fr[MAX_FRAMES];
	struct oloop lp[MAX_LOOPS];
	uint32_t last[VG_CFA_LAST];
	uint64_t nev;
	uint64_t alerts[VG_CFA_A_KINDS];
	struct vg_cfa_chain chain;
};

struct u64set {
	uint64_t *v;
	uint32_t n, cap; /* cap power of two; 0 is the empty marker (keys are never 0) */
};

struct lstat {
	uint64_t instances, max_iters, total, distinct;
};

struct vg_cfa_verifier {
	const struct vg_cfa_model *m;
	struct vg_cfa_verify_opts o;
	int trained;
	struct stream *s[VG_CFA_MAX_STREAMS];
	uint64_t mask;
	struct u64set paths, iters;
	struct lstat *ls; /* per node */
	uint32_t owner;	  /* function the next path/loop alert is about */
	uint8_t *redsucc; /* bit per node: has a reduced successor (worth a search) */
	int oom;
};

#endif
