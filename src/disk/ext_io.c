// SPDX-License-Identifier: MIT
/*
 * A libext2fs I/O manager over a window of a vigil block source, so libext2fs reads raw and
 * QEMU-format images alike, never through the host kernel. libext2fs names a channel by a
 * string only; the window travels as its address in that string (vg_ext_io_name), which
 * only this process writes. Metadata comes a block at a time (inode tables, directories,
 * extent nodes), so single-block reads go through a small direct-mapped cache; a read past
 * the window's end fails as a short read, which is what a truncated image gives.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <et/com_err.h>

#include "ext_int.h"

#define CACHE_SLOTS 2048
#define CACHE_MAX_BLOCK 4096

struct ext_io {
	struct vg_ext_win win;
	uint8_t *cache; /* nslots blocks of the channel's block size */
	uint64_t *tag;	/* block number + 1, 0 = empty */
	size_t nslots;
};

void vg_ext_io_name(const struct vg_ext_win *w, char *buf, size_t len)
{
	snprintf(buf, len, "vgblk:%p", (const void *)w);
}

const char *vg_ext_strerror(errcode_t code)
{
	return error_message(code);
}

static errcode_t io_read(struct ext_io *io, uint64_t off, void *buf, size_t len)
{
	if (off > io->win.len || len > io->win.len - off)
		return EXT2_ET_SHORT_READ;
	return vg_blk_read(io->win.blk, io->win.base + off, buf, len) ? EXT2_ET_SHORT_READ : 0;
}

static errcode_t vgio_open(const char *name, int flags, io_channel *out)
{
	struct vg_ext_win *w = NULL;
	struct ext_io *io;
	io_channel ch;

	if (flags & IO_FLAG_RW)
		return EXT2_ET_RO_FILSYS;
	if (!name || sscanf(name, "vgblk:%p", (void **)&w) != 1 || !w)
		return EXT2_ET_BAD_DEVICE_NAME;
	ch = calloc(1, sizeof(*ch));
	io = calloc(1, sizeof(*io));
	if (!ch || !io || !(ch->name = strdup(name))) {
		free(ch);
		free(io);
		return EXT2_ET_NO_MEMORY;
	}
	io->win = *w;
	ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	ch->manager = vg_ext_io_manager;
	ch->block_size = 1024;
	ch->refcount = 1;
	ch->private_data = io;
	*out = ch;
	return 0;
}

static errcode_t vgio_close(io_channel ch)
{
	struct ext_io *io = ch->private_data;

	if (--ch->refcount > 0)
		return 0;
	free(io->cache);
	free(io->tag);
	free(io);
	free(ch->name);
	free(ch);
	return 0;
}

static errcode_t vgio_set_blksize(io_channel ch, int blksize)
{
	struct ext_io *io = ch->private_data;

	if (blksize <= 0 || blksize > 65536)
		return EXT2_ET_INVALID_ARGUMENT;
	ch->block_size = blksize;
	/* the cache holds blocks of one size */
	if (io->tag)
		memset(io->tag, 0, io->nslots * sizeof(*io->tag));
	return 0;
}

static errcode_t cached_block(io_channel ch, struct ext_io *io, unsigned long long block,
			      void *data)
{
	size_t bs = (size_t)ch->block_size, slot;
	errcode_t ret;

	if (!io->cache) {
		/* a small image needs no more slots than it has blocks */
		io->nslots = io->win.len / bs < CACHE_SLOTS ? (size_t)(io->win.len / bs) + 1
							    : CACHE_SLOTS;
		io->cache = malloc(io->nslots * CACHE_MAX_BLOCK);
		io->tag = calloc(io->nslots, sizeof(*io->tag));
		if (!io->cache || !io->tag) {
			free(io->cache);
			free(io->tag);
			io->cache = NULL;
			io->tag = NULL;
			return io_read(io, block * bs, data, bs);
		}
	}
	slot = (size_t)(block % io->nslots);
	if (io->tag[slot] != block + 1) {
		io->tag[slot] = 0;
		ret = io_read(io, block * bs, io->cache + slot * CACHE_MAX_BLOCK, bs);
		if (ret)
			return ret;
		io->tag[slot] = block + 1;
	}
	memcpy(data, io->cache + slot * CACHE_MAX_BLOCK, bs);
	return 0;
}

static errcode_t vgio_read_blk64(io_channel ch, unsigned long long block, int count, void *data)
{
	struct ext_io *io = ch->private_data;
	size_t bs = (size_t)ch->block_size;
	size_t len = count < 0 ? (size_t) - (long long)count : (size_t)count * bs;

	if (block > UINT64_MAX / bs)
		return EXT2_ET_SHORT_READ;
	if (count == 1 && bs <= CACHE_MAX_BLOCK)
		return cached_block(ch, io, block, data);
	return io_read(io, block * bs, data, len);
}

static errcode_t vgio_read_blk(io_channel ch, unsigned long block, int count, void *data)
{
	return vgio_read_blk64(ch, block, count, data);
}

static errcode_t vgio_write_blk64(io_channel ch, unsigned long long block, int count,
				  const void *data)
{
	return EXT2_ET_RO_FILSYS;
}

static errcode_t vgio_write_blk(io_channel ch, unsigned long block, int count, const void *data)
{
	return EXT2_ET_RO_FILSYS;
}

static errcode_t vgio_write_byte(io_channel ch, unsigned long offset, int count, const void *data)
{
	return EXT2_ET_RO_FILSYS;
}

static errcode_t vgio_flush(io_channel ch)
{
	return 0;
}

static errcode_t vgio_set_option(io_channel ch, const char *option, const char *arg)
{
	return EXT2_ET_INVALID_ARGUMENT;
}

static struct struct_io_manager manager = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "vigil block source",
	.open = vgio_open,
	.close = vgio_close,
	.set_blksize = vgio_set_blksize,
	.read_blk = vgio_read_blk,
	.write_blk = vgio_write_blk,
	.flush = vgio_flush,
	.write_byte = vgio_write_byte,
	.set_option = vgio_set_option,
	.read_blk64 = vgio_read_blk64,
	.write_blk64 = vgio_write_blk64,
};

const io_manager vg_ext_io_manager = &manager;
