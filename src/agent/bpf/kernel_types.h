/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The few kernel types sysmon.bpf.c reads, declared with preserve_access_index so every field
 * access is a CO-RE relocation against the running kernel's BTF: the program builds without
 * a vmlinux.h of the build machine and loads on any kernel with BTF whose fields keep these
 * names. Only the members used are listed; their order and offsets here do not matter.
 */
#ifndef VIGIL_AGENT_KERNEL_TYPES_H
#define VIGIL_AGENT_KERNEL_TYPES_H

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct pt_regs {
	unsigned long r10, r9, r8, dx, si, di, ip, sp;
};

typedef struct {
	int counter;
} atomic_t;

struct signal_struct {
	atomic_t live;
};

typedef struct {
	void *vdso;
} mm_context_t;

struct mm_struct {
	mm_context_t context;
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

struct qstr {
	const unsigned char *name;
};

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
};

struct path {
	struct dentry *dentry;
};

struct super_block {
	unsigned int s_dev;
};

struct inode {
	unsigned short i_mode;
	unsigned long i_ino;
	struct super_block *i_sb;
};

struct file {
	struct inode *f_inode;
	struct path f_path;
	void *private_data;
};

struct sock_common {
	unsigned short skc_family;
};

struct sock {
	struct sock_common __sk_common;
};

struct socket {
	struct sock *sk;
};

struct vm_area_struct {
	unsigned long vm_start, vm_end;
	struct mm_struct *vm_mm;
	unsigned long vm_flags;
	unsigned long vm_pgoff;
	struct file *vm_file;
};

struct task_struct {
	int pid, tgid;
	struct mm_struct *mm;
	struct files_struct *files;
	struct signal_struct *signal;
};

struct linux_binprm {
	struct file *file;
	const char *filename;
};

#pragma clang attribute pop

#endif
