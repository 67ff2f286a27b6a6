// SPDX-License-Identifier: MIT
/*
 * The memo behind dispatch_memo.h. A record is the function's bytes followed by its
 * branches; it is used only when the bytes equal, all of them, the bytes read from the guest
 * now (a hash names the file, the comparison decides), so a dispatcher changed by one bit is
 * disassembled afresh. Direct branches are rel32: the same bytes decode to the same branches
 * at any address.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vigil/util.h"
#include "dispatch_memo.h"

#define DM_MAGIC 0x31504d4447495657ull /* "VWIGDMP1" */
#define DM_MAX_CODE (1u << 20)

struct dm_head {
	uint64_t magic, size, n;
};

static int path_for(const struct vg_linux *lx, const uint8_t *code, size_t size, char *out,
		    size_t len)
{
	return vg_linux_cache_path(lx, "dispatch", vg_fasthash64(code, size, DM_MAGIC), out, len);
}

static int read_all(int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r <= 0)
			return -EIO;
		got += r;
	}
	return 0;
}

int vg_dispatch_memo_load(const struct vg_linux *lx, const uint8_t *code, size_t size,
			  struct dm_branch **out, size_t *n)
{
	struct dm_head h;
	struct dm_branch *v = NULL;
	char path[PATH_MAX];
	uint8_t *seen = NULL;
	struct stat st;
	int fd, ret = -EINVAL;

	if (!size || size > DM_MAX_CODE || path_for(lx, code, size, path, sizeof(path)))
		return -ENOENT;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	if (fstat(fd, &st) || read_all(fd, &h, sizeof(h)) || h.magic != DM_MAGIC ||
	    h.size != size || h.n > DM_MAX_BRANCHES ||
	    (uint64_t)st.st_size != sizeof(h) + size + h.n * sizeof(*v))
		goto out;
	seen = malloc(size);
	v = malloc(h.n ? h.n * sizeof(*v) : 1);
	if (!seen || !v) {
		ret = -ENOMEM;
		goto out;
	}
	if (read_all(fd, seen, size) || memcmp(seen, code, size) ||
	    read_all(fd, v, h.n * sizeof(*v)))
		goto out;
	for (size_t i = 0; i < h.n; i++)
		if (v[i].off >= size || v[i].mnemonic[sizeof(v[i].mnemonic) - 1])
			goto out;
	*out = v;
	*n = h.n;
	v = NULL;
	ret = 0;
out:
	free(seen);
	free(v);
	close(fd);
	return ret;
}

void vg_dispatch_memo_store(const struct vg_linux *lx, const uint8_t *code, size_t size,
			    const struct dm_branch *v, size_t n)
{
	struct dm_head h = { .magic = DM_MAGIC, .size = size, .n = n };
	char path[PATH_MAX];

	if (!size || size > DM_MAX_CODE || n > DM_MAX_BRANCHES ||
	    path_for(lx, code, size, path, sizeof(path)))
		return;
	vg_linux_cache_write(path, 0644,
			     (struct iovec[]){ { &h, sizeof(h) },
					       { (void *)code, size },
					       { (void *)v, n * sizeof(*v) } },
			     3);
}
