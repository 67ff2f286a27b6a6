/* SPDX-License-Identifier: MIT */
/*
 * Baselines: the known-good state of a guest, recorded by `vigil ids baseline` and compared by
 * scan and watch. A JSON file (docs/baseline.md) holding the kernel's identity, its modules,
 * syscall tables (by handler name, so a reboot's new KASLR slide does not matter), listening
 * sockets, the executables processes ran from, and keyed hashes of kernel text (ids_text.h;
 * comparable only under the same KASLR slide, i.e. within one boot).
 *
 * The file is written by the operator's side but may be moved around: it is parsed with
 * jansson and every count is bounded.
 */
#ifndef VIGIL_IDS_BASELINE_H
#define VIGIL_IDS_BASELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/err.h"
#include "vigil/ids.h"

#define VG_BASELINE_VERSION 1
#define VG_BASELINE_MAX_ITEMS 65536

struct vg_text_ref;

struct vg_bl_listen {
	char proto[8];
	uint16_t port;
	char addr[48];
	char *exe;     /* the executable of the process holding it; NULL when none or unknown */
	char *cmdline; /* its argv joined by spaces; NULL likewise */
};

struct vg_baseline {
	char release[64];
	char banner[256];
	uint64_t text_va;
	char **modules; /* NULL-terminated */
	size_t nmodules;
	struct vg_bl_listen *listen;
	size_t nlisten;
	struct {
		char name[32];
		char **sym; /* per syscall number, "" for an empty slot */
		int n;
	} sct[3];
	int nsct;
	char **exes; /* sorted, for bsearch */
	size_t nexes;
	struct vg_text_ref *text; /* NULL when the baseline has no text hashes */
};

/* Records the baseline from a snapshot (and TEXT, which the baseline takes over, also on
 * failure; may be NULL). */
int vg_baseline_from_snapshot(struct vg_baseline *b, const struct vg_snapshot *s,
			      const char *banner, uint64_t text_va, struct vg_text_ref *text,
			      struct vg_err *err);
int vg_baseline_save(const struct vg_baseline *b, const char *path, struct vg_err *err);
int vg_baseline_load(struct vg_baseline *b, const char *path, struct vg_err *err);
void vg_baseline_free(struct vg_baseline *b);

bool vg_baseline_has_exe(const struct vg_baseline *b, const char *exe);
bool vg_baseline_has_module(const struct vg_baseline *b, const char *name);
bool vg_baseline_has_port(const struct vg_baseline *b, uint16_t port);

/* Findings from comparing a snapshot with the baseline (pure; no I/O): syscall-table entries
 * that changed handler, executables never seen at baseline time (when NEW_EXES). Modules and
 * ports not in the baseline are reported by unknown-module and backdoor-port, which get the
 * baseline's lists through vg_ids_opts. */
int vg_baseline_compare(const struct vg_baseline *b, const struct vg_snapshot *s, bool new_exes,
			const struct vg_ids_opts *o, struct vg_findings *f, struct vg_err *err);

#endif
