// SPDX-License-Identifier: MIT
/* Which driver a SOURCE names: remote://... the broker's client, anything else a file. Apart
 * from source.c so the parsers' fuzz targets need no driver. */
#include <errno.h>

#include "vmi/mem/mem_impl.h"

int vg_mem_open_kind(struct vg_mem **out, const char *path, enum vg_mem_kind kind,
		     struct vg_err *err)
{
	if (!out || !path)
		return vg_errf(err, EINVAL, "invalid arguments");
	*out = NULL;
	if (vg_mem_is_remote(path)) {
		/* the broker parses the file and says what it is; a guest's bytes never do */
		if (kind != VG_MEM_DETECT)
			return vg_errf(
				err, EINVAL,
				"%s: the broker's configuration sets a remote guest's format",
				path);
		return vg_mem_remote_open(out, path, err);
	}
	return vg_mem_file_open(out, path, kind, err);
}

int vg_mem_open(struct vg_mem **out, const char *path, struct vg_err *err)
{
	return vg_mem_open_kind(out, path, VG_MEM_DETECT, err);
}
