/* SPDX-License-Identifier: MIT */
/*
 * One look at a guest, the pipeline every IDS command, daemon, bench and test runs: gather a
 * snapshot, compare kernel text with the baseline (verified text remembered between looks),
 * run the checks, compare with the baseline, apply the policy. The configuration it runs with
 * (policy, baseline, the allowlists merged from both and from the command line, the checks
 * selected) is loaded once into a struct vg_ids_config.
 */
#ifndef VIGIL_IDS_LOOK_H
#define VIGIL_IDS_LOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/guest.h"
#include "vigil/ids.h"
#include "vigil/ids_baseline.h"
#include "vigil/ids_policy.h"
#include "vigil/ids_text.h"

#define VG_IDS_MAX_ONLY 64

/* What the operator asked for, before the files are read. */
struct vg_ids_setup {
	const char *baseline;		  /* baseline file, or NULL */
	const char *policy;		  /* policy file, or NULL */
	const char *const *only;	  /* check ids to run (NULL-terminated), NULL = all */
	const char *const *allow_modules; /* NULL-terminated, NULL = none given */
	const uint16_t *allow_ports;
	size_t nallow_ports;
};

struct vg_ids_config {
	struct vg_policy policy;
	struct vg_baseline baseline;
	bool have_baseline;
	struct vg_ids_opts io; /* what the checks run with */
	const char *only[VG_IDS_MAX_ONLY + 1];
	char **mods; /* merged module allowlist, NULL-terminated; strings borrowed */
	uint16_t *ports;
	size_t nports;
	struct vg_listener_rule *listener_rules; /* accepted listeners (policy, baseline) */
	struct vg_text_cache text_cache;	 /* verified kernel text between looks */
};

/* Loads the policy and baseline and merges the allowlists. */
int vg_ids_config_init(struct vg_ids_config *c, const struct vg_ids_setup *s, struct vg_err *err);
void vg_ids_config_free(struct vg_ids_config *c);
/* The checks among NAMES (NCOUNT ids) that the policy enables, into OUT (room for NOUT, ends
 * NULL), for a look narrowed to them (set c->io.only = OUT). -EINVAL naming an unknown id. */
int vg_ids_select(const struct vg_ids_config *c, const char *const *names, size_t ncount,
		  const char **out, size_t nout, struct vg_err *err);
/* Is ID one of the checks? */
bool vg_ids_check_known(const char *id);

/* One look: findings into F (empty on entry). WARN gets what could not be read, "" when all
 * could (a baseline from another kernel, views that failed). */
int vg_ids_look(struct vg_guest *g, struct vg_ids_config *c, struct vg_findings *f, char *warn,
		size_t wlen, struct vg_err *err);
/* A look confirmed by a second one: a live guest changes under the reader (a task forking or
 * exiting between two views is not a rootkit), so only findings both show go into OUT. */
int vg_ids_scan(struct vg_guest *g, struct vg_ids_config *c, struct vg_findings *out, char *warn,
		size_t wlen, struct vg_err *err);

/* Records the guest's known-good state into B (vg_baseline_save writes it): kernel identity,
 * kernel text hashed under a fresh key that stays on the host, the snapshot's views. WARN as
 * for vg_ids_look; a kernel text that cannot be hashed is a warning, not a failure. */
int vg_ids_baseline_take(struct vg_guest *g, struct vg_baseline *b, char *warn, size_t wlen,
			 struct vg_err *err);

#endif
