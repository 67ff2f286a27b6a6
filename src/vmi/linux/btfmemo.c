// SPDX-License-Identifier: MIT
/*
 * BTF answers, memoised per build. Parsing the kernel's BTF (about 5 MB, 100k types) costs a
 * one-shot scan more than all of its checks; the checks only ask for a hundred-odd member
 * offsets and sizes, and those are the same for every boot of one build. So each answer is
 * kept (in memory, and in the discovery cache directory when the handle closes) under a key
 * made of the BTF blob's header and its first and last 64 KiB in guest memory, and a warm run
 * answers from the file without parsing BTF at all. A question the memo has not seen parses
 * BTF as before. The file is bounded and checked; a damaged or foreign one is ignored.
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
#include "lxcache.h"

#define MEMO_MAGIC 0x314f4d4546544256ull /* "VBTFEMO1" */
#define MEMO_MAX 4096
#define EDGE (64u << 10)

struct memo_entry {
	uint64_t q; /* hash of kind, type and path */
	int64_t v;
};

struct vg_btf_memo {
	uint64_t key;
	uint32_t n;
	bool dirty;
	struct memo_entry e[MEMO_MAX];
};

/* Identity of the BTF in guest memory: header, sizes, and its first and last 64 KiB. */
static int blob_key(const struct vg_linux *lx, uint64_t *key)
{
	const uint8_t *img = vg_mem_ptr(lx->mem, lx->img_pa, lx->img_len);
	uint64_t size = lx->btf_size, h;

	if (!img || lx->btf_file || !lx->btf_off || !size || lx->btf_off > lx->img_len ||
	    size > lx->img_len - lx->btf_off)
		return -ENOENT;
	img += lx->btf_off;
	h = vg_fnv64(&size, sizeof(size), VG_FNV64_INIT);
	h = vg_fnv64(&lx->btf_types, sizeof(lx->btf_types), h);
	h = vg_fnv64(img, size < EDGE ? size : EDGE, h);
	if (size > EDGE)
		h = vg_fnv64(img + size - EDGE, EDGE, h);
	*key = h;
	return 0;
}

static void memo_load(struct vg_btf_memo *m, const struct vg_linux *lx)
{
	char path[PATH_MAX];
	uint64_t head[4]; /* magic, key, count, FNV-1a of the entries */
	struct stat st;
	int fd;

	if (vg_linux_cache_path(lx, "btfmemo", m->key, path, sizeof(path)))
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && read(fd, head, sizeof(head)) == sizeof(head) &&
	    head[0] == MEMO_MAGIC && head[1] == m->key && head[2] <= MEMO_MAX &&
	    (uint64_t)st.st_size == sizeof(head) + head[2] * sizeof(struct memo_entry) &&
	    read(fd, m->e, head[2] * sizeof(struct memo_entry)) ==
		    (ssize_t)(head[2] * sizeof(struct memo_entry)) &&
	    vg_fnv64(m->e, head[2] * sizeof(struct memo_entry), VG_FNV64_INIT) == head[3])
		m->n = (uint32_t)head[2];
	close(fd);
}

void vg_btfmemo_save(struct vg_linux *lx)
{
	struct vg_btf_memo *m = lx->btf_memo;
	char path[PATH_MAX];
	uint64_t head[4];

	if (!m || !m->dirty || vg_linux_cache_path(lx, "btfmemo", m->key, path, sizeof(path)))
		return;
	head[0] = MEMO_MAGIC;
	head[1] = m->key;
	head[2] = m->n;
	head[3] = vg_fnv64(m->e, (size_t)m->n * sizeof(*m->e), VG_FNV64_INIT);
	vg_linux_cache_write(
		path, 0644,
		(struct iovec[]){ { head, sizeof(head) }, { m->e, (size_t)m->n * sizeof(*m->e) } },
		2);
	m->dirty = false;
}

void vg_btfmemo_free(struct vg_linux *lx)
{
	vg_btfmemo_save(lx);
	free(lx->btf_memo);
	lx->btf_memo = NULL;
}

static struct vg_btf_memo *memo_get(struct vg_linux *lx)
{
	uint64_t key;

	if (lx->btf_memo)
		return lx->btf_memo;
	if (blob_key(lx, &key))
		return NULL;
	lx->btf_memo = calloc(1, sizeof(*lx->btf_memo));
	if (!lx->btf_memo)
		return NULL;
	lx->btf_memo->key = key;
	memo_load(lx->btf_memo, lx);
	return lx->btf_memo;
}

static uint64_t question(char kind, const char *type, const char *path)
{
	uint64_t h = vg_fnv64(&kind, 1, VG_FNV64_INIT);

	h = vg_fnv64(type, strlen(type) + 1, h);
	return path ? vg_fnv64(path, strlen(path) + 1, h) : vg_fnv64("", 1, h);
}

static bool recall(struct vg_btf_memo *m, uint64_t q, int64_t *v)
{
	for (uint32_t i = 0; m && i < m->n; i++)
		if (m->e[i].q == q) {
			*v = m->e[i].v;
			return true;
		}
	return false;
}

static void remember(struct vg_btf_memo *m, uint64_t q, int64_t v)
{
	if (!m || m->n >= MEMO_MAX)
		return;
	m->e[m->n].q = q;
	m->e[m->n++].v = v;
	m->dirty = true;
}

bool vg_linux_btf_memo_loaded(struct vg_linux *lx)
{
	struct vg_btf_memo *m = memo_get(lx);

	return m && m->n > 0;
}

int32_t vg_linux_btf_offset(struct vg_linux *lx, const char *type, const char *path)
{
	struct vg_btf_memo *m = memo_get(lx);
	uint64_t q = question('o', type, path);
	struct vg_err err = { 0 };
	const struct btf *btf;
	int64_t v;

	if (recall(m, q, &v))
		return (int32_t)v;
	btf = vg_linux_btf(lx, &err);
	if (!btf)
		return -1; /* not remembered: BTF may be readable next time */
	v = vg_btf_offset(btf, type, path);
	remember(m, q, v);
	return (int32_t)v;
}

int64_t vg_linux_btf_sizeof(struct vg_linux *lx, const char *type, const char *path)
{
	struct vg_btf_memo *m = memo_get(lx);
	uint64_t q = question('s', type, path);
	struct vg_err err = { 0 };
	const struct btf *btf;
	int64_t v;

	if (recall(m, q, &v))
		return v;
	btf = vg_linux_btf(lx, &err);
	if (!btf)
		return -ENOENT;
	v = vg_btf_sizeof(btf, type, path);
	remember(m, q, v);
	return v;
}
