// SPDX-License-Identifier: MIT
/*
 * File-system objects from guest memory: the super_blocks list, the initial mount
 * namespace's mount tree (with each mount's path), inodes, dentry trees and super blocks'
 * inode lists. Offsets come from BTF (memoised per build), trying the names members had in
 * other kernel versions. Every list and tree walk is bounded and remembers what it visited,
 * so a hostile cycle ends with an error instead of a hang.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kread.h"
#include "lxfs_int.h"

#define DCACHE_MOUNTED 0x00010000u
#define NAME_MAX_LEN 255
#define REL_MAX_DEPTH 128

/* A set of addresses (open addressing) for cycle detection. */
struct aset {
	uint64_t *slot;
	size_t mask, n;
};

static int aset_add(struct aset *s, uint64_t a)
{
	size_t h;

	if (!s->slot || (s->n + 1) * 2 > s->mask + 1) {
		size_t size = s->slot ? (s->mask + 1) * 2 : 1024, old = s->slot ? s->mask + 1 : 0;
		uint64_t *prev = s->slot;

		s->slot = calloc(size, sizeof(*s->slot));
		if (!s->slot) {
			s->slot = prev;
			return -ENOMEM;
		}
		s->mask = size - 1;
		s->n = 0;
		for (size_t i = 0; i < old; i++)
			if (prev[i])
				aset_add(s, prev[i]);
		free(prev);
	}
	for (h = (size_t)((a >> 3) * 0x9e3779b97f4a7c15ull) & s->mask; s->slot[h];
	     h = (h + 1) & s->mask)
		if (s->slot[h] == a)
			return 1;
	s->slot[h] = a;
	s->n++;
	return 0;
}

int vg_lxfs_ptr(struct vg_lxfs *f, uint64_t va, uint64_t *out)
{
	if (vg_linux_read(f->lx, va, out, sizeof(*out)))
		return -EFAULT;
	return *out && !vg_kptr_ok(*out) ? -EFAULT : 0;
}

/* A pointer to characters: a kernel address, but byte-aligned. */
static int rdsptr(struct vg_lxfs *f, uint64_t va, uint64_t *out)
{
	if (vg_linux_read(f->lx, va, out, sizeof(*out)))
		return -EFAULT;
	return *out && *out < 0xff00000000000000ull ? -EFAULT : 0;
}

static int rd32(struct vg_lxfs *f, uint64_t va, uint32_t *out)
{
	return vg_linux_read(f->lx, va, out, sizeof(*out)) ? -EFAULT : 0;
}

static int rd64(struct vg_lxfs *f, uint64_t va, uint64_t *out)
{
	return vg_linux_read(f->lx, va, out, sizeof(*out)) ? -EFAULT : 0;
}

/* A C string of at most LEN-1 bytes at VA (cut at an unreadable page). */
static void rdstr(struct vg_lxfs *f, uint64_t va, char *buf, size_t len)
{
	size_t i;

	buf[0] = '\0';
	for (i = 0; va && i + 1 < len; i++)
		if (vg_linux_read(f->lx, va + i, buf + i, 1) || !buf[i])
			break;
	buf[i] = '\0';
}

static int32_t off_any(struct vg_linux *lx, const char *type, const char *const *paths)
{
	for (const char *const *p = paths; *p; p++) {
		int32_t o = vg_linux_btf_offset(lx, type, *p);

		if (o >= 0)
			return o;
	}
	return -1;
}

#define ANY(...) ((const char *const[]){ __VA_ARGS__, NULL })

struct need {
	int32_t *dst;
	const char *type;
	const char *const *paths;
};

int vg_lxfs_open(struct vg_lxfs **out, struct vg_linux *lx, struct vg_err *err)
{
	struct vg_lxfs *f = calloc(1, sizeof(*f));
	int64_t slots;

	*out = NULL;
	if (!f)
		return vg_errf(err, ENOMEM, "out of memory");
	f->lx = lx;
	const struct need need[] = {
		{ &f->sb_list, "super_block", ANY("s_list") },
		{ &f->sb_type, "super_block", ANY("s_type") },
		{ &f->sb_root, "super_block", ANY("s_root") },
		{ &f->sb_id, "super_block", ANY("s_id") },
		{ &f->sb_uuid, "super_block", ANY("s_uuid") },
		{ &f->sb_magic, "super_block", ANY("s_magic") },
		{ &f->sb_inodes, "super_block", ANY("s_inodes") },
		{ &f->fst_name, "file_system_type", ANY("name") },
		{ &f->i_mode, "inode", ANY("i_mode") },
		{ &f->i_uid, "inode", ANY("i_uid.val", "i_uid") },
		{ &f->i_gid, "inode", ANY("i_gid.val", "i_gid") },
		{ &f->i_ino, "inode", ANY("i_ino") },
		{ &f->i_nlink, "inode", ANY("__i_nlink", "i_nlink") },
		{ &f->i_rdev, "inode", ANY("i_rdev") },
		{ &f->i_size, "inode", ANY("i_size") },
		{ &f->i_atime, "inode", ANY("i_atime.tv_sec", "__i_atime.tv_sec", "i_atime_sec") },
		{ &f->i_mtime, "inode", ANY("i_mtime.tv_sec", "__i_mtime.tv_sec", "i_mtime_sec") },
		{ &f->i_ctime, "inode", ANY("i_ctime.tv_sec", "__i_ctime.tv_sec", "i_ctime_sec") },
		{ &f->i_state, "inode", ANY("i_state") },
		{ &f->i_mapping, "inode", ANY("i_mapping") },
		{ &f->i_sb, "inode", ANY("i_sb") },
		{ &f->i_sb_list, "inode", ANY("i_sb_list") },
		{ &f->i_dentry, "inode", ANY("i_dentry") },
		{ &f->i_link, "inode", ANY("i_link") },
		{ &f->d_flags, "dentry", ANY("d_flags") },
		{ &f->d_inode, "dentry", ANY("d_inode") },
		{ &f->d_alias, "dentry", ANY("d_u.d_alias", "d_alias") },
		{ &f->d_hash, "dentry", ANY("d_hash") },
		{ &f->m_mounts, "mount", ANY("mnt_mounts") },
		{ &f->m_child, "mount", ANY("mnt_child") },
		{ &f->vm_sb, "vfsmount", ANY("mnt_sb") },
		{ &f->ns_root, "mnt_namespace", ANY("root") },
		{ &f->nsp_mnt_ns, "nsproxy", ANY("mnt_ns") },
		{ &f->task_nsproxy, "task_struct", ANY("nsproxy") },
		{ &f->as_pages, "address_space", ANY("i_pages.xa_head") },
		{ &f->as_nrpages, "address_space", ANY("nrpages") },
		{ &f->xa_shift, "xa_node", ANY("shift") },
		{ &f->xa_slots, "xa_node", ANY("slots") },
		{ &f->pg_flags, "page", ANY("flags") },
		{ &f->t_files, "task_struct", ANY("files") },
		{ &f->fs_fdt, "files_struct", ANY("fdt") },
		{ &f->fdt_max, "fdtable", ANY("max_fds") },
		{ &f->fdt_fd, "fdtable", ANY("fd") },
		{ &f->f_inode, "file", ANY("f_inode") },
	};

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		*need[i].dst = off_any(lx, need[i].type, need[i].paths);
		if (*need[i].dst < 0) {
			free(f);
			return vg_errf(err, ENOENT,
				       "kernel BTF has no %s.%s: file systems unreadable",
				       need[i].type, need[i].paths[0]);
		}
	}
	/* 6.8 made a dentry's children an hlist (d_children, d_sib) */
	f->d_subdirs = vg_linux_btf_offset(lx, "dentry", "d_subdirs");
	f->d_child = vg_linux_btf_offset(lx, "dentry", "d_child");
	if (f->d_subdirs < 0 || f->d_child < 0) {
		f->d_subdirs = vg_linux_btf_offset(lx, "dentry", "d_children");
		f->d_child = vg_linux_btf_offset(lx, "dentry", "d_sib");
		f->d_hlist = true;
	}
	slots = vg_linux_btf_sizeof(lx, "xa_node", "slots");
	f->page_size = vg_linux_btf_sizeof(lx, "page", NULL);
	f->nslots = slots > 0 ? (int)(slots / 8) : 0;
	if (f->d_subdirs < 0 || f->d_child < 0 || f->nslots < 1 || f->nslots > 256 ||
	    f->page_size < 32 || f->page_size > 256) {
		free(f);
		return vg_errf(err, ENOENT,
			       "kernel BTF: dentry children, xa_node or page layout "
			       "unknown");
	}
	f->d_parent = lx->off.dentry_d_parent;
	f->d_name = lx->off.dentry_d_name;
	f->m_parent = lx->off.mount_mnt_parent;
	f->m_mountpoint = lx->off.mount_mnt_mountpoint;
	f->m_mnt = lx->off.mount_mnt;
	f->vm_root = lx->off.vfsmount_mnt_root;
	f->pg_dirty = f->pg_writeback = -1;
	*out = f;
	return 0;
}

void vg_lxfs_close(struct vg_lxfs *f)
{
	free(f);
}

struct vg_linux *vg_lxfs_linux(const struct vg_lxfs *f)
{
	return f->lx;
}

static int read_sb(struct vg_lxfs *f, uint64_t sb, struct vg_lx_sb *out)
{
	uint64_t type, name;

	memset(out, 0, sizeof(*out));
	out->addr = sb;
	if (vg_lxfs_ptr(f, sb + f->sb_root, &out->root) || vg_lxfs_ptr(f, sb + f->sb_type, &type) ||
	    !type || rdsptr(f, type + f->fst_name, &name) ||
	    rd64(f, sb + f->sb_magic, &out->magic) ||
	    vg_linux_read(f->lx, sb + f->sb_id, out->id, sizeof(out->id) - 1) ||
	    vg_linux_read(f->lx, sb + f->sb_uuid, out->uuid, sizeof(out->uuid)))
		return -EFAULT;
	out->id[sizeof(out->id) - 1] = '\0';
	rdstr(f, name, out->type, sizeof(out->type));
	return 0;
}

int vg_lx_superblocks(struct vg_lxfs *f, struct vg_lx_sb **out, size_t *n, struct vg_err *err)
{
	uint64_t head, cur;
	struct vg_lx_sb *v;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (vg_linux_sym(f->lx, "super_blocks", &head))
		return vg_errf(err, ENOENT, "no super_blocks symbol");
	if (vg_lxfs_ptr(f, head, &cur) || !cur)
		return vg_errf(err, EFAULT, "super_blocks list unreadable");
	v = calloc(VG_LXFS_MAX_SB, sizeof(*v));
	if (!v)
		return vg_errf(err, ENOMEM, "out of memory");
	while (cur != head) {
		if (k == VG_LXFS_MAX_SB || !cur) {
			free(v);
			return vg_errf(err, ELOOP,
				       "super_blocks list does not return to its head "
				       "within %d entries",
				       VG_LXFS_MAX_SB);
		}
		if (read_sb(f, cur - f->sb_list, &v[k]) || vg_lxfs_ptr(f, cur, &cur)) {
			free(v);
			return vg_errf(err, EFAULT, "super block at %#llx unreadable",
				       (unsigned long long)(cur - f->sb_list));
		}
		k++;
	}
	*out = v;
	*n = k;
	return 0;
}

/* "/a/b": the names from DENTRY up to (not including) STOP. */
static int rel_path(struct vg_lxfs *f, uint64_t dentry, uint64_t stop, char *out, size_t len)
{
	char tmp[VG_PATH_MAX];
	size_t pos = sizeof(tmp) - 1;

	tmp[pos] = '\0';
	for (int depth = 0; dentry != stop; depth++) {
		uint64_t parent, name;
		uint32_t nlen;
		char nm[NAME_MAX_LEN + 1];

		if (depth == REL_MAX_DEPTH || vg_lxfs_ptr(f, dentry + f->d_parent, &parent) ||
		    !parent)
			return -ELOOP;
		if (parent == dentry)
			break; /* the root of another tree: STOP was not above */
		if (rd32(f, dentry + f->d_name + f->lx->off.qstr_len, &nlen) ||
		    rdsptr(f, dentry + f->d_name + f->lx->off.qstr_name, &name) || !name)
			return -EFAULT;
		if (nlen > NAME_MAX_LEN)
			nlen = NAME_MAX_LEN;
		if (vg_linux_read(f->lx, name, nm, nlen))
			return -EFAULT;
		if (nlen + 1 > pos)
			return -ENAMETOOLONG;
		pos -= nlen;
		memcpy(tmp + pos, nm, nlen);
		tmp[--pos] = '/';
		dentry = parent;
	}
	if (strlen(tmp + pos) >= len)
		return -ENAMETOOLONG;
	strcpy(out, tmp + pos);
	return 0;
}

static int read_mount(struct vg_lxfs *f, uint64_t m, uint64_t parent, const char *parent_path,
		      uint64_t parent_root, struct vg_lx_mount *out)
{
	uint64_t mnt = m + f->m_mnt, type, name;
	char rel[VG_PATH_MAX];

	memset(out, 0, sizeof(*out));
	out->addr = m;
	out->parent = parent;
	if (vg_lxfs_ptr(f, mnt + f->vm_root, &out->root) || !out->root ||
	    vg_lxfs_ptr(f, mnt + f->vm_sb, &out->sb) || !out->sb ||
	    vg_lxfs_ptr(f, m + f->m_mountpoint, &out->mountpoint) ||
	    vg_lxfs_ptr(f, out->sb + f->sb_type, &type) || !type ||
	    rdsptr(f, type + f->fst_name, &name))
		return -EFAULT;
	rdstr(f, name, out->type, sizeof(out->type));
	if (!parent) {
		strcpy(out->path, "/");
		return 0;
	}
	if (rel_path(f, out->mountpoint, parent_root, rel, sizeof(rel)))
		return -EFAULT;
	if (strlen(parent_path) + strlen(rel) + 2 > sizeof(out->path))
		return -ENAMETOOLONG;
	strcpy(out->path, strcmp(parent_path, "/") ? parent_path : "");
	strcat(out->path, rel[0] ? rel : "/");
	return 0;
}

int vg_lx_mounts(struct vg_lxfs *f, struct vg_lx_mount **out, size_t *n, struct vg_err *err)
{
	uint64_t nsp, ns, root;
	struct vg_lx_mount *v;
	struct aset seen = { 0 };
	size_t k = 0;
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (vg_lxfs_ptr(f, f->lx->init_task + f->task_nsproxy, &nsp) || !nsp ||
	    vg_lxfs_ptr(f, nsp + f->nsp_mnt_ns, &ns) || !ns ||
	    vg_lxfs_ptr(f, ns + f->ns_root, &root) || !root)
		return vg_errf(err, EFAULT, "init_task's mount namespace unreadable");
	v = calloc(VG_LXFS_MAX_MOUNTS, sizeof(*v));
	if (!v)
		return vg_errf(err, ENOMEM, "out of memory");
	if (read_mount(f, root, 0, "", 0, &v[0]) || aset_add(&seen, root)) {
		ret = vg_errf(err, EFAULT, "root mount at %#llx unreadable",
			      (unsigned long long)root);
		goto out;
	}
	k = 1;
	/* breadth first over each mount's mnt_mounts list: parents come before children */
	for (size_t i = 0; i < k && !ret; i++) {
		uint64_t head = v[i].addr + f->m_mounts, cur;
		size_t steps = 0;

		if (vg_lxfs_ptr(f, head, &cur) || !cur) {
			ret = vg_errf(err, EFAULT, "child list of mount %s unreadable", v[i].path);
			break;
		}
		while (cur != head && !ret) {
			uint64_t child = cur - f->m_child;
			int r;

			if (k == VG_LXFS_MAX_MOUNTS || ++steps > VG_LXFS_MAX_MOUNTS || !cur) {
				ret = vg_errf(err, ELOOP,
					      "mount tree larger than %d mounts or cyclic",
					      VG_LXFS_MAX_MOUNTS);
				break;
			}
			r = aset_add(&seen, child);
			if (r < 0) {
				ret = vg_errf(err, ENOMEM, "out of memory");
				break;
			}
			if (r == 0 && !read_mount(f, child, v[i].addr, v[i].path, v[i].root, &v[k]))
				k++;
			if (vg_lxfs_ptr(f, cur, &cur)) {
				ret = vg_errf(err, EFAULT, "child list of mount %s broken",
					      v[i].path);
				break;
			}
		}
	}
out:
	free(seen.slot);
	if (ret) {
		free(v);
		return ret;
	}
	*out = v;
	*n = k;
	return 0;
}

int vg_lx_inode(struct vg_lxfs *f, uint64_t inode, struct vg_lx_inode *out)
{
	uint16_t mode;
	uint32_t uid, gid, nlink, rdev;
	int64_t t[3];

	memset(out, 0, sizeof(*out));
	out->addr = inode;
	if (!vg_kptr_ok(inode) || vg_linux_read(f->lx, inode + f->i_mode, &mode, 2) ||
	    rd32(f, inode + f->i_uid, &uid) || rd32(f, inode + f->i_gid, &gid) ||
	    rd64(f, inode + f->i_ino, &out->ino) || rd32(f, inode + f->i_nlink, &nlink) ||
	    rd32(f, inode + f->i_rdev, &rdev) || rd64(f, inode + f->i_size, &out->size) ||
	    rd64(f, inode + f->i_atime, (uint64_t *)&t[0]) ||
	    rd64(f, inode + f->i_mtime, (uint64_t *)&t[1]) ||
	    rd64(f, inode + f->i_ctime, (uint64_t *)&t[2]) ||
	    rd64(f, inode + f->i_state, &out->state) ||
	    vg_lxfs_ptr(f, inode + f->i_mapping, &out->mapping) ||
	    vg_lxfs_ptr(f, inode + f->i_sb, &out->sb))
		return -EFAULT;
	out->mode = mode;
	out->uid = uid;
	out->gid = gid;
	out->nlink = nlink;
	/* the kernel's dev_t: 12-bit major above a 20-bit minor */
	out->rdev = rdev;
	out->atime = t[0];
	out->mtime = t[1];
	out->ctime = t[2];
	if (S_ISLNK(mode) && rdsptr(f, inode + f->i_link, &out->link))
		out->link = 0;
	if (out->mapping && rd64(f, out->mapping + f->as_nrpages, &out->nrpages))
		out->nrpages = 0;
	return 0;
}

static int dent_name(struct vg_lxfs *f, uint64_t d, char *name, size_t len, size_t *nlen)
{
	uint64_t p;
	uint32_t l;

	if (rd32(f, d + f->d_name + f->lx->off.qstr_len, &l) ||
	    rdsptr(f, d + f->d_name + f->lx->off.qstr_name, &p) || !p)
		return -EFAULT;
	if (l > NAME_MAX_LEN)
		l = NAME_MAX_LEN;
	if (l >= len)
		l = (uint32_t)len - 1;
	if (vg_linux_read(f->lx, p, name, l))
		return -EFAULT;
	name[l] = '\0';
	*nlen = l;
	return 0;
}

struct frame {
	uint64_t dentry;
	int depth;
};

/* The first child of D and, given a child, the next one: list_head or (6.8+) hlist. */
static int first_child(struct vg_lxfs *f, uint64_t d, uint64_t *node)
{
	return vg_lxfs_ptr(f, d + f->d_subdirs, node);
}

static bool children_end(struct vg_lxfs *f, uint64_t d, uint64_t node)
{
	return f->d_hlist ? !node : node == d + f->d_subdirs;
}

int vg_lx_dentry_walk(struct vg_lxfs *f, uint64_t root, vg_lx_dent_fn fn, void *ctx,
		      struct vg_err *err)
{
	struct frame *stack = malloc(VG_LXFS_MAX_DEPTH * 64 * sizeof(*stack));
	size_t nstack = 0, cap = VG_LXFS_MAX_DEPTH * 64, visited = 0;
	struct aset seen = { 0 };
	int ret = 0;

	if (!stack)
		return vg_errf(err, ENOMEM, "out of memory");
	stack[nstack++] = (struct frame){ .dentry = root, .depth = 0 };
	aset_add(&seen, root);
	while (nstack && !ret) {
		struct frame fr = stack[--nstack];
		uint64_t node;

		if (first_child(f, fr.dentry, &node)) {
			ret = vg_errf(err, EFAULT, "children of dentry %#llx unreadable",
				      (unsigned long long)fr.dentry);
			break;
		}
		while (!children_end(f, fr.dentry, node) && !ret) {
			struct vg_lx_dent d = { .depth = fr.depth + 1, .parent = fr.dentry };
			uint32_t flags;
			uint64_t pprev;
			uint16_t mode;
			int r;

			if (!node || ++visited > VG_LXFS_MAX_DENTRIES) {
				ret = vg_errf(err, ELOOP, "dentry tree larger than %u or broken",
					      VG_LXFS_MAX_DENTRIES);
				break;
			}
			d.dentry = node - f->d_child;
			if (vg_lxfs_ptr(f, d.dentry + f->d_inode, &d.inode) ||
			    rd32(f, d.dentry + f->d_flags, &flags) || vg_lxfs_ptr(f, node, &node)) {
				ret = vg_errf(err, EFAULT, "dentry %#llx unreadable",
					      (unsigned long long)d.dentry);
				break;
			}
			/* negative dentries and readdir cursors have no inode */
			if (!d.inode)
				continue;
			r = aset_add(&seen, d.dentry);
			if (r) {
				ret = r < 0 ? vg_errf(err, ENOMEM, "out of memory")
					    : vg_errf(err, ELOOP,
						      "dentry %#llx is in the tree twice",
						      (unsigned long long)d.dentry);
				break;
			}
			d.mountpoint = flags & DCACHE_MOUNTED;
			d.unhashed = !rd64(f, d.dentry + f->d_hash + 8, &pprev) && !pprev;
			if (dent_name(f, d.dentry, d.name, sizeof(d.name), &d.nlen) ||
			    vg_linux_read(f->lx, d.inode + f->i_mode, &mode, 2)) {
				ret = vg_errf(err, EFAULT, "dentry %#llx unreadable",
					      (unsigned long long)d.dentry);
				break;
			}
			r = fn(ctx, &d);
			if (r < 0) {
				ret = r;
				break;
			}
			if (r == VG_LX_SKIP || !S_ISDIR(mode))
				continue;
			if (d.depth >= VG_LXFS_MAX_DEPTH) {
				ret = vg_errf(err, ELOOP, "dentry tree deeper than %d",
					      VG_LXFS_MAX_DEPTH);
				break;
			}
			if (nstack == cap) {
				void *p = realloc(stack, cap * 2 * sizeof(*stack));

				if (!p) {
					ret = vg_errf(err, ENOMEM, "out of memory");
					break;
				}
				stack = p;
				cap *= 2;
			}
			stack[nstack++] = (struct frame){ .dentry = d.dentry, .depth = d.depth };
		}
	}
	free(stack);
	free(seen.slot);
	return ret;
}

int vg_lx_dentry_path(struct vg_lxfs *f, uint64_t dentry, char *out, size_t len)
{
	int ret = rel_path(f, dentry, 0, out, len);

	if (!ret && !out[0] && len > 1)
		strcpy(out, "/");
	return ret;
}

int vg_lx_dentry_inode(struct vg_lxfs *f, uint64_t dentry, uint64_t *inode)
{
	return vg_lxfs_ptr(f, dentry + f->d_inode, inode);
}

int vg_lx_sb_inodes(struct vg_lxfs *f, uint64_t sb, int (*fn)(void *ctx, uint64_t inode), void *ctx,
		    struct vg_err *err)
{
	uint64_t head = sb + f->sb_inodes, cur;
	size_t steps = 0;

	if (vg_lxfs_ptr(f, head, &cur) || !cur)
		return vg_errf(err, EFAULT, "inode list of super block %#llx unreadable",
			       (unsigned long long)sb);
	while (cur != head) {
		int r;

		if (!cur || ++steps > VG_LXFS_MAX_INODES)
			return vg_errf(err, ELOOP, "inode list of super block %#llx does not end",
				       (unsigned long long)sb);
		r = fn(ctx, cur - f->i_sb_list);
		if (r)
			return r;
		if (vg_lxfs_ptr(f, cur, &cur))
			return vg_errf(err, EFAULT, "inode list of super block %#llx broken",
				       (unsigned long long)sb);
	}
	return 0;
}

int vg_lx_inode_alias(struct vg_lxfs *f, uint64_t inode, uint64_t *dentry, char *name, size_t len)
{
	uint64_t node;
	size_t nlen;

	*dentry = 0;
	name[0] = '\0';
	if (vg_lxfs_ptr(f, inode + f->i_dentry, &node))
		return -EFAULT;
	if (!node)
		return 0;
	*dentry = node - f->d_alias;
	return dent_name(f, *dentry, name, len, &nlen);
}
