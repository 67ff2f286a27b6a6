// SPDX-License-Identifier: MIT
/*
 * The disk image reader and the checks over hostile images. The first byte picks the mode:
 * below 64, the rest of the input is a whole disk (partition tables, superblock probing);
 * otherwise it is a list of patches (3-byte offset, length byte, bytes) applied to one of two
 * small, valid images built at compile time (disk_seed.py), ext4 with extents and inline
 * data or ext2 with block maps, so mutations land on real structures. Then the image is
 * opened, listed and scanned (every check, no YARA) with small limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/disk.h"
#include "vigil/disk_scan.h"

extern const uint8_t vg_seed_ext4[], vg_seed_ext2[];
extern const size_t vg_seed_ext4_len, vg_seed_ext2_len;

static void patch(uint8_t *img, size_t len, const uint8_t *data, size_t size)
{
	while (size >= 4) {
		size_t off = ((size_t)data[0] << 16 | (size_t)data[1] << 8 | data[2]) % len;
		size_t n = data[3] % 16 + 1;

		data += 4;
		size -= 4;
		if (n > size)
			n = size;
		if (n > len - off)
			n = len - off;
		memcpy(img + off, data, n);
		data += n;
		size -= n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_disk_scan_opts o = { .max_file = 1 << 20, .threads = 1 };
	struct vg_err err = { 0 };
	struct vg_disk_scan r;
	struct vg_fsrc *s;
	struct vg_blk *b;
	uint8_t *img;
	size_t len;

	if (!size)
		return 0;
	if (data[0] < 64) {
		len = size - 1;
		img = malloc(len ? len : 1);
		memcpy(img, data + 1, len);
	} else {
		const uint8_t *seed = data[0] & 1 ? vg_seed_ext2 : vg_seed_ext4;

		len = data[0] & 1 ? vg_seed_ext2_len : vg_seed_ext4_len;
		img = malloc(len);
		memcpy(img, seed, len);
		patch(img, len, data + 1, size - 1);
	}
	if (!vg_blk_open_buffer(&b, img, len, &err) &&
	    !vg_image_open_blk(&s, b, "fuzz", -1, &err)) {
		if (!vg_disk_scan(s, &o, &r, &err))
			vg_disk_scan_free(&r);
		vg_fsrc_close(s);
	}
	free(img);
	return 0;
}
