// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for kernel discovery: the input is taken as guest physical memory and the
 * whole discovery pipeline runs on it (banner, page tables, kallsyms, BTF), then the task and
 * module walks when discovery succeeds; the input also goes straight to the kallsyms and BTF
 * finders and to the System.map reader. ASan/UBSan catch out-of-bounds reads and overflow;
 * libFuzzer's timeout catches an unbounded walk.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/linux.h"
#include "vigil/lxobj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_linux_opts opts = { .cache_dir = "" };
	struct vg_kallsyms ks;
	struct vg_mem *m;
	struct vg_linux lx;
	struct vg_err err = { 0 };

	if (vg_kallsyms_parse(&ks, data, size, 0xffffffff81000000ull, size / 2, &err) == 0)
		vg_kallsyms_free(&ks);
	vg_btf_find(data, size);
	if (vg_kallsyms_from_text(&ks, (const char *)data, size, 0, &err) == 0)
		vg_kallsyms_free(&ks);
	if (vg_mem_open_buffer(&m, data, size, &err))
		return 0;
	if (vg_linux_open(&lx, m, &opts, &err) == 0) {
		struct vg_task_list tl;
		struct vg_module_list ml;
		struct vg_task_opts to = { .threads = true };

		if (vg_tasks_list(&lx, &to, &tl, &err) == 0)
			vg_tasks_free(&tl);
		if (vg_modules_list(&lx, &ml, &err) == 0)
			vg_modules_free(&ml);
		vg_linux_close(&lx);
	}
	vg_mem_close(m);
	return 0;
}
