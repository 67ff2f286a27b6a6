// SPDX-License-Identifier: MIT
/*
 * The findings of the deeper views (checks_int.h): tasks the scheduler runs that the task
 * list lacks, struct module images in module memory that no list or sysfs shows, branches of
 * the syscall dispatchers to non-handlers, and kernel text that differs from the baseline.
 * Pure functions of the snapshot, like every check. Summaries carry only what is stable
 * between two looks (scan confirms a finding by comparing them); the rest is evidence.
 */
#include <errno.h>
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
int vg_ids_check_sched(const struct vg_snapshot *s, struct vg_findings *f, struct vg_err *err)
{
	uint64_t *tasks, *pids, *done;
	size_t ndone = 0;
	int ret = 0;

	if (!s->have_sched)
		return 0;
	tasks = sorted(s->tasks.n, task_addr, s);
	pids = sorted(s->have_pids ? s->npids : 0, pid_task, s);
	done = malloc((s->nsched ? s->nsched : 1) * sizeof(*done));
	if (!tasks || !pids || !done) {
		ret = vg_errf(err, ENOMEM, "out of memory indexing %zu scheduled tasks", s->nsched);
		goto out;
	}
	for (size_t i = 0; i < s->nsched; i++) {
		const struct vg_sched_task *t = &s->sched[i];
		bool in_pids = s->have_pids && has(pids, s->npids, t->task);
		struct vg_json *j;
		bool dup = false;
		char id[32];

		/* the PID-allocator finding already names a task it owns */
		if (has(tasks, s->tasks.n, t->task) || in_pids)
			continue;
		for (size_t k = 0; k < ndone && !dup; k++)
			dup = done[k] == t->task;
		if (dup)
			continue;
		done[ndone++] = t->task;
		snprintf(id, sizeof(id), "%d", t->pid);
		j = vg_finding_begin(f, "hidden-process", VG_SEV_CRITICAL, "T1014", "process", id,
				     err);
		if (!j) {
			ret = -ENOMEM;
			goto out;
		}
		vg_json_kint(j, "pid", t->pid);
		vg_json_kint(j, "tgid", t->tgid);
		vg_json_kstr(j, "comm", t->comm);
		vg_json_khex(j, "task", t->task);
		vg_json_kint(j, "cpu", t->cpu);
		vg_json_kstr(j, "runqueue", t->where);
		vg_json_key(j, "seen_in");
		vg_json_arr_open(j);
		vg_json_str(j, "scheduler");
		vg_json_arr_close(j);
		vg_json_key(j, "missing_from");
		vg_json_arr_open(j);
		vg_json_str(j, "task_list");
		vg_json_str(j, "pid_allocator");
		vg_json_arr_close(j);
		ret = vg_finding_end(f, err,
				     "pid %d (%s) is scheduled on a CPU but missing from the task "
				     "list and the PID allocator",
				     t->pid, t->comm);
		if (ret)
			goto out;
	}
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
int vg_ids_check_modimg(const struct vg_snapshot *s, struct vg_findings *f, struct vg_err *err)
{
	static const char *const state[] = { "Live", "Coming", "Going" };
	struct vg_json *j;
	int ret;

	for (size_t i = 0; s->have_modscan && i < s->nmodimg; i++) {
		const struct vg_mod_image *m = &s->modimg[i];
		bool listed = false, kobj = false;

		for (size_t k = 0; k < s->modules.n && !listed; k++)
			listed = s->modules.v[k].addr == m->mod;
		for (size_t k = 0; s->have_kobjs && k < s->nkobjs && !kobj; k++)
			kobj = s->kobjs[k].mod == m->mod;
		if (listed || kobj)
			continue;
		j = vg_finding_begin(f, "hidden-module", VG_SEV_CRITICAL, "T1014", "module",
				     m->name, err);
		if (!j)
			return -ENOMEM;
		vg_json_kstr(j, "module", m->name);
		vg_json_khex(j, "struct_module", m->mod);
		vg_json_khex(j, "base", m->base);
		vg_json_kuint(j, "size", m->size);
		vg_json_kstr(j, "state", state[m->state]);
		vg_json_key(j, "seen_in");
		vg_json_arr_open(j);
		vg_json_str(j, "memory");
		vg_json_arr_close(j);
		vg_json_key(j, "missing_from");
		vg_json_arr_open(j);
		vg_json_str(j, "module_list");
		vg_json_str(j, "sysfs");
		vg_json_arr_close(j);
		ret = vg_finding_end(f, err,
				     "module %s is loaded (found in module memory) but missing "
				     "from the module list and sysfs",
				     m->name);
		if (ret)
			return ret;
	}
	/* the other direction: a listed module with no struct module image in module memory is
	 * a list entry that is not a loaded module (planted, or a struct outside module space) */
	if (!s->have_modscan || s->nmodimg >= VG_IDS_MAX_MODIMG)
		return 0;
	for (size_t k = 0; k < s->modules.n; k++) {
		const struct vg_module *m = &s->modules.v[k];

		if ((m->state && !strcmp(m->state, "Unformed")) || vg_ids_modimg_has(s, m->addr))
			continue;
		j = vg_finding_begin(f, "hidden-module", VG_SEV_HIGH, "T1014", "module", m->name,
				     err);
		if (!j)
			return -ENOMEM;
		vg_json_kstr(j, "module", m->name);
		vg_json_khex(j, "struct_module", m->addr);
		vg_json_key(j, "seen_in");
		vg_json_arr_open(j);
		vg_json_str(j, "module_list");
		vg_json_arr_close(j);
		vg_json_key(j, "missing_from");
		vg_json_arr_open(j);
		vg_json_str(j, "memory");
		vg_json_arr_close(j);
		ret = vg_finding_end(f, err,
				     "module %s is on the module list but no struct module for it "
				     "is in module memory",
				     m->name);
		if (ret)
			return ret;
	}
	return 0;
}

int vg_ids_check_dispatch(const struct vg_snapshot *s, struct vg_findings *f, struct vg_err *err)
{
	for (size_t i = 0; s->have_dispatch && i < s->ndispatch; i++) {
		const struct vg_dispatch_edge *e = &s->dispatch[i];
		struct vg_json *j;
		char id[96];
		int ret;

		snprintf(id, sizeof(id), "%s@0x%" PRIx64, e->func, e->site);
		j = vg_finding_begin(f, "syscall-hook", VG_SEV_CRITICAL, "T1014", "syscall", id,
				     err);
		if (!j)
			return -ENOMEM;
		vg_json_kstr(j, "dispatcher", e->func);
		vg_json_khex(j, "site", e->site);
		vg_json_kstr(j, "insn", e->insn);
		vg_json_khex(j, "target", e->target);
		vg_json_kstr(j, "symbol", e->sym);
		vg_json_kstr(j, "owner", e->owner);
		ret = vg_finding_end(f, err, "syscall dispatcher %s branches to %s%s%s", e->func,
				     e->sym[0] ? e->sym : "unnamed code",
				     e->owner[0] ? " in module " : "", e->owner);
		if (ret)
			return ret;
	}
	return 0;
}

int vg_ids_check_text(const struct vg_snapshot *s, struct vg_findings *f, struct vg_err *err)
{
	for (size_t i = 0; s->have_text && i < s->ntext_diffs; i++) {
		const struct vg_text_diff *d = &s->text_diffs[i];
		bool chunk = !strcmp(d->kind, "chunk");
		enum vg_severity sev = d->owner[0] ? VG_SEV_CRITICAL : VG_SEV_HIGH;
		struct vg_json *j;
		char id[96];
		int ret;

		snprintf(id, sizeof(id), "text@0x%" PRIx64, d->va);
		j = vg_finding_begin(f, "kernel-hook", sev, "T1014", "text", id, err);
		if (!j)
			return -ENOMEM;
		vg_json_kstr(j, "kind", chunk ? "inline-patch" : "patch-site");
		vg_json_kstr(j, "site_kind", d->kind);
		vg_json_khex(j, "address", d->va);
		vg_json_kuint(j, "length", d->len);
		vg_json_kstr(j, "where", d->where);
		vg_json_kstr(j, "functions", d->funcs);
		vg_json_kstr(j, "detail", d->detail);
		vg_json_khex(j, "branch", d->branch);
		vg_json_khex(j, "target", d->target);
		vg_json_kstr(j, "target_symbol", d->target_sym);
		vg_json_kstr(j, "module", d->owner);
		if (chunk)
			ret = vg_finding_end(
				f, err, "kernel text at %.100s differs from the baseline%s%s",
				d->where, d->owner[0] ? ": branch into module " : "", d->owner);
		else if (!strcmp(d->kind, "site-list"))
			ret = vg_finding_end(f, err,
					     "the kernel's runtime patch sites differ from the "
					     "baseline");
		else
			ret = vg_finding_end(f, err, "%s site at %.100s: %s", d->kind, d->where,
					     d->detail);
		if (ret)
			return ret;
	}
	return 0;
}
