// SPDX-License-Identifier: MIT
/*
 * Recording files written by the agent (-o): "VGSREC01", then for each batch a u32
 * little-endian length and the batch. A length beyond VG_SB_MAX_BATCH or a file that ends in
 * the middle of a batch is an error naming the batch and offset.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/sysbatch.h"

static ssize_t read_full(int fd, void *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = read(fd, (uint8_t *)buf + done, n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int vg_sb_rec_open(struct vg_sb_reader *r, const char *path, struct vg_err *err)
{
	char magic[8];

	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return vg_errf(err, errno, "%s: %m", path);
	if (read_full(r->fd, magic, sizeof(magic)) != sizeof(magic) ||
	    memcmp(magic, "VGSREC01", 8)) {
		close(r->fd);
		r->fd = -1;
		return vg_errf(err, EINVAL, "%s: not a vigil agent recording", path);
	}
	r->off = 8;
	return 0;
}

int vg_sb_rec_next(struct vg_sb_reader *r, const uint8_t **batch, size_t *len, struct vg_err *err)
{
	uint8_t l[4];
	ssize_t n = read_full(r->fd, l, 4);
	uint32_t size;

	if (n == 0)
		return 0;
	if (n != 4)
		return vg_errf(err, EBADMSG, "%s: cut off after batch %llu (offset %llu)", r->path,
			       (unsigned long long)r->batches, (unsigned long long)r->off);
	size = (uint32_t)l[0] | (uint32_t)l[1] << 8 | (uint32_t)l[2] << 16 | (uint32_t)l[3] << 24;
	if (size < VG_SB_HDR_LEN || size > VG_SB_MAX_BATCH)
		return vg_errf(err, EBADMSG,
			       "%s: batch %llu at offset %llu has an impossible "
			       "length %u",
			       r->path, (unsigned long long)r->batches, (unsigned long long)r->off,
			       size);
	if (size > r->cap) {
		uint8_t *p = realloc(r->buf, size);

		if (!p)
			return vg_errf(err, ENOMEM, "out of memory");
		r->buf = p;
		r->cap = size;
	}
	if (read_full(r->fd, r->buf, size) != (ssize_t)size)
		return vg_errf(err, EBADMSG, "%s: batch %llu at offset %llu is cut off", r->path,
			       (unsigned long long)r->batches, (unsigned long long)r->off);
	r->off += 4 + size;
	r->batches++;
	*batch = r->buf;
	*len = size;
	return 1;
}

void vg_sb_rec_close(struct vg_sb_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}
