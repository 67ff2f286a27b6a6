/* SPDX-License-Identifier: MIT */
/*
 * Guest storage read from outside (docs/disk.md). Two kinds of source give one file table
 * the checks (vigil/disk_scan.h) work on:
 *
 *   image   a guest disk image opened read-only in-process: raw images with pread, qcow2 and
 *           the other formats QEMU reads through qemu-nbd, which libnbd starts privately
 *           (socket activation, read-only, shared with a running QEMU, no backing file unless
 *           asked for). MBR and GPT partition tables are found automatically; the ext2/3/4
 *           file system is read with libext2fs: no mount, no kernel, never a write.
 *   ram     the guest's tmpfs, ramfs, devtmpfs and initramfs (rootfs) mounts, read from its
 *           memory: the kernel's own dentries, inodes and page cache (vigil/lxfs.h).
 *
 * A file table holds every entry reached from the root (and, for images, the allocated inodes
 * no directory reaches), with metadata, symlink targets and a path index; file contents are
 * read from the source on demand.
 *
 * Everything an image or a guest holds is attacker-controlled: lengths, block numbers,
 * extents, directory trees and symlinks are bounded; a corrupt structure is an error that
 * names what and where (never a crash, a hang or a silently wrong table).
 */
#ifndef VIGIL_DISK_H
#define VIGIL_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/err.h"

/* ---- block sources (blk.c) ---- */

struct vg_blk;

struct vg_blk_opts {
	/* "auto" (qcow2 by its magic, else raw), "raw", or a QEMU format name ("qcow2", "vmdk",
	 * ...) read through qemu-nbd; NULL = "auto" */
	const char *format;
	bool backing;	      /* follow a qcow2 backing chain (off: an image naming one fails) */
	const char *snapshot; /* an internal snapshot to read instead (qemu-nbd -l) */
};

int vg_blk_open(struct vg_blk **out, const char *path, const struct vg_blk_opts *o,
		struct vg_err *err);
/* Over a caller-owned buffer (unit tests, fuzzing); the buffer must outlive the source. */
int vg_blk_open_buffer(struct vg_blk **out, const void *buf, size_t len, struct vg_err *err);
void vg_blk_close(struct vg_blk *b);
uint64_t vg_blk_size(const struct vg_blk *b);
const char *vg_blk_format(const struct vg_blk *b); /* "raw", "qcow2", "buffer", ... */
/* LEN bytes at OFF; -ERANGE past the end (a truncated image), -EIO when the source fails. */
int vg_blk_read(struct vg_blk *b, uint64_t off, void *buf, size_t len);

/* ---- partition tables (parttab.c) ---- */

#define VG_PART_MAX 128

struct vg_part {
	int number;	/* 1-based as Linux names them (vda1); 0 = the whole disk */
	uint64_t start; /* bytes */
	uint64_t size;
	char scheme[8]; /* "mbr", "gpt", "none" */
	char type[40];	/* MBR type byte ("0x83") or GPT type GUID */
	char name[72];	/* GPT partition name (UTF-16 to ASCII, '?' for the rest) */
};

struct vg_part_table {
	struct vg_part v[VG_PART_MAX];
	int n;
	char scheme[8]; /* "mbr", "gpt" or "none" (no table) */
};

/* Reads the table through READ (offsets in bytes, from the start of the disk). Entries that
 * lie outside the disk are dropped; a GPT whose header or entry CRC fails falls back to its
 * backup copy, then to the MBR's own entries. */
typedef int (*vg_read_fn)(void *ctx, uint64_t off, void *buf, size_t len);
int vg_part_scan(vg_read_fn read, void *ctx, uint64_t disk_size, struct vg_part_table *out,
		 struct vg_err *err);

/* ---- file tables (ftab.c) ---- */

enum {
	VG_FENT_UNREACHABLE = 1 << 0, /* allocated inode that no directory reaches */
	VG_FENT_ORPHAN = 1 << 1,      /* on the orphan list: deleted while still open */
	VG_FENT_DELETED = 1 << 2,     /* (ram) unlinked, still held by the kernel */
	VG_FENT_SHADOWED = 1 << 3,    /* (ram) below a directory another mount covers */
	VG_FENT_BADNAME = 1 << 4,     /* the name held '/' or NUL (replaced by '?') */
	VG_FENT_UNLISTED = 1 << 5,    /* a directory whose entries were not (all) read */
	VG_FENT_COVERED = 1 << 6,     /* (ram) a mount point's own directory, under the mount */
};
/* entries with these flags have no place in the tree: never found by path */
#define VG_FENT_OFFTREE                                                              \
	(VG_FENT_UNREACHABLE | VG_FENT_ORPHAN | VG_FENT_DELETED | VG_FENT_SHADOWED | \
	 VG_FENT_COVERED)

struct vg_fent {
	uint32_t path;	 /* offset of the NUL-terminated path in the table's arena */
	uint32_t name;	 /* offset of the last component within the path */
	uint32_t parent; /* index of the parent directory (the root is its own parent) */
	uint32_t link;	 /* offset of the symlink target in the arena, UINT32_MAX when none */
	uint32_t mode, uid, gid, nlink;
	uint32_t rdev; /* device number (major << 20 | minor) of device nodes */
	uint32_t flags;
	uint32_t nsubdirs; /* directories: subdirectories listed in it */
	uint64_t ino;
	uint64_t size;
	int64_t atime, mtime, ctime, crtime; /* seconds; crtime 0 when the source has none */
	uint64_t handle;		     /* source's own reference (inode address for ram) */
};

#define VG_FTAB_MAX_ENTRIES (1u << 22)
#define VG_FTAB_MAX_PATH 4096
#define VG_FTAB_MAX_NOTES 1000

/* What a listing met and went past: the table is complete except where a note says. */
enum vg_fnote_kind {
	VG_FNOTE_LOOP,	  /* a directory that is its own ancestor (not descended again) */
	VG_FNOTE_CORRUPT, /* an entry or inode that could not be read or makes no sense */
	VG_FNOTE_LIMIT,	  /* a bound was reached (depth, path length, entries, sizes) */
};

struct vg_fnote {
	enum vg_fnote_kind kind;
	char *path;
	char *what;
};

struct vg_ftab {
	struct vg_fent *v;
	size_t n, cap;
	char *arena; /* paths and link targets */
	size_t alen, acap;
	uint32_t *index; /* open addressing: path hash -> entry index + 1 */
	size_t imask;
	struct vg_fnote *notes;
	size_t nnotes, notes_dropped;
};

void vg_ftab_init(struct vg_ftab *t);
void vg_ftab_free(struct vg_ftab *t);
/* Adds NAME (NLEN bytes) under directory PARENT (UINT32_MAX for the root, whose name is "");
 * META gives everything but the offsets; *IDX gets the new entry's index. Off-tree entries
 * (flags) are given a path but are not indexed. -E2BIG past VG_FTAB_MAX_ENTRIES or when the
 * path would exceed VG_FTAB_MAX_PATH. */
int vg_ftab_add(struct vg_ftab *t, uint32_t parent, const char *name, size_t nlen,
		const struct vg_fent *meta, uint32_t *idx, struct vg_err *err);
/* Adds an off-tree entry whose path is PATH as given (e.g. "<inode 12>", "/tmp/x"). */
int vg_ftab_add_path(struct vg_ftab *t, const char *path, const struct vg_fent *meta, uint32_t *idx,
		     struct vg_err *err);
int vg_ftab_set_link(struct vg_ftab *t, uint32_t idx, const char *target, size_t len);
/* Records a note (past VG_FTAB_MAX_NOTES they are only counted). */
void vg_ftab_note(struct vg_ftab *t, enum vg_fnote_kind kind, const char *path, const char *fmt,
		  ...) __attribute__((format(printf, 4, 5)));
/* Builds the path index (after the last add) and counts each directory's subdirectories. */
int vg_ftab_finish(struct vg_ftab *t, struct vg_err *err);

static inline const char *vg_fent_path(const struct vg_ftab *t, const struct vg_fent *e)
{
	return t->arena + e->path;
}
static inline const char *vg_fent_name(const struct vg_ftab *t, const struct vg_fent *e)
{
	return t->arena + e->path + e->name;
}
static inline const char *vg_fent_link(const struct vg_ftab *t, const struct vg_fent *e)
{
	return e->link == UINT32_MAX ? NULL : t->arena + e->link;
}

/* Index of the entry at exactly PATH (no symlink is followed), or -1. */
long vg_ftab_lookup(const struct vg_ftab *t, const char *path);
/* Index of what PATH names after following symlinks in every component (at most 40, like the
 * kernel), or -1 when it does not resolve inside the table. */
long vg_ftab_resolve(const struct vg_ftab *t, const char *path);

/* ---- sources ---- */

struct vg_fsrc;

struct vg_fsrc_ops {
	/* Adds every entry to T (vg_fsrc_list initialises and finishes the table). */
	int (*list)(struct vg_fsrc *s, struct vg_ftab *t, struct vg_err *err);
	/* The first LEN bytes of E's content into BUF (LEN <= E's size); holes read as zeros. */
	int (*read)(struct vg_fsrc *s, const struct vg_fent *e, void *buf, size_t len,
		    struct vg_err *err);
	void (*close)(struct vg_fsrc *s);
};

struct vg_fsrc {
	const struct vg_fsrc_ops *ops;
	const char *kind;  /* "ext4", "ext3", "ext2", "ram" */
	char label[256];   /* what was read: the image path (and partition), or the memory source */
	uint8_t uuid[16];  /* file-system UUID (images), zero for ram */
	char warning[512]; /* e.g. "needs journal recovery: recent changes may be missing" */
	void *priv;
};

/* T gets the source's finished table (vg_ftab_free it). */
int vg_fsrc_list(struct vg_fsrc *s, struct vg_ftab *t, struct vg_err *err);
/* The first LEN bytes of E (at most its size) into BUF. */
int vg_fsrc_read(struct vg_fsrc *s, const struct vg_fent *e, void *buf, size_t len,
		 struct vg_err *err);
void vg_fsrc_close(struct vg_fsrc *s);

/* ---- disk images (image.c) ---- */

struct vg_image_opts {
	struct vg_blk_opts blk;
	int partition; /* -1: the file system on the whole disk, else the largest ext partition;
			* N: partition N (1-based) */
};

/* What an image holds: the block source's format and size, the partition table and, for each
 * partition (and the whole disk), whether an ext2/3/4 superblock is there. */
struct vg_image_info {
	char format[16];
	uint64_t size;
	struct vg_part_table parts;
	bool ext[VG_PART_MAX]; /* ext superblock in parts.v[i] */
	bool whole_ext;	       /* ext superblock at the start of the disk */
};

int vg_image_probe(const char *path, const struct vg_blk_opts *o, struct vg_image_info *info,
		   struct vg_err *err);
/* Opens the ext2/3/4 file system of PATH as a source (vg_fsrc_close frees it). */
int vg_image_open(struct vg_fsrc **out, const char *path, const struct vg_image_opts *o,
		  struct vg_err *err);
/* Same over an open block source the source then owns (fuzzing, tests). */
int vg_image_open_blk(struct vg_fsrc **out, struct vg_blk *b, const char *label, int partition,
		      struct vg_err *err);

#endif
