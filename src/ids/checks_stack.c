// SPDX-License-Identifier: MIT
/*
 * hidden-module, the stack view: a task's kernel stack holds a return address into module
 * memory that no module owns — neither a listed one nor an image the module scan found — so
 * code is running that nothing on the guest accounts for (gather_stacks.c). One finding per
 * task; a task seen in several views is reported once.
 */
#include <errno.h>
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

static void names(struct vg_json *j, const char *key, const char *const *v, int n)
{
	vg_json_key(j, key);
	vg_json_arr_open(j);
	for (int i = 0; i < n; i++)
		vg_json_str(j, v[i]);
	vg_json_arr_close(j);
}

int vg_ids_check_stacks(const struct vg_snapshot *s, struct vg_findings *f, struct vg_err *err)
{
	static const char *const missing[] = { "module_list", "sysfs", "memory" };
	static const char *const seen[] = { "kernel_stack" };

	for (size_t i = 0; s->have_stacks && i < s->nstack_hits; i++) {
		const struct vg_stack_hit *h = &s->stack_hits[i];
		struct vg_json *j;
		char id[48];
		int ret;

		if (seen_before(s, i))
			continue;
		snprintf(id, sizeof(id), "code@0x%" PRIx64, h->pc & ~(uint64_t)0xfff);
		j = vg_finding_begin(f, "hidden-module", VG_SEV_CRITICAL, "T1014", "module", id,
				     err);
		if (!j)
			return -ENOMEM;
		vg_json_kint(j, "pid", h->pid);
		vg_json_kstr(j, "comm", h->comm);
		vg_json_khex(j, "task", h->task);
		vg_json_khex(j, "return_address", h->pc);
		vg_json_kstr(j, "symbol", h->sym);
		names(j, "seen_in", seen, 1);
		names(j, "missing_from", missing, 3);
		ret = vg_finding_end(
			f, err,
			"task %d (%s) runs code at %s, in module memory that no module owns",
			h->pid, h->comm, h->sym);
		if (ret)
			return ret;
	}
	return 0;
}
