// SPDX-License-Identifier: MIT
/*
 * Cross-view: the running guest kernel's view of a mounted disk against the disk itself.
 * The guest's super block for the image's file system is found by UUID; every inode the
 * kernel has in memory for it (s_inodes) is compared with the image's table, and the files
 * processes hold (executables, open descriptors) name who is involved:
 *   deleted-in-use   the kernel's inode has no links but a process still runs or holds it
 *   hidden-in-use    a linked, clean inode the kernel holds that no directory on the disk
 *                    lists (an allocated inode no directory reaches is the strongest case)
 *   changed-on-disk  a clean inode whose mode, owner, size or mtime differ from the disk's,
 *                    or clean cached pages whose bytes differ from the disk's: the disk was
 *                    written behind the kernel's back, or the page cache was patched
 * Dirty inodes and pages (not yet written back) are skipped: they are expected to differ.
 * The disk must be consistent with what the guest wrote: sync or pause the guest first (a
 * journal that still holds committed metadata is not replayed, docs/disk.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scan_int.h"
#include "vigil/disk_ram.h"
#include "vigil/lxfs.h"

#define PAGE 4096u
#define COMPARE_MAX (64u << 20) /* bytes of one file compared page by page */
#define MAX_SHOWN 8
#define FIRST_INO 11 /* ext's reserved inodes (journal, resize, ...) are not files */

/* inode number -> entry index of the image's table (in-tree entries win). */
struct inomap {
	uint64_t *key;
	uint32_t *val;
	size_t mask;
};

static int inomap_build(struct inomap *m, const struct vg_ftab *t)
{
	size_t size = 64;

	while (size < t->n * 2)
		size <<= 1;
	m->key = calloc(size, sizeof(*m->key));
	m->val = calloc(size, sizeof(*m->val));
	if (!m->key || !m->val)
		return -ENOMEM;
	m->mask = size - 1;
	for (size_t i = 0; i < t->n; i++) {
		uint64_t k = t->v[i].ino;
		size_t h = (size_t)(k * 0x9e3779b97f4a7c15ull) & m->mask;

		while (m->key[h] && m->key[h] != k)
			h = (h + 1) & m->mask;
		if (!m->key[h] || (t->v[m->val[h]].flags & VG_FENT_OFFTREE)) {
			m->key[h] = k;
			m->val[h] = (uint32_t)i;
		}
	}
	return 0;
}

static long inomap_get(const struct inomap *m, uint64_t k)
{
	for (size_t h = (size_t)(k * 0x9e3779b97f4a7c15ull) & m->mask; m->key[h];
	     h = (h + 1) & m->mask)
		if (m->key[h] == k)
			return m->val[h];
	return -1;
}

struct xv {
	struct vg_lxfs *fs;
	struct vg_fsrc *image;
	const struct vg_disk_scan *scan;
	struct vg_dfindings *out;
	struct vg_xview_stats *st;
	struct vg_err *err;
	struct inomap ino;
	struct vg_lx_held *held;
	size_t nheld;
	uint8_t *mem, *disk, *states;
	int ret;
};

static int cmp_held(const void *a, const void *b)
{
	const struct vg_lx_held *x = a, *y = b;

	if (x->inode != y->inode)
		return x->inode < y->inode ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* The first of the held files of INODE (they are sorted by inode), or NULL. */
static const struct vg_lx_held *first_held(const struct xv *x, uint64_t inode)
{
	size_t lo = 0, hi = x->nheld;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->held[mid].inode < inode)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < x->nheld && x->held[lo].inode == inode ? &x->held[lo] : NULL;
}

static void holders(struct vg_json *j, const struct xv *x, uint64_t inode, int *n, bool *exe)
{
	const struct vg_lx_held *h = first_held(x, inode);

	*n = 0;
	*exe = false;
	vg_json_key(j, "held_by");
	vg_json_arr_open(j);
	for (; h && h < x->held + x->nheld && h->inode == inode; h++) {
		*exe |= h->fd < 0;
		if ((*n)++ >= MAX_SHOWN)
			continue;
		vg_json_obj_open(j);
		vg_json_kint(j, "pid", h->pid);
		vg_json_kstr(j, "comm", h->comm);
		if (h->fd < 0)
			vg_json_kstr(j, "as", "executable");
		else
			vg_json_kint(j, "fd", h->fd);
		vg_json_obj_close(j);
	}
	vg_json_arr_close(j);
}

static const char *first_comm(const struct xv *x, uint64_t inode, int32_t *pid)
{
	const struct vg_lx_held *h = first_held(x, inode);

	*pid = h ? h->pid : 0;
	return h ? h->comm : "";
}

static void kernel_path(struct xv *x, uint64_t inode, char *path, size_t len)
{
	char rel[VG_PATH_MAX], name[256];
	const char *mount;
	uint64_t dentry;

	path[0] = '\0';
	if (vg_lx_inode_alias(x->fs, inode, &dentry, name, sizeof(name)) || !dentry ||
	    vg_lx_dentry_path(x->fs, dentry, rel, sizeof(rel)))
		return;
	mount = strcmp(x->st->mount, "/") ? x->st->mount : "";
	if (strlen(mount) + strlen(rel) < len) {
		strcpy(path, mount);
		strcat(path, rel);
	}
}

static void deleted(struct xv *x, const struct vg_lx_inode *in, long idx)
{
	char path[VG_PATH_MAX], target[64];
	struct vg_json j;
	int n;
	bool exe;
	int32_t pid;
	const char *comm = first_comm(x, in->addr, &pid);

	if (!pid)
		return; /* unlinked and held by nobody: about to be freed */
	kernel_path(x, in->addr, path, sizeof(path));
	snprintf(target, sizeof(target), "<inode %llu>", (unsigned long long)in->ino);
	if (vg_ev_open(&j)) {
		x->ret = -ENOMEM;
		return;
	}
	vg_json_kstr(&j, "guest_path", path);
	vg_json_kuint(&j, "inode", in->ino);
	vg_json_kuint(&j, "size", in->size);
	holders(&j, x, in->addr, &n, &exe);
	vg_json_kstr(&j, "on_disk",
		     idx < 0					    ? "gone"
		     : (x->scan->tab.v[idx].flags & VG_FENT_ORPHAN) ? "orphan list"
								    : "reused");
	if (vg_dfindings_add(x->out, "deleted-in-use", exe ? VG_SEV_HIGH : VG_SEV_MEDIUM,
			     "T1070.004", "file", path[0] ? path : target, &j,
			     "%s (inode %llu) was deleted but process %d (%s) still %s it", path,
			     (unsigned long long)in->ino, pid, comm, exe ? "runs" : "holds"))
		x->ret = -ENOMEM;
}

static void hidden(struct xv *x, const struct vg_lx_inode *in, long idx)
{
	char path[VG_PATH_MAX];
	bool unreachable = idx >= 0 && (x->scan->tab.v[idx].flags & VG_FENT_UNREACHABLE);
	struct vg_json j;
	int n;
	bool exe;

	kernel_path(x, in->addr, path, sizeof(path));
	if (vg_ev_open(&j)) {
		x->ret = -ENOMEM;
		return;
	}
	vg_json_kstr(&j, "guest_path", path);
	vg_json_kuint(&j, "inode", in->ino);
	vg_json_kuint(&j, "nlink", in->nlink);
	vg_json_kuint(&j, "size", in->size);
	vg_json_kstr(&j, "on_disk", unreachable ? "allocated, in no directory" : "not allocated");
	holders(&j, x, in->addr, &n, &exe);
	if (vg_dfindings_add(
		    x->out, "hidden-in-use", unreachable ? VG_SEV_HIGH : VG_SEV_MEDIUM, "T1564",
		    "file", path[0] ? path : "<unnamed inode>", &j,
		    "the guest kernel holds %s (inode %llu, %u link%s) but no directory on "
		    "the disk lists it%s",
		    path[0] ? path : "a file", (unsigned long long)in->ino, in->nlink,
		    in->nlink == 1 ? "" : "s",
		    unreachable ? ": its inode is allocated and hidden" : ""))
		x->ret = -ENOMEM;
}

/* Clean cached pages against the disk; the number that differ, and the first offset. */
static uint64_t compare_pages(struct xv *x, const struct vg_lx_inode *in, const struct vg_fent *e,
			      uint64_t *first, uint64_t *clean)
{
	size_t len = e->size < COMPARE_MAX ? (size_t)e->size : COMPARE_MAX;
	size_t npages = (len + PAGE - 1) / PAGE;
	struct vg_err err = { 0 };
	uint64_t differ = 0;

	*first = 0;
	*clean = 0;
	if (!len || !in->mapping)
		return 0;
	if (vg_lx_pagecache_read(x->fs, in->mapping, 0, x->mem, len, x->states, &err) ||
	    vg_fsrc_read(x->image, e, x->disk, len, &err))
		return 0;
	for (size_t p = 0; p < npages; p++) {
		size_t off = p * PAGE, n = len - off < PAGE ? len - off : PAGE;

		if (x->states[p] != VG_LX_PAGE_CLEAN) {
			x->st->skipped += x->states[p] == VG_LX_PAGE_DIRTY;
			continue;
		}
		(*clean)++;
		if (memcmp(x->mem + off, x->disk + off, n) && !differ++)
			*first = off;
	}
	x->st->pages += *clean;
	return differ;
}

static void changed(struct xv *x, const struct vg_lx_inode *in, long idx)
{
	const struct vg_fent *e = &x->scan->tab.v[idx];
	const char *path = vg_fent_path(&x->scan->tab, e);
	char fields[128] = "";
	uint64_t differ = 0, first = 0, clean = 0;
	struct vg_json j;
	int n;
	bool exe;

#define DIFF(cond, name)                                                                           \
	do {                                                                                       \
		if (cond)                                                                          \
			snprintf(fields + strlen(fields), sizeof(fields) - strlen(fields), "%s%s", \
				 fields[0] ? "," : "", name);                                      \
	} while (0)
	DIFF(in->mode != e->mode, "mode");
	DIFF(in->uid != e->uid || in->gid != e->gid, "owner");
	DIFF(in->size != e->size, "size");
	DIFF(in->mtime != e->mtime, "mtime");
#undef DIFF
	if (S_ISREG(in->mode) && S_ISREG(e->mode) && in->nrpages)
		differ = compare_pages(x, in, e, &first, &clean);
	if (!fields[0] && !differ)
		return;
	if (vg_ev_open(&j)) {
		x->ret = -ENOMEM;
		return;
	}
	vg_json_kstr(&j, "path", path);
	vg_json_kuint(&j, "inode", in->ino);
	vg_json_kstr(&j, "fields", fields);
	vg_json_key(&j, "memory");
	vg_json_obj_open(&j);
	vg_json_kuint(&j, "mode", in->mode);
	vg_json_kuint(&j, "uid", in->uid);
	vg_json_kuint(&j, "size", in->size);
	vg_json_kint(&j, "mtime", in->mtime);
	vg_json_obj_close(&j);
	vg_json_key(&j, "disk");
	vg_json_obj_open(&j);
	vg_json_kuint(&j, "mode", e->mode);
	vg_json_kuint(&j, "uid", e->uid);
	vg_json_kuint(&j, "size", e->size);
	vg_json_kint(&j, "mtime", e->mtime);
	vg_json_obj_close(&j);
	if (differ) {
		vg_json_kuint(&j, "pages_differ", differ);
		vg_json_kuint(&j, "pages_compared", clean);
		vg_json_kuint(&j, "first_difference", first);
	}
	holders(&j, x, in->addr, &n, &exe);
	if (vg_dfindings_add(x->out, "changed-on-disk",
			     differ || vg_path_system(path) ? VG_SEV_HIGH : VG_SEV_MEDIUM,
			     "T1565.001", "file", path, &j,
			     "%s differs between the running kernel and the disk (%s%s%s)", path,
			     fields, fields[0] && differ ? "," : "", differ ? "content" : ""))
		x->ret = -ENOMEM;
}

static int on_inode(void *ctx, uint64_t inode)
{
	struct xv *x = ctx;
	struct vg_lx_inode in;
	long idx;

	if (vg_lx_inode(x->fs, inode, &in) || !in.mode || (in.ino < FIRST_INO && in.ino != 2))
		return 0;
	x->st->inodes++;
	x->st->held += first_held(x, inode) != NULL;
	idx = inomap_get(&x->ino, in.ino);
	if (!in.nlink)
		deleted(x, &in, idx);
	else if (in.state & VG_LX_I_DIRTY)
		x->st->skipped++;
	else if (idx < 0 || (x->scan->tab.v[idx].flags & VG_FENT_OFFTREE))
		hidden(x, &in, idx);
	else
		changed(x, &in, idx);
	return x->ret;
}

static int find_sb(struct xv *x, const uint8_t uuid[16], uint64_t *sb)
{
	struct vg_lx_sb *sbs;
	struct vg_lx_mount *mounts;
	size_t n, nm;
	int ret = vg_lx_superblocks(x->fs, &sbs, &n, x->err);

	if (ret)
		return ret;
	*sb = 0;
	for (size_t i = 0; i < n && !*sb; i++)
		if (!strncmp(sbs[i].type, "ext", 3) && !memcmp(sbs[i].uuid, uuid, 16))
			*sb = sbs[i].addr;
	free(sbs);
	if (!*sb)
		return vg_errf(x->err, ENOENT,
			       "the guest has not mounted this image's file system (no ext super "
			       "block with its UUID)");
	snprintf(x->st->mount, sizeof(x->st->mount), "(not in the initial namespace)");
	if (!vg_lx_mounts(x->fs, &mounts, &nm, x->err)) {
		for (size_t i = 0; i < nm; i++)
			if (mounts[i].sb == *sb) {
				memcpy(x->st->mount, mounts[i].path, sizeof(x->st->mount));
				break;
			}
		free(mounts);
	}
	vg_err_clear(x->err);
	return 0;
}

int vg_xview(struct vg_linux *lx, struct vg_fsrc *image, const struct vg_disk_scan *scan,
	     struct vg_dfindings *out, struct vg_xview_stats *st, struct vg_err *err)
{
	struct xv x = { .image = image, .scan = scan, .out = out, .st = st, .err = err };
	uint64_t sb;
	int ret;

	memset(st, 0, sizeof(*st));
	ret = vg_lxfs_open(&x.fs, lx, err);
	if (ret)
		return ret;
	ret = find_sb(&x, image->uuid, &sb);
	if (!ret)
		ret = vg_lx_held_files(x.fs, &x.held, &x.nheld, err);
	if (!ret && x.nheld)
		qsort(x.held, x.nheld, sizeof(*x.held), cmp_held);
	if (!ret && inomap_build(&x.ino, &scan->tab))
		ret = vg_errf(err, ENOMEM, "out of memory");
	x.mem = malloc(COMPARE_MAX);
	x.disk = malloc(COMPARE_MAX);
	x.states = malloc(COMPARE_MAX / PAGE);
	if (!ret && (!x.mem || !x.disk || !x.states))
		ret = vg_errf(err, ENOMEM, "out of memory");
	if (!ret) {
		ret = vg_lx_sb_inodes(x.fs, sb, on_inode, &x, err);
		if (ret == -ENOMEM || x.ret)
			ret = vg_errf(err, ENOMEM, "out of memory");
	}
	free(x.mem);
	free(x.disk);
	free(x.states);
	free(x.ino.key);
	free(x.ino.val);
	free(x.held);
	vg_lxfs_close(x.fs);
	return ret;
}
