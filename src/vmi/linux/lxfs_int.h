/* SPDX-License-Identifier: MIT */
/* The file-system layouts fs.c, pagecache.c and heldfiles.c share (internal). */
#ifndef VIGIL_LXFS_INT_H
#define VIGIL_LXFS_INT_H

#include "vigil/lxfs.h"

struct vg_lxfs {
	struct vg_linux *lx;
	/* super_block, file_system_type */
	int32_t sb_list, sb_type, sb_root, sb_id, sb_uuid, sb_magic, sb_inodes, fst_name;
	/* inode */
	int32_t i_mode, i_uid, i_gid, i_ino, i_nlink, i_rdev, i_size, i_atime, i_mtime, i_ctime,
		i_state, i_mapping, i_sb, i_sb_list, i_dentry, i_link;
	/* dentry: children in d_subdirs/d_child lists, or (6.8+) d_children/d_sib hlists */
	int32_t d_flags, d_parent, d_name, d_inode, d_child, d_subdirs, d_alias, d_hash;
	bool d_hlist;
	/* mounts */
	int32_t m_parent, m_mountpoint, m_mnt, vm_root, vm_sb, m_mounts, m_child;
	int32_t ns_root, nsp_mnt_ns, task_nsproxy;
	/* page cache */
	int32_t as_pages, as_nrpages, xa_shift, xa_slots, pg_flags;
	int nslots;
	int64_t page_size;	    /* sizeof(struct page) */
	uint64_t vmemmap;	    /* x86-64: vmemmap_base */
	int pg_dirty, pg_writeback; /* bit numbers (enum pageflags), -1 until known */
	/* held files */
	int32_t t_files, fs_fdt, fdt_max, fdt_fd, f_inode;
};

/* Reads a kernel pointer at VA: 0 when it is NULL, -EFAULT when unreadable or not a kernel
 * address. */
int vg_lxfs_ptr(struct vg_lxfs *f, uint64_t va, uint64_t *out);

#endif
