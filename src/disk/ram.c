// SPDX-License-Identifier: MIT
/*
 * The guest's RAM disks as a file source: every tmpfs, ramfs, devtmpfs and rootfs mount of
 * the initial mount namespace, walked from each mount's root through the kernel's own
 * dentries (these file systems keep every dentry of a linked file), with metadata from the
 * inodes and contents from the page cache. The mounts are laid out as the guest sees them:
 * a mount's root takes its path, what it covers in the file system below is listed but
 * flagged shadowed (files hidden under a mount point), other file systems' mount points
 * appear as unlisted directories. Inodes still on a RAM disk's inode list that no walk
 * reached are listed too: deleted but held (no links), or linked yet nowhere in the tree.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vigil/disk_ram.h"
#include "vigil/lxfs.h"

#define LINK_MAX_READ 4095

struct ram {
	struct vg_linux *lx;
	struct vg_lxfs *fs;
};

/* dentry address -> entry index, for one walk (open addressing). */
struct dmap {
	uint64_t *key;
	uint32_t *val;
	size_t mask, n;
};

static int dmap_put(struct dmap *m, uint64_t k, uint32_t v)
{
	size_t h;

	if (!m->key || (m->n + 1) * 2 > m->mask + 1) {
		size_t size = m->key ? (m->mask + 1) * 2 : 1024, old = m->key ? m->mask + 1 : 0;
		uint64_t *ok = m->key;
		uint32_t *ov = m->val;

		m->key = calloc(size, sizeof(*m->key));
		m->val = calloc(size, sizeof(*m->val));
		if (!m->key || !m->val) {
			free(m->key);
			free(m->val);
			m->key = ok;
			m->val = ov;
			return -ENOMEM;
		}
		m->mask = size - 1;
		m->n = 0;
		for (size_t i = 0; i < old; i++)
			if (ok[i])
				dmap_put(m, ok[i], ov[i]);
		free(ok);
		free(ov);
	}
	for (h = (size_t)((k >> 3) * 0x9e3779b97f4a7c15ull) & m->mask; m->key[h];
	     h = (h + 1) & m->mask)
		if (m->key[h] == k) {
			m->val[h] = v;
			return 0;
		}
	m->key[h] = k;
	m->val[h] = v;
	m->n++;
	return 0;
}

static long dmap_get(const struct dmap *m, uint64_t k)
{
	if (!m->key)
		return -1;
	for (size_t h = (size_t)((k >> 3) * 0x9e3779b97f4a7c15ull) & m->mask; m->key[h];
	     h = (h + 1) & m->mask)
		if (m->key[h] == k)
			return m->val[h];
	return -1;
}

static bool is_ram(const char *type)
{
	return !strcmp(type, "tmpfs") || !strcmp(type, "ramfs") || !strcmp(type, "rootfs") ||
	       !strcmp(type, "devtmpfs");
}

static void meta_of(const struct vg_lx_inode *in, struct vg_fent *m)
{
	memset(m, 0, sizeof(*m));
	m->ino = in->ino;
	m->mode = in->mode;
	m->uid = in->uid;
	m->gid = in->gid;
	m->nlink = in->nlink;
	m->size = in->size;
	m->atime = in->atime;
	m->mtime = in->mtime;
	m->ctime = in->ctime;
	m->rdev = in->rdev;
	m->handle = in->addr;
}

struct walk {
	struct ram *r;
	struct vg_ftab *t;
	struct vg_err *err;
	struct dmap dents;   /* this mount's dentries */
	struct dmap reached; /* every inode listed (address -> 1) */
	uint64_t root;	     /* the mount's root dentry */
	uint32_t root_idx;
};

static void set_link(struct walk *w, uint32_t idx, const struct vg_lx_inode *in)
{
	char buf[LINK_MAX_READ + 1];
	size_t len = in->size < LINK_MAX_READ ? (size_t)in->size : LINK_MAX_READ;
	struct vg_err lerr = { 0 };

	/* tmpfs keeps short targets in i_link, ramfs and long ones in the page cache */
	if (in->link) {
		if (vg_linux_read(w->r->lx, in->link, buf, len))
			len = 0;
	} else if (vg_lx_pagecache_read(w->r->fs, in->mapping, 0, buf, len, NULL, &lerr)) {
		len = 0;
	}
	buf[len] = '\0';
	vg_ftab_set_link(w->t, idx, buf, strnlen(buf, len));
}

static int add_inode(struct walk *w, uint32_t parent, const char *name, size_t nlen, uint64_t inode,
		     uint32_t flags, uint32_t *idx)
{
	struct vg_lx_inode in;
	struct vg_fent m;
	int ret;

	if (vg_lx_inode(w->r->fs, inode, &in))
		return vg_errf(w->err, EFAULT, "inode %#llx unreadable", (unsigned long long)inode);
	meta_of(&in, &m);
	m.flags = flags;
	ret = vg_ftab_add(w->t, parent, name, nlen, &m, idx, w->err);
	if (ret)
		return ret;
	if (dmap_put(&w->reached, inode, 1))
		return vg_errf(w->err, ENOMEM, "out of memory");
	if (S_ISLNK(in.mode))
		set_link(w, *idx, &in);
	return 0;
}

static int on_dent(void *ctx, const struct vg_lx_dent *d)
{
	struct walk *w = ctx;
	long parent = d->parent == w->root ? (long)w->root_idx : dmap_get(&w->dents, d->parent);
	uint32_t flags = 0, idx;
	int ret;

	if (parent < 0)
		return vg_errf(w->err, EFAULT, "dentry %#llx has no listed parent",
			       (unsigned long long)d->dentry);
	/* a mount point's directory is covered by the mount, and what lies in it is shadowed:
	 * invisible inside the guest */
	if (w->t->v[parent].flags & (VG_FENT_SHADOWED | VG_FENT_COVERED))
		flags |= VG_FENT_SHADOWED;
	else if (d->mountpoint)
		flags |= VG_FENT_COVERED;
	if (d->unhashed)
		flags |= VG_FENT_DELETED;
	ret = add_inode(w, (uint32_t)parent, d->name, d->nlen, d->inode, flags, &idx);
	if (ret == -E2BIG || ret == -ENAMETOOLONG) {
		vg_ftab_note(w->t, VG_FNOTE_LIMIT, vg_fent_path(w->t, &w->t->v[parent]), "%s",
			     w->err->msg);
		vg_err_clear(w->err);
		return ret == -E2BIG ? -E2BIG : VG_LX_SKIP;
	}
	if (ret)
		return ret;
	return dmap_put(&w->dents, d->dentry, idx) ? vg_errf(w->err, ENOMEM, "out of memory") : 0;
}

/* The entry of directory PATH, made (as an unlisted directory) when the tree lacks it. */
static int ensure_dir(struct walk *w, const char *path, uint32_t *idx)
{
	char parent[VG_PATH_MAX];
	const char *slash;
	struct vg_fent m = { .mode = S_IFDIR | 0755, .flags = VG_FENT_UNLISTED, .nlink = 2 };
	uint32_t pidx;
	long found;
	int ret;

	ret = vg_ftab_finish(w->t, w->err);
	if (ret)
		return ret;
	found = vg_ftab_lookup(w->t, path);
	if (found >= 0) {
		*idx = (uint32_t)found;
		return 0;
	}
	slash = strrchr(path, '/');
	if (!slash || (size_t)(slash - path) >= sizeof(parent))
		return vg_errf(w->err, EINVAL, "bad mount path %s", path);
	if (slash == path)
		strcpy(parent, "/");
	else
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path), path);
	ret = ensure_dir(w, parent, &pidx);
	if (ret)
		return ret;
	return vg_ftab_add(w->t, pidx, slash + 1, strlen(slash + 1), &m, idx, w->err);
}

static int add_mount(struct walk *w, const struct vg_lx_mount *mnt)
{
	uint64_t inode;
	const char *name;
	uint32_t parent = UINT32_MAX, flags = is_ram(mnt->type) ? 0 : VG_FENT_UNLISTED;
	char dir[VG_PATH_MAX];
	int ret;

	if (vg_lx_dentry_inode(w->r->fs, mnt->root, &inode) || !inode)
		return vg_errf(w->err, EFAULT, "root of mount %s unreadable", mnt->path);
	if (mnt->parent) {
		const char *slash = strrchr(mnt->path, '/');

		snprintf(dir, sizeof(dir), "%.*s",
			 slash == mnt->path ? 1 : (int)(slash - mnt->path), mnt->path);
		ret = ensure_dir(w, dir, &parent);
		if (ret)
			return ret;
		name = slash + 1;
	} else {
		name = "";
	}
	ret = add_inode(w, parent, name, strlen(name), inode, flags, &w->root_idx);
	if (ret || flags)
		return ret;
	w->root = mnt->root;
	free(w->dents.key);
	free(w->dents.val);
	memset(&w->dents, 0, sizeof(w->dents));
	ret = vg_lx_dentry_walk(w->r->fs, mnt->root, on_dent, w, w->err);
	return ret == -E2BIG ? 0 : ret;
}

struct orphan_ctx {
	struct walk *w;
	const char *mount;
	int ret;
};

/* An inode on a RAM disk's list that no walk reached. */
static int on_inode(void *ctx, uint64_t inode)
{
	struct orphan_ctx *o = ctx;
	struct walk *w = o->w;
	struct vg_lx_inode in;
	struct vg_fent m;
	char name[256], path[VG_PATH_MAX];
	uint64_t dentry;
	uint32_t idx;

	if (dmap_get(&w->reached, inode) >= 0 || vg_lx_inode(w->r->fs, inode, &in) || !in.mode)
		return 0;
	if (vg_lx_inode_alias(w->r->fs, inode, &dentry, name, sizeof(name)) || !name[0])
		snprintf(name, sizeof(name), "<inode %llu>", (unsigned long long)in.ino);
	snprintf(path, sizeof(path), "%s%s%s", o->mount, strcmp(o->mount, "/") ? "/" : "", name);
	meta_of(&in, &m);
	m.flags = in.nlink ? VG_FENT_UNREACHABLE : VG_FENT_DELETED;
	o->ret = vg_ftab_add_path(w->t, path, &m, &idx, w->err);
	if (o->ret == -E2BIG) {
		vg_err_clear(w->err);
		o->ret = 0;
		return 1;
	}
	return o->ret;
}

static int ram_list(struct vg_fsrc *s, struct vg_ftab *t, struct vg_err *err)
{
	struct ram *r = s->priv;
	struct walk w = { .r = r, .t = t, .err = err };
	struct vg_lx_mount *mounts;
	size_t n;
	int ret;

	ret = vg_lx_mounts(r->fs, &mounts, &n, err);
	if (ret)
		return ret;
	for (size_t i = 0; i < n && !ret; i++)
		ret = add_mount(&w, &mounts[i]);
	/* one pass per super block: a tmpfs mounted twice is listed once */
	for (size_t i = 0; i < n && !ret; i++) {
		struct orphan_ctx o = { .w = &w, .mount = mounts[i].path };
		bool first = true;

		for (size_t k = 0; k < i; k++)
			first &= mounts[k].sb != mounts[i].sb;
		if (!is_ram(mounts[i].type) || !first)
			continue;
		ret = vg_lx_sb_inodes(r->fs, mounts[i].sb, on_inode, &o, err);
		if (ret > 0)
			ret = 0;
		if (!ret)
			ret = o.ret;
	}
	free(mounts);
	free(w.dents.key);
	free(w.dents.val);
	free(w.reached.key);
	free(w.reached.val);
	return ret;
}

static int ram_read(struct vg_fsrc *s, const struct vg_fent *e, void *buf, size_t len,
		    struct vg_err *err)
{
	struct ram *r = s->priv;
	struct vg_lx_inode in;

	if (vg_lx_inode(r->fs, e->handle, &in))
		return vg_errf(err, EFAULT, "inode %#llx unreadable",
			       (unsigned long long)e->handle);
	if (!in.mapping)
		return vg_errf(err, EFAULT, "inode %llu has no page cache",
			       (unsigned long long)in.ino);
	return vg_lx_pagecache_read(r->fs, in.mapping, 0, buf, len, NULL, err);
}

static void ram_close(struct vg_fsrc *s)
{
	struct ram *r = s->priv;

	if (r)
		vg_lxfs_close(r->fs);
	free(r);
}

static const struct vg_fsrc_ops ram_ops = {
	.list = ram_list,
	.read = ram_read,
	.close = ram_close,
};

int vg_ram_open(struct vg_fsrc **out, struct vg_linux *lx, const char *label, struct vg_err *err)
{
	struct vg_fsrc *s = calloc(1, sizeof(*s));
	struct ram *r = calloc(1, sizeof(*r));
	int ret;

	*out = NULL;
	if (!s || !r) {
		free(s);
		free(r);
		return vg_errf(err, ENOMEM, "out of memory");
	}
	r->lx = lx;
	ret = vg_lxfs_open(&r->fs, lx, err);
	if (ret) {
		free(s);
		free(r);
		return ret;
	}
	s->ops = &ram_ops;
	s->kind = "ram";
	s->priv = r;
	snprintf(s->label, sizeof(s->label), "%s (RAM disks)", label);
	*out = s;
	return 0;
}
