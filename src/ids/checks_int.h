/* SPDX-License-Identifier: MIT */
/*
 * The deeper views' parts of the checks (checks_deep.c), called from checks.c's hidden-process,
 * hidden-module, syscall-hook and kernel-hook. Pure functions of the snapshot.
 */
#ifndef VIGIL_IDS_CHECKS_INT_H
#define VIGIL_IDS_CHECKS_INT_H

#include "vigil/ids.h"

/* Scheduler tasks sorted by address (NULL on allocation failure; empty without the view). */
uint64_t *vg_ids_sched_sorted(const struct vg_snapshot *s);
bool vg_ids_sched_has(const struct vg_snapshot *s, const uint64_t *sched_sorted, uint64_t task);
/* Whether the module scan found the struct module at MOD. */
bool vg_ids_modimg_has(const struct vg_snapshot *s, uint64_t mod);

int vg_ids_check_sched(const struct vg_snapshot *s, struct vg_findings *f);
int vg_ids_check_modimg(const struct vg_snapshot *s, struct vg_findings *f);
int vg_ids_check_dispatch(const struct vg_snapshot *s, struct vg_findings *f);
int vg_ids_check_text(const struct vg_snapshot *s, struct vg_findings *f);
/* Kernel stacks running module-area code no module owns (checks_stack.c). */
int vg_ids_check_stacks(const struct vg_snapshot *s, struct vg_findings *f);

#endif
