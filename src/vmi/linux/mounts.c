// SPDX-License-Identifier: MIT
/*
 * The mounts of the initial mount namespace (lxproc.h): init_task.nsproxy->mnt_ns, its list of
 * struct mount (mnt_list; 6.8 moved it to an rbtree, not read here), each with the device
 * name it was mounted from, where it sits (the path of its mountpoint in its parent mount),
 * its file system type and whether it is read-only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/lxproc.h"
#include "kread.h"

#define MNT_READONLY 0x40
#define SB_RDONLY 0x1

static uint64_t ptr_at(struct vg_linux *lx, uint64_t base, const char *type, const char *path)
{
	int32_t o = vg_linux_btf_offset(lx, type, path);
	uint64_t p = 0;

	if (o < 0 || !base || vg_kread_ptr(lx, base + (uint64_t)o, &p))
		return 0;
	return p;
}

static int str_at(struct vg_linux *lx, uint64_t base, const char *type, const char *path, char *buf,
		  size_t len)
{
	int32_t o = vg_linux_btf_offset(lx, type, path);

	return o < 0 || !base ? -ENOENT : vg_kread_strp(lx, base + (uint64_t)o, buf, len);
}

static void read_mount(struct vg_linux *lx, uint64_t mount, struct vg_mount *m)
{
	const struct vg_offsets *o = &lx->off;
	uint64_t mnt = mount + (uint64_t)o->mount_mnt, parent, mp, sb, type;
	int32_t flags_off = vg_linux_btf_offset(lx, "vfsmount", "mnt_flags");
	int32_t sbf_off = vg_linux_btf_offset(lx, "super_block", "s_flags");
	uint32_t flags = 0;
	uint64_t sbflags = 0;

	if (str_at(lx, mount, "mount", "mnt_devname", m->dev, sizeof(m->dev)))
		snprintf(m->dev, sizeof(m->dev), "none");
	sb = ptr_at(lx, mnt, "vfsmount", "mnt_sb");
	type = ptr_at(lx, sb, "super_block", "s_type");
	if (str_at(lx, type, "file_system_type", "name", m->fstype, sizeof(m->fstype)))
		snprintf(m->fstype, sizeof(m->fstype), "unknown");
	if (flags_off >= 0)
		vg_as_read_u32(&lx->kas, mnt + (uint64_t)flags_off, &flags);
	if (sb && sbf_off >= 0)
		vg_as_read_u64(&lx->kas, sb + (uint64_t)sbf_off, &sbflags);
	m->ro = (flags & MNT_READONLY) || (sbflags & SB_RDONLY);
	/* where it is mounted: its mountpoint dentry, seen from the parent mount */
	if (vg_kread_ptr(lx, mount + (uint64_t)o->mount_mnt_parent, &parent) || !parent ||
	    parent == mount || vg_kread_ptr(lx, mount + (uint64_t)o->mount_mnt_mountpoint, &mp) ||
	    !mp ||
	    vg_dpath_mnt(lx, parent + (uint64_t)o->mount_mnt, mp, m->path, sizeof(m->path), NULL))
		snprintf(m->path, sizeof(m->path), "/");
}

int vg_mounts_list(struct vg_linux *lx, struct vg_mount_list *out, struct vg_err *err)
{
	int32_t list_off = vg_linux_btf_offset(lx, "mnt_namespace", "list");
	int32_t mnt_list = vg_linux_btf_offset(lx, "mount", "mnt_list");
	uint64_t ns, head, cur;
	size_t steps;

	memset(out, 0, sizeof(*out));
	ns = ptr_at(lx, ptr_at(lx, lx->init_task, "task_struct", "nsproxy"), "nsproxy", "mnt_ns");
	if (list_off < 0 || mnt_list < 0 || !ns)
		return vg_errf(err, ENOTSUP, "this kernel's mount namespace layout is unknown");
	head = ns + (uint64_t)list_off;
	if (vg_kread_ptr(lx, head, &cur))
		return vg_errf(err, EFAULT, "mount list unreadable");
	for (steps = 0; cur != head && steps < VG_LXP_MAX_MOUNTS; steps++) {
		struct vg_mount *m;

		if (!cur || !vg_kptr_ok(cur))
			return vg_errf(err, EFAULT, "mount list broken");
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 32;
			void *p = realloc(out->v, cap * sizeof(*out->v));

			if (!p)
				return vg_errf(err, ENOMEM, "out of memory");
			out->v = p;
			out->cap = cap;
		}
		m = &out->v[out->n++];
		memset(m, 0, sizeof(*m));
		read_mount(lx, cur - (uint64_t)mnt_list, m);
		if (vg_kread_ptr(lx, cur, &cur))
			return vg_errf(err, EFAULT, "mount list broken");
	}
	return 0;
}

void vg_mounts_free(struct vg_mount_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}
