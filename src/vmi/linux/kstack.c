// SPDX-License-Identifier: MIT
/*
 * A sleeping task's kernel call chain, AArch64. The kernel is built with frame pointers there
 * (arm64 wants them: CONFIG_FRAME_POINTER): cpu_switch_to saved the task's fp, sp and pc in
 * thread.cpu_context, and each frame record on its stack is { previous fp, return address }.
 * Under pointer authentication (`-cpu max`, PTR_AUTH_KERNEL) every return address a function
 * pushed is signed: the bits above VA_BITS carry a code, not the address's sign extension, so
 * each one is stripped (vg_arm64_strip_pac) before it is looked up.
 *
 * The stack is guest memory: frames must stay inside the task's stack and grow upwards, and
 * the walk is bounded. x86-64 kernels are built with ORC, not frame pointers: -ENOTSUP there.
 */
#include <errno.h>

#include "vigil/lxobj.h"
#include "kread.h"

#define STACK_SPAN (32u << 10) /* THREAD_SIZE is 16 KiB, twice that with KASAN */

int vg_task_kstack(struct vg_linux *lx, uint64_t task, uint64_t *pcs, int max)
{
	int32_t ctx = vg_linux_btf_offset(lx, "task_struct", "thread.cpu_context");
	int32_t fp_off = vg_linux_btf_offset(lx, "cpu_context", "fp");
	int32_t pc_off = vg_linux_btf_offset(lx, "cpu_context", "pc");
	int32_t stack_off = vg_linux_btf_offset(lx, "task_struct", "stack");
	uint64_t base, fp, pc, rec[2];
	int n = 0;

	if (lx->arch != VG_ARCH_ARM64)
		return -ENOTSUP;
	if (ctx < 0 || fp_off < 0 || pc_off < 0 || stack_off < 0 || max < 1)
		return -ENOENT;
	if (vg_kread_ptr(lx, task + stack_off, &base) || !base ||
	    vg_as_read_u64(&lx->kas, task + ctx + fp_off, &fp) ||
	    vg_as_read_u64(&lx->kas, task + ctx + pc_off, &pc))
		return -EFAULT;
	pcs[n++] = vg_arm64_strip_pac(pc, lx->va_bits, false);
	while (n < max && fp >= base && fp - base <= STACK_SPAN - sizeof(rec) && !(fp & 7) &&
	       !vg_as_read(&lx->kas, fp, rec, sizeof(rec))) {
		if (rec[1])
			pcs[n++] = vg_arm64_strip_pac(rec[1], lx->va_bits, false);
		if (rec[0] <= fp)
			break; /* the chain must climb towards the stack's top */
		fp = rec[0];
	}
	return n;
}
