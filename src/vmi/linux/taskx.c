// SPDX-License-Identifier: MIT
/*
 * A task's details beyond the list view (lxproc.h): CPU times, priorities, session, terminal,
 * memory counters, signals and capabilities, as /proc/PID/stat and status show them. Each
 * field's offset comes from the kernel's BTF (memoised per build), so layouts that moved a
 * field between versions (rss_stat, cpu) are handled by asking for each form in turn.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vigil/lxproc.h"
#include "kread.h"

#define MAX_RT_PRIO 100
#define NICE_0_PRIO 120
#define PIDTYPE_PGID 2
#define PIDTYPE_SID 3
#define MM_FILEPAGES 0
#define MM_ANONPAGES 1
#define MM_SHMEMPAGES 3
#define PF_WQ_WORKER 0x00000020u
#define PF_KTHREAD 0x00200000u

static uint64_t rd(struct vg_linux *lx, uint64_t base, const char *type, const char *path, int size)
{
	int32_t o = vg_linux_btf_offset(lx, type, path);
	uint64_t v = 0;

	if (o < 0 || !base || vg_as_read(&lx->kas, base + (uint64_t)o, &v, (size_t)size))
		return 0;
	return v;
}

static uint64_t ptr(struct vg_linux *lx, uint64_t base, const char *type, const char *path)
{
	uint64_t p = rd(lx, base, type, path, 8);

	return vg_kptr_ok(p) ? p : 0;
}

/* The initial-namespace number of a struct pid. */
static int32_t pid_nr(struct vg_linux *lx, uint64_t pid)
{
	int32_t nums = vg_linux_btf_offset(lx, "pid", "numbers");
	int32_t nr = vg_linux_btf_offset(lx, "upid", "nr");
	int32_t v = 0;

	if (!pid || nums < 0 || nr < 0 || vg_kread_s32(lx, pid + (uint64_t)(nums + nr), &v))
		return 0;
	return v;
}

static void read_tty(struct vg_linux *lx, uint64_t tty, struct vg_task_extra *x)
{
	uint64_t drv = ptr(lx, tty, "tty_struct", "driver");
	int32_t name_off = vg_linux_btf_offset(lx, "tty_driver", "name");
	int32_t index = (int32_t)rd(lx, tty, "tty_struct", "index", 4);
	uint32_t major = (uint32_t)rd(lx, drv, "tty_driver", "major", 4);
	uint32_t minor = (uint32_t)rd(lx, drv, "tty_driver", "minor_start", 4) + (uint32_t)index;
	char name[24] = "";

	if (!drv || index < 0 || index > 1 << 20)
		return;
	/* new_encode_dev: the low minor byte, the major, then the rest of the minor */
	x->tty_nr = (minor & 0xff) | (major & 0xfff) << 8 | (minor & ~0xffu) << 12;
	if (name_off >= 0 && !vg_kread_strp(lx, drv + (uint64_t)name_off, name, sizeof(name)) &&
	    name[0])
		snprintf(x->tty_name, sizeof(x->tty_name), strcmp(name, "pts") ? "%s%d" : "%s/%d",
			 name, index);
}

static void read_mm(struct vg_linux *lx, uint64_t mm, struct vg_task_extra *x)
{
	static const char *const vm[] = { "total_vm",  "locked_vm",   "data_vm",    "exec_vm",
					  "stack_vm",  "hiwater_rss", "hiwater_vm", "start_code",
					  "end_code",  "start_data",  "end_data",   "start_brk",
					  "brk",       "start_stack", "arg_start",  "arg_end",
					  "env_start", "env_end" };
	uint64_t *dst[] = { &x->total_vm,  &x->locked_vm,   &x->data_vm,    &x->exec_vm,
			    &x->stack_vm,  &x->hiwater_rss, &x->hiwater_vm, &x->start_code,
			    &x->end_code,  &x->start_data,  &x->end_data,   &x->start_brk,
			    &x->brk,	   &x->start_stack, &x->arg_start,  &x->arg_end,
			    &x->env_start, &x->env_end };
	int32_t cnt = vg_linux_btf_offset(lx, "mm_struct", "rss_stat.count");
	uint64_t c[4] = { 0 };

	for (size_t i = 0; i < sizeof(vm) / sizeof(vm[0]); i++)
		*dst[i] = rd(lx, mm, "mm_struct", vm[i], 8);
	x->pinned_vm = rd(lx, mm, "mm_struct", "pinned_vm", 8);
	if (cnt >= 0) {
		/* up to 6.1: one atomic_long_t per counter */
		vg_as_read(&lx->kas, mm + (uint64_t)cnt, c, sizeof(c));
	} else {
		/* 6.2+: a percpu_counter per counter; its count is the folded part */
		int32_t rs = vg_linux_btf_offset(lx, "mm_struct", "rss_stat");
		int32_t pc = vg_linux_btf_offset(lx, "percpu_counter", "count");
		int64_t sz = vg_linux_btf_sizeof(lx, "percpu_counter", NULL);

		for (int i = 0; rs >= 0 && pc >= 0 && sz > 0 && i < 4; i++)
			vg_as_read_u64(&lx->kas, mm + (uint64_t)rs + (uint64_t)(i * sz + pc),
				       &c[i]);
	}
	for (int i = 0; i < 4; i++)
		if ((int64_t)c[i] < 0)
			c[i] = 0; /* per-cpu deltas not folded in yet can leave it below zero */
	x->rss_file = c[MM_FILEPAGES];
	x->rss_anon = c[MM_ANONPAGES];
	x->rss_shmem = c[MM_SHMEMPAGES];
	x->rss_pages = c[MM_FILEPAGES] + c[MM_ANONPAGES] + c[MM_SHMEMPAGES];
	x->vsize_pages = x->total_vm;
}

void vg_task_extra(struct vg_linux *lx, const struct vg_task *t, struct vg_task_extra *x)
{
	uint64_t task = t->addr, sig, cred, fs, tty, parent;
	int32_t static_prio;

	memset(x, 0, sizeof(*x));
	x->utime_ns = rd(lx, task, "task_struct", "utime", 8);
	x->stime_ns = rd(lx, task, "task_struct", "stime", 8);
	x->start_ns = rd(lx, task, "task_struct", "start_time", 8);
	x->prio = (int32_t)rd(lx, task, "task_struct", "prio", 4) - MAX_RT_PRIO;
	static_prio = (int32_t)rd(lx, task, "task_struct", "static_prio", 4);
	x->nice = static_prio ? static_prio - NICE_0_PRIO : 0;
	x->rt_priority = (int32_t)rd(lx, task, "task_struct", "rt_priority", 4);
	x->policy = (uint32_t)rd(lx, task, "task_struct", "policy", 4);
	x->flags = (uint32_t)rd(lx, task, "task_struct", "flags", 4);
	x->cpu = vg_linux_btf_offset(lx, "task_struct", "cpu") >= 0
			 ? (uint32_t)rd(lx, task, "task_struct", "cpu", 4)
			 : (uint32_t)rd(lx, task, "task_struct", "thread_info.cpu", 4);
	x->min_flt = rd(lx, task, "task_struct", "min_flt", 8);
	x->maj_flt = rd(lx, task, "task_struct", "maj_flt", 8);
	x->sig_pending = rd(lx, task, "task_struct", "pending.signal", 8);
	x->sig_blocked = rd(lx, task, "task_struct", "blocked", 8);
	if (rd(lx, task, "task_struct", "ptrace", 4) &&
	    (parent = ptr(lx, task, "task_struct", "parent")))
		x->tracer_pid = (int32_t)rd(lx, parent, "task_struct", "tgid", 4);
	sig = ptr(lx, task, "task_struct", "signal");
	if (sig) {
		int32_t pids = vg_linux_btf_offset(lx, "signal_struct", "pids");
		uint64_t p;

		x->nr_threads = (int32_t)rd(lx, sig, "signal_struct", "nr_threads", 4);
		if (pids >= 0 && !vg_kread_ptr(lx, sig + (uint64_t)pids + 8 * PIDTYPE_PGID, &p))
			x->pgrp = pid_nr(lx, p);
		if (pids >= 0 && !vg_kread_ptr(lx, sig + (uint64_t)pids + 8 * PIDTYPE_SID, &p))
			x->sid = pid_nr(lx, p);
		tty = ptr(lx, sig, "signal_struct", "tty");
		if (tty)
			read_tty(lx, tty, x);
	}
	cred = ptr(lx, task, "task_struct", "cred");
	if (cred) {
		x->suid = (uint32_t)rd(lx, cred, "cred", "suid", 4);
		x->sgid = (uint32_t)rd(lx, cred, "cred", "sgid", 4);
		x->fsuid = (uint32_t)rd(lx, cred, "cred", "fsuid", 4);
		x->fsgid = (uint32_t)rd(lx, cred, "cred", "fsgid", 4);
		x->cap_inh = rd(lx, cred, "cred", "cap_inheritable", 8);
		x->cap_prm = rd(lx, cred, "cred", "cap_permitted", 8);
		x->cap_eff = rd(lx, cred, "cred", "cap_effective", 8);
		x->cap_bnd = rd(lx, cred, "cred", "cap_bset", 8);
		x->cap_amb = rd(lx, cred, "cred", "cap_ambient", 8);
	}
	fs = ptr(lx, task, "task_struct", "fs");
	x->umask = fs ? (uint32_t)rd(lx, fs, "fs_struct", "umask", 4) : 0;
	if (t->mm)
		read_mm(lx, t->mm, x);
}

void vg_task_proc_name(struct vg_linux *lx, const struct vg_task *t, char *buf, size_t len)
{
	uint64_t kthread, worker, cur, wpool;
	int32_t data = vg_linux_btf_offset(lx, "kthread", "data");
	int32_t full = vg_linux_btf_offset(lx, "kthread", "full_name");
	int32_t desc = vg_linux_btf_offset(lx, "worker", "desc");
	int32_t curw = vg_linux_btf_offset(lx, "worker", "current_work");
	int32_t pool = vg_linux_btf_offset(lx, "worker", "pool");
	uint32_t flags = (uint32_t)rd(lx, t->addr, "task_struct", "flags", 4);
	char d[32] = "";

	snprintf(buf, len, "%s", t->comm);
	if (!(flags & (PF_WQ_WORKER | PF_KTHREAD)))
		return;
	/* task->worker_private is a kernel thread's struct kthread (to_kthread()) */
	kthread = ptr(lx, t->addr, "task_struct", "worker_private");
	if (!kthread)
		return;
	if (!(flags & PF_WQ_WORKER)) {
		/* get_kthread_comm(): the name it was created with, past comm's 15 bytes */
		if (full >= 0)
			vg_kread_strp(lx, kthread + (uint64_t)full, buf, len);
		if (!buf[0])
			snprintf(buf, len, "%s", t->comm);
		return;
	}
	/* wq_worker_comm(): comm and the work it runs ('+') or last ran ('-'), for a worker
	 * attached to a pool (an idle rescuer is not) */
	if (data < 0 || desc < 0 || curw < 0 || pool < 0 ||
	    vg_kread_ptr(lx, kthread + (uint64_t)data, &worker) || !worker ||
	    vg_kread_ptr(lx, worker + (uint64_t)pool, &wpool) || !wpool ||
	    vg_as_read(&lx->kas, worker + (uint64_t)desc, d, sizeof(d) - 8) ||
	    vg_as_read_u64(&lx->kas, worker + (uint64_t)curw, &cur))
		return;
	d[sizeof(d) - 8] = '\0';
	if (d[0])
		snprintf(buf + strlen(buf), len - strlen(buf), "%c%s", cur ? '+' : '-', d);
}
