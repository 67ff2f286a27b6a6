// SPDX-License-Identifier: MIT
/*
 * d_path() from outside: walk dentry->d_parent to the mount's root, then hop to the parent
 * mount's mountpoint, until the root mount. Names are guest strings (capped at 255 bytes, the
 * kernel's NAME_MAX); depth is capped so a dentry cycle ends.
 */
#include <errno.h>
#include <string.h>

#include "vigil/lxproc.h"
#include "kread.h"

#define DPATH_MAX_DEPTH 128
#define NAME_MAX_LEN 255

int vg_dpath(struct vg_linux *lx, uint64_t path_va, char *buf, size_t len, bool *deleted)
{
	const struct vg_offsets *o = &lx->off;
	uint64_t mnt, dentry;

	if (deleted)
		*deleted = false;
	if (vg_kread_ptr(lx, path_va + o->path_mnt, &mnt) ||
	    vg_kread_ptr(lx, path_va + o->path_dentry, &dentry) || !mnt || !dentry)
		return -EFAULT;
	return vg_dpath_mnt(lx, mnt, dentry, buf, len, deleted);
}

int vg_dpath_mnt(struct vg_linux *lx, uint64_t mnt, uint64_t dentry, char *buf, size_t len,
		 bool *deleted)
{
	const struct vg_offsets *o = &lx->off;
	char tmp[VG_PATH_MAX];
	size_t pos = sizeof(tmp) - 1;
	uint64_t mount, root, parent;
	int depth;

	tmp[pos] = '\0';
	if (deleted)
		*deleted = false;
	if (!mnt || !dentry)
		return -EFAULT;
	if (deleted && o->dentry_d_hash >= 0) {
		uint64_t pprev;

		/* d_unlinked(): unhashed and not a root */
		if (!vg_as_read_u64(&lx->kas, dentry + o->dentry_d_hash + 8, &pprev) && !pprev &&
		    !vg_kread_ptr(lx, dentry + o->dentry_d_parent, &parent) && parent != dentry)
			*deleted = true;
	}
	mount = mnt - o->mount_mnt;
	for (depth = 0; depth < DPATH_MAX_DEPTH; depth++) {
		uint64_t name_ptr;
		uint32_t nlen;
		char name[NAME_MAX_LEN + 1];

		if (vg_kread_ptr(lx, mnt + o->vfsmount_mnt_root, &root))
			return -EFAULT;
		if (dentry == root) {
			uint64_t pm;

			if (vg_kread_ptr(lx, mount + o->mount_mnt_parent, &pm) || !pm)
				return -EFAULT;
			if (pm == mount)
				break;
			if (vg_kread_ptr(lx, mount + o->mount_mnt_mountpoint, &dentry))
				return -EFAULT;
			mount = pm;
			mnt = mount + o->mount_mnt;
			continue;
		}
		if (vg_kread_ptr(lx, dentry + o->dentry_d_parent, &parent) || !parent)
			return -EFAULT;
		if (parent == dentry)
			break; /* root of a detached tree */
		if (vg_as_read_u32(&lx->kas, dentry + o->dentry_d_name + o->qstr_len, &nlen) ||
		    vg_kread_ptr(lx, dentry + o->dentry_d_name + o->qstr_name, &name_ptr))
			return -EFAULT;
		if (nlen > NAME_MAX_LEN)
			nlen = NAME_MAX_LEN;
		if (vg_as_read(&lx->kas, name_ptr, name, nlen))
			return -EFAULT;
		if (nlen + 1 > pos)
			return -ENAMETOOLONG;
		pos -= nlen;
		memcpy(tmp + pos, name, nlen);
		tmp[--pos] = '/';
		dentry = parent;
	}
	if (depth == DPATH_MAX_DEPTH)
		return -ELOOP;
	if (tmp[pos] == '\0')
		tmp[--pos] = '/';
	if (strlen(tmp + pos) >= len)
		return -ENAMETOOLONG;
	strcpy(buf, tmp + pos);
	return 0;
}
