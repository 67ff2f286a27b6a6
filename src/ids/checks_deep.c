// SPDX-License-Identifier: MIT
/*
 * The findings of the deeper views (checks_int.h): tasks the scheduler runs that the task
 * list lacks, struct module images in module memory that no list or sysfs shows, branches of
 * the syscall dispatchers to non-handlers, and kernel text that differs from the baseline.
 * Pure functions of the snapshot, like every check. Summaries carry only what is stable
 * between two looks (scan confirms a finding by comparing them); the rest is evidence.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "checks_int.h"
#include "vigil/json.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t *sorted(size_t n, uint64_t (*get)(const struct vg_snapshot *, size_t),
			const struct vg_snapshot *s)
{
	uint64_t *k = malloc((n ? n : 1) * sizeof(*k));

	if (!k)
		return NULL;
	for (size_t i = 0; i < n; i++)
		k[i] = get(s, i);
	qsort(k, n, sizeof(*k), cmp_u64);
	return k;
}

static bool has(const uint64_t *k, size_t n, uint64_t v)
{
	return bsearch(&v, k, n, sizeof(*k), cmp_u64) != NULL;
}

static uint64_t task_addr(const struct vg_snapshot *s, size_t i)
{
	return s->tasks.v[i].addr;
}

static uint64_t pid_task(const struct vg_snapshot *s, size_t i)
{
	return s->pids[i].task;
}

static uint64_t sched_task(const struct vg_snapshot *s, size_t i)
{
	return s->sched[i].task;
}

bool vg_ids_sched_has(const struct vg_snapshot *s, const uint64_t *sched_sorted, uint64_t task)
{
	return s->have_sched && has(sched_sorted, s->nsched, task);
}

uint64_t *vg_ids_sched_sorted(const struct vg_snapshot *s)
{
	return sorted(s->have_sched ? s->nsched : 0, sched_task, s);
}

/* Tasks on a run queue (running or runnable) that neither the task list nor the PID
 * allocator's hidden-task findings cover. */
int vg_ids_check_sched(const struct vg_snapshot *s, struct vg_findings *f)
{
	uint64_t *tasks, *pids, *done;
	size_t ndone = 0;
	int ret = -1;

	if (!s->have_sched)
		return 0;
	tasks = sorted(s->tasks.n, task_addr, s);
	pids = sorted(s->have_pids ? s->npids : 0, pid_task, s);
	done = malloc((s->nsched ? s->nsched : 1) * sizeof(*done));
	if (!tasks || !pids || !done)
		goto out;
	for (size_t i = 0; i < s->nsched; i++) {
		const struct vg_sched_task *t = &s->sched[i];
		bool in_pids = s->have_pids && has(pids, s->npids, t->task);
		char q[64], id[32], sum[256];
		bool dup = false;

		/* the PID-allocator finding already names a task it owns */
		if (has(tasks, s->tasks.n, t->task) || in_pids)
			continue;
		for (size_t k = 0; k < ndone && !dup; k++)
			dup = done[k] == t->task;
		if (dup)
			continue;
		done[ndone++] = t->task;
		vg_json_quote(q, sizeof(q), t->comm);
		snprintf(id, sizeof(id), "%d", t->pid);
		snprintf(sum, sizeof(sum),
			 "pid %d (%s) is scheduled on a CPU but missing from the task list and the "
			 "PID allocator",
			 t->pid, t->comm);
		if (vg_finding_add(f, "hidden-process", VG_SEV_CRITICAL, "T1014", "process", id,
				   sum,
				   "\"pid\":%d,\"tgid\":%d,\"comm\":%s,\"task\":\"0x%" PRIx64
				   "\",\"cpu\":%d,\"runqueue\":\"%s\",\"seen_in\":[\"scheduler\"],"
				   "\"missing_from\":[\"task_list\",\"pid_allocator\"]",
				   t->pid, t->tgid, q, t->task, t->cpu, t->where))
			goto out;
	}
	ret = 0;
out:
	free(tasks);
	free(pids);
	free(done);
	return ret;
}

bool vg_ids_modimg_has(const struct vg_snapshot *s, uint64_t mod)
{
	for (size_t i = 0; s->have_modscan && i < s->nmodimg; i++)
		if (s->modimg[i].mod == mod)
			return true;
	return false;
}

/* Images the module list lacks and sysfs lacks too (those sysfs has are reported there). */
int vg_ids_check_modimg(const struct vg_snapshot *s, struct vg_findings *f)
{
	static const char *const state[] = { "Live", "Coming", "Going" };

	for (size_t i = 0; s->have_modscan && i < s->nmodimg; i++) {
		const struct vg_mod_image *m = &s->modimg[i];
		bool listed = false, kobj = false;
		char q[128], sum[256];

		for (size_t k = 0; k < s->modules.n && !listed; k++)
			listed = s->modules.v[k].addr == m->mod;
		for (size_t k = 0; s->have_kobjs && k < s->nkobjs && !kobj; k++)
			kobj = s->kobjs[k].mod == m->mod;
		if (listed || kobj)
			continue;
		vg_json_quote(q, sizeof(q), m->name);
		snprintf(sum, sizeof(sum),
			 "module %s is loaded (found in module memory) but missing from the module "
			 "list and sysfs",
			 m->name);
		if (vg_finding_add(f, "hidden-module", VG_SEV_CRITICAL, "T1014", "module", m->name,
				   sum,
				   "\"module\":%s,\"struct_module\":\"0x%" PRIx64
				   "\",\"base\":\"0x%" PRIx64 "\",\"size\":%" PRIu64
				   ",\"state\":\"%s\",\"seen_in\":[\"memory\"],"
				   "\"missing_from\":[\"module_list\",\"sysfs\"]",
				   q, m->mod, m->base, m->size, state[m->state]))
			return -1;
	}
	/* the other direction: a listed module with no struct module image in module memory is
	 * a list entry that is not a loaded module (planted, or a struct outside module space) */
	if (!s->have_modscan || s->nmodimg >= VG_IDS_MAX_MODIMG)
		return 0;
	for (size_t k = 0; k < s->modules.n; k++) {
		const struct vg_module *m = &s->modules.v[k];
		char q[128], sum[256];

		if ((m->state && !strcmp(m->state, "Unformed")) || vg_ids_modimg_has(s, m->addr))
			continue;
		vg_json_quote(q, sizeof(q), m->name);
		snprintf(sum, sizeof(sum),
			 "module %s is on the module list but no struct module for it is in module "
			 "memory",
			 m->name);
		if (vg_finding_add(f, "hidden-module", VG_SEV_HIGH, "T1014", "module", m->name, sum,
				   "\"module\":%s,\"struct_module\":\"0x%" PRIx64
				   "\",\"seen_in\":[\"module_list\"],\"missing_from\":[\"memory\"]",
				   q, m->addr))
			return -1;
	}
	return 0;
}

int vg_ids_check_dispatch(const struct vg_snapshot *s, struct vg_findings *f)
{
	for (size_t i = 0; s->have_dispatch && i < s->ndispatch; i++) {
		const struct vg_dispatch_edge *e = &s->dispatch[i];
		char qs[160], qo[96], id[96], sum[256];

		vg_json_quote(qs, sizeof(qs), e->sym);
		vg_json_quote(qo, sizeof(qo), e->owner);
		snprintf(id, sizeof(id), "%s@0x%" PRIx64, e->func, e->site);
		snprintf(sum, sizeof(sum), "syscall dispatcher %s branches to %s%s%s", e->func,
			 e->sym[0] ? e->sym : "unnamed code", e->owner[0] ? " in module " : "",
			 e->owner);
		if (vg_finding_add(f, "syscall-hook", VG_SEV_CRITICAL, "T1014", "syscall", id, sum,
				   "\"dispatcher\":\"%s\",\"site\":\"0x%" PRIx64
				   "\",\"insn\":\"%s\",\"target\":\"0x%" PRIx64
				   "\",\"symbol\":%s,\"owner\":%s",
				   e->func, e->site, e->insn, e->target, qs, qo))
			return -1;
	}
	return 0;
}

int vg_ids_check_text(const struct vg_snapshot *s, struct vg_findings *f)
{
	for (size_t i = 0; s->have_text && i < s->ntext_diffs; i++) {
		const struct vg_text_diff *d = &s->text_diffs[i];
		char qw[160], qf[300], qt[160], qo[96], qd[128], id[96], sum[256];
		bool chunk = !strcmp(d->kind, "chunk");
		enum vg_severity sev = d->owner[0] ? VG_SEV_CRITICAL : VG_SEV_HIGH;

		vg_json_quote(qw, sizeof(qw), d->where);
		vg_json_quote(qf, sizeof(qf), d->funcs);
		vg_json_quote(qt, sizeof(qt), d->target_sym);
		vg_json_quote(qo, sizeof(qo), d->owner);
		vg_json_quote(qd, sizeof(qd), d->detail);
		snprintf(id, sizeof(id), "text@0x%" PRIx64, d->va);
		if (chunk)
			snprintf(sum, sizeof(sum),
				 "kernel text at %.100s differs from the baseline%s%s", d->where,
				 d->owner[0] ? ": branch into module " : "", d->owner);
		else if (!strcmp(d->kind, "site-list"))
			snprintf(sum, sizeof(sum),
				 "the kernel's runtime patch sites differ from the "
				 "baseline");
		else
			snprintf(sum, sizeof(sum), "%s site at %.100s: %s", d->kind, d->where,
				 d->detail);
		if (vg_finding_add(f, "kernel-hook", sev, "T1014", "text", id, sum,
				   "\"kind\":\"%s\",\"site_kind\":\"%s\",\"address\":\"0x%" PRIx64
				   "\",\"length\":%" PRIu64 ",\"where\":%s,\"functions\":%s,"
				   "\"detail\":%s,\"branch\":\"0x%" PRIx64
				   "\",\"target\":\"0x%" PRIx64
				   "\",\"target_symbol\":%s,\"module\":%s",
				   chunk ? "inline-patch" : "patch-site", d->kind, d->va, d->len,
				   qw, qf, qd, d->branch, d->target, qt, qo))
			return -1;
	}
	return 0;
}
