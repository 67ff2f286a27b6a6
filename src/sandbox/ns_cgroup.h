/* SPDX-License-Identifier: MIT */
/*
 * The container and minimal environments' control groups: one group per worker, created under
 * vigil's own group, with two children, "svc" (the environment's services) and "sample" (the
 * sample's process tree), limited in memory, process count and CPU. Works on the unified
 * hierarchy (cgroup v2, when it holds the memory and pids controllers) and on the v1
 * hierarchies (memory, pids, cpu) of hybrid systems such as this project's CI machine.
 */
#ifndef VIGIL_SBX_NS_CGROUP_H
#define VIGIL_SBX_NS_CGROUP_H

#include <stdint.h>
#include <sys/types.h>

#include "vigil/err.h"

#define NS_CG_MEM (256ull << 20) /* the sample's tree */
#define NS_CG_PIDS 64		 /* tasks (qemu-user runs two threads per process) */
#define NS_CG_CPU_PCT 100	 /* percent of one core */

enum { NS_CG_SVC, NS_CG_SAMPLE, NS_CG__N };
enum { NS_CGC_MEM, NS_CGC_PIDS, NS_CGC_CPU, NS_CGC__N }; /* v1 hierarchies */

struct ns_cg {
	int v2;
	char top[NS_CGC__N][512];     /* the worker's group per hierarchy (v2: [0] only) */
	int dir[NS_CG__N][NS_CGC__N]; /* open directories of svc and sample */
};

/* What the limits stopped during one run (deltas of the kernel's counters). */
struct ns_cg_hits {
	uint64_t pids_max, mem_max, oom_kill;
	uint64_t mem_peak;
};

int sbx_ns_cg_open(struct ns_cg *cg, int worker, struct vg_err *err);
/* Moves PID into group WHICH (through the open directories: works after pivot_root). */
int sbx_ns_cg_attach(const struct ns_cg *cg, int which, pid_t pid);
void sbx_ns_cg_counters(const struct ns_cg *cg, struct ns_cg_hits *h);
/* Kills whatever is left in both groups (after a crashed run) and removes them. */
void sbx_ns_cg_close(struct ns_cg *cg);

#endif
