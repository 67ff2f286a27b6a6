// SPDX-License-Identifier: MIT
/*
 * A process's open files (lxproc.h): files_struct -> fdtable -> struct file *fd[], each named
 * the way readlink(/proc/PID/fd/N) names it. Files of the kernel's pseudo file systems have no
 * path: sockets and pipes are "socket:[INODE]" and "pipe:[INODE]" (the inode numbers net/tcp
 * and other processes' fds show, so tools can match them), anonymous inodes
 * "anon_inode:NAME". Told apart by their superblock's magic, as the kernel's d_dname does.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vigil/lxproc.h"
#include "kread.h"

#define SOCKFS_MAGIC 0x534F434Bu
#define PIPEFS_MAGIC 0x50495045u
#define ANON_INODE_FS_MAGIC 0x09041934u

struct fdoff {
	int32_t files, fdt, max_fds, fd, f_path, f_inode, f_flags, f_pos, i_ino, i_sb, s_magic;
};

static bool resolve(struct vg_linux *lx, struct fdoff *o)
{
	o->files = vg_linux_btf_offset(lx, "task_struct", "files");
	o->fdt = vg_linux_btf_offset(lx, "files_struct", "fdt");
	o->max_fds = vg_linux_btf_offset(lx, "fdtable", "max_fds");
	o->fd = vg_linux_btf_offset(lx, "fdtable", "fd");
	o->f_path = vg_linux_btf_offset(lx, "file", "f_path");
	o->f_inode = vg_linux_btf_offset(lx, "file", "f_inode");
	o->f_flags = vg_linux_btf_offset(lx, "file", "f_flags");
	o->f_pos = vg_linux_btf_offset(lx, "file", "f_pos");
	o->i_ino = vg_linux_btf_offset(lx, "inode", "i_ino");
	o->i_sb = vg_linux_btf_offset(lx, "inode", "i_sb");
	o->s_magic = vg_linux_btf_offset(lx, "super_block", "s_magic");
	return o->files >= 0 && o->fdt >= 0 && o->max_fds >= 0 && o->fd >= 0 && o->f_path >= 0 &&
	       o->f_inode >= 0 && o->i_ino >= 0 && o->i_sb >= 0 && o->s_magic >= 0;
}

static void name_file(struct vg_linux *lx, const struct fdoff *o, struct vg_fd *f)
{
	uint64_t inode = 0, sb = 0, magic = 0;
	bool deleted = false;
	char path[VG_PATH_MAX];

	if (!vg_kread_ptr(lx, f->file + (uint64_t)o->f_inode, &inode) && inode &&
	    !vg_as_read_u64(&lx->kas, inode + (uint64_t)o->i_ino, &f->ino) &&
	    !vg_kread_ptr(lx, inode + (uint64_t)o->i_sb, &sb) && sb)
		vg_as_read_u64(&lx->kas, sb + (uint64_t)o->s_magic, &magic);
	if (o->f_flags >= 0)
		vg_as_read_u32(&lx->kas, f->file + (uint64_t)o->f_flags, &f->flags);
	if (o->f_pos >= 0)
		vg_as_read_u64(&lx->kas, f->file + (uint64_t)o->f_pos, &f->pos);
	switch ((uint32_t)magic) {
	case SOCKFS_MAGIC:
		f->socket = true;
		snprintf(f->target, sizeof(f->target), "socket:[%llu]", (unsigned long long)f->ino);
		return;
	case PIPEFS_MAGIC:
		snprintf(f->target, sizeof(f->target), "pipe:[%llu]", (unsigned long long)f->ino);
		return;
	default:
		break;
	}
	if (vg_dpath(lx, f->file + (uint64_t)o->f_path, path, sizeof(path), &deleted)) {
		snprintf(f->target, sizeof(f->target), "[unreadable path]");
		return;
	}
	if ((uint32_t)magic == ANON_INODE_FS_MAGIC)
		snprintf(f->target, sizeof(f->target), "anon_inode:%s",
			 path[0] == '/' ? path + 1 : path);
	else
		snprintf(f->target, sizeof(f->target), "%s%s", path, deleted ? " (deleted)" : "");
}

int vg_task_fds(struct vg_linux *lx, const struct vg_task *t,
		int (*fn)(void *ctx, const struct vg_fd *f), void *ctx)
{
	struct fdoff o;
	uint64_t files, fdt, arr, ptrs[64];
	uint32_t max;

	if (!resolve(lx, &o))
		return -ENOTSUP;
	if (vg_kread_ptr(lx, t->addr + (uint64_t)o.files, &files) || !files)
		return 0; /* kernel threads and exiting tasks have no files */
	if (vg_kread_ptr(lx, files + (uint64_t)o.fdt, &fdt) || !fdt ||
	    vg_as_read_u32(&lx->kas, fdt + (uint64_t)o.max_fds, &max) ||
	    vg_kread_ptr(lx, fdt + (uint64_t)o.fd, &arr) || !arr)
		return -EFAULT;
	if (max > VG_LXP_MAX_FDS)
		max = VG_LXP_MAX_FDS;
	/* the pointer array is read 64 entries at a time: one read instead of 64 */
	for (uint32_t base = 0; base < max; base += 64) {
		uint32_t n = max - base < 64 ? max - base : 64;

		if (vg_as_read(&lx->kas, arr + 8ull * base, ptrs, 8 * n))
			return -EFAULT;
		for (uint32_t i = 0; i < n; i++) {
			struct vg_fd f = { .fd = (int32_t)(base + i), .file = ptrs[i] };
			int ret;

			if (!f.file)
				continue;
			if (!vg_kptr_ok(f.file))
				return -EFAULT;
			name_file(lx, &o, &f);
			ret = fn(ctx, &f);
			if (ret)
				return ret;
		}
	}
	return 0;
}
