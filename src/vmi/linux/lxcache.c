// SPDX-License-Identifier: MIT
#include <errno.h>

#include "lxcache.h"

int vg_lxcache_try(struct vg_linux *lx, const struct vg_linux_opts *opts)
{
	return -ENOENT;
}

void vg_lxcache_store(const struct vg_linux *lx, const struct vg_linux_opts *opts)
{
}
