// SPDX-License-Identifier: MIT
/*
 * File contents of an ext2/3/4 image. libext2fs maps the file (extent tree, block map, or
 * inline data); the data itself is read in whole runs straight into the caller's buffer, a
 * large pread per extent instead of libext2fs's block-at-a-time file reads. Mappings come from
 * the image and are hostile: runs must go forward, stay inside the file system, and the walk
 * stops once the requested bytes are filled (and after a bounded number of steps).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ext_int.h"

#define INLINE_MAX 65536

struct filler {
	struct vg_ext *x;
	uint8_t *buf;
	uint64_t len, done;
	uint32_t ino;
	struct vg_err *err;
	int ret;
	/* block-map runs being coalesced */
	uint64_t run_l, run_p, run_n;
};

/* Places N blocks of file block LBLK, stored at PBLK (or zeros); 1 when the buffer is full. */
static int fill(struct filler *f, uint64_t lblk, uint64_t pblk, uint64_t n, bool zero)
{
	uint64_t bs = f->x->bs, start = lblk * bs, bytes;
	uint64_t blocks = ext2fs_blocks_count(f->x->fs->super);

	if (start >= f->len)
		return 1;
	if (start < f->done) {
		f->ret = vg_errf(f->err, EINVAL, "inode %u: block map goes backwards at block %llu",
				 f->ino, (unsigned long long)lblk);
		return 1;
	}
	if (!zero && (pblk >= blocks || n > blocks - pblk)) {
		f->ret = vg_errf(f->err, ERANGE,
				 "inode %u: blocks %llu..%llu lie past the end of the file system "
				 "(%llu blocks)",
				 f->ino, (unsigned long long)pblk,
				 (unsigned long long)(pblk + n - 1), (unsigned long long)blocks);
		return 1;
	}
	memset(f->buf + f->done, 0, start - f->done);
	bytes = n * bs < f->len - start ? n * bs : f->len - start;
	if (zero) {
		memset(f->buf + start, 0, bytes);
	} else if (vg_blk_read(f->x->win.blk, f->x->win.base + pblk * bs, f->buf + start, bytes)) {
		f->ret = vg_errf(f->err, EIO,
				 "inode %u: blocks at %llu unreadable (truncated image?)", f->ino,
				 (unsigned long long)pblk);
		return 1;
	}
	f->done = start + bytes;
	return f->done >= f->len;
}

static int read_extents(struct filler *f, struct ext2_inode_large *in)
{
	/* every leaf is visited once and every index entry twice; past that, the tree aliases */
	uint64_t max_steps = 4 * (f->len / f->x->bs + 1) + 4096;
	ext2_extent_handle_t h;
	struct ext2fs_extent ex;
	errcode_t ec;

	ec = ext2fs_extent_open2(f->x->fs, f->ino, (struct ext2_inode *)in, &h);
	if (ec)
		return vg_errf(f->err, EINVAL, "inode %u: extent tree unreadable: %s", f->ino,
			       vg_ext_strerror(ec));
	ec = ext2fs_extent_get(h, EXT2_EXTENT_ROOT, &ex);
	for (uint64_t step = 0; !ec; step++) {
		if (step > max_steps) {
			f->ret = vg_errf(f->err, ELOOP, "inode %u: extent tree does not end",
					 f->ino);
			break;
		}
		if ((ex.e_flags & EXT2_EXTENT_FLAGS_LEAF) &&
		    !(ex.e_flags & EXT2_EXTENT_FLAGS_SECOND_VISIT) && ex.e_len &&
		    fill(f, ex.e_lblk, ex.e_pblk, ex.e_len, ex.e_flags & EXT2_EXTENT_FLAGS_UNINIT))
			break;
		ec = ext2fs_extent_get(h, EXT2_EXTENT_NEXT, &ex);
	}
	ext2fs_extent_free(h);
	if (!f->ret && ec && ec != EXT2_ET_EXTENT_NO_NEXT && ec != EXT2_ET_NO_CURRENT_NODE)
		f->ret = vg_errf(f->err, EINVAL, "inode %u: extent tree broken: %s", f->ino,
				 vg_ext_strerror(ec));
	return f->ret;
}

static int flush_run(struct filler *f)
{
	int stop = 0;

	if (f->run_n)
		stop = fill(f, f->run_l, f->run_p, f->run_n, false);
	f->run_n = 0;
	return stop;
}

static int block_cb(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt, blk64_t ref_blk,
		    int ref_offset, void *priv)
{
	struct filler *f = priv;

	if (blockcnt < 0)
		return 0;
	if (f->run_n && (uint64_t)blockcnt == f->run_l + f->run_n &&
	    *blocknr == f->run_p + f->run_n) {
		f->run_n++;
		return 0;
	}
	if (flush_run(f))
		return BLOCK_ABORT;
	if ((uint64_t)blockcnt * f->x->bs >= f->len)
		return BLOCK_ABORT;
	f->run_l = (uint64_t)blockcnt;
	f->run_p = *blocknr;
	f->run_n = 1;
	return 0;
}

static int read_blockmap(struct filler *f)
{
	errcode_t ec = ext2fs_block_iterate3(
		f->x->fs, f->ino, BLOCK_FLAG_READ_ONLY | BLOCK_FLAG_DATA_ONLY, NULL, block_cb, f);

	if (!f->ret)
		flush_run(f);
	if (!f->ret && ec)
		f->ret = vg_errf(f->err, EINVAL, "inode %u: block map unreadable: %s", f->ino,
				 vg_ext_strerror(ec));
	return f->ret;
}

static int read_inline(struct filler *f, struct ext2_inode_large *in)
{
	size_t size = 0;
	uint8_t *tmp;
	errcode_t ec;

	ec = ext2fs_inline_data_size(f->x->fs, f->ino, &size);
	if (!ec && size > INLINE_MAX)
		ec = EXT2_ET_INLINE_DATA_NO_SPACE;
	if (ec)
		return vg_errf(f->err, EINVAL, "inode %u: inline data unreadable: %s", f->ino,
			       vg_ext_strerror(ec));
	tmp = malloc(size + 1);
	if (!tmp)
		return vg_errf(f->err, ENOMEM, "out of memory");
	ec = ext2fs_inline_data_get(f->x->fs, f->ino, (struct ext2_inode *)in, tmp, &size);
	if (!ec) {
		size_t n = size < f->len ? size : (size_t)f->len;

		memcpy(f->buf, tmp, n);
		f->done = n;
	}
	free(tmp);
	if (ec)
		return vg_errf(f->err, EINVAL, "inode %u: inline data unreadable: %s", f->ino,
			       vg_ext_strerror(ec));
	return 0;
}

int vg_ext_read_inode(struct vg_ext *x, ext2_ino_t ino, struct ext2_inode_large *in, void *buf,
		      size_t len, struct vg_err *err)
{
	struct filler f = { .x = x, .buf = buf, .len = len, .ino = ino, .err = err };
	int ret;

	if (!len)
		return 0;
	if (in->i_flags & EXT4_INLINE_DATA_FL)
		ret = read_inline(&f, in);
	else if (in->i_flags & EXT4_EXTENTS_FL)
		ret = read_extents(&f, in);
	else
		ret = read_blockmap(&f);
	if (ret)
		return ret;
	/* a hole at the end, or a file shorter than its size claims */
	memset(f.buf + f.done, 0, f.len - f.done);
	return 0;
}

int vg_ext_read(struct vg_fsrc *s, const struct vg_fent *e, void *buf, size_t len,
		struct vg_err *err)
{
	struct vg_ext *x = s->priv;
	struct ext2_inode_large in;
	errcode_t ec;

	if (!e->ino || e->ino > x->fs->super->s_inodes_count)
		return vg_errf(err, EINVAL, "inode %llu out of range", (unsigned long long)e->ino);
	memset(&in, 0, sizeof(in));
	ec = ext2fs_read_inode_full(x->fs, (ext2_ino_t)e->ino, (struct ext2_inode *)&in,
				    sizeof(in));
	if (ec)
		return vg_errf(err, EIO, "inode %llu unreadable: %s", (unsigned long long)e->ino,
			       vg_ext_strerror(ec));
	return vg_ext_read_inode(x, (ext2_ino_t)e->ino, &in, buf, len, err);
}
