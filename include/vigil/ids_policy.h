/* SPDX-License-Identifier: MIT */
/*
 * The IDS policy file (docs/policy.md): what the operator accepts and how watch behaves.
 * An INI-like text format read by a strict parser: every error names its line, unknown
 * sections and keys are errors (a typo must not silently widen what is allowed), and every
 * length and count is bounded.
 */
#ifndef VIGIL_IDS_POLICY_H
#define VIGIL_IDS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/err.h"
#include "vigil/ids.h"
#include "vigil/ids_baseline.h"

#define VG_POLICY_MAX_ITEMS 256
#define VG_POLICY_MAX_BYTES (1 << 20)

enum vg_on_gone { VG_GONE_WAIT, VG_GONE_EXIT };

struct vg_policy {
	char *modules[VG_POLICY_MAX_ITEMS + 1]; /* NULL-terminated, as vg_ids_opts wants */
	size_t nmodules;
	bool have_modules; /* a [modules] allow line was given (even empty) */
	uint16_t ports[VG_POLICY_MAX_ITEMS];
	size_t nports;
	char *disabled[VG_POLICY_MAX_ITEMS]; /* check ids not run */
	size_t ndisabled;
	struct {
		const char *check; /* points into vg_ids_checks */
		enum vg_severity sev;
	} sev_override[VG_POLICY_MAX_ITEMS];
	size_t nsev;
	char *exes[VG_POLICY_MAX_ITEMS]; /* executables exempt from suspicious-process */
	size_t nexes;
	struct {
		uint16_t port;
		char *exe;
	} listeners[VG_POLICY_MAX_ITEMS]; /* [listeners] allow: PORT:EXE */
	size_t nlisteners;
	bool new_executables; /* report executables the baseline has not seen (default on) */
	uint32_t interval_ms; /* 0: not set */
	enum vg_on_gone on_gone;
	uint32_t gone_grace_ms; /* how long watch waits for a vanished guest before on_gone */
};

void vg_policy_init(struct vg_policy *p);
/* Parses TEXT (len bytes); on error *p is left initialised and err names the line. */
int vg_policy_parse(struct vg_policy *p, const char *text, size_t len, struct vg_err *err);
int vg_policy_load(struct vg_policy *p, const char *path, struct vg_err *err);
void vg_policy_free(struct vg_policy *p);

/* "500ms", "2s", "1m", or bare seconds; 0 or -EINVAL. Bounded to one day. */
int vg_parse_duration(const char *s, uint32_t *ms);

bool vg_policy_check_enabled(const struct vg_policy *p, const char *check);
bool vg_policy_exe_allowed(const struct vg_policy *p, const char *exe);
/* The listeners backdoor-port accepts: the policy's [listeners] entries (port and executable)
 * and, with a baseline B (may be NULL), its listeners (port, executable and argv). Points O at
 * a new array left in *RULES (borrowing P's and B's strings), which the caller frees after the
 * checks; *RULES is NULL when there are none. */
int vg_policy_listener_opts(const struct vg_policy *p, const struct vg_baseline *b,
			    struct vg_ids_opts *o, struct vg_listener_rule **rules,
			    struct vg_err *err);
/* Applies severity overrides and exemptions to findings in place (drops exempted ones). */
void vg_policy_apply(const struct vg_policy *p, struct vg_findings *f);

#endif
