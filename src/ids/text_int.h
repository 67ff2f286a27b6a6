/* SPDX-License-Identifier: MIT */
/*
 * The kernel's own runtime patch sites in its text (internal to src/ids; see ids_text.h for
 * the list and why each is there): collected from the guest's tables, checked against the
 * instructions the kernel writes at each kind, and masked before hashing.
 */
#ifndef VIGIL_IDS_TEXT_INT_H
#define VIGIL_IDS_TEXT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/ids.h"
#include "vigil/ids_text.h"

enum text_site_kind {
	SITE_JUMP,   /* jump label */
	SITE_SCALL,  /* static call site */
	SITE_STRAMP, /* static call trampoline (__SCT__*) */
	SITE_FTRACE, /* ftrace call site (dyn_ftrace record) */
	SITE_FCALL,  /* ftrace_call / ftrace_regs_call in the ftrace trampolines */
	SITE_KPROBE, /* a registered kprobe's address */
};

struct text_site {
	uint64_t va;
	uint64_t target; /* jump label: the jump's target; 0 for the other kinds */
	uint8_t kind;
	uint8_t orig[5]; /* kprobe: the bytes it replaced (opcode, then an optprobe's copy) */
	uint8_t norig;	 /* 1, or 5 for an optimized kprobe */
};

struct text_sites {
	struct text_site *v; /* sorted by va */
	size_t n, cap;
	uint64_t *ftrace_ok; /* call targets allowed at ftrace sites: ftrace_caller,
			      * ftrace_regs_caller, each registered ops' trampoline */
	size_t nftrace_ok;
	uint64_t *ops_funcs; /* each registered ftrace_ops' func (ftrace_call may call it) */
	size_t nops_funcs;
};

/* Collects the sites inside [start, end) from the guest's tables (jump table, static call
 * sites and trampolines, ftrace records, kprobe_table). 0 or a negative errno; a table that
 * cannot be read fails the whole collection (masking too little would cry wolf, masking a
 * guessed set would hide patches). */
int vg_text_sites_collect(struct vg_linux *lx, uint64_t start, uint64_t end, struct text_sites *ts);
void vg_text_sites_free(struct text_sites *ts);
const char *vg_text_site_kind_name(uint8_t kind);

/* Checks the site's bytes (TEXT holds [start, end)); returns how many bytes to mask (for a
 * kprobe: to restore from orig; never more than norig), and sets
 * *bad to a reason (NULL when the form is one the kernel writes) and *target to the branch
 * target read there (0 if none). S may be NULL (no listed modules: static-call targets in
 * module memory are then accepted). */
size_t vg_text_site_check(const struct text_sites *ts, const struct text_site *site,
			  const uint8_t *text, uint64_t start, uint64_t end,
			  const struct vg_snapshot *s, const char **bad, uint64_t *target);

/* Keyed digest of the non-kprobe sites' kinds and offsets from START (kprobes come and go). */
uint64_t vg_text_sites_digest(const struct text_sites *ts, uint64_t start, const uint8_t key[16],
			      uint32_t *count);

/* A clean comparison against BASE remembered across processes (text_verdict.c): true when
 * the raw text [start, end) is byte for byte what one found clean on this boot. */
bool vg_text_verdict_clean(const struct vg_linux *lx, const struct vg_text_ref *base,
			   uint64_t start, uint64_t end, const uint8_t *text);
void vg_text_verdict_store(const struct vg_linux *lx, const struct vg_text_ref *base,
			   uint64_t start, uint64_t end, const uint8_t *text);

#endif
