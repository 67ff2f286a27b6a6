// SPDX-License-Identifier: MIT
/* The kernel's BTF, from a file the user gave or from the image in guest memory, parsed on
 * first use and kept (leaf helpers of discovery and every reader of struct layouts). */
#include <errno.h>
#include <string.h>

#include <bpf/btf.h>

#include "discover_int.h"

int vg_lx_btf_file(struct vg_linux *lx, const char *path, struct vg_err *err)
{
	lx->btf = btf__parse(path, NULL);
	if (!lx->btf) {
		int e = errno ? errno : EINVAL;

		lx->btf = NULL;
		return vg_errf(err, e, "%s: cannot read BTF (not a vmlinux with .BTF or raw BTF)",
			       path);
	}
	return 0;
}

struct btf *vg_linux_btf(struct vg_linux *lx, struct vg_err *err)
{
	const uint8_t *img;
	uint32_t h[6];

	if (lx->btf)
		return lx->btf;
	if (lx->btf_file) {
		if (vg_lx_btf_file(lx, lx->btf_file, err))
			return NULL;
		return lx->btf;
	}
	img = vg_mem_ptr(lx->mem, lx->img_pa, lx->img_len);
	if (!img || lx->btf_off + 24 > lx->img_len) {
		vg_errf(err, EFAULT, "kernel BTF no longer readable");
		return NULL;
	}
	memcpy(h, img + lx->btf_off, sizeof(h));
	if ((uint64_t)24 + h[3] + h[5] > lx->img_len - lx->btf_off) {
		vg_errf(err, EINVAL, "kernel BTF header changed");
		return NULL;
	}
	lx->btf = btf__new(img + lx->btf_off, 24 + h[3] + h[5]);
	if (!lx->btf)
		vg_errf(err, EINVAL, "kernel BTF does not parse");
	return lx->btf;
}
