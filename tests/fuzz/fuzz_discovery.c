// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for kernel discovery: the input is taken as guest physical memory and the
 * whole discovery pipeline runs on it (banner, page tables of both architectures in every
 * candidate layout, kallsyms, ksymtab, BTF), then the task and module walks when discovery
 * succeeds; the input also goes straight to the kallsyms, ksymtab and BTF finders, the
 * VMCOREINFO and System.map readers, the AArch64 code-reference reader, and to the AArch64
 * table search and leaf walk with the input as tables. ASan/UBSan catch out-of-bounds reads
 * and overflow; libFuzzer's timeout catches an unbounded walk.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/linux.h"
#include "vigil/lxobj.h"
#include "vmi/linux/kpgd.h"

#define A64_TEXT 0xffff800008000000ull

static int count_leaf(uint64_t va, uint64_t pa, uint64_t size, void *ctx)
{
	(*(uint64_t *)ctx)++;
	return 0;
}

/* The AArch64 pieces with the input as their data, whatever discovery made of it. */
static void arm64_pieces(const uint8_t *data, size_t size, struct vg_mem *m)
{
	struct vg_vmcoreinfo vi;
	struct vg_ksymtab kt;
	struct vg_kpgd roots[2];
	struct vg_err err = { 0 };
	uint64_t refs[64], n = 0;
	int misplaced = 0;

	if (vg_ksymtab_parse(&kt, data, size, A64_TEXT, size / 2, &err) == 0)
		vg_ksymtab_free(&kt);
	vg_vmcoreinfo_parse(&vi, (const char *)data, size);
	vg_arm64_code_refs(data, size < 4096 ? size : 4096, A64_TEXT, refs, 64);
	for (int l = 0; l < vg_mem_layout_count(m); l++) {
		if (vg_mem_layout_arch(m, l) != VG_ARCH_ARM64)
			continue;
		vg_mem_set_layout(m, l);
		vg_arm64_kpgd_scan(m, vg_mem_ranges(m)[0].start + size / 2, roots, 2, &misplaced);
		vg_arm64_for_each_leaf(m, vg_mem_ranges(m)[0].start, 48, false, 0, UINT64_MAX,
				       count_leaf, &n, 4096);
		vg_arm64_code_near(m, vg_mem_ranges(m)[0].start + size, 1 << 20);
	}
}

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
	arm64_pieces(data, size, m);
	vg_mem_set_layout(m, 0);
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
