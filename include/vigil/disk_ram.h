/* SPDX-License-Identifier: MIT */
/*
 * Guest storage seen through guest memory (docs/disk.md), built on vigil/lxfs.h:
 *
 *   RAM disks   the guest's tmpfs, ramfs, devtmpfs and initramfs (rootfs) mounts as a file
 *               source (vigil/disk.h): the kernel's own dentry trees from each mount's root,
 *               inodes and page cache. Files deleted but still held, and files a later mount
 *               covers, are listed too (flagged). The same checks and YARA rules run on them.
 *   cross-view  the kernel's view of a mounted disk against the image: what it caches and
 *               what processes hold (running executables, open files) compared with what the
 *               disk says. Findings: deleted-in-use (a running or open file whose disk inode
 *               is gone), hidden-in-use (a linked file the kernel holds that no directory on
 *               the disk lists), changed-on-disk (clean cached pages or inode fields that
 *               differ from the disk: the disk was written behind the kernel's back, or the
 *               page cache was patched in memory).
 *
 * Guest memory is hostile: every walk is bounded (lxfs.h) and a structure that does not make
 * sense is an error naming it, never a guess.
 */
#ifndef VIGIL_DISK_RAM_H
#define VIGIL_DISK_RAM_H

#include "vigil/disk_scan.h"
#include "vigil/linux.h"

/* The guest's RAM disks as one tree (mount paths of the initial mount namespace). LX must
 * outlive the source. */
int vg_ram_open(struct vg_fsrc **out, struct vg_linux *lx, const char *label, struct vg_err *err);

struct vg_xview_stats {
	uint64_t inodes;	 /* kernel inodes of the file system looked at */
	uint64_t held;		 /* of them, held by a process (executable or open file) */
	uint64_t pages;		 /* clean cached pages compared with the disk */
	uint64_t skipped;	 /* dirty or under writeback: not comparable */
	char mount[VG_PATH_MAX]; /* where the guest mounted it */
};

/* Compares the guest's mount of IMAGE's file system (found by UUID) with SCAN, the scan of
 * that image (its table). Findings are added to OUT. -ENOENT when the guest has not mounted
 * this file system. */
int vg_xview(struct vg_linux *lx, struct vg_fsrc *image, const struct vg_disk_scan *scan,
	     struct vg_dfindings *out, struct vg_xview_stats *st, struct vg_err *err);

#endif
