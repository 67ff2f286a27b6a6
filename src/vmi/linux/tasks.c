// SPDX-License-Identifier: MIT
/*
 * The task list (init_task.tasks), each task's identity, credentials, state, argv read through
 * the process's own page tables, and executable path. Every pointer is checked before use,
 * the walk is bounded and detects cycles, and a walk that breaks on a live guest (a task
 * exiting under us) is retried before it is reported.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/lxobj.h"
#include "kread.h"

#define WALK_RETRIES 3
#define PF_KTHREAD 0x00200000u
#define TASK_REPORT 0x7fu
#define TASK_IDLE 0x402u

/* Address set for cycle detection (open addressing, power-of-two size). */
struct addrset {
	uint64_t *slot;
	size_t mask;
};

static int addrset_init(struct addrset *s, size_t max)
{
	size_t size = 64;

	while (size < max * 2)
		size <<= 1;
	s->slot = calloc(size, sizeof(*s->slot));
	s->mask = size - 1;
	return s->slot ? 0 : -ENOMEM;
}

/* Returns true if A was already present. */
static bool addrset_add(struct addrset *s, uint64_t a)
{
	size_t h = (size_t)((a >> 4) * 0x9e3779b97f4a7c15ull) & s->mask;

	while (s->slot[h]) {
		if (s->slot[h] == a)
			return true;
		h = (h + 1) & s->mask;
	}
	s->slot[h] = a;
	return false;
}

static char state_letter(uint32_t state, uint32_t exit_state)
{
	static const char letters[] = "RSDTtXZPI";
	uint32_t st = (state | exit_state) & TASK_REPORT;
	int idx = 0;

	if (state == TASK_IDLE)
		return 'I';
	while (st) {
		idx++;
		st >>= 1;
	}
	return idx < (int)sizeof(letters) - 1 ? letters[idx] : '?';
}

static void read_cmdline(struct vg_linux *lx, struct vg_task *t)
{
	const struct vg_offsets *o = &lx->off;
	uint64_t pgd, start, end, len;
	struct vg_as uas;
	char *buf;
	size_t got = 0;

	t->cmdline = calloc(1, 1);
	if (!t->mm || vg_kread_ptr(lx, t->mm + o->mm_pgd, &pgd) || !pgd ||
	    vg_as_read_u64(&lx->kas, t->mm + o->mm_arg_start, &start) ||
	    vg_as_read_u64(&lx->kas, t->mm + o->mm_arg_end, &end) || end <= start)
		return;
	len = end - start;
	if (len > VG_CMDLINE_MAX - 1)
		len = VG_CMDLINE_MAX - 1;
	/* pgd is a direct-map address; the process's page tables translate its argv */
	if (pgd < lx->page_offset_base ||
	    vg_as_init(&uas, lx->mem, pgd - lx->page_offset_base, lx->levels))
		return;
	buf = calloc(1, len + 1);
	if (!buf)
		return;
	/* read page by page so an unmapped tail still leaves the head */
	while (got < len) {
		size_t chunk = 4096 - ((start + got) & 4095);

		if (chunk > len - got)
			chunk = len - got;
		if (vg_as_read(&uas, start + got, buf + got, chunk))
			break;
		got += chunk;
	}
	for (size_t i = 0; i < got; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	while (got && buf[got - 1] == ' ')
		got--;
	buf[got] = '\0';
	free(t->cmdline);
	t->cmdline = buf;
}

static void read_exe(struct vg_linux *lx, struct vg_task *t)
{
	const struct vg_offsets *o = &lx->off;
	char path[VG_PATH_MAX];
	uint64_t file;

	t->exe = calloc(1, 1);
	if (!t->mm || o->mm_exe_file < 0 || vg_kread_ptr(lx, t->mm + o->mm_exe_file, &file) ||
	    !file)
		return;
	if (vg_dpath(lx, file + o->file_f_path, path, sizeof(path), &t->exe_deleted))
		return;
	if (o->file_f_inode >= 0 && o->inode_i_mode >= 0) {
		uint64_t inode;
		uint16_t mode;

		if (!vg_kread_ptr(lx, file + o->file_f_inode, &inode) && inode &&
		    !vg_as_read(&lx->kas, inode + o->inode_i_mode, &mode, sizeof(mode)))
			t->exe_mode = mode;
	}
	free(t->exe);
	t->exe = strdup(path);
}

/*
 * fsuid follows euid and can only be set to one of uid, euid or suid (setfsuid(2)), fsgid
 * likewise: a cred whose fs ids are none of those was not a cred when read — freed and reused
 * under the reader (seen as a parent "euid" of 2404263864 while a guest rebooted).
 */
/* What one walk reads with: the caller's options and offsets looked up once per walk. */
struct walk {
	const struct vg_task_opts *opts;
	int32_t cred_ids[4]; /* cred.suid, sgid, fsuid, fsgid; -1 when BTF lacks one */
};

static void walk_init(struct vg_linux *lx, const struct vg_task_opts *opts, struct walk *w)
{
	static const char *const f[4] = { "suid", "sgid", "fsuid", "fsgid" };

	w->opts = opts;
	for (int i = 0; i < 4; i++)
		w->cred_ids[i] = vg_linux_btf_offset(lx, "cred", f[i]);
}

static bool cred_torn(struct vg_linux *lx, const struct walk *w, uint64_t cred,
		      const struct vg_task *t)
{
	uint32_t v[4];

	for (int i = 0; i < 4; i++) {
		if (w->cred_ids[i] < 0)
			return false; /* cannot tell */
		if (vg_as_read_u32(&lx->kas, cred + (uint32_t)w->cred_ids[i], &v[i]))
			return true;
	}
	return (v[2] != t->uid && v[2] != t->euid && v[2] != v[0]) ||
	       (v[3] != t->gid && v[3] != t->egid && v[3] != v[1]);
}

static int read_task(struct vg_linux *lx, uint64_t task, const struct walk *w, struct vg_task *t)
{
	const struct vg_task_opts *opts = w->opts;
	const struct vg_offsets *o = &lx->off;
	uint64_t parent, cred, v64 = 0;
	uint32_t state = 0, exit_state = 0, flags = 0;

	memset(t, 0, sizeof(*t));
	t->addr = task;
	if (vg_kread_s32(lx, task + o->task_pid, &t->pid) ||
	    vg_kread_s32(lx, task + o->task_tgid, &t->tgid) ||
	    vg_as_read(&lx->kas, task + o->task_comm, t->comm, VG_COMM_LEN) ||
	    vg_kread_ptr(lx, task + o->task_real_parent, &parent) ||
	    vg_kread_ptr(lx, task + o->task_cred, &cred) ||
	    vg_kread_ptr(lx, task + o->task_mm, &t->mm) ||
	    vg_as_read_u32(&lx->kas, task + o->task_exit_state, &exit_state) ||
	    vg_as_read_u32(&lx->kas, task + o->task_flags, &flags))
		return -EFAULT;
	if (o->task_state_size == 8) {
		if (vg_as_read_u64(&lx->kas, task + o->task_state, &v64))
			return -EFAULT;
		state = (uint32_t)v64;
	} else if (vg_as_read_u32(&lx->kas, task + o->task_state, &state)) {
		return -EFAULT;
	}
	t->comm[VG_COMM_LEN] = '\0';
	t->state = state_letter(state, exit_state);
	t->kthread = (flags & PF_KTHREAD) || !t->mm;
	if (t->kthread)
		t->mm = 0;
	if (!parent || vg_kread_s32(lx, parent + o->task_tgid, &t->ppid))
		t->ppid = 0;
	if (!cred || vg_as_read_u32(&lx->kas, cred + o->cred_uid, &t->uid) ||
	    vg_as_read_u32(&lx->kas, cred + o->cred_gid, &t->gid) ||
	    vg_as_read_u32(&lx->kas, cred + o->cred_euid, &t->euid) ||
	    vg_as_read_u32(&lx->kas, cred + o->cred_egid, &t->egid))
		return -EFAULT;
	t->cred_torn = cred_torn(lx, w, cred, t);
	if (opts->no_cmdline) {
		t->cmdline = calloc(1, 1);
		t->exe = calloc(1, 1);
	} else {
		read_cmdline(lx, t);
		read_exe(lx, t);
	}
	return t->cmdline && t->exe ? 0 : -ENOMEM;
}

static int push(struct vg_task_list *l, struct vg_task *t)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 128;
		void *p = realloc(l->v, cap * sizeof(*l->v));

		if (!p)
			return -ENOMEM;
		l->v = p;
		l->cap = cap;
	}
	l->v[l->n++] = *t;
	return 0;
}

static void free_task(struct vg_task *t)
{
	free(t->cmdline);
	free(t->exe);
}

void vg_tasks_free(struct vg_task_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free_task(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Adds the other threads of leader T's group (signal->thread_head, thread_node). */
static int add_threads(struct vg_linux *lx, const struct vg_task *leader, const struct walk *w,
		       struct addrset *seen, struct vg_task_list *out, struct vg_err *err)
{
	const struct vg_offsets *o = &lx->off;
	uint64_t sig, head, cur;
	size_t steps;

	if (o->signal_thread_head < 0 || o->task_thread_node < 0)
		return 0;
	if (vg_kread_ptr(lx, leader->addr + o->task_signal, &sig) || !sig)
		return 0;
	head = sig + o->signal_thread_head;
	if (vg_kread_ptr(lx, head, &cur))
		return vg_errf(err, EFAULT, "thread list of pid %d unreadable", leader->pid);
	for (steps = 0; cur != head && steps < VG_MAX_TASKS; steps++) {
		uint64_t task = cur - o->task_thread_node;
		struct vg_task t;
		int ret;

		if (!cur || vg_kread_ptr(lx, cur, &cur))
			return vg_errf(err, EFAULT, "thread list of pid %d broken at %#llx",
				       leader->pid, (unsigned long long)task);
		if (task == leader->addr || addrset_add(seen, task))
			continue;
		ret = read_task(lx, task, w, &t);
		if (ret)
			return vg_errf(err, -ret, "thread %#llx of pid %d unreadable",
				       (unsigned long long)task, leader->pid);
		if (push(out, &t)) {
			free_task(&t);
			return vg_errf(err, ENOMEM, "out of memory");
		}
	}
	if (steps == VG_MAX_TASKS)
		return vg_errf(err, ELOOP, "thread list of pid %d does not end", leader->pid);
	return 0;
}

static int walk_once(struct vg_linux *lx, const struct walk *w, struct vg_task_list *out,
		     struct vg_err *err)
{
	const struct vg_offsets *o = &lx->off;
	uint64_t head = lx->init_task + o->task_tasks, cur, prev = head;
	struct addrset seen;
	size_t steps;
	int ret = 0;

	if (addrset_init(&seen, VG_MAX_TASKS))
		return vg_errf(err, ENOMEM, "out of memory");
	if (vg_kread_ptr(lx, head, &cur)) {
		ret = vg_errf(err, EFAULT, "init_task.tasks at %#llx unreadable",
			      (unsigned long long)head);
		goto out;
	}
	for (steps = 0; cur != head; steps++) {
		uint64_t task = cur - o->task_tasks;
		struct vg_task t;

		if (steps >= VG_MAX_TASKS) {
			ret = vg_errf(err, ELOOP, "task list longer than %d entries", VG_MAX_TASKS);
			goto out;
		}
		if (!cur || !vg_kptr_ok(cur)) {
			/* a task exiting under a live walk leaves poison here too: retried */
			ret = vg_errf(err, EFAULT, "task list broken after %#llx (next %#llx)",
				      (unsigned long long)prev, (unsigned long long)cur);
			goto out;
		}
		if (addrset_add(&seen, task)) {
			ret = vg_errf(err, ELOOP,
				      "task list cycles at %#llx without returning to init_task",
				      (unsigned long long)task);
			goto out;
		}
		ret = read_task(lx, task, w, &t);
		if (ret) {
			ret = vg_errf(err, -ret, "task %#llx unreadable", (unsigned long long)task);
			goto out;
		}
		if (push(out, &t)) {
			free_task(&t);
			ret = vg_errf(err, ENOMEM, "out of memory");
			goto out;
		}
		if (w->opts->threads) {
			ret = add_threads(lx, &out->v[out->n - 1], w, &seen, out, err);
			if (ret)
				goto out;
		}
		prev = cur;
		/* the raw value: a poisoned or foreign pointer is reported by the check above */
		if (vg_as_read_u64(&lx->kas, cur, &cur)) {
			ret = vg_errf(err, EFAULT, "task list pointer at %#llx unreadable",
				      (unsigned long long)prev);
			goto out;
		}
	}
out:
	free(seen.slot);
	return ret;
}

int vg_tasks_list(struct vg_linux *lx, const struct vg_task_opts *opts, struct vg_task_list *out,
		  struct vg_err *err)
{
	struct vg_task_opts none = { 0 };
	struct walk w;
	int ret = 0;

	walk_init(lx, opts ? opts : &none, &w);
	memset(out, 0, sizeof(*out));
	for (int attempt = 0; attempt < WALK_RETRIES; attempt++) {
		if (err)
			vg_err_clear(err);
		ret = walk_once(lx, &w, out, err);
		if (ret != -EFAULT)
			break;
		/* live guest: a task may have exited mid-walk; take a fresh look */
		vg_tasks_free(out);
		vg_as_flush(&lx->kas);
	}
	if (ret)
		vg_tasks_free(out);
	return ret;
}
