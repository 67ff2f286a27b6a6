/* SPDX-License-Identifier: MIT */
/*
 * Internal to the syscall verifier engine: its state, shared by the batch walk
 * (sys_verify.c) and the judgement of one syscall kind (sys_judge.c).
 */
#ifndef VIGIL_CFA_SYS_VERIFY_INT_H
#define VIGIL_CFA_SYS_VERIFY_INT_H

#include "vigil/sysverify.h"

#define HIST 8
#define MAX_ALERTS 64
#define SET_MAX (1u << 20)

struct u64set {
	uint64_t *v;
	uint32_t n, cap;
};

struct dmod {
	bool defined;
	uint32_t mm; /* the model's module, VG_SYS_NONE */
	uint64_t ident;
	char name[256];
};

struct dtok {
	bool defined, judged;
	struct vg_sb_token t;
	uint64_t key;
	int sev;	  /* worst severity of its findings + 1, 0 = none */
	int8_t site_cand; /* the candidate the tuple is keyed on, -1 */
	bool named;	  /* code and site filled in (only ever for evidence) */
	struct vg_sys_where code, site;
	uint32_t succ; /* last token that followed it ... */
	bool succ_ok;  /* ... and whether that step was fine */
};

struct thr {
	uint32_t tid, prev;
};

struct vg_sys_verifier {
	const struct vg_sys_model *m;
	struct vg_sys_verify_opts o;
	struct dmod *mods;
	uint32_t nmods;
	struct dtok *toks;
	uint32_t ntoks;
	struct thr *th; /* open addressing by tid */
	uint32_t thcap, nth;
	struct u64set procs, badpairs, trtuples, trtrans, trexecs;
	uint64_t sent[VG_SYS_C_KINDS];
	struct vg_sys_totals tot;
	/* the batch being verified */
	struct vg_sys_result *res;
	struct thr *cur;
	uint32_t hist[HIST], nhist;
	/* the record's last items: their first and last syscall and how many they stand for */
	uint32_t ifirst[HIST], ilast[HIST];
	uint64_t ievents[HIST], nitems;
	int worst;
	bool incomplete;
};

/* Keyed 64-bit hash (SipHash, a fixed key: the same in training and at every gateway);
 * never 0, which marks empty set slots. */
uint64_t vg_sys_shash(const void *p, size_t n);
bool vg_sys_set_has(const struct u64set *s, uint64_t k);
/* Adds K; false when the set is full or out of memory. */
bool vg_sys_set_add(struct u64set *s, uint64_t k);
/* Counts A against the batch and the device and hands it on (at most max_alerts per kind). */
void vg_sys_raise_alert(struct vg_sys_verifier *v, struct vg_sys_alert *a);
/* Judges token D on its first use: static checks, training, the tuple key (sys_judge.c). */
void vg_sys_judge(struct vg_sys_verifier *v, struct dtok *d);
/* Fills in D's names for evidence (only when an alert needs them). */
void vg_sys_name(struct vg_sys_verifier *v, struct dtok *d);

#endif
