/* SPDX-License-Identifier: MIT */
/*
 * The state behind `ids watch`: which findings are active, so each is alerted once when it
 * appears and once more ("resolved") when it clears. Pure bookkeeping over finding sets; the
 * caller does the looking. A live guest changes under the reader, so a change only counts
 * when two looks taken back to back agree: a finding is new when both show it, resolved when
 * neither does.
 */
#ifndef VIGIL_IDS_WATCH_H
#define VIGIL_IDS_WATCH_H

#include "vigil/ids.h"

struct vg_watch {
	struct vg_findings active;
};

/* Called for each change: EVENT is "alert" or "resolved". */
typedef void (*vg_watch_emit_fn)(void *ctx, const struct vg_finding *f, const char *event);

/* Does LOOK differ from the active set (then the caller takes a confirming second look)? */
bool vg_watch_differs(const struct vg_watch *w, const struct vg_findings *look);
/* Applies two back-to-back looks A and B (B may be A when nothing changed). */
int vg_watch_commit(struct vg_watch *w, const struct vg_findings *a, const struct vg_findings *b,
		    vg_watch_emit_fn emit, void *ctx);
/* Resolves everything (e.g. the guest rebooted and its old findings no longer apply). */
void vg_watch_clear(struct vg_watch *w, vg_watch_emit_fn emit, void *ctx);
void vg_watch_free(struct vg_watch *w);

bool vg_finding_same(const struct vg_finding *a, const struct vg_finding *b);
/* Appends a copy of X to F (no cap: X came from a capped set); -ENOMEM. */
int vg_findings_push(struct vg_findings *f, const struct vg_finding *x);

#endif
