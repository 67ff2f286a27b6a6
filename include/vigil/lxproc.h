/* SPDX-License-Identifier: MIT */
/*
 * The details of processes and of the system that Linux's /proc shows, read from a discovered
 * guest (vigil/linux.h) for a /proc view of it (vigil/procview.h): a task's times, priorities,
 * memory sizes, session and terminal; its argv as stored; its open files and memory areas; the
 * kernel's sockets; the mounts; the clock, load and memory counters.
 *
 * Every reader is bounded like the rest of vmi/linux (VG_LXP_* limits below), checks each
 * pointer before following it, and fills what it can: a field the kernel's layout lacks, or
 * a pointer that does not lead anywhere sensible, is left 0 rather than guessed.
 */
#ifndef VIGIL_LXPROC_H
#define VIGIL_LXPROC_H

#include "vigil/lxobj.h"

#define VG_LXP_MAX_FDS 4096
#define VG_LXP_MAX_VMAS 65536
#define VG_LXP_MAX_SOCKETS 65536
#define VG_LXP_MAX_MOUNTS 4096

/* One task read by address (a task the list walk did not reach, e.g. found through the PID
 * allocator); the same fields as vg_tasks_list gives. */
int vg_task_read(struct vg_linux *lx, uint64_t task, const struct vg_task_opts *opts,
		 struct vg_task *out);

struct vg_task_extra {
	uint64_t utime_ns, stime_ns, start_ns; /* start: since boot (monotonic) */
	int32_t prio, nice, rt_priority;
	uint32_t policy, flags, cpu;
	int32_t nr_threads;
	int32_t pgrp, sid; /* initial-namespace numbers */
	uint32_t tty_nr;   /* major << 8 | minor (with the high minor bits as Linux packs them) */
	char tty_name[32]; /* "ttyS0", "pts/0", "" */
	uint64_t min_flt, maj_flt;
	uint64_t vsize_pages, rss_pages, rss_file, rss_anon, rss_shmem;
	uint64_t total_vm, locked_vm, pinned_vm, data_vm, exec_vm, stack_vm, hiwater_rss,
		hiwater_vm;
	uint64_t start_code, end_code, start_data, end_data, start_brk, brk, start_stack, arg_start,
		arg_end, env_start, env_end;
	uint32_t umask;
	uint64_t sig_pending, sig_blocked, sig_ignored, sig_caught;
	uint32_t suid, sgid, fsuid, fsgid;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	int32_t tracer_pid;
};

/* Reads T's extra fields (zeros where the layout or memory does not allow). */
void vg_task_extra(struct vg_linux *lx, const struct vg_task *t, struct vg_task_extra *x);

/* T's name as /proc/PID/stat, status and comm show it: comm, and for a workqueue worker the
 * work it runs or last ran ("kworker/0:1-events", '+' while running). */
void vg_task_proc_name(struct vg_linux *lx, const struct vg_task *t, char *buf, size_t len);

/* T's argv as /proc/PID/cmdline gives it: NUL-separated, at most MAX bytes, read through the
 * process's own page tables. Returns the length (0 for kernel threads), or -errno. */
int vg_task_argv(struct vg_linux *lx, const struct vg_task *t, char *buf, size_t max);

/* ---- open files (files.c) ---- */

struct vg_fd {
	int32_t fd;
	uint64_t file;
	uint32_t flags; /* f_flags */
	uint64_t pos;	/* f_pos */
	uint64_t ino;	/* the inode's number */
	bool socket;	/* a socket file: ino is the socket's inode, as net/tcp shows it */
	char target[VG_PATH_MAX + 32]; /* what readlink(/proc/PID/fd/N) gives */
};

/* Calls FN for each open file of T (a thread-group leader), in fd order; a nonzero return
 * stops the walk and is returned. */
int vg_task_fds(struct vg_linux *lx, const struct vg_task *t,
		int (*fn)(void *ctx, const struct vg_fd *f), void *ctx);

/* ---- memory areas (vmas.c) ---- */

struct vg_vma {
	uint64_t start, end, flags, pgoff; /* pgoff: in pages, 0 for anonymous areas */
	uint64_t ino;
	uint32_t dev; /* major << 8 | minor, as /proc/PID/maps prints it (major:minor) */
	char path[VG_PATH_MAX];
};

/* Calls FN for each memory area of T's mm in address order (maple tree on 6.1+, the mmap
 * list before). */
int vg_task_vmas(struct vg_linux *lx, const struct vg_task *t,
		 int (*fn)(void *ctx, const struct vg_vma *v), void *ctx);

/* ---- sockets (sockets.c) ---- */

struct vg_sock {
	uint64_t sk;
	char proto[8]; /* tcp, tcp6, udp, udp6 */
	uint16_t family;
	uint8_t state; /* TCP_* (udp: 7 closed, 1 established) */
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport; /* host order */
	uint32_t uid;
	uint64_t ino; /* the socket's inode, 0 when the sock has no file (time-wait) */
	uint32_t tx_queue, rx_queue;
};

struct vg_sock_list {
	struct vg_sock *v;
	size_t n, cap;
};

/* Every TCP socket (listening buckets, established hash) and every bound UDP socket. */
int vg_sockets_list(struct vg_linux *lx, struct vg_sock_list *out, struct vg_err *err);
void vg_sockets_free(struct vg_sock_list *l);

/* ---- mounts (mounts.c) ---- */

struct vg_mount {
	char dev[128], path[VG_PATH_MAX], fstype[32];
	bool ro;
};

struct vg_mount_list {
	struct vg_mount *v;
	size_t n, cap;
};

/* The mounts of the initial mount namespace, in the order the kernel lists them. */
int vg_mounts_list(struct vg_linux *lx, struct vg_mount_list *out, struct vg_err *err);
void vg_mounts_free(struct vg_mount_list *l);

/* ---- the system (kstat.c) ---- */

struct vg_kstat {
	uint32_t hz;
	uint64_t uptime_ms;
	int64_t boot_time_s; /* the guest's wall clock at boot, 0 when unknown */
	uint64_t load[3];    /* fixed point, 11 fractional bits (FSHIFT) */
	uint64_t mem_total_kb, mem_free_kb;
	uint32_t online_cpus;
	int32_t pid_max;
	char cmdline[1024];
};

void vg_kstat_read(struct vg_linux *lx, struct vg_kstat *k);

/* d_path from a vfsmount and a dentry (vg_dpath reads them from a struct path). */
int vg_dpath_mnt(struct vg_linux *lx, uint64_t mnt, uint64_t dentry, char *buf, size_t len,
		 bool *deleted);

#endif
