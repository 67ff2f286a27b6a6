// SPDX-License-Identifier: MIT
/*
 * Decoded kallsyms, cached per kernel build. Decoding ~150k compressed names costs more than
 * the rest of a warm scan together, and the table is the same for every boot of one build:
 * only the KASLR slide differs. So the decoded table is kept in the discovery cache directory
 * under the build fingerprint (the FNV-1a of kallsyms_token_table, lx->ks_hash), with each
 * address relative to _text unless it is one of the absolute per-cpu offsets, which do not
 * slide. Nothing in the file is trusted: it is used only when the fingerprint of the whole
 * compressed table in guest memory (names, offsets, count) equals the one recorded, sizes are
 * bounded, every name offset and the index are checked, and after loading, _text and
 * linux_banner must land exactly where this boot's discovery found them; otherwise kallsyms
 * is decoded from guest memory as before.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lxcache.h"

#define KSC_MAGIC 0x31534b4c47495657ull /* "VWIGLKS1" */
#define KSC_MAX_SYMS (1u << 21)
#define KSC_MAX_NAMES (64u << 20)

struct ksc_head {
	uint64_t magic, ks_hash, text_va, table_fp;
	uint64_t sum; /* checksum() of everything after the header: catches a damaged file */
	uint32_t count, hash_mask;
	uint64_t names_len;
	uint8_t absolute_percpu, pad[7];
};

/* On disk per symbol: address relative to _text (or absolute), name offset, type, slides. */
struct ksc_sym {
	uint64_t addr;
	uint32_t name_off;
	char type;
	uint8_t slides;
	uint8_t pad[2];
};

/* Word-wise FNV-style mix: a damaged-file check, not a defence against whoever can write the
 * operator's cache directory (they could as well replace vigil). */
static uint64_t checksum(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, b + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* The fingerprint of the table in guest memory now (vg_kallsyms_fingerprint). */
static int table_fp(const struct vg_linux *lx, uint64_t *fp)
{
	const uint8_t *img = vg_mem_ptr(lx->mem, lx->img_pa, lx->img_len);

	if (!img)
		return -EFAULT;
	return vg_kallsyms_fingerprint(img, lx->img_len, lx->ks_token_off, fp);
}

static int path_for(const struct vg_linux *lx, char *out, size_t len)
{
	if (!lx->cache_dir[0] || !lx->ks_hash)
		return -ENOENT;
	if ((size_t)snprintf(out, len, "%s/ksyms-%016" PRIx64, lx->cache_dir, lx->ks_hash) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* Symbols inside the kernel image slide with it; absolute per-cpu offsets (small values far
 * below any kernel address) do not. */
static bool slides(const struct vg_linux *lx, uint64_t addr)
{
	return addr >= lx->img_va && addr - lx->img_va < lx->img_len;
}

void vg_ksymcache_store(const struct vg_linux *lx)
{
	const struct vg_kallsyms *ks = &lx->ksyms;
	struct ksc_head h = { .magic = KSC_MAGIC,
			      .ks_hash = lx->ks_hash,
			      .text_va = lx->text_va,
			      .count = ks->count,
			      .hash_mask = ks->hash_mask,
			      .names_len = ks->names_len,
			      .absolute_percpu = ks->absolute_percpu };
	char path[PATH_MAX], tmp[PATH_MAX + 16];
	struct ksc_sym *v;
	bool ok;
	FILE *f;

	if (lx->symbols_file || !ks->count || !ks->hash || path_for(lx, path, sizeof(path)) ||
	    table_fp(lx, &h.table_fp))
		return;
	v = calloc(ks->count, sizeof(*v));
	if (!v)
		return;
	for (uint32_t i = 0; i < ks->count; i++) {
		v[i].slides = slides(lx, ks->syms[i].addr);
		v[i].addr = v[i].slides ? ks->syms[i].addr - lx->text_va : ks->syms[i].addr;
		v[i].name_off = ks->syms[i].name_off;
		v[i].type = ks->syms[i].type;
	}
	h.sum = checksum(v, (size_t)ks->count * sizeof(*v), VG_FNV64_INIT);
	h.sum = checksum(ks->names, ks->names_len, h.sum);
	h.sum = checksum(ks->hash, ((size_t)ks->hash_mask + 1) * sizeof(*ks->hash), h.sum);
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	f = fopen(tmp, "w");
	if (!f) {
		free(v);
		return;
	}
	ok = fwrite(&h, sizeof(h), 1, f) == 1 && fwrite(v, sizeof(*v), ks->count, f) == ks->count &&
	     fwrite(ks->names, 1, ks->names_len, f) == ks->names_len &&
	     fwrite(ks->hash, sizeof(*ks->hash), (size_t)ks->hash_mask + 1, f) ==
		     (size_t)ks->hash_mask + 1;
	free(v);
	if (fclose(f) == 0 && ok)
		rename(tmp, path);
	else
		unlink(tmp);
}

static int read_all(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r <= 0)
			return -EIO;
		got += r;
	}
	return 0;
}

static bool index_ok(const struct vg_kallsyms *ks)
{
	for (uint32_t i = 0; i <= ks->hash_mask; i++)
		if (ks->hash[i] > ks->count)
			return false;
	for (uint32_t i = 0; i < ks->count; i++)
		if (ks->syms[i].name_off >= ks->names_len)
			return false;
	return ks->names_len && ks->names[ks->names_len - 1] == '\0';
}

int vg_ksymcache_load(struct vg_linux *lx)
{
	struct vg_kallsyms ks = { 0 };
	struct ksc_sym *v = NULL;
	char path[PATH_MAX];
	struct ksc_head h;
	struct stat st;
	uint64_t want, nhash, fp;
	const struct vg_ksym *s;
	int fd, ret = -EINVAL;

	if (lx->symbols_file || path_for(lx, path, sizeof(path)))
		return -ENOENT;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	if (fstat(fd, &st) || read_all(fd, &h, sizeof(h)) || h.magic != KSC_MAGIC ||
	    h.ks_hash != lx->ks_hash || !h.count || h.count > KSC_MAX_SYMS ||
	    h.names_len > KSC_MAX_NAMES || h.hash_mask + 1ull < 2ull * h.count ||
	    (h.hash_mask & (h.hash_mask + 1ull)) || h.hash_mask >= 4u * KSC_MAX_SYMS ||
	    table_fp(lx, &fp) || fp != h.table_fp)
		goto out;
	nhash = (uint64_t)h.hash_mask + 1;
	want = sizeof(h) + (uint64_t)h.count * sizeof(*v) + h.names_len + nhash * 4;
	if ((uint64_t)st.st_size != want)
		goto out;
	v = malloc((size_t)h.count * sizeof(*v));
	ks.syms = malloc((size_t)h.count * sizeof(*ks.syms));
	ks.names = malloc(h.names_len);
	ks.hash = malloc(nhash * sizeof(*ks.hash));
	if (!v || !ks.syms || !ks.names || !ks.hash) {
		ret = -ENOMEM;
		goto out;
	}
	if (read_all(fd, v, (size_t)h.count * sizeof(*v)) || read_all(fd, ks.names, h.names_len) ||
	    read_all(fd, ks.hash, nhash * sizeof(*ks.hash)))
		goto out;
	if (checksum(ks.hash, nhash * sizeof(*ks.hash),
		     checksum(ks.names, h.names_len,
			      checksum(v, (size_t)h.count * sizeof(*v), VG_FNV64_INIT))) != h.sum)
		goto out;
	ks.count = h.count;
	ks.names_len = h.names_len;
	ks.hash_mask = h.hash_mask;
	ks.absolute_percpu = h.absolute_percpu;
	for (uint32_t i = 0; i < h.count; i++) {
		ks.syms[i].addr = v[i].slides ? v[i].addr + lx->text_va : v[i].addr;
		ks.syms[i].name_off = v[i].name_off;
		ks.syms[i].type = v[i].type;
	}
	if (!index_ok(&ks))
		goto out;
	/* the table must describe this boot: _text and the banner where discovery saw them */
	s = vg_kallsyms_lookup(&ks, "_text");
	if (!s || s->addr != lx->text_va)
		goto out;
	s = vg_kallsyms_lookup(&ks, "linux_banner");
	if (!s || (lx->banner_va && s->addr != lx->banner_va))
		goto out;
	vg_kallsyms_free(&lx->ksyms);
	lx->ksyms = ks;
	memset(&ks, 0, sizeof(ks));
	ret = 0;
out:
	close(fd);
	free(v);
	vg_kallsyms_free(&ks);
	return ret;
}
