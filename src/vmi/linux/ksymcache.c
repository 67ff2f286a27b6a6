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
 * is decoded from guest memory as before. The file is written by the host's own user into
 * its cache directory and replaced atomically, so it is mapped rather than copied (below).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vigil/util.h"
#include "lxcache.h"

#define KSC_MAGIC 0x32534b4c47495657ull /* "VWIGLKS2" */
#define KSC_MAX_SYMS (1u << 21)
#define KSC_MAX_NAMES (64u << 20)

/*
 * The file is the table itself, mapped read-only and used in place (no read, no copy: a
 * one-shot scan pays for the pages it touches, not for 5 MB of fresh memory): the header,
 * then struct vg_ksym[count] with each sliding symbol's address relative to _text (the
 * mapping's bias is this boot's _text), then the names, padded to 8, then the index.
 */
struct ksc_head {
	uint64_t magic, ks_hash, text_va, table_fp;
	uint64_t sum; /* vg_fasthash64 of everything after the header: catches a damaged file */
	uint32_t count, hash_mask;
	uint64_t names_len;
	uint8_t absolute_percpu, pad[7];
	uint64_t reserved;
};

_Static_assert(sizeof(struct vg_ksym) == 16, "the cache file holds struct vg_ksym as is");

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
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
	return lx->ks_hash ? vg_linux_cache_path(lx, "ksyms", lx->ks_hash, out, len) : -ENOENT;
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
	size_t nsyms = (size_t)ks->count * sizeof(struct vg_ksym);
	size_t nnames = pad8(ks->names_len), nhash = ((size_t)ks->hash_mask + 1) * 4;
	char path[PATH_MAX];
	uint8_t *body;

	if (lx->symbols_file || ks->map || !ks->count || !ks->hash ||
	    path_for(lx, path, sizeof(path)) || table_fp(lx, &h.table_fp))
		return;
	body = calloc(1, nsyms + nnames + nhash);
	if (!body)
		return;
	for (uint32_t i = 0; i < ks->count; i++) {
		struct vg_ksym *v = (struct vg_ksym *)body + i;
		uint64_t a = vg_ksym_addr(ks, &ks->syms[i]);

		v->slides = slides(lx, a);
		v->addr = v->slides ? a - lx->text_va : a;
		v->name_off = ks->syms[i].name_off;
		v->type = ks->syms[i].type;
	}
	memcpy(body + nsyms, ks->names, ks->names_len);
	memcpy(body + nsyms + nnames, ks->hash, nhash);
	h.sum = vg_fasthash64(body, nsyms + nnames + nhash, KSC_MAGIC);
	vg_linux_cache_write(
		path, 0644, (struct iovec[]){ { &h, sizeof(h) }, { body, nsyms + nnames + nhash } },
		2);
	free(body);
}

static bool index_ok(const struct vg_kallsyms *ks)
{
	for (uint32_t i = 0; i <= ks->hash_mask; i++)
		if (ks->hash[i] > ks->count)
			return false;
	for (uint32_t i = 0; i < ks->count; i++)
		if (ks->syms[i].name_off >= ks->names_len || ks->syms[i].slides > 1)
			return false;
	return ks->names_len && ks->names[ks->names_len - 1] == '\0';
}

int vg_ksymcache_load(struct vg_linux *lx)
{
	struct vg_kallsyms ks = { 0 };
	char path[PATH_MAX];
	const struct ksc_head *h;
	struct stat st;
	uint64_t want, nsyms, nnames, nhash, fp;
	const struct vg_ksym *s;
	uint8_t *map = MAP_FAILED;
	int fd, ret = -EINVAL;

	if (lx->symbols_file || path_for(lx, path, sizeof(path)))
		return -ENOENT;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	if (fstat(fd, &st) || st.st_size < (off_t)sizeof(*h) ||
	    (uint64_t)st.st_size > sizeof(*h) + 64ull * KSC_MAX_SYMS + KSC_MAX_NAMES)
		goto out;
	/* private and read-only: what we use cannot change under us, and we never write it */
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (map == MAP_FAILED)
		goto out;
	h = (const struct ksc_head *)map;
	if (h->magic != KSC_MAGIC || h->ks_hash != lx->ks_hash || !h->count ||
	    h->count > KSC_MAX_SYMS || h->names_len > KSC_MAX_NAMES ||
	    h->hash_mask + 1ull < 2ull * h->count || (h->hash_mask & (h->hash_mask + 1ull)) ||
	    h->hash_mask >= 4u * KSC_MAX_SYMS || table_fp(lx, &fp) || fp != h->table_fp)
		goto out;
	nsyms = (uint64_t)h->count * sizeof(struct vg_ksym);
	nnames = pad8(h->names_len);
	nhash = ((uint64_t)h->hash_mask + 1) * 4;
	want = sizeof(*h) + nsyms + nnames + nhash;
	if ((uint64_t)st.st_size != want ||
	    vg_fasthash64(map + sizeof(*h), want - sizeof(*h), KSC_MAGIC) != h->sum)
		goto out;
	ks.count = h->count;
	ks.names_len = h->names_len;
	ks.hash_mask = h->hash_mask;
	ks.absolute_percpu = h->absolute_percpu;
	ks.syms = (struct vg_ksym *)(map + sizeof(*h));
	ks.names = (char *)map + sizeof(*h) + nsyms;
	ks.hash = (uint32_t *)(map + sizeof(*h) + nsyms + nnames);
	ks.bias = lx->text_va;
	if (!index_ok(&ks))
		goto out;
	/* the table must describe this boot: _text and the banner where discovery saw them */
	s = vg_kallsyms_lookup(&ks, "_text");
	if (!s || vg_ksym_addr(&ks, s) != lx->text_va)
		goto out;
	s = vg_kallsyms_lookup(&ks, "linux_banner");
	if (!s || (lx->banner_va && vg_ksym_addr(&ks, s) != lx->banner_va))
		goto out;
	ks.map = map;
	ks.map_len = st.st_size;
	map = MAP_FAILED;
	vg_kallsyms_free(&lx->ksyms);
	lx->ksyms = ks;
	ret = 0;
out:
	if (map != MAP_FAILED)
		munmap(map, st.st_size);
	close(fd);
	return ret;
}
