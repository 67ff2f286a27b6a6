// SPDX-License-Identifier: MIT
/*
 * A clean full text comparison, remembered across processes. Comparing kernel text against
 * a baseline means reading the guest's patch-site tables, checking every site and hashing
 * every chunk with the sites masked: most of a one-shot scan. When a comparison finds
 * nothing, this file records a keyed hash of the raw text it verified (a fresh random
 * SipHash key, kept with the record in the operator's cache directory, which the guest
 * cannot reach), tied to the baseline (its key, chunk hashes and site digest) and to this
 * boot's text range. A later scan whose raw text hashes to the same value is looking at the
 * very bytes found clean, and needs no comparison; any other byte anywhere in the text
 * makes the hashes differ (a 2^-64 chance under a key the guest never sees) and the full
 * comparison runs. It is the in-process verified copy (vg_text_cache) for one-shot scans,
 * with 64 bytes on disk instead of 15 MB in memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "text_int.h"

#define VERDICT_MAGIC 0x31544b4f47495657ull /* "VWIGOKT1" */

struct verdict {
	uint64_t magic, id, text_va, start, end;
	uint8_t key[crypto_shorthash_KEYBYTES];
	uint8_t hash[crypto_shorthash_BYTES];
};

/* Which baseline the record belongs to: everything that decides its comparison's outcome. */
static uint64_t baseline_id(const struct vg_text_ref *base)
{
	uint64_t h = vg_fasthash64(base->key, sizeof(base->key), VERDICT_MAGIC);
	uint64_t f[5] = { base->start, base->end, base->chunk, base->nsites, base->sites_digest };

	h = vg_fasthash64(f, sizeof(f), h);
	return vg_fasthash64(base->hash, base->n * sizeof(*base->hash), h);
}

static int path_for(const struct vg_linux *lx, uint64_t id, char *out, size_t len)
{
	if (!lx->cache_dir[0])
		return -ENOENT;
	if ((size_t)snprintf(out, len, "%s/textok-%016" PRIx64, lx->cache_dir, id) >= len)
		return -ENAMETOOLONG;
	return 0;
}

bool text_verdict_clean(const struct vg_linux *lx, const struct vg_text_ref *base, uint64_t start,
			uint64_t end, const uint8_t *text)
{
	uint64_t id = baseline_id(base);
	uint8_t h[crypto_shorthash_BYTES];
	char path[PATH_MAX];
	struct verdict v;
	ssize_t got;
	int fd;

	if (path_for(lx, id, path, sizeof(path)))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	got = read(fd, &v, sizeof(v));
	close(fd);
	if (got != (ssize_t)sizeof(v) || v.magic != VERDICT_MAGIC || v.id != id ||
	    v.text_va != lx->text_va || v.start != start || v.end != end)
		return false;
	crypto_shorthash(h, text, end - start, v.key);
	return sodium_memcmp(h, v.hash, sizeof(h)) == 0;
}

void text_verdict_store(const struct vg_linux *lx, const struct vg_text_ref *base, uint64_t start,
			uint64_t end, const uint8_t *text)
{
	struct verdict v = { .magic = VERDICT_MAGIC,
			     .id = baseline_id(base),
			     .text_va = lx->text_va,
			     .start = start,
			     .end = end };
	char path[PATH_MAX], tmp[PATH_MAX + 16];
	int fd;
	bool ok;

	if (path_for(lx, v.id, path, sizeof(path)))
		return;
	randombytes_buf(v.key, sizeof(v.key));
	crypto_shorthash(v.hash, text, end - start, v.key);
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	ok = write(fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
	/* whole or not at all: a reader sees the old record or the new one */
	if (close(fd) == 0 && ok)
		rename(tmp, path);
	else
		unlink(tmp);
}
