// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * vigil's syscall recorder (record layouts in sysmon.h). Only raw tracepoints: sys_enter for
 * every syscall, sched_process_fork/exec/exit to follow a traced program's children and
 * threads. fentry, kprobes and BPF-LSM are not used, so it runs where only tracepoints do.
 *
 * Per syscall of a traced task (tgid in "targets"):
 *  - the instruction pointer is resolved to (dev, ino, file offset) through a per-thread cache
 *    of eight VMAs, filled with bpf_find_vma on a miss; a file seen for the first time is
 *    announced with its name (SM_FILE) so the agent can identify it after the process exits;
 *  - the first SM_WINDOW user stack words are read in one copy and the first SM_NCAND that
 *    point into executable memory are the call-site candidates;
 *  - the arguments are reduced to an argkey (fd kind, address family, PROT_EXEC, thread or
 *    process) and, for path syscalls, the path string;
 *  - a syscall identical to the thread's previous one (same instruction, arguments and stack
 *    pointer, or the same resolved record) is only counted: loops like getppid() cost no ring
 *    traffic. The count goes out as SM_REPEAT before the next different record, after
 *    SM_REPEAT_MAX repeats or SM_REPEAT_NS, and when the thread exits.
 * Records of traced tasks are never dropped silently: a full ring is counted and the next
 * record of the thread carries SM_F_LOST.
 */
#include <linux/bpf.h>

#include "kernel_types.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "sysmon.h"
#include "sysmon_args.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define NEXEC 4	     /* cached executable mappings per thread */
#define NDATA 4	     /* cached other mappings (heap, data) per thread */
#define VMA_BUDGET 4 /* bpf_find_vma calls per syscall at most */
#define VM_EXEC 0x4ul
#define PAGE_SHIFT 12
#define USER_MIN 0x10000ull
#define USER_END 0x800000000000ull

/* tgid -> generation: bumped when the process changes its mappings, which empties caches */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, sm_u32);
	__type(value, sm_u32);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} rb SEC(".maps");

/* files already announced: (dev, ino) */
struct file_key {
	sm_u64 ino;
	sm_u32 dev, pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct file_key);
	__type(value, sm_u8);
} announced SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SM_ST_NSTATS);
	__type(key, sm_u32);
	__type(value, sm_u64);
} stats SEC(".maps");

struct vma_ent {
	sm_u64 start, end, ino, base; /* file offset = addr - start + base */
	sm_u32 dev;
	sm_u8 kind;
	sm_u8 pad[3];
};

struct tstate {
	struct vma_ent ex[NEXEC], da[NDATA];
	sm_u64 stk_lo, stk_hi; /* the stack's mapping: its words are never code */
	sm_u32 gen, exnext, danext;
	/* the previous record, for folding */
	sm_u64 raw_ip, raw_sp, raw_args[6];
	sm_u32 nr, argkey, unres;
	struct sm_loc ip, cand[SM_NCAND];
	sm_u32 have_last, pending, lost;
	int budget; /* bpf_find_vma calls left for the current syscall */
	sm_u64 pending_since;
	sm_u64 vdso; /* the vDSO's address in the current syscall's process */
	/* files first seen by this syscall's lookups, announced after them */
	sm_u64 newfile[VMA_BUDGET], newino[VMA_BUDGET];
	sm_u32 newdev[VMA_BUDGET], nnew;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tstate);
} tstates SEC(".maps");

/* scratch space too big for the 512-byte BPF stack */
#define SM_NCAND_SLOTS 8 /* candidates are gathered in a power-of-two array */

struct scratch {
	sm_u64 win[SM_WINDOW];
	struct sm_loc ip, cand[SM_NCAND_SLOTS];
	struct sm_file file;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, sm_u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

static __always_inline void stat_add(sm_u32 which, sm_u64 n)
{
	sm_u64 *v = bpf_map_lookup_elem(&stats, &which);

	if (v)
		*v += n;
}

struct vma_ctx {
	struct vma_ent e;
	struct file *file;
	void *vdso;
};

static long vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_ctx *c = data;
	struct file *f = vma->vm_file;
	unsigned long flags = vma->vm_flags;

	c->e.start = vma->vm_start;
	c->e.end = vma->vm_end;
	c->file = 0;
	if (!(flags & VM_EXEC)) {
		c->e.kind = SM_K_DATA;
	} else if (f) {
		c->e.kind = SM_K_FILE;
		c->e.base = vma->vm_pgoff << PAGE_SHIFT;
		c->e.ino = BPF_CORE_READ(f, f_inode, i_ino);
		c->e.dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
		c->file = f;
	} else if ((void *)vma->vm_start == c->vdso) {
		c->e.kind = SM_K_VDSO;
		c->e.base = 0;
	} else {
		c->e.kind = SM_K_ANON;
	}
	return 0;
}

/* Announces FILE's name once per (dev, ino): components leaf first, each NUL-terminated. */
static __noinline void announce(sm_u64 file, sm_u32 dev, sm_u64 ino)
{
	struct file_key k = { .ino = ino, .dev = dev };
	struct file *f = (struct file *)file;
	sm_u32 zero = 0, off = 0;
	struct scratch *s;
	struct dentry *d;
	sm_u8 one = 1;

	if (bpf_map_lookup_elem(&announced, &k))
		return;
	s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return;
	s->file.type = SM_FILE;
	s->file.dev = dev;
	s->file.ino = ino;
	d = BPF_CORE_READ(f, f_path.dentry);
	for (int i = 0; i < 16 && d; i++) {
		struct dentry *parent = BPF_CORE_READ(d, d_parent);
		const unsigned char *name;
		long n;

		/* offsets stay below half the buffer so every copy provably fits */
		if (parent == d || off >= SM_NAME_MAX / 2)
			break;
		name = BPF_CORE_READ(d, d_name.name);
		n = bpf_probe_read_kernel_str(&s->file.name[off & (SM_NAME_MAX / 2 - 1)],
					      SM_NAME_MAX / 2 - 1, name);
		if (n <= 0)
			break;
		off += n;
		d = parent;
	}
	s->file.namelen = off;
	if (bpf_ringbuf_output(&rb, &s->file, sizeof(s->file), 0) == 0)
		bpf_map_update_elem(&announced, &k, &one, BPF_ANY);
	else
		stat_add(SM_ST_DROPPED, 1);
}

/*
 * Resolves ADDR through the thread's cache, or bpf_find_vma while T's budget lasts. Fills L
 * and returns its kind, 0 when unknown (no budget left).
 */
static __always_inline void forget_vmas(struct tstate *t)
{
	for (int i = 0; i < NEXEC; i++)
		t->ex[i].end = 0;
	for (int i = 0; i < NDATA; i++)
		t->da[i].end = 0;
	t->stk_lo = t->stk_hi = 0;
}

/*
 * Resolves ADDR through the thread's caches (executable mappings first: most words asked
 * about are call-site candidates or data), or bpf_find_vma while T's budget lasts. Fills L
 * and returns its kind, 0 when unknown (no budget left).
 */
static __noinline sm_u8 resolve(struct task_struct *task, struct tstate *t, sm_u64 addr,
				struct sm_loc *l)
{
	struct vma_ctx c = {};
	struct vma_ent *e = 0;

	for (int i = 0; i < NEXEC; i++)
		if (addr >= t->ex[i].start && addr < t->ex[i].end) {
			e = &t->ex[i];
			break;
		}
	if (!e)
		for (int i = 0; i < NDATA; i++)
			if (addr >= t->da[i].start && addr < t->da[i].end) {
				l->kind = SM_K_DATA;
				l->off = addr;
				return SM_K_DATA;
			}
	if (!e) {
		if (t->budget <= 0)
			return 0;
		t->budget--;
		stat_add(SM_ST_VMA, 1);
		c.vdso = (void *)t->vdso;
		if (bpf_find_vma(task, addr, vma_cb, &c, 0) || !c.e.kind) {
			l->kind = SM_K_NOVMA;
			l->off = addr;
			return SM_K_NOVMA;
		}
		if (c.e.kind == SM_K_DATA) {
			t->da[t->danext++ & (NDATA - 1)] = c.e;
			l->kind = SM_K_DATA;
			l->off = addr;
			return SM_K_DATA;
		}
		e = &t->ex[t->exnext++ & (NEXEC - 1)];
		*e = c.e;
		if (c.file && t->nnew < VMA_BUDGET) {
			sm_u32 i = t->nnew++ & (VMA_BUDGET - 1);

			t->newfile[i] = (sm_u64)c.file;
			t->newdev[i] = c.e.dev;
			t->newino[i] = c.e.ino;
		}
	}
	l->kind = e->kind;
	l->dev = e->dev;
	l->ino = e->ino;
	l->off = e->kind == SM_K_FILE || e->kind == SM_K_VDSO ? addr - e->start + e->base : addr;
	return e->kind;
}

/* The stack's bounds, looked up when SP leaves the last known ones (once per thread). */
static __noinline void stack_bounds(struct task_struct *task, struct tstate *t, sm_u64 sp)
{
	struct vma_ctx c = {};

	if (sp >= t->stk_lo && sp < t->stk_hi)
		return;
	stat_add(SM_ST_VMA, 1);
	if (!bpf_find_vma(task, sp, vma_cb, &c, 0) && c.e.kind == SM_K_DATA) {
		t->stk_lo = c.e.start;
		t->stk_hi = c.e.end;
	}
}

static __always_inline int same_loc(const struct sm_loc *a, const struct sm_loc *b)
{
	return a->kind == b->kind && a->word == b->word && a->off == b->off && a->ino == b->ino &&
	       a->dev == b->dev;
}

static __always_inline int flush_repeat(struct tstate *t, sm_u32 tgid, sm_u32 tid)
{
	struct sm_repeat *r;

	if (!t->pending)
		return 0;
	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r) {
		stat_add(SM_ST_DROPPED, 1);
		t->lost = 1;
		t->have_last = 0;
		t->pending = 0;
		return -1;
	}
	r->type = SM_REPEAT;
	r->tgid = tgid;
	r->tid = tid;
	r->count = t->pending;
	bpf_ringbuf_submit(r, 0);
	t->pending = 0;
	return 0;
}

/*
 * One more repeat of the previous record: counted, sent when the count is big or old. Age is
 * in jiffies (a load, where a clock read costs tens of nanoseconds in a VM): SM_REPEAT_JIFFIES
 * is 5 ms to 50 ms for HZ between 1000 and 100.
 */
static __always_inline void fold(struct tstate *t, sm_u32 tgid, sm_u32 tid)
{
	sm_u64 now = bpf_jiffies64();

	stat_add(SM_ST_FOLDED, 1);
	if (!t->pending)
		t->pending_since = now;
	t->pending++;
	if (t->pending >= SM_REPEAT_MAX || now - t->pending_since >= SM_REPEAT_JIFFIES)
		flush_repeat(t, tgid, tid);
}

static __always_inline void check_gen(struct tstate *t, sm_u32 gen)
{
	if (t->gen != gen) {
		/* the process changed its mappings: forget every cached VMA */
		forget_vmas(t);
		t->gen = gen;
		t->have_last = 0;
	}
}

struct cand_ctx {
	struct task_struct *task;
	struct tstate *t;
	struct scratch *s;
	sm_u32 ncand;
	sm_u32 unres; /* words that could not be looked up (budget spent) */
};

/* bpf_loop body: stack word W, a call-site candidate if it points into executable memory. */
static long cand_cb(sm_u32 w, void *data)
{
	struct cand_ctx *c = data;
	struct scratch *s = c->s;
	struct sm_loc l = {};
	sm_u64 v;
	sm_u8 kind;

	if (c->ncand >= SM_NCAND)
		return 1;
	/* bpf_loop runs W below SM_WINDOW; the mask proves it to the verifier */
	v = s->win[w & (SM_WINDOW - 1)];
	if (v < USER_MIN || v >= USER_END || (v >= c->t->stk_lo && v < c->t->stk_hi))
		return 0;
	kind = resolve(c->task, c->t, v, &l);
	if (!kind)
		c->unres |= 1u << (w & (SM_WINDOW - 1));
	if (kind == SM_K_FILE || kind == SM_K_ANON || kind == SM_K_VDSO) {
		l.word = w;
		s->cand[c->ncand & (SM_NCAND_SLOTS - 1)] = l;
		c->ncand++;
	}
	return 0;
}

static __always_inline int on_sys(sm_u32 nr, sm_u64 ip, sm_u64 sp, const sm_u64 *args)
{
	sm_u64 id = bpf_get_current_pid_tgid();
	sm_u32 tgid = id >> 32, tid = (sm_u32)id, zero = 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct tstate *t = bpf_task_storage_get(&tstates, task, 0, 0);
	struct scratch *s;
	struct sm_sys *r;
	sm_u32 *gen;
	struct cand_ctx cc;
	sm_u32 key;
	int pa, same;

	/* a traced thread has its state already: no map lookup on its fast path */
	if (!t) {
		if (!bpf_map_lookup_elem(&targets, &tgid))
			return 0;
		t = bpf_task_storage_get(&tstates, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!t)
			return 0;
	}
	stat_add(SM_ST_EVENTS, 1);
	pa = path_arg(nr);

	/*
	 * Fast path: the same syscall from the same instruction with the same arguments and the
	 * same stack pointer as the thread's previous one is counted without reading the user
	 * stack (reading user memory is most of what a record costs). Sensitive syscalls are
	 * always examined in full.
	 */
	same = t->have_last && pa < 0 && t->nr == nr && t->raw_ip == ip && t->raw_sp == sp &&
	       !sm_sensitive(nr);
	for (int i = 0; i < 6 && same; i++)
		same = t->raw_args[i] == args[i];
	if (same) {
		fold(t, tgid, tid);
		return 0;
	}

	gen = bpf_map_lookup_elem(&targets, &tgid);
	s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!gen || !s)
		return 0;
	/* a change of mappings: invalidate every thread's cache before anything is resolved */
	if (nr == 9 || nr == 10 || nr == 11 || nr == 25)
		__sync_fetch_and_add(gen, 1);
	check_gen(t, *gen);
	if (bpf_probe_read_user(s->win, sizeof(s->win), (void *)sp)) {
		/* the window runs off the mapping (the top of a stack): take what its page has */
		sm_u32 n = 4096 - (sp & 4095);

		__builtin_memset(s->win, 0, sizeof(s->win));
		if (n > sizeof(s->win))
			n = sizeof(s->win);
		bpf_probe_read_user(s->win, n & 0x1ff, (void *)sp);
	}
	t->vdso = (sm_u64)task->mm->context.vdso;
	stack_bounds(task, t, sp);
	t->budget = VMA_BUDGET;
	t->nnew = 0;
	/* resolve first: the names of new files must reach the ring before the record */
	__builtin_memset(&s->ip, 0, sizeof(s->ip));
	if (!resolve(task, t, ip, &s->ip)) {
		s->ip.kind = SM_K_NOVMA;
		s->ip.off = ip;
	}
	__builtin_memset(s->cand, 0, sizeof(s->cand));
	cc.task = task;
	cc.t = t;
	cc.s = s;
	cc.ncand = 0;
	cc.unres = 0;
	bpf_loop(SM_WINDOW, cand_cb, &cc, 0);
	for (int i = 0; i < VMA_BUDGET; i++)
		if (i < t->nnew)
			announce(t->newfile[i], t->newdev[i], t->newino[i]);
	key = argkey(task, nr, args);

	/* slow-path fold: different registers, but the same resolved record */
	same = t->have_last && pa < 0 && t->nr == nr && t->argkey == key && t->unres == cc.unres &&
	       same_loc(&t->ip, &s->ip);
	for (int i = 0; i < SM_NCAND && same; i++)
		same = same_loc(&t->cand[i], &s->cand[i]);
	t->raw_ip = ip;
	t->raw_sp = sp;
	for (int i = 0; i < 6; i++)
		t->raw_args[i] = args[i];
	if (same) {
		fold(t, tgid, tid);
		return 0;
	}
	if (flush_repeat(t, tgid, tid))
		return 0;
	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r) {
		stat_add(SM_ST_DROPPED, 1);
		t->lost = 1;
		t->have_last = 0;
		t->pending = 0;
		return 0;
	}
	r->type = SM_SYS;
	r->tgid = tgid;
	r->tid = tid;
	r->nr = nr;
	r->flags = t->lost ? SM_F_LOST : 0;
	r->pathlen = 0;
	r->argkey = key;
	r->unres = cc.unres;
	r->ip = s->ip;
	for (int i = 0; i < SM_NCAND; i++)
		r->cand[i] = s->cand[i];
	if (pa >= 0) {
		long n = bpf_probe_read_user_str(r->path, sizeof(r->path), (void *)args[pa & 1]);

		if (n > 0) {
			r->pathlen = n;
			r->argkey |= SM_A_PATH;
		}
	}
	t->lost = 0;
	t->nr = nr;
	t->argkey = key;
	t->unres = cc.unres;
	t->ip = s->ip;
	for (int i = 0; i < SM_NCAND; i++)
		t->cand[i] = s->cand[i];
	t->have_last = pa < 0;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

/*
 * Two ways in: tp_btf reads the registers directly (a BTF-typed raw tracepoint); where the
 * kernel cannot attach that, the loader switches to the plain raw tracepoint, which copies the
 * registers (x86-64's fixed entry layout) with one helper call.
 */
SEC("tp_btf/sys_enter")
int sm_sys_enter_btf(unsigned long long *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx[0];
	sm_u64 args[6] = { regs->di, regs->si, regs->dx, regs->r10, regs->r8, regs->r9 };

	return on_sys((sm_u32)ctx[1], regs->ip, regs->sp, args);
}

struct regs_x86 {
	sm_u64 r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip, cs,
		flags, sp, ss;
};

SEC("raw_tracepoint/sys_enter")
int sm_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct regs_x86 r;
	sm_u64 args[6];

	if (bpf_probe_read_kernel(&r, sizeof(r), (void *)ctx->args[0]))
		return 0;
	args[0] = r.di;
	args[1] = r.si;
	args[2] = r.dx;
	args[3] = r.r10;
	args[4] = r.r8;
	args[5] = r.r9;
	return on_sys((sm_u32)ctx->args[1], r.ip, r.sp, args);
}

/* args: (struct task_struct *parent, struct task_struct *child) */
SEC("raw_tracepoint/sched_process_fork")
int sm_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx->args[0];
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	sm_u32 ptgid = BPF_CORE_READ(parent, tgid), ctgid, zero = 0;
	struct sm_fork *r;

	if (!bpf_map_lookup_elem(&targets, &ptgid))
		return 0;
	ctgid = BPF_CORE_READ(child, tgid);
	if (ctgid != ptgid)
		bpf_map_update_elem(&targets, &ctgid, &zero, BPF_ANY);
	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r) {
		stat_add(SM_ST_DROPPED, 1);
		return 0;
	}
	r->type = SM_FORK;
	r->parent_tgid = ptgid;
	r->parent_tid = BPF_CORE_READ(parent, pid);
	r->child_tgid = ctgid;
	r->child_tid = BPF_CORE_READ(child, pid);
	r->pad = 0;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

/* args: (struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) */
SEC("raw_tracepoint/sched_process_exec")
int sm_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
	sm_u64 id = bpf_get_current_pid_tgid();
	sm_u32 tgid = id >> 32;
	struct task_struct *task;
	struct tstate *t;
	struct sm_exec *r;
	struct file *f;
	long n;

	if (!bpf_map_lookup_elem(&targets, &tgid))
		return 0;
	task = bpf_get_current_task_btf();
	t = bpf_task_storage_get(&tstates, task, 0, 0);
	if (t) {
		/* a new address space: nothing cached or pending is valid any more */
		flush_repeat(t, tgid, (sm_u32)id);
		forget_vmas(t);
		t->have_last = 0;
	}
	f = BPF_CORE_READ(bprm, file);
	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r) {
		stat_add(SM_ST_DROPPED, 1);
		return 0;
	}
	r->type = SM_EXEC;
	r->tgid = tgid;
	r->tid = (sm_u32)id;
	r->dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
	r->ino = BPF_CORE_READ(f, f_inode, i_ino);
	r->pad = 0;
	n = bpf_probe_read_kernel_str(r->path, sizeof(r->path), BPF_CORE_READ(bprm, filename));
	r->pathlen = n > 0 ? n : 0;
	bpf_ringbuf_submit(r, 0);
	if (f)
		announce((sm_u64)f, BPF_CORE_READ(f, f_inode, i_sb, s_dev),
			 BPF_CORE_READ(f, f_inode, i_ino));
	return 0;
}

/* args: (struct task_struct *p, ...) */
SEC("raw_tracepoint/sched_process_exit")
int sm_exit(struct bpf_raw_tracepoint_args *ctx)
{
	sm_u64 id = bpf_get_current_pid_tgid();
	sm_u32 tgid = id >> 32;
	struct task_struct *task;
	struct tstate *t;
	struct sm_exit *r;
	int live;

	if (!bpf_map_lookup_elem(&targets, &tgid))
		return 0;
	task = bpf_get_current_task_btf();
	t = bpf_task_storage_get(&tstates, task, 0, 0);
	if (t)
		flush_repeat(t, tgid, (sm_u32)id);
	live = BPF_CORE_READ(task, signal, live.counter);
	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (r) {
		r->type = SM_EXIT;
		r->tgid = tgid;
		r->tid = (sm_u32)id;
		r->group_dead = live == 0;
		bpf_ringbuf_submit(r, 0);
	} else {
		stat_add(SM_ST_DROPPED, 1);
	}
	if (live == 0)
		bpf_map_delete_elem(&targets, &tgid);
	return 0;
}
