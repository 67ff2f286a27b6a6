/* SPDX-License-Identifier: MIT */
/*
 * Linux file-system objects read from a discovered guest (vigil/linux.h): super blocks, the
 * initial mount namespace's mounts, dentry trees, inodes, page caches, and the files
 * processes hold (executables and file descriptors). Struct layouts come from the kernel's
 * BTF through vg_linux_btf_offset (memoised per build); member renames across kernels
 * (timespec64 fields, 6.8's d_children) are tried in turn.
 *
 * Guest memory is hostile: list walks are bounded and detect cycles, the dentry walk is
 * bounded in depth and count, XArray descents are bounded in depth and nodes, names and
 * paths are capped; anything that does not make sense is an error naming it.
 *
 * Page to memory: a struct page's physical frame comes from the kernel's vmemmap (x86-64:
 * vmemmap_base) in one small function (pagecache.c), so another architecture adds its own.
 */
#ifndef VIGIL_LXFS_H
#define VIGIL_LXFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/linux.h"

#define VG_LXFS_MAX_SB 4096
#define VG_LXFS_MAX_MOUNTS 4096
#define VG_LXFS_MAX_DENTRIES (1u << 20) /* one dentry walk */
#define VG_LXFS_MAX_DEPTH 256
#define VG_LXFS_MAX_INODES (1u << 22) /* one super block's inode list */

struct vg_lxfs;

/* Resolves the layouts; fails naming the first member the kernel's BTF lacks. */
int vg_lxfs_open(struct vg_lxfs **out, struct vg_linux *lx, struct vg_err *err);
void vg_lxfs_close(struct vg_lxfs *f);
struct vg_linux *vg_lxfs_linux(const struct vg_lxfs *f);

struct vg_lx_sb {
	uint64_t addr, root; /* struct super_block, its root dentry */
	uint64_t magic;
	char type[32]; /* file_system_type.name: "tmpfs", "ext4", ... */
	char id[32];   /* s_id: the device name ("vda") or the type */
	uint8_t uuid[16];
};

/* Every super block (super_blocks list). *OUT is malloc'd. */
int vg_lx_superblocks(struct vg_lxfs *f, struct vg_lx_sb **out, size_t *n, struct vg_err *err);

struct vg_lx_mount {
	uint64_t addr;	     /* struct mount */
	uint64_t sb, root;   /* its super block and root dentry (mnt.mnt_root) */
	uint64_t mountpoint; /* the dentry it covers in its parent's file system */
	uint64_t parent;     /* the parent mount, 0 for the namespace root */
	char path[VG_PATH_MAX];
	char type[32];
};

/* The initial mount namespace's mounts (init_task's nsproxy), parents before children, each
 * with its path. *OUT is malloc'd. */
int vg_lx_mounts(struct vg_lxfs *f, struct vg_lx_mount **out, size_t *n, struct vg_err *err);

struct vg_lx_inode {
	uint64_t addr, sb, ino, mapping, nrpages, state;
	uint64_t link; /* i_link: a symlink's target string in memory (tmpfs), 0 otherwise */
	uint32_t mode, uid, gid, nlink, rdev;
	uint64_t size;
	int64_t atime, mtime, ctime;
};

int vg_lx_inode(struct vg_lxfs *f, uint64_t inode, struct vg_lx_inode *out);

/* i_state bits that mean the inode differs from what its file system holds. */
#define VG_LX_I_DIRTY 0x7u /* I_DIRTY_SYNC | I_DIRTY_DATASYNC | I_DIRTY_PAGES */

struct vg_lx_dent {
	uint64_t dentry, inode, parent;
	char name[256]; /* capped at NAME_MAX */
	size_t nlen;
	int depth;	 /* 1 for ROOT's children */
	bool mountpoint; /* another mount covers it (DCACHE_MOUNTED) */
	bool unhashed;	 /* unlinked (d_unhashed) */
};

/* Visits the positive dentries below ROOT, parents first (ROOT itself is not visited). FN
 * returns 0 to go on, VG_LX_SKIP not to enter this dentry's children, or a negative errno that
 * stops the walk and is returned. */
#define VG_LX_SKIP 1
typedef int (*vg_lx_dent_fn)(void *ctx, const struct vg_lx_dent *d);
int vg_lx_dentry_walk(struct vg_lxfs *f, uint64_t root, vg_lx_dent_fn fn, void *ctx,
		      struct vg_err *err);

/* DENTRY's path from the root of its file system ("/a/b"), not crossing mounts. */
int vg_lx_dentry_path(struct vg_lxfs *f, uint64_t dentry, char *out, size_t len);
/* The inode of DENTRY (0 for a negative dentry). */
int vg_lx_dentry_inode(struct vg_lxfs *f, uint64_t dentry, uint64_t *inode);
/* Every inode on super block SB's inode list. */
int vg_lx_sb_inodes(struct vg_lxfs *f, uint64_t sb, int (*fn)(void *ctx, uint64_t inode), void *ctx,
		    struct vg_err *err);
/* The first dentry of INODE's alias list (0 when it has none) and that dentry's name. */
int vg_lx_inode_alias(struct vg_lxfs *f, uint64_t inode, uint64_t *dentry, char *name, size_t len);

/* ---- page cache (pagecache.c) ---- */

enum vg_lx_page_state {
	VG_LX_PAGE_MISSING = 0, /* not cached (a hole in tmpfs) */
	VG_LX_PAGE_CLEAN,
	VG_LX_PAGE_DIRTY,   /* dirty or under writeback: newer than the disk */
	VG_LX_PAGE_SWAPPED, /* a value entry: swapped out or a shadow */
};

/* Copies bytes [OFF, OFF+LEN) of the page cache of MAPPING (an address_space) into BUF;
 * pages not cached read as zeros. STATES (may be NULL) gets one state per 4 KiB page of the
 * range (OFF must then be page-aligned). */
int vg_lx_pagecache_read(struct vg_lxfs *f, uint64_t mapping, uint64_t off, void *buf, size_t len,
			 uint8_t *states, struct vg_err *err);

/* ---- files processes hold (heldfiles.c) ---- */

struct vg_lx_held {
	int32_t pid;
	char comm[VG_COMM_LEN + 1];
	int32_t fd; /* -1: the executable */
	uint64_t file, inode;
};

/* The executable and every open file of every process (thread-group leaders). */
int vg_lx_held_files(struct vg_lxfs *f, struct vg_lx_held **out, size_t *n, struct vg_err *err);

#endif
