/* SPDX-License-Identifier: MIT */
/* The ext2/3/4 image source's internals (image.c, ext_io.c, ext_walk.c, ext_read.c). */
#ifndef VIGIL_DISK_EXT_INT_H
#define VIGIL_DISK_EXT_INT_H

#include <ext2fs/ext2fs.h>

#include "vigil/disk.h"

/* The window of the block source that holds the file system (a partition or the disk). */
struct vg_ext_win {
	struct vg_blk *blk;
	uint64_t base, len;
};

struct vg_ext {
	struct vg_ext_win win;
	ext2_filsys fs;
	uint32_t bs; /* block size */
};

/* libext2fs I/O over a window: name it with vg_ext_io_name() and pass vg_ext_io_manager to
 * ext2fs_open2. Read-only: any write is refused. */
extern const io_manager vg_ext_io_manager;
void vg_ext_io_name(const struct vg_ext_win *w, char *buf, size_t len);

/* The listing (ext_walk.c) and the content reader (ext_read.c) of a source. */
int vg_ext_list(struct vg_fsrc *s, struct vg_ftab *t, struct vg_err *err);
int vg_ext_read(struct vg_fsrc *s, const struct vg_fent *e, void *buf, size_t len,
		struct vg_err *err);
/* Reads the first LEN bytes of inode INO (already read into INODE) into BUF. */
int vg_ext_read_inode(struct vg_ext *x, ext2_ino_t ino, struct ext2_inode_large *inode, void *buf,
		      size_t len, struct vg_err *err);

/* "libext2fs: <message>" for an errcode_t. */
const char *vg_ext_strerror(errcode_t code);

#endif
