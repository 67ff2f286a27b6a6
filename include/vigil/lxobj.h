/* SPDX-License-Identifier: MIT */
/*
 * Linux kernel objects read from a discovered guest (vigil/linux.h): tasks and modules.
 * Walks are bounded (VG_MAX_TASKS, VG_MAX_MODULES) and detect cycles; a list that does not
 * return to its head is an error naming where it broke. A live guest changes under the reader,
 * so list walks are retried a few times before a broken list is reported.
 */
#ifndef VIGIL_LXOBJ_H
#define VIGIL_LXOBJ_H

#include "vigil/linux.h"

struct vg_task {
	uint64_t addr; /* task_struct */
	int32_t pid, tgid, ppid;
	uint32_t uid, gid, euid, egid;
	/* The credential read does not hold together: fsuid/fsgid are none of the task's ids (the
	 * kernel only ever sets them to one), as when a cred is freed or replaced while read. */
	bool cred_torn;
	char state;   /* ps letter: R S D T t X Z P I */
	bool kthread; /* no mm */
	char comm[VG_COMM_LEN + 1];
	char *cmdline;	   /* argv joined by spaces; "" for kernel threads or when unreadable */
	char *exe;	   /* executable path, "" when none */
	bool exe_deleted;  /* the path had " (deleted)" semantics: unlinked dentry */
	uint32_t exe_mode; /* i_mode of the executable's inode, 0 when unknown */
	uint64_t mm;
};

struct vg_task_list {
	struct vg_task *v;
	size_t n, cap;
};

struct vg_task_opts {
	bool threads;	 /* every thread, not just thread-group leaders */
	bool no_cmdline; /* skip argv and exe (faster) */
};

int vg_tasks_list(struct vg_linux *lx, const struct vg_task_opts *opts, struct vg_task_list *out,
		  struct vg_err *err);
void vg_tasks_free(struct vg_task_list *l);

struct vg_module {
	uint64_t addr; /* struct module */
	char name[64];
	uint64_t base;
	uint64_t size;
	const char *state; /* "Live", "Loading", "Unloading", "Unformed" */
	int32_t refcount;
};

struct vg_module_list {
	struct vg_module *v;
	size_t n, cap;
};

int vg_modules_list(struct vg_linux *lx, struct vg_module_list *out, struct vg_err *err);
void vg_modules_free(struct vg_module_list *l);

/* Path of a struct path {mnt, dentry} at VA PATH_VA, walking dentries and mounts (bounded). */
int vg_dpath(struct vg_linux *lx, uint64_t path_va, char *buf, size_t len, bool *deleted);

#endif
