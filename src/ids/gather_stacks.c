// SPDX-License-Identifier: MIT
/*
 * Code that runs without a module. A rootkit can take its module off the list and out of
 * sysfs, and then wipe the self-pointer the module scan looks for (gather_modscan.c); its
 * code is still there, and whatever runs it leaves return addresses into it on a kernel
 * stack: a kthread of its own, a task blocked in a hooked path. So every task any view knows
 * (the task list, the PID allocator, the run queues) has its kernel call chain read
 * (vg_task_kstack: AArch64's frame records, pointer-authentication codes stripped), and a
 * return address in the module area that neither a listed module nor a module image the scan
 * found owns is kept. x86-64 kernels have no frame records (ORC): no view there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gather_int.h"

#define FRAMES_MAX 32

static bool image_owned(const struct vg_snapshot *s, uint64_t pc)
{
	for (size_t i = 0; i < s->nmodimg; i++)
		if (pc - s->modimg[i].base < s->modimg[i].size)
			return true;
	return false;
}

static void one(struct vg_linux *lx, struct vg_snapshot *s, uint64_t task, int32_t pid,
		const char *comm)
{
	uint64_t pcs[FRAMES_MAX];
	int n = vg_task_kstack(lx, task, pcs, FRAMES_MAX);

	for (int i = 0; i < n && s->nstack_hits < VG_IDS_MAX_STACK_HITS; i++) {
		struct vg_stack_hit *h;

		if (strcmp(vg_ids_owner(s, pcs[i]), "(unlisted module memory)") ||
		    image_owned(s, pcs[i]))
			continue;
		h = &s->stack_hits[s->nstack_hits++];
		h->pid = pid;
		snprintf(h->comm, sizeof(h->comm), "%s", comm);
		h->task = task;
		h->pc = pcs[i];
		vg_ids_symoff(lx, pcs[i], h->sym, sizeof(h->sym));
		return; /* one hit tells the task runs it */
	}
}

void vg_ids_gather_stacks(struct vg_linux *lx, struct vg_snapshot *s)
{
	uint64_t probe;

	if (vg_task_kstack(lx, lx->init_task, &probe, 1) < 0)
		return; /* no frame records on this architecture: no view, nothing to report */
	s->stack_hits = calloc(VG_IDS_MAX_STACK_HITS, sizeof(*s->stack_hits));
	if (!s->stack_hits)
		return;
	for (size_t i = 0; i < s->tasks.n; i++)
		one(lx, s, s->tasks.v[i].addr, s->tasks.v[i].pid, s->tasks.v[i].comm);
	/* a task off the list is still in the allocator or on a run queue; a repeat of one
	 * already read finds the same chain, so reading it twice is harmless */
	for (size_t i = 0; i < s->npids; i++)
		if (s->pids[i].task)
			one(lx, s, s->pids[i].task, s->pids[i].nr, s->pids[i].comm);
	for (size_t i = 0; i < s->nsched; i++)
		one(lx, s, s->sched[i].task, s->sched[i].pid, s->sched[i].comm);
	s->have_stacks = true;
}
