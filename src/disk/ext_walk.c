// SPDX-License-Identifier: MIT
/*
 * Listing an ext2/3/4 file system: every directory from the root (libext2fs iterates the
 * entries), each entry's inode, then the inodes no directory reaches: allocated inodes with
 * links (what e2fsck calls unattached: data hidden from every directory listing) and the
 * orphan list (files deleted while a process still had them open, as a running or paused
 * guest leaves them). The walk is iterative and bounded: a directory that is its own
 * ancestor is noted and not entered again, directories over DIR_MAX_BYTES are not read, and
 * the depth is capped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ext_int.h"

#define DIR_MAX_BYTES (256ull << 20)
#define MAX_DEPTH 1024
#define LINK_MAX_READ 4095
#define MAX_ORPHANS 65536

/* A set of inode numbers (open addressing, grows at half full). */
struct iset {
	uint32_t *slot;
	size_t mask, n;
};

static bool iset_has(const struct iset *s, uint32_t ino)
{
	if (!s->slot)
		return false;
	for (size_t h = (ino * 0x9e3779b1u) & s->mask; s->slot[h]; h = (h + 1) & s->mask)
		if (s->slot[h] == ino)
			return true;
	return false;
}

static int iset_grow(struct iset *s)
{
	size_t size = s->slot ? (s->mask + 1) * 2 : 4096, oldsize = s->slot ? s->mask + 1 : 0;
	uint32_t *old = s->slot;

	s->slot = calloc(size, sizeof(*s->slot));
	if (!s->slot) {
		s->slot = old;
		return -ENOMEM;
	}
	s->mask = size - 1;
	for (size_t i = 0; i < oldsize; i++) {
		size_t h = (old[i] * 0x9e3779b1u) & s->mask;

		if (!old[i])
			continue;
		while (s->slot[h])
			h = (h + 1) & s->mask;
		s->slot[h] = old[i];
	}
	free(old);
	return 0;
}

static int iset_add(struct iset *s, uint32_t ino)
{
	size_t h;

	if (iset_has(s, ino))
		return 0;
	if ((!s->slot || (s->n + 1) * 2 > s->mask + 1) && iset_grow(s))
		return -ENOMEM;
	for (h = (ino * 0x9e3779b1u) & s->mask; s->slot[h]; h = (h + 1) & s->mask)
		;
	s->slot[h] = ino;
	s->n++;
	return 0;
}

struct frame {
	uint32_t idx; /* the directory's entry */
	uint32_t ino;
	int depth;
};

struct walk {
	struct vg_ext *x;
	struct vg_ftab *t;
	struct vg_err *err;
	struct frame *stack;
	size_t nstack, capstack;
	struct iset dirs, reached;
	struct frame cur;
	int ret;   /* a fatal error that stopped the walk */
	bool full; /* the table is full: stop listing */
};

static int64_t xtime(uint32_t lo, uint32_t extra, bool has_extra)
{
	/* the low two bits of the extra word extend the signed 32-bit seconds (ext4 epochs) */
	return (int64_t)(int32_t)lo + (has_extra ? (int64_t)(extra & 3) << 32 : 0);
}

static uint32_t rdev_of(const struct ext2_inode_large *in)
{
	uint32_t major, minor;

	if (in->i_block[0]) {
		major = (in->i_block[0] >> 8) & 0xff;
		minor = in->i_block[0] & 0xff;
	} else {
		major = (in->i_block[1] & 0xfff00) >> 8;
		minor = (in->i_block[1] & 0xff) | ((in->i_block[1] >> 12) & 0xfff00);
	}
	return major << 20 | minor;
}

static bool has_field(const struct vg_ext *x, const struct ext2_inode_large *in, size_t end)
{
	return EXT2_INODE_SIZE(x->fs->super) > EXT2_GOOD_OLD_INODE_SIZE &&
	       EXT2_GOOD_OLD_INODE_SIZE + (size_t)in->i_extra_isize >= end;
}

static void fill_meta(const struct vg_ext *x, uint32_t ino, const struct ext2_inode_large *in,
		      struct vg_fent *m)
{
#define END(f) (offsetof(struct ext2_inode_large, f) + sizeof(in->f))
	memset(m, 0, sizeof(*m));
	m->ino = ino;
	m->mode = in->i_mode;
	m->uid = in->i_uid | (uint32_t)in->osd2.linux2.l_i_uid_high << 16;
	m->gid = in->i_gid | (uint32_t)in->osd2.linux2.l_i_gid_high << 16;
	m->nlink = in->i_links_count;
	m->size = EXT2_I_SIZE(in);
	m->atime = xtime(in->i_atime, in->i_atime_extra, has_field(x, in, END(i_atime_extra)));
	m->mtime = xtime(in->i_mtime, in->i_mtime_extra, has_field(x, in, END(i_mtime_extra)));
	m->ctime = xtime(in->i_ctime, in->i_ctime_extra, has_field(x, in, END(i_ctime_extra)));
	if (has_field(x, in, END(i_crtime_extra)))
		m->crtime = xtime(in->i_crtime, in->i_crtime_extra, true);
	if (S_ISCHR(in->i_mode) || S_ISBLK(in->i_mode))
		m->rdev = rdev_of(in);
#undef END
}

static int read_inode(struct vg_ext *x, uint32_t ino, struct ext2_inode_large *in)
{
	memset(in, 0, sizeof(*in));
	if (!ino || ino > x->fs->super->s_inodes_count)
		return -EINVAL;
	return ext2fs_read_inode_full(x->fs, ino, (struct ext2_inode *)in, sizeof(*in)) ? -EIO : 0;
}

static void set_link(struct walk *w, uint32_t idx, uint32_t ino, struct ext2_inode_large *in)
{
	struct vg_fent *e = &w->t->v[idx];
	size_t len = e->size > LINK_MAX_READ ? LINK_MAX_READ : (size_t)e->size;
	char buf[LINK_MAX_READ + 1];
	struct vg_err lerr = { 0 };

	if (ext2fs_is_fast_symlink((struct ext2_inode *)in)) {
		if (len > sizeof(in->i_block))
			len = sizeof(in->i_block);
		memcpy(buf, in->i_block, len);
	} else if (vg_ext_read_inode(w->x, ino, in, buf, len, &lerr)) {
		vg_ftab_note(w->t, VG_FNOTE_CORRUPT, vg_fent_path(w->t, e),
			     "symlink target unreadable: %s", lerr.msg);
		return;
	}
	if (vg_ftab_set_link(w->t, idx, buf, len))
		w->ret = vg_errf(w->err, ENOMEM, "out of memory");
}

static int push(struct walk *w, uint32_t idx, uint32_t ino, int depth)
{
	if (w->nstack == w->capstack) {
		size_t cap = w->capstack ? w->capstack * 2 : 256;
		void *p = realloc(w->stack, cap * sizeof(*w->stack));

		if (!p)
			return -ENOMEM;
		w->stack = p;
		w->capstack = cap;
	}
	w->stack[w->nstack++] = (struct frame){ .idx = idx, .ino = ino, .depth = depth };
	return 0;
}

/* Adds one entry; 0 to go on, DIRENT_ABORT to stop. */
static int add_entry(struct walk *w, uint32_t ino, const char *name, size_t nlen)
{
	struct ext2_inode_large in;
	struct vg_fent m;
	struct vg_err aerr = { 0 };
	uint32_t idx;
	int ret;

	if (read_inode(w->x, ino, &in)) {
		vg_ftab_note(w->t, VG_FNOTE_CORRUPT, vg_fent_path(w->t, &w->t->v[w->cur.idx]),
			     "entry '%.*s' names inode %u, which cannot be read", (int)nlen, name,
			     ino);
		return 0;
	}
	fill_meta(w->x, ino, &in, &m);
	ret = vg_ftab_add(w->t, w->cur.idx, name, nlen, &m, &idx, &aerr);
	if (ret == -ENAMETOOLONG) {
		vg_ftab_note(w->t, VG_FNOTE_LIMIT, vg_fent_path(w->t, &w->t->v[w->cur.idx]), "%s",
			     aerr.msg);
		return 0;
	}
	if (ret == -E2BIG) {
		vg_ftab_note(w->t, VG_FNOTE_LIMIT, "/", "%s", aerr.msg);
		w->full = true;
		return DIRENT_ABORT;
	}
	if (ret) {
		w->ret = vg_errf(w->err, -ret, "%s", aerr.msg);
		return DIRENT_ABORT;
	}
	if (iset_add(&w->reached, ino)) {
		w->ret = vg_errf(w->err, ENOMEM, "out of memory");
		return DIRENT_ABORT;
	}
	if (S_ISLNK(in.i_mode))
		set_link(w, idx, ino, &in);
	if (!S_ISDIR(in.i_mode))
		return w->ret ? DIRENT_ABORT : 0;
	if (iset_has(&w->dirs, ino)) {
		w->t->v[idx].flags |= VG_FENT_UNLISTED;
		vg_ftab_note(w->t, VG_FNOTE_LOOP, vg_fent_path(w->t, &w->t->v[idx]),
			     "directory inode %u is already in the tree (a loop or a hard-linked "
			     "directory): not entered again",
			     ino);
		return 0;
	}
	if (w->cur.depth + 1 >= MAX_DEPTH) {
		w->t->v[idx].flags |= VG_FENT_UNLISTED;
		vg_ftab_note(w->t, VG_FNOTE_LIMIT, vg_fent_path(w->t, &w->t->v[idx]),
			     "deeper than %d directories: not entered", MAX_DEPTH);
		return 0;
	}
	if (iset_add(&w->dirs, ino) || push(w, idx, ino, w->cur.depth + 1)) {
		w->ret = vg_errf(w->err, ENOMEM, "out of memory");
		return DIRENT_ABORT;
	}
	return 0;
}

static int dir_cb(ext2_ino_t dir, int entry, struct ext2_dir_entry *d, int offset, int blocksize,
		  char *buf, void *priv)
{
	struct walk *w = priv;
	int nlen = ext2fs_dirent_name_len(d);

	if (entry == DIRENT_DOT_FILE || entry == DIRENT_DOT_DOT_FILE || !d->inode)
		return 0;
	/* inline-data directories report "." and ".." as ordinary entries */
	if ((nlen == 1 && d->name[0] == '.') || (nlen == 2 && !memcmp(d->name, "..", 2)))
		return 0;
	if (nlen <= 0 || (size_t)offset + 8 + (size_t)nlen > (size_t)blocksize) {
		vg_ftab_note(w->t, VG_FNOTE_CORRUPT, vg_fent_path(w->t, &w->t->v[w->cur.idx]),
			     "entry at offset %d has a bad name length", offset);
		return 0;
	}
	return add_entry(w, d->inode, d->name, (size_t)nlen);
}

static void list_dir(struct walk *w)
{
	struct ext2_inode_large in;
	const char *path = vg_fent_path(w->t, &w->t->v[w->cur.idx]);
	errcode_t ec;

	if (read_inode(w->x, w->cur.ino, &in))
		return;
	if (EXT2_I_SIZE(&in) > DIR_MAX_BYTES) {
		w->t->v[w->cur.idx].flags |= VG_FENT_UNLISTED;
		vg_ftab_note(w->t, VG_FNOTE_LIMIT, path,
			     "directory claims %llu bytes (over %llu): not read",
			     (unsigned long long)EXT2_I_SIZE(&in), DIR_MAX_BYTES);
		return;
	}
	ec = ext2fs_dir_iterate2(w->x->fs, w->cur.ino, 0, NULL, dir_cb, w);
	/* dir_cb may have grown the arena: the path pointer is stale */
	if (ec && !w->ret && !w->full) {
		w->t->v[w->cur.idx].flags |= VG_FENT_UNLISTED;
		vg_ftab_note(w->t, VG_FNOTE_CORRUPT, vg_fent_path(w->t, &w->t->v[w->cur.idx]),
			     "directory unreadable: %s", vg_ext_strerror(ec));
	}
}

static int walk_tree(struct walk *w)
{
	struct ext2_inode_large in;
	struct vg_fent m;
	uint32_t root;
	int ret;

	if (read_inode(w->x, EXT2_ROOT_INO, &in) || !S_ISDIR(in.i_mode))
		return vg_errf(w->err, EINVAL,
			       "the root directory (inode 2) is unreadable or not "
			       "a directory");
	fill_meta(w->x, EXT2_ROOT_INO, &in, &m);
	ret = vg_ftab_add(w->t, UINT32_MAX, "", 0, &m, &root, w->err);
	if (ret || iset_add(&w->dirs, EXT2_ROOT_INO) || iset_add(&w->reached, EXT2_ROOT_INO) ||
	    push(w, root, EXT2_ROOT_INO, 0))
		return ret ? ret : vg_errf(w->err, ENOMEM, "out of memory");
	while (w->nstack && !w->ret && !w->full) {
		w->cur = w->stack[--w->nstack];
		list_dir(w);
	}
	if (w->full)
		w->t->v[w->cur.idx].flags |= VG_FENT_UNLISTED;
	while (w->nstack)
		w->t->v[w->stack[--w->nstack].idx].flags |= VG_FENT_UNLISTED;
	return w->ret;
}

static int add_offtree(struct walk *w, uint32_t ino, const struct ext2_inode_large *in,
		       uint32_t flags)
{
	struct vg_fent m;
	char path[32];
	uint32_t idx;
	int ret;

	fill_meta(w->x, ino, in, &m);
	m.flags = flags;
	snprintf(path, sizeof(path), "<inode %u>", ino);
	ret = vg_ftab_add_path(w->t, path, &m, &idx, w->err);
	if (ret == -E2BIG) {
		vg_err_clear(w->err);
		w->full = true;
		return 0;
	}
	return ret ? ret : iset_add(&w->reached, ino);
}

/* The orphan list: s_last_orphan, then each inode's i_dtime names the next. */
static int walk_orphans(struct walk *w)
{
	uint32_t ino = w->x->fs->super->s_last_orphan;

	for (int n = 0; ino && n < MAX_ORPHANS && !w->full; n++) {
		struct ext2_inode_large in;
		int ret;

		if (iset_has(&w->reached, ino))
			return 0; /* a cycle, or an orphan that is still linked */
		if (read_inode(w->x, ino, &in)) {
			vg_ftab_note(w->t, VG_FNOTE_CORRUPT, "/",
				     "the orphan list names inode %u, which cannot be read", ino);
			return 0;
		}
		ret = add_offtree(w, ino, &in, VG_FENT_ORPHAN);
		if (ret)
			return ret;
		ino = in.i_dtime;
	}
	return 0;
}

/* Allocated inodes with links that no directory reached. */
static int walk_unreachable(struct walk *w)
{
	ext2_filsys fs = w->x->fs;
	uint32_t first = EXT2_FIRST_INO(fs->super);
	struct ext2_inode_large in;
	ext2_inode_scan scan;
	ext2_ino_t ino;
	errcode_t ec;
	int ret = 0;

	ec = ext2fs_open_inode_scan(fs, 0, &scan);
	if (ec) {
		vg_ftab_note(w->t, VG_FNOTE_CORRUPT, "/", "inode tables unreadable: %s",
			     vg_ext_strerror(ec));
		return 0;
	}
	for (uint64_t n = 0; n <= fs->super->s_inodes_count && !w->full; n++) {
		memset(&in, 0, sizeof(in));
		ec = ext2fs_get_next_inode_full(scan, &ino, (struct ext2_inode *)&in, sizeof(in));
		if (ec == EXT2_ET_BAD_BLOCK_IN_INODE_TABLE)
			continue;
		if (ec) {
			vg_ftab_note(w->t, VG_FNOTE_CORRUPT, "/",
				     "inode tables unreadable after inode %u: %s", ino,
				     vg_ext_strerror(ec));
			break;
		}
		if (!ino)
			break;
		if (ino < first || !in.i_links_count || in.i_dtime || !in.i_mode ||
		    iset_has(&w->reached, ino))
			continue;
		ret = add_offtree(w, ino, &in, VG_FENT_UNREACHABLE);
		if (ret)
			break;
	}
	ext2fs_close_inode_scan(scan);
	return ret;
}

int vg_ext_list(struct vg_fsrc *s, struct vg_ftab *t, struct vg_err *err)
{
	struct walk w = { .x = s->priv, .t = t, .err = err };
	int ret;

	ret = walk_tree(&w);
	if (!ret)
		ret = walk_orphans(&w);
	if (!ret)
		ret = walk_unreachable(&w);
	free(w.stack);
	free(w.dirs.slot);
	free(w.reached.slot);
	return ret;
}
