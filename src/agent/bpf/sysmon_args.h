/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What sysmon.bpf.c keeps of a syscall's arguments (the argkey, sysmon.h): the kind of the file
 * behind an fd argument (a socket with its address family), the family of a sockaddr, socket's
 * domain and type, PROT_EXEC, thread or process for clone/clone3; and which syscalls take a
 * path (copied by the caller). The seccomp recorder (../seccomp.c) computes the same.
 */
#ifndef VIGIL_AGENT_SYSMON_ARGS_H
#define VIGIL_AGENT_SYSMON_ARGS_H

#define S_IFMT 0170000
#define CLONE_THREAD 0x10000ull
#define PROT_EXEC 0x4ull

static __always_inline struct file *fd_file(struct task_struct *task, long fd)
{
	/* task is trusted: the chain to the table is direct loads, not helper calls */
	struct files_struct *files = task->files;
	struct fdtable *fdt = files ? files->fdt : 0;
	struct file **fds, *f = 0;

	if (!fdt || fd < 0 || (unsigned long)fd >= fdt->max_fds)
		return 0;
	fds = fdt->fd;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline sm_u32 fd_key(struct task_struct *task, long fd)
{
	struct file *f = fd_file(task, fd);
	unsigned short mode;

	if (!f)
		return SM_FD_BAD;
	mode = BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT;
	switch (mode) {
	case 0100000:
		return SM_FD_REG;
	case 0040000:
		return SM_FD_DIR;
	case 0020000:
		return SM_FD_CHR;
	case 0060000:
		return SM_FD_BLK;
	case 0010000:
		return SM_FD_FIFO;
	case 0120000:
		return SM_FD_LNK;
	case 0140000: {
		struct socket *sock = BPF_CORE_READ(f, private_data);
		sm_u32 fam = BPF_CORE_READ(sock, sk, __sk_common.skc_family);

		return SM_FD_SOCK | (fam & 0xff) << SM_A_FAMILY_SHIFT;
	}
	default:
		return SM_FD_ANON;
	}
}

static __always_inline sm_u32 sockaddr_family(sm_u64 uaddr)
{
	unsigned short fam = 0;

	if (!uaddr || bpf_probe_read_user(&fam, sizeof(fam), (void *)uaddr))
		return 0;
	return (sm_u32)(fam & 0xff) << SM_A_FAMILY_SHIFT;
}

/* Index of the path argument for syscalls that take one, else -1. */
static __always_inline int path_arg(sm_u32 nr)
{
	switch (nr) {
	case 2:	  /* open */
	case 4:	  /* stat */
	case 6:	  /* lstat */
	case 21:  /* access */
	case 59:  /* execve */
	case 76:  /* truncate */
	case 80:  /* chdir */
	case 82:  /* rename */
	case 83:  /* mkdir */
	case 84:  /* rmdir */
	case 85:  /* creat */
	case 86:  /* link */
	case 87:  /* unlink */
	case 89:  /* readlink */
	case 90:  /* chmod */
	case 92:  /* chown */
	case 161: /* chroot */
	case 165: /* mount */
		return 0;
	case 88:  /* symlink: the link's name */
	case 257: /* openat */
	case 258: /* mkdirat */
	case 262: /* newfstatat */
	case 263: /* unlinkat */
	case 264: /* renameat */
	case 267: /* readlinkat */
	case 268: /* fchmodat */
	case 269: /* faccessat */
	case 316: /* renameat2 */
	case 322: /* execveat */
	case 332: /* statx */
	case 437: /* openat2 */
	case 439: /* faccessat2 */
		return 1;
	}
	return -1;
}

/* Whether the first argument is a file descriptor whose kind is worth recording. */
static __always_inline int fd_first(sm_u32 nr)
{
	switch (nr) {
	case 0 ... 1:	  /* read write */
	case 3:		  /* close */
	case 5:		  /* fstat */
	case 8:		  /* lseek */
	case 16 ... 20:	  /* ioctl pread64 pwrite64 readv writev */
	case 42 ... 52:	  /* connect .. getpeername */
	case 54 ... 55:	  /* setsockopt getsockopt */
	case 72 ... 75:	  /* fcntl flock fsync fdatasync */
	case 77:	  /* ftruncate */
	case 81:	  /* fchdir */
	case 217:	  /* getdents64 */
	case 288:	  /* accept4 */
	case 295 ... 296: /* preadv pwritev */
	case 299:	  /* recvmmsg */
	case 307:	  /* sendmmsg */
		return 1;
	}
	return 0;
}

static __always_inline sm_u32 argkey(struct task_struct *task, sm_u32 nr, const sm_u64 *a)
{
	sm_u32 k = 0;

	if (fd_first(nr))
		k = fd_key(task, (long)a[0]);
	switch (nr) {
	case 9: /* mmap: prot, and the file's kind */
		if ((long)a[4] >= 0)
			k = fd_key(task, (long)a[4]);
		/* fallthrough */
	case 10: /* mprotect */
		if (a[2] & PROT_EXEC)
			k |= SM_A_EXEC;
		break;
	case 41: /* socket */
		k = (a[0] & 0xff) << SM_A_FAMILY_SHIFT | (a[1] & 0xf) << SM_A_SOCKTYPE_SHIFT;
		break;
	case 42: /* connect */
	case 49: /* bind */
		k = (k & ~SM_A_FAMILY) | sockaddr_family(a[1]);
		break;
	case 44: /* sendto */
		if (a[4])
			k = (k & ~SM_A_FAMILY) | sockaddr_family(a[4]);
		break;
	case 56: /* clone */
		if (a[0] & CLONE_THREAD)
			k |= SM_A_THREAD;
		break;
	case 435: { /* clone3: flags are the first field of the user's clone_args */
		sm_u64 fl = 0;

		bpf_probe_read_user(&fl, sizeof(fl), (void *)a[0]);
		if (fl & CLONE_THREAD)
			k |= SM_A_THREAD;
		break;
	}
	}
	return k;
}

#endif
