// SPDX-License-Identifier: MIT
/*
 * Opening a disk image: the block source, its partition table, the partition that holds the
 * ext2/3/4 file system, and libext2fs over that window, read-only. Before libext2fs sees the
 * superblock, its size fields are checked against the window: a hostile or truncated image
 * then fails with the sizes in the message instead of sending libext2fs after group
 * descriptors that are not there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ext_int.h"

#define SB_OFF 1024
#define MAX_LOG_BLOCK 6 /* 64 KiB blocks */

static const struct vg_fsrc_ops ext_ops;

static int read_win(void *ctx, uint64_t off, void *buf, size_t len)
{
	return vg_blk_read(ctx, off, buf, len);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool ext_magic(struct vg_blk *b, uint64_t base, uint64_t len)
{
	uint8_t m[2];

	return len >= SB_OFF + 1024 && !vg_blk_read(b, base + SB_OFF + 56, m, 2) && m[0] == 0x53 &&
	       m[1] == 0xef;
}

static void fill_info(struct vg_blk *b, struct vg_image_info *info)
{
	info->whole_ext = ext_magic(b, 0, vg_blk_size(b));
	for (int i = 0; i < info->parts.n; i++)
		info->ext[i] = ext_magic(b, info->parts.v[i].start, info->parts.v[i].size);
}

int vg_image_probe(const char *path, const struct vg_blk_opts *o, struct vg_image_info *info,
		   struct vg_err *err)
{
	struct vg_blk *b;
	int ret;

	memset(info, 0, sizeof(*info));
	ret = vg_blk_open(&b, path, o, err);
	if (ret)
		return ret;
	snprintf(info->format, sizeof(info->format), "%s", vg_blk_format(b));
	info->size = vg_blk_size(b);
	ret = vg_part_scan(read_win, b, info->size, &info->parts, err);
	if (!ret)
		fill_info(b, info);
	vg_blk_close(b);
	return ret ? vg_err_prefix(err, "%s", path) : 0;
}

/* The window to open: the whole disk when it holds the file system, else the largest ext
 * partition, or the one the caller named. */
static int pick(struct vg_blk *b, const char *label, int partition, struct vg_ext_win *w,
		int *number, struct vg_err *err)
{
	struct vg_image_info info = { 0 };
	int best = -1, ret;

	info.size = vg_blk_size(b);
	ret = vg_part_scan(read_win, b, info.size, &info.parts, err);
	if (ret)
		return vg_err_prefix(err, "%s", label);
	fill_info(b, &info);
	w->blk = b;
	*number = 0;
	if (partition == 0 || (partition < 0 && info.whole_ext)) {
		w->base = 0;
		w->len = info.size;
		return 0;
	}
	for (int i = 0; i < info.parts.n; i++) {
		const struct vg_part *p = &info.parts.v[i];

		if (partition > 0 && p->number == partition) {
			if (!info.ext[i])
				return vg_errf(err, ENOENT,
					       "%s: partition %d (%s type %s) holds no ext2/3/4 "
					       "file system",
					       label, partition, p->scheme, p->type);
			best = i;
			break;
		}
		if (partition < 0 && info.ext[i] && (best < 0 || p->size > info.parts.v[best].size))
			best = i;
	}
	if (best < 0) {
		if (partition > 0)
			return vg_errf(err, ENOENT, "%s: no partition %d (%s table, %d partitions)",
				       label, partition, info.parts.scheme, info.parts.n);
		return vg_errf(err, ENOENT,
			       "%s: no ext2/3/4 file system found (%s partition table, %d "
			       "partitions); see 'vigil disk info'",
			       label, info.parts.scheme, info.parts.n);
	}
	w->base = info.parts.v[best].start;
	w->len = info.parts.v[best].size;
	*number = info.parts.v[best].number;
	return 0;
}

/* The superblock's size claims against the window, before libext2fs trusts them. */
static int check_sb(const struct vg_ext_win *w, const char *label, struct vg_err *err)
{
	uint8_t sb[1024];
	uint32_t log_bs, incompat;
	uint64_t blocks, bs;

	if (vg_blk_read(w->blk, w->base + SB_OFF, sb, sizeof(sb)))
		return vg_errf(err, EIO, "%s: superblock unreadable", label);
	log_bs = le32(sb + 24);
	incompat = le32(sb + 96);
	if (log_bs > MAX_LOG_BLOCK)
		return vg_errf(err, EINVAL, "%s: corrupt superblock: block size 2^%u KiB", label,
			       log_bs);
	bs = 1024ull << log_bs;
	blocks = le32(sb + 4);
	if (incompat & 0x80) /* 64bit: the high half of the block count */
		blocks |= (uint64_t)le32(sb + 0x150) << 32;
	if (!blocks || !le32(sb + 0) || !le32(sb + 32) || !le32(sb + 40))
		return vg_errf(err, EINVAL,
			       "%s: corrupt superblock: zero blocks, inodes or group size", label);
	if (blocks > w->len / bs)
		return vg_errf(err, ERANGE,
			       "%s: truncated image: the file system needs %llu bytes (%llu "
			       "blocks of %llu), the image holds %llu",
			       label, (unsigned long long)(blocks * bs), (unsigned long long)blocks,
			       (unsigned long long)bs, (unsigned long long)w->len);
	return 0;
}

static const char *kind_of(ext2_filsys fs)
{
	if (ext2fs_has_feature_extents(fs->super) || ext2fs_has_feature_64bit(fs->super) ||
	    ext2fs_has_feature_flex_bg(fs->super))
		return "ext4";
	return ext2fs_has_feature_journal(fs->super) ? "ext3" : "ext2";
}

int vg_image_open_blk(struct vg_fsrc **out, struct vg_blk *b, const char *label, int partition,
		      struct vg_err *err)
{
	struct vg_fsrc *s = calloc(1, sizeof(*s));
	struct vg_ext *x = calloc(1, sizeof(*x));
	char name[64];
	errcode_t ec;
	int number, ret;

	*out = NULL;
	if (!s || !x) {
		free(s);
		free(x);
		vg_blk_close(b);
		return vg_errf(err, ENOMEM, "out of memory");
	}
	s->ops = &ext_ops;
	s->priv = x;
	x->win.blk = b;
	ret = pick(b, label, partition, &x->win, &number, err);
	if (!ret)
		ret = check_sb(&x->win, label, err);
	if (ret)
		goto fail;
	vg_ext_io_name(&x->win, name, sizeof(name));
	ec = ext2fs_open2(name, NULL,
			  EXT2_FLAG_64BITS | EXT2_FLAG_SKIP_MMP | EXT2_FLAG_IGNORE_CSUM_ERRORS, 0,
			  0, vg_ext_io_manager, &x->fs);
	if (ec) {
		x->fs = NULL;
		ret = vg_errf(err, EINVAL, "%s: not a readable ext2/3/4 file system: %s", label,
			      vg_ext_strerror(ec));
		goto fail;
	}
	x->bs = (uint32_t)x->fs->blocksize;
	s->kind = kind_of(x->fs);
	memcpy(s->uuid, x->fs->super->s_uuid, sizeof(s->uuid));
	if (number)
		snprintf(s->label, sizeof(s->label), "%s (partition %d)", label, number);
	else
		snprintf(s->label, sizeof(s->label), "%s", label);
	if (ext2fs_has_feature_journal_needs_recovery(x->fs->super))
		snprintf(s->warning, sizeof(s->warning),
			 "%s was not cleanly unmounted: changes still only in its journal are not "
			 "seen (sync or pause the guest first)",
			 s->label);
	*out = s;
	return 0;
fail:
	vg_fsrc_close(s);
	return ret;
}

int vg_image_open(struct vg_fsrc **out, const char *path, const struct vg_image_opts *o,
		  struct vg_err *err)
{
	struct vg_blk *b;
	int ret;

	*out = NULL;
	ret = vg_blk_open(&b, path, o ? &o->blk : NULL, err);
	if (ret)
		return ret;
	return vg_image_open_blk(out, b, path, o ? o->partition : -1, err);
}

static void ext_close(struct vg_fsrc *s)
{
	struct vg_ext *x = s->priv;

	if (x) {
		if (x->fs)
			ext2fs_close_free(&x->fs);
		vg_blk_close(x->win.blk);
		free(x);
	}
}

static const struct vg_fsrc_ops ext_ops = {
	.list = vg_ext_list,
	.read = vg_ext_read,
	.close = ext_close,
};
