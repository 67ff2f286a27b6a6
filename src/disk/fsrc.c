// SPDX-License-Identifier: MIT
/* The source interface's entry points: what every source does around its own operations. */
#include <stdlib.h>

#include "vigil/disk.h"

int vg_fsrc_list(struct vg_fsrc *s, struct vg_ftab *t, struct vg_err *err)
{
	int ret;

	vg_ftab_init(t);
	ret = s->ops->list(s, t, err);
	if (!ret)
		ret = vg_ftab_finish(t, err);
	if (ret)
		vg_ftab_free(t);
	return ret;
}

int vg_fsrc_read(struct vg_fsrc *s, const struct vg_fent *e, void *buf, size_t len,
		 struct vg_err *err)
{
	if (len > e->size)
		len = (size_t)e->size;
	return s->ops->read(s, e, buf, len, err);
}

void vg_fsrc_close(struct vg_fsrc *s)
{
	if (!s)
		return;
	if (s->ops && s->ops->close)
		s->ops->close(s);
	free(s);
}
