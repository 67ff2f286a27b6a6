// SPDX-License-Identifier: MIT
/*
 * A clean full text comparison, remembered across processes. Comparing kernel text against
 * a baseline means reading the guest's patch-site tables, checking every site and hashing
 * every chunk with the sites masked: most of a one-shot scan. When a comparison finds
 * nothing, this file keeps a copy of the raw text it verified in the operator's cache
 * directory (mode 0600; the guest cannot reach it), tied to the baseline (its key, chunk
 * hashes and site digest) and to this boot's text range. A later scan whose raw text equals
 * the copy byte for byte is looking at the very text found clean and needs no comparison;
 * any other byte anywhere runs the full comparison. It is the in-process verified copy
 * (vg_text_cache) for one-shot scans: one file per baseline (about 15 MB, replaced at the
 * next boot), mapped and compared with memcmp, which costs a third of hashing the text.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vigil/util.h"
#include "text_int.h"

#define VERDICT_MAGIC 0x32544b4f47495657ull /* "VWIGOKT2" */

struct verdict_head {
	uint64_t magic, id, text_va, start, end;
	uint64_t pad[3]; /* the text starts 64 bytes in */
};

/* Which baseline the record belongs to: everything that decides its comparison's outcome. */
static uint64_t baseline_id(const struct vg_text_ref *base)
{
	uint64_t h = vg_fasthash64(base->key, sizeof(base->key), VERDICT_MAGIC);
	uint64_t f[5] = { base->start, base->end, base->chunk, base->nsites, base->sites_digest };

	h = vg_fasthash64(f, sizeof(f), h);
	return vg_fasthash64(base->hash, base->n * sizeof(*base->hash), h);
}

bool vg_text_verdict_clean(const struct vg_linux *lx, const struct vg_text_ref *base,
			   uint64_t start, uint64_t end, const uint8_t *text)
{
	struct verdict_head want = { .magic = VERDICT_MAGIC,
				     .id = baseline_id(base),
				     .text_va = lx->text_va,
				     .start = start,
				     .end = end };
	size_t len = sizeof(want) + (end - start);
	char path[PATH_MAX];
	struct stat st;
	uint8_t *map;
	bool same;
	int fd;

	if (vg_linux_cache_path(lx, "textok", want.id, path, sizeof(path)))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) || (uint64_t)st.st_size != len) {
		close(fd);
		return false;
	}
	map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return false;
	same = !memcmp(map, &want, sizeof(want)) && !memcmp(map + sizeof(want), text, end - start);
	munmap(map, len);
	return same;
}

void vg_text_verdict_store(const struct vg_linux *lx, const struct vg_text_ref *base,
			   uint64_t start, uint64_t end, const uint8_t *text)
{
	struct verdict_head h = { .magic = VERDICT_MAGIC,
				  .id = baseline_id(base),
				  .text_va = lx->text_va,
				  .start = start,
				  .end = end };
	char path[PATH_MAX];

	if (vg_linux_cache_path(lx, "textok", h.id, path, sizeof(path)))
		return;
	vg_linux_cache_write(path, 0600,
			     (struct iovec[]){ { &h, sizeof(h) }, { (void *)text, end - start } },
			     2);
}
