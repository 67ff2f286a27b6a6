// SPDX-License-Identifier: MIT
/* Opening a guest: memory source, then kernel discovery (see guest.h). */
#include <errno.h>
#include <string.h>
#include <sys/vfs.h>

#include "vigil/guest.h"

#define HUGETLBFS_MAGIC_ 0x958458f6

static int source_kind(const char *path, const char *format, enum vg_mem_kind *kind,
		       struct vg_err *err)
{
	struct statfs sf;

	if (format) {
		if (!strcmp(format, "auto"))
			*kind = VG_MEM_DETECT;
		else if (!strcmp(format, "raw"))
			*kind = VG_MEM_RAW;
		else if (!strcmp(format, "elf"))
			*kind = VG_MEM_ELFCORE;
		else if (!strcmp(format, "lime"))
			*kind = VG_MEM_LIME;
		else
			return vg_errf(err, EINVAL,
				       "--format must be auto, raw, elf or lime, not '%s'", format);
		return 0;
	}
	*kind = VG_MEM_DETECT;
	if (!strncmp(path, "/dev/shm/", 9) ||
	    (statfs(path, &sf) == 0 && (unsigned long)sf.f_type == HUGETLBFS_MAGIC_))
		*kind = VG_MEM_RAW;
	return 0;
}

int vg_guest_open_source(struct vg_guest *g, const struct vg_guest_opts *o, struct vg_err *err)
{
	enum vg_mem_kind kind = VG_MEM_DETECT;
	int ret;

	memset(g, 0, sizeof(*g));
	if (!o->source || !o->source[0])
		return vg_errf(err, EINVAL, "no guest memory source given");
	ret = source_kind(o->source, o->format, &kind, err);
	if (!ret)
		ret = vg_mem_open_kind(&g->mem, o->source, kind, err);
	return ret;
}

int vg_guest_discover(struct vg_guest *g, const struct vg_guest_opts *o, uint64_t avoid_banner_pa,
		      struct vg_err *err)
{
	struct vg_linux_opts lo = {
		.symbols_file = o->symbols,
		.btf_file = o->btf,
		.cache_dir = o->no_cache ? "" : NULL,
		.stale_banner_pa = avoid_banner_pa,
	};
	int ret;

	vg_guest_forget_kernel(g);
	if (!g->mem)
		return vg_errf(err, EBADF, "the guest's memory source is not open");
	ret = vg_linux_open(&g->lx, g->mem, &lo, err);
	if (!ret)
		g->have_kernel = true;
	return ret;
}

int vg_guest_open(struct vg_guest *g, const struct vg_guest_opts *o, struct vg_err *err)
{
	int ret = vg_guest_open_source(g, o, err);

	if (!ret)
		ret = vg_guest_discover(g, o, 0, err);
	if (ret)
		vg_guest_close(g);
	return ret;
}

void vg_guest_forget_kernel(struct vg_guest *g)
{
	if (g->have_kernel)
		vg_linux_close(&g->lx);
	g->have_kernel = false;
}

void vg_guest_close(struct vg_guest *g)
{
	vg_guest_forget_kernel(g);
	vg_mem_close(g->mem);
	g->mem = NULL;
}
