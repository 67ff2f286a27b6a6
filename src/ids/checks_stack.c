// SPDX-License-Identifier: MIT
/*
 * hidden-module, the stack view: a task's kernel stack holds a return address into module
 * memory that no module owns — neither a listed one nor an image the module scan found — so
 * code is running that nothing on the guest accounts for (gather_stacks.c). One finding per
 * task; a task seen in several views is reported once.
 */
#include <inttypes.h>
#include <stdio.h>

#include "checks_int.h"
#include "vigil/json.h"

static bool seen_before(const struct vg_snapshot *s, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (s->stack_hits[k].task == s->stack_hits[i].task)
			return true;
	return false;
}

int vg_ids_check_stacks(const struct vg_snapshot *s, struct vg_findings *f)
{
	for (size_t i = 0; s->have_stacks && i < s->nstack_hits; i++) {
		const struct vg_stack_hit *h = &s->stack_hits[i];
		char qc[64], qs[160], id[48], sum[256];

		if (seen_before(s, i))
			continue;
		vg_json_quote(qc, sizeof(qc), h->comm);
		vg_json_quote(qs, sizeof(qs), h->sym);
		snprintf(id, sizeof(id), "code@0x%" PRIx64, h->pc & ~(uint64_t)0xfff);
		snprintf(sum, sizeof(sum),
			 "task %d (%s) runs code at %s, in module memory that no module owns",
			 h->pid, h->comm, h->sym);
		if (vg_finding_add(f, "hidden-module", VG_SEV_CRITICAL, "T1014", "module", id, sum,
				   "\"pid\":%d,\"comm\":%s,\"task\":\"0x%" PRIx64
				   "\",\"return_address\":\"0x%" PRIx64
				   "\",\"symbol\":%s,\"seen_in\":[\"kernel_stack\"],"
				   "\"missing_from\":[\"module_list\",\"sysfs\",\"memory\"]",
				   h->pid, qc, h->task, h->pc, qs))
			return -1;
	}
	return 0;
}
