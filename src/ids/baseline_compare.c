// SPDX-License-Identifier: MIT
/*
 * Comparing a snapshot with a baseline: pure, like the checks. What the baseline adds over
 * the checks' own rules: a syscall entry moved to another legitimate-looking handler (a swap
 * the prefix rule cannot see), and executables nobody ran while the guest was known good.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "vigil/ids_baseline.h"
#include "vigil/json.h"

static bool have(const struct vg_findings *f, const char *check, const char *id)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].check, check) && !strcmp(f->v[i].target_id, id))
			return true;
	return false;
}

static bool selected(const struct vg_ids_opts *o, const char *id)
{
	if (!o || !o->only)
		return true;
	for (const char *const *c = o->only; *c; c++)
		if (!strcmp(*c, id))
			return true;
	return false;
}

static int compare_sct(const struct vg_baseline *b, const struct vg_snapshot *s,
		       struct vg_findings *f, struct vg_err *err)
{
	for (int k = 0; k < s->nsct; k++) {
		const struct vg_sct *t = &s->sct[k];
		int bk = -1;

		for (int j = 0; j < b->nsct; j++)
			if (!strcmp(b->sct[j].name, t->name))
				bk = j;
		if (bk < 0)
			continue;
		for (int i = 0; i < t->n && i < b->sct[bk].n; i++) {
			const char *was = b->sct[bk].sym[i], *now = t->e[i].sym;
			struct vg_json *j;
			char id[64];
			int ret;

			if (!strcmp(was, now))
				continue;
			snprintf(id, sizeof(id), "%s[%d]", t->name, t->e[i].nr);
			if (have(f, "syscall-hook", id))
				continue;
			j = vg_finding_begin(f, "syscall-hook", VG_SEV_CRITICAL, "T1014", "syscall",
					     id, err);
			if (!j)
				return -ENOMEM;
			vg_json_kstr(j, "table", t->name);
			vg_json_kint(j, "nr", t->e[i].nr);
			vg_json_khex(j, "target", t->e[i].target);
			vg_json_kstr(j, "symbol", now);
			vg_json_kstr(j, "baseline", was);
			vg_json_kstr(j, "owner", t->e[i].owner);
			ret = vg_finding_end(
				f, err, "%s[%d] changed since the baseline: %s, was %s", t->name,
				t->e[i].nr, now[0] ? now : "unnamed code", was[0] ? was : "empty");
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int new_executables(const struct vg_baseline *b, const struct vg_snapshot *s,
			   struct vg_findings *f, struct vg_err *err)
{
	for (size_t i = 0; i < s->tasks.n; i++) {
		const struct vg_task *t = &s->tasks.v[i];
		struct vg_json *j;
		char id[32];
		int ret;

		if (t->kthread || t->pid != t->tgid || !t->exe || !t->exe[0] ||
		    vg_baseline_has_exe(b, t->exe))
			continue;
		snprintf(id, sizeof(id), "%d", t->pid);
		if (have(f, "suspicious-process", id))
			continue;
		j = vg_finding_begin(f, "suspicious-process", VG_SEV_LOW, "T1204", "process", id,
				     err);
		if (!j)
			return -ENOMEM;
		vg_json_kint(j, "pid", t->pid);
		vg_json_kstr(j, "comm", t->comm);
		vg_json_kstr(j, "exe", t->exe);
		vg_json_kuint(j, "uid", t->uid);
		vg_json_kstr(j, "reason", "new-executable");
		ret = vg_finding_end(f, err,
				     "process %d (%s) runs %s, which no process ran at baseline",
				     t->pid, t->comm, t->exe);
		if (ret)
			return ret;
	}
	return 0;
}

int vg_baseline_compare(const struct vg_baseline *b, const struct vg_snapshot *s, bool new_exes,
			const struct vg_ids_opts *o, struct vg_findings *f, struct vg_err *err)
{
	int ret = 0;

	if (selected(o, "syscall-hook"))
		ret = compare_sct(b, s, f, err);
	if (!ret && new_exes && selected(o, "suspicious-process"))
		ret = new_executables(b, s, f, err);
	if (ret)
		vg_err_prefix(err, "comparing with the baseline");
	return ret;
}
