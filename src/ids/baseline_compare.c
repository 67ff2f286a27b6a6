// SPDX-License-Identifier: MIT
/*
 * Comparing a snapshot with a baseline: pure, like the checks. What the baseline adds over
 * the checks' own rules: a syscall entry moved to another legitimate-looking handler (a swap
 * the prefix rule cannot see), and executables nobody ran while the guest was known good.
 */
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
		       struct vg_findings *f)
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
			char id[64], sum[256], qw[128], qn[128], qo[96];

			if (!strcmp(was, now))
				continue;
			snprintf(id, sizeof(id), "%s[%d]", t->name, t->e[i].nr);
			if (have(f, "syscall-hook", id))
				continue;
			snprintf(sum, sizeof(sum), "%s[%d] changed since the baseline: %s, was %s",
				 t->name, t->e[i].nr, now[0] ? now : "unnamed code",
				 was[0] ? was : "empty");
			vg_json_quote(qw, sizeof(qw), was);
			vg_json_quote(qn, sizeof(qn), now);
			vg_json_quote(qo, sizeof(qo), t->e[i].owner);
			if (vg_finding_add(f, "syscall-hook", VG_SEV_CRITICAL, "T1014", "syscall",
					   id, sum,
					   "\"table\":\"%s\",\"nr\":%d,\"target\":\"0x%" PRIx64
					   "\",\"symbol\":%s,\"baseline\":%s,\"owner\":%s",
					   t->name, t->e[i].nr, t->e[i].target, qn, qw, qo))
				return -1;
		}
	}
	return 0;
}

static int new_executables(const struct vg_baseline *b, const struct vg_snapshot *s,
			   struct vg_findings *f)
{
	for (size_t i = 0; i < s->tasks.n; i++) {
		const struct vg_task *t = &s->tasks.v[i];
		char id[32], sum[256], qe[VG_PATH_MAX + 8], qc[64];

		if (t->kthread || t->pid != t->tgid || !t->exe || !t->exe[0] ||
		    vg_baseline_has_exe(b, t->exe))
			continue;
		snprintf(id, sizeof(id), "%d", t->pid);
		if (have(f, "suspicious-process", id))
			continue;
		snprintf(sum, sizeof(sum),
			 "process %d (%s) runs %s, which no process ran at baseline", t->pid,
			 t->comm, t->exe);
		vg_json_quote(qe, sizeof(qe), t->exe);
		vg_json_quote(qc, sizeof(qc), t->comm);
		if (vg_finding_add(f, "suspicious-process", VG_SEV_LOW, "T1204", "process", id, sum,
				   "\"pid\":%d,\"comm\":%s,\"exe\":%s,\"uid\":%u,"
				   "\"reason\":\"new-executable\"",
				   t->pid, qc, qe, t->uid))
			return -1;
	}
	return 0;
}

int vg_baseline_compare(const struct vg_baseline *b, const struct vg_snapshot *s, bool new_exes,
			const struct vg_ids_opts *o, struct vg_findings *f)
{
	if (selected(o, "syscall-hook") && compare_sct(b, s, f))
		return -1;
	if (new_exes && selected(o, "suspicious-process") && new_executables(b, s, f))
		return -1;
	return 0;
}
