// SPDX-License-Identifier: MIT
/*
 * Block sources: the bytes of a disk image, never written. Raw images (files or block
 * devices) are read with pread. Every other format is read by QEMU itself: qemu-nbd, started
 * by libnbd with systemd socket activation on a private socket pair, exports the image
 * read-only; nothing is copied and no qcow2 parsing is done here beyond the two header fields
 * that decide whether QEMU may open other files on the image's say (a backing file, an
 * external data file): a guest can write the start of a raw disk, so an image that claims to
 * be a qcow2 overlay of some host file is refused unless the user asked for backing chains.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libnbd.h>

#include "vigil/disk.h"
#include "vigil/json.h"

/* NBD reads are round trips to qemu-nbd; libext2fs reads metadata a block at a time, so
 * small reads go through a direct-mapped cache of aligned chunks. */
#define CHUNK (64u << 10)
#define CACHE_SLOTS 256
#define NBD_MAX_REQ (8u << 20)

struct vg_blk {
	int fd;
	struct nbd_handle *nbd;
	const uint8_t *mem;
	uint64_t size;
	char format[16];
	uint8_t *cache;
	uint64_t tag[CACHE_SLOTS]; /* chunk number + 1, 0 = empty */
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static int open_raw(struct vg_blk *b, const char *path, struct vg_err *err)
{
	struct stat st;

	b->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (b->fd < 0)
		return vg_errf(err, errno, "cannot open %s: %s", path, strerror(errno));
	if (fstat(b->fd, &st))
		return vg_errf(err, errno, "cannot stat %s: %s", path, strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(b->fd, BLKGETSIZE64, &b->size))
			return vg_errf(err, errno, "%s: size unknown: %s", path, strerror(errno));
	} else if (S_ISREG(st.st_mode)) {
		b->size = (uint64_t)st.st_size;
	} else {
		return vg_errf(err, EINVAL, "%s is neither a file nor a block device", path);
	}
	if (!b->size)
		return vg_errf(err, EINVAL, "%s is empty", path);
	snprintf(b->format, sizeof(b->format), "raw");
	return 0;
}

/* The qcow2 header fields that make QEMU open other files: a backing file and (v3) an
 * external data file (incompatible feature bit 2). */
static int qcow2_refuse(const uint8_t *h, size_t hlen, const char *path, bool backing,
			struct vg_err *err)
{
	uint32_t version = be32(h + 4);
	uint64_t boff = be64(h + 8);

	if (version >= 3 && hlen >= 80 && (be64(h + 72) & 4))
		return vg_errf(err, EPERM,
			       "%s names an external data file: not opened (it could be any host "
			       "file)",
			       path);
	if (boff && !backing)
		return vg_errf(err, EPERM,
			       "%s is a qcow2 overlay with a backing file; pass --backing to read "
			       "through the chain (QEMU then opens the file it names)",
			       path);
	return 0;
}

static char *qemu_filename(const char *path, const char *format, bool no_backing)
{
	struct vg_json j;
	char *text, *name = NULL;

	if (vg_json_init_mem(&j, false))
		return NULL;
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "driver", format);
	vg_json_kbool(&j, "read-only", true);
	/* a paused or running QEMU holds the image's write lock; we only read */
	vg_json_kbool(&j, "force-share", true);
	if (no_backing) {
		vg_json_key(&j, "backing");
		vg_json_null(&j);
	}
	vg_json_key(&j, "file");
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "driver", "file");
	vg_json_kstr(&j, "filename", path);
	vg_json_obj_close(&j);
	vg_json_obj_close(&j);
	text = vg_json_mem_take(&j, NULL);
	if (text && asprintf(&name, "json:%s", text) < 0)
		name = NULL;
	free(text);
	return name;
}

static int open_qemu(struct vg_blk *b, const char *path, const char *format,
		     const struct vg_blk_opts *o, struct vg_err *err)
{
	bool qcow = !strcmp(format, "qcow2") || !strcmp(format, "qed");
	char *name = qemu_filename(path, format, qcow && !o->backing);
	char *argv[8];
	int argc = 0, ret = 0;
	int64_t size;

	if (!name)
		return vg_errf(err, ENOMEM, "out of memory");
	argv[argc++] = "qemu-nbd";
	argv[argc++] = "--read-only";
	if (o->snapshot) {
		argv[argc++] = "-l";
		argv[argc++] = (char *)o->snapshot;
	}
	argv[argc++] = name;
	argv[argc] = NULL;
	b->nbd = nbd_create();
	if (!b->nbd) {
		ret = vg_errf(err, ENOSYS, "%s: QEMU formats need libnbd: %s", path,
			      nbd_get_error());
		goto out;
	}
	if (nbd_connect_systemd_socket_activation(b->nbd, argv)) {
		ret = vg_errf(err, EIO, "%s: qemu-nbd could not export it as %s: %s", path, format,
			      nbd_get_error());
		goto out;
	}
	size = nbd_get_size(b->nbd);
	if (size <= 0) {
		ret = vg_errf(err, EIO, "%s: qemu-nbd gave no size: %s", path, nbd_get_error());
		goto out;
	}
	b->size = (uint64_t)size;
	b->cache = malloc((size_t)CHUNK * CACHE_SLOTS);
	if (!b->cache)
		ret = vg_errf(err, ENOMEM, "out of memory");
	snprintf(b->format, sizeof(b->format), "%s", format);
out:
	free(name);
	return ret;
}

int vg_blk_open(struct vg_blk **out, const char *path, const struct vg_blk_opts *o,
		struct vg_err *err)
{
	static const struct vg_blk_opts none = { 0 };
	const char *format;
	struct vg_blk *b;
	uint8_t head[512];
	int ret;

	*out = NULL;
	if (!o)
		o = &none;
	format = o->format ? o->format : "auto";
	b = calloc(1, sizeof(*b));
	if (!b)
		return vg_errf(err, ENOMEM, "out of memory");
	b->fd = -1;
	ret = open_raw(b, path, err);
	if (ret)
		goto fail;
	if (!strcmp(format, "raw") && !o->snapshot) {
		*out = b;
		return 0;
	}
	memset(head, 0, sizeof(head));
	if (pread(b->fd, head, sizeof(head), 0) < 0) {
		ret = vg_errf(err, errno, "cannot read %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!strcmp(format, "auto"))
		format = memcmp(head, "QFI\xfb", 4) ? "raw" : "qcow2";
	if (!strcmp(format, "raw") && !o->snapshot) {
		*out = b;
		return 0;
	}
	if (!strcmp(format, "qcow2")) {
		if (memcmp(head, "QFI\xfb", 4)) {
			ret = vg_errf(err, EINVAL, "%s is not a qcow2 image (no QFI magic)", path);
			goto fail;
		}
		ret = qcow2_refuse(head, sizeof(head), path, o->backing, err);
		if (ret)
			goto fail;
	}
	close(b->fd);
	b->fd = -1;
	ret = open_qemu(b, path, format, o, err);
	if (ret)
		goto fail;
	*out = b;
	return 0;
fail:
	vg_blk_close(b);
	return ret;
}

int vg_blk_open_buffer(struct vg_blk **out, const void *buf, size_t len, struct vg_err *err)
{
	struct vg_blk *b = calloc(1, sizeof(*b));

	*out = NULL;
	if (!b)
		return vg_errf(err, ENOMEM, "out of memory");
	b->fd = -1;
	b->mem = buf;
	b->size = len;
	snprintf(b->format, sizeof(b->format), "buffer");
	*out = b;
	return 0;
}

void vg_blk_close(struct vg_blk *b)
{
	if (!b)
		return;
	if (b->fd >= 0)
		close(b->fd);
	/* closing the handle ends qemu-nbd: it serves exactly one connection */
	nbd_close(b->nbd);
	free(b->cache);
	free(b);
}

uint64_t vg_blk_size(const struct vg_blk *b)
{
	return b->size;
}

const char *vg_blk_format(const struct vg_blk *b)
{
	return b->format;
}

static int nbd_read(struct vg_blk *b, uint64_t off, void *buf, size_t len)
{
	while (len) {
		size_t n = len > NBD_MAX_REQ ? NBD_MAX_REQ : len;

		if (nbd_pread(b->nbd, buf, n, off, 0))
			return -EIO;
		buf = (uint8_t *)buf + n;
		off += n;
		len -= n;
	}
	return 0;
}

static int cached_read(struct vg_blk *b, uint64_t off, uint8_t *buf, size_t len)
{
	while (len) {
		uint64_t chunk = off / CHUNK;
		size_t slot = (size_t)(chunk % CACHE_SLOTS), in = (size_t)(off % CHUNK);
		size_t n = CHUNK - in;
		uint8_t *c = b->cache + slot * CHUNK;

		if (n > len)
			n = len;
		if (b->tag[slot] != chunk + 1) {
			uint64_t start = chunk * CHUNK;
			size_t clen = b->size - start < CHUNK ? (size_t)(b->size - start) : CHUNK;

			b->tag[slot] = 0;
			if (nbd_read(b, start, c, clen))
				return -EIO;
			b->tag[slot] = chunk + 1;
		}
		memcpy(buf, c + in, n);
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

int vg_blk_read(struct vg_blk *b, uint64_t off, void *buf, size_t len)
{
	if (off > b->size || len > b->size - off)
		return -ERANGE;
	if (b->mem) {
		memcpy(buf, b->mem + off, len);
		return 0;
	}
	if (b->nbd)
		return len >= CHUNK ? nbd_read(b, off, buf, len) : cached_read(b, off, buf, len);
	while (len) {
		ssize_t r = pread(b->fd, buf, len, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ERANGE; /* shrank under us */
		buf = (uint8_t *)buf + r;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	return 0;
}
