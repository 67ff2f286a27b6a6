// SPDX-License-Identifier: MIT
/*
 * The files processes hold: each thread-group leader's executable (mm->exe_file) and open
 * file descriptors (files->fdt->fd[]), as struct file and inode addresses. Threads share
 * their leader's table. The descriptor table is read in chunks and capped at MAX_FDS per
 * process; unreadable tables are skipped (a process exiting under a live read).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kread.h"
#include "lxfs_int.h"
#include "vigil/lxobj.h"

#define MAX_FDS 65536
#define CHUNK 512
#define MAX_HELD (1u << 22)
#define MAX_SLOTS (1u << 24) /* descriptor slots read over all processes */

struct held_list {
	struct vg_lx_held *v;
	size_t n, cap;
};

static int add(struct held_list *l, const struct vg_task *t, int32_t fd, uint64_t file,
	       uint64_t inode)
{
	struct vg_lx_held *h;

	if (l->n >= MAX_HELD)
		return -E2BIG;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		void *p = realloc(l->v, cap * sizeof(*l->v));

		if (!p)
			return -ENOMEM;
		l->v = p;
		l->cap = cap;
	}
	h = &l->v[l->n++];
	memset(h, 0, sizeof(*h));
	h->pid = t->pid;
	memcpy(h->comm, t->comm, sizeof(h->comm));
	h->fd = fd;
	h->file = file;
	h->inode = inode;
	return 0;
}

static int task_files(struct vg_lxfs *f, const struct vg_task *t, struct held_list *l,
		      uint64_t *slots)
{
	uint64_t file, inode, files, fdt, arr;
	uint32_t max;
	int ret;

	if (t->mm && f->lx->off.mm_exe_file >= 0 &&
	    !vg_lxfs_ptr(f, t->mm + f->lx->off.mm_exe_file, &file) && file &&
	    !vg_lxfs_ptr(f, file + f->f_inode, &inode) && inode) {
		ret = add(l, t, -1, file, inode);
		if (ret)
			return ret;
	}
	if (vg_lxfs_ptr(f, t->addr + f->t_files, &files) || !files ||
	    vg_lxfs_ptr(f, files + f->fs_fdt, &fdt) || !fdt ||
	    vg_linux_read(f->lx, fdt + f->fdt_max, &max, sizeof(max)) ||
	    vg_lxfs_ptr(f, fdt + f->fdt_fd, &arr) || !arr)
		return 0;
	if (max > MAX_FDS)
		max = MAX_FDS;
	/* a hostile guest can give every process a huge, empty table */
	*slots += max;
	if (*slots > MAX_SLOTS)
		return -E2BIG;
	for (uint32_t base = 0; base < max; base += CHUNK) {
		uint64_t ptrs[CHUNK];
		uint32_t n = max - base < CHUNK ? max - base : CHUNK;

		if (vg_linux_read(f->lx, arr + 8ull * base, ptrs, 8ull * n))
			return 0;
		for (uint32_t i = 0; i < n; i++) {
			if (!ptrs[i] || !vg_kptr_ok(ptrs[i]) ||
			    vg_lxfs_ptr(f, ptrs[i] + f->f_inode, &inode) || !inode)
				continue;
			ret = add(l, t, (int32_t)(base + i), ptrs[i], inode);
			if (ret)
				return ret;
		}
	}
	return 0;
}

int vg_lx_held_files(struct vg_lxfs *f, struct vg_lx_held **out, size_t *n, struct vg_err *err)
{
	struct vg_task_opts to = { .no_cmdline = true };
	struct held_list l = { 0 };
	struct vg_task_list tl;
	uint64_t slots = 0;
	int ret;

	*out = NULL;
	*n = 0;
	ret = vg_tasks_list(f->lx, &to, &tl, err);
	if (ret)
		return ret;
	for (size_t i = 0; i < tl.n && !ret; i++)
		if (!tl.v[i].kthread)
			ret = task_files(f, &tl.v[i], &l, &slots);
	vg_tasks_free(&tl);
	if (ret) {
		free(l.v);
		if (ret == -E2BIG)
			return vg_errf(err, E2BIG,
				       "file tables larger than %u open files or %u slots",
				       MAX_HELD, MAX_SLOTS);
		return vg_errf(err, -ret, "out of memory");
	}
	*out = l.v;
	*n = l.n;
	return 0;
}
