// SPDX-License-Identifier: MIT
/*
 * The scheduler's view of tasks: for every online CPU, its run queue (the per-CPU variable
 * `runqueues` at __per_cpu_offset[cpu]) gives the task running there (rq->curr), the CFS
 * red-black tree of runnable tasks (rq->cfs.tasks_timeline, descending into task-group run
 * queues through sched_entity->my_q, plus each cfs_rq's curr, which is off the tree while it
 * runs), and the RT priority queues. A task that runs or waits to run must be here whatever a
 * rootkit did to the task list, so a spinning process hidden from the task list shows up.
 * The per-CPU idle tasks (swapper/N) are left out: only swapper/0 is on the task list.
 *
 * Every pointer is guest data: the tree walk uses an explicit stack of bounded depth, the
 * total number of entities visited is bounded, and group recursion is bounded.
 */
#include <stdlib.h>
#include <string.h>

#include "gather_int.h"

#define MAX_CPUS 8192
#define RB_MAX_DEPTH 64 /* a red-black tree of 2^32 nodes is at most 64 deep */
#define GROUP_MAX_DEPTH 8
#define RT_MAX_PRIO 128
#define RT_MAX_CHAIN 4096

struct sched_walk {
	struct vg_linux *lx;
	struct vg_snapshot *s;
	int32_t rq_curr, rq_idle, rq_cfs, rq_rt;
	int32_t cfs_timeline, cfs_curr;
	int32_t se_run_node, se_my_q, task_se;
	int32_t rt_active_queue, rt_nqueues, rt_se_run_list, task_rt, rt_se_my_q;
	size_t visited;
	bool broken;
	int cpu;
	uint64_t idle;
};

static void add_task(struct sched_walk *w, uint64_t task, const char *where)
{
	struct vg_sched_task *t;
	const struct vg_offsets *o = &w->lx->off;

	if (!task || task == w->idle)
		return;
	if (!vg_ids_kptr(task) || w->s->nsched >= VG_IDS_MAX_SCHED) {
		w->broken = true;
		return;
	}
	t = &w->s->sched[w->s->nsched];
	memset(t, 0, sizeof(*t));
	t->task = task;
	t->cpu = w->cpu;
	t->where = where;
	if (vg_as_read_u32(&w->lx->kas, task + o->task_pid, (uint32_t *)&t->pid) ||
	    vg_as_read_u32(&w->lx->kas, task + o->task_tgid, (uint32_t *)&t->tgid) ||
	    vg_as_read(&w->lx->kas, task + o->task_comm, t->comm, VG_COMM_LEN)) {
		w->broken = true;
		return;
	}
	t->comm[VG_COMM_LEN] = '\0';
	w->s->nsched++;
}

static void walk_cfs(struct sched_walk *w, uint64_t cfs_rq, int depth);

/* A sched_entity is a task's, or (with group scheduling) a task group's with its own queue. */
static void add_entity(struct sched_walk *w, uint64_t se, const char *where, int depth)
{
	uint64_t my_q = 0;

	if (!se || w->broken)
		return;
	if (++w->visited > VG_IDS_MAX_SCHED || !vg_ids_kptr(se)) {
		w->broken = true;
		return;
	}
	if (w->se_my_q >= 0 && vg_as_read_u64(&w->lx->kas, se + w->se_my_q, &my_q)) {
		w->broken = true;
		return;
	}
	if (my_q)
		walk_cfs(w, my_q, depth + 1);
	else
		add_task(w, se - w->task_se, where);
}

static void walk_cfs(struct sched_walk *w, uint64_t cfs_rq, int depth)
{
	uint64_t stack[RB_MAX_DEPTH + 1], node, curr;
	int sp = 0;

	if (depth > GROUP_MAX_DEPTH || !vg_ids_kptr(cfs_rq) ||
	    vg_as_read_u64(&w->lx->kas, cfs_rq + w->cfs_timeline, &node) ||
	    vg_as_read_u64(&w->lx->kas, cfs_rq + w->cfs_curr, &curr)) {
		w->broken = true;
		return;
	}
	add_entity(w, curr, "curr", depth);
	/* in-order walk: rb_node is {parent_color, rb_right, rb_left} */
	while ((node || sp) && !w->broken) {
		if (node) {
			if (sp > RB_MAX_DEPTH || !vg_ids_kptr(node)) {
				w->broken = true;
				return;
			}
			stack[sp++] = node;
			if (vg_as_read_u64(&w->lx->kas, node + 16, &node))
				w->broken = true;
			continue;
		}
		node = stack[--sp];
		add_entity(w, node - w->se_run_node, "cfs", depth);
		if (vg_as_read_u64(&w->lx->kas, node + 8, &node))
			w->broken = true;
	}
}

static void walk_rt(struct sched_walk *w, uint64_t rq)
{
	uint64_t q = rq + w->rq_rt + w->rt_active_queue;

	for (int p = 0; p < w->rt_nqueues && !w->broken; p++) {
		uint64_t head = q + 16ull * p, cur;
		int n = 0;

		if (vg_as_read_u64(&w->lx->kas, head, &cur)) {
			w->broken = true;
			return;
		}
		while (cur != head && !w->broken) {
			uint64_t rt_se = cur - w->rt_se_run_list, my_q = 0;

			if (++n > RT_MAX_CHAIN || ++w->visited > VG_IDS_MAX_SCHED ||
			    !vg_ids_kptr(cur) ||
			    (w->rt_se_my_q >= 0 &&
			     vg_as_read_u64(&w->lx->kas, rt_se + w->rt_se_my_q, &my_q))) {
				w->broken = true;
				return;
			}
			/* RT group entities (CONFIG_RT_GROUP_SCHED) are not followed */
			if (!my_q)
				add_task(w, rt_se - w->task_rt, "rt");
			if (vg_as_read_u64(&w->lx->kas, cur, &cur))
				w->broken = true;
		}
	}
}

static bool layout(struct sched_walk *w)
{
	struct vg_linux *lx = w->lx;
	int64_t qsz = vg_linux_btf_sizeof(lx, "rt_prio_array", "queue");

	w->rq_curr = vg_linux_btf_offset(lx, "rq", "curr");
	w->rq_idle = vg_linux_btf_offset(lx, "rq", "idle");
	w->rq_cfs = vg_linux_btf_offset(lx, "rq", "cfs");
	w->rq_rt = vg_linux_btf_offset(lx, "rq", "rt");
	w->cfs_timeline = vg_linux_btf_offset(lx, "cfs_rq", "tasks_timeline");
	w->cfs_curr = vg_linux_btf_offset(lx, "cfs_rq", "curr");
	w->se_run_node = vg_linux_btf_offset(lx, "sched_entity", "run_node");
	w->se_my_q = vg_linux_btf_offset(lx, "sched_entity", "my_q");
	w->task_se = vg_linux_btf_offset(lx, "task_struct", "se");
	w->rt_active_queue = vg_linux_btf_offset(lx, "rt_rq", "active");
	w->rt_se_run_list = vg_linux_btf_offset(lx, "sched_rt_entity", "run_list");
	w->rt_se_my_q = vg_linux_btf_offset(lx, "sched_rt_entity", "my_q");
	w->task_rt = vg_linux_btf_offset(lx, "task_struct", "rt");
	if (w->rt_active_queue >= 0 && vg_linux_btf_offset(lx, "rt_prio_array", "queue") >= 0)
		w->rt_active_queue += vg_linux_btf_offset(lx, "rt_prio_array", "queue");
	else
		w->rt_active_queue = -1;
	w->rt_nqueues = qsz > 0 && qsz / 16 <= RT_MAX_PRIO ? (int)(qsz / 16) : 0;
	/* rb_root_cached begins with the rb_root; rb_node is {parent_color, right, left} */
	return w->rq_curr >= 0 && w->rq_idle >= 0 && w->rq_cfs >= 0 && w->cfs_timeline >= 0 &&
	       w->cfs_curr >= 0 && w->se_run_node >= 0 && w->task_se >= 0 &&
	       vg_linux_btf_offset(lx, "rb_node", "rb_right") == 8 &&
	       vg_linux_btf_offset(lx, "rb_node", "rb_left") == 16;
}

void vg_ids_gather_sched(struct vg_linux *lx, struct vg_snapshot *s)
{
	struct sched_walk w = { .lx = lx, .s = s };
	uint64_t runqueues, offsets, online, nr_sym;
	uint32_t nr_cpus;
	bool rt;

	if (!layout(&w) || vg_linux_sym(lx, "runqueues", &runqueues) ||
	    vg_linux_sym(lx, "__per_cpu_offset", &offsets) ||
	    vg_linux_sym(lx, "__cpu_online_mask", &online) ||
	    vg_linux_sym(lx, "nr_cpu_ids", &nr_sym)) {
		vg_ids_note(s, "scheduler layout unknown");
		return;
	}
	rt = w.rq_rt >= 0 && w.rt_active_queue >= 0 && w.rt_se_run_list >= 0 && w.task_rt >= 0 &&
	     w.rt_nqueues > 0;
	s->sched = calloc(VG_IDS_MAX_SCHED, sizeof(*s->sched));
	if (!s->sched || vg_as_read_u32(&lx->kas, nr_sym, &nr_cpus) || !nr_cpus ||
	    nr_cpus > MAX_CPUS) {
		vg_ids_note(s, "scheduler: CPU count unreadable");
		return;
	}
	for (uint32_t cpu = 0; cpu < nr_cpus && !w.broken; cpu++) {
		uint64_t word, off, rq, curr;

		if (vg_as_read_u64(&lx->kas, online + 8 * (cpu / 64), &word)) {
			w.broken = true;
			break;
		}
		if (!(word >> (cpu % 64) & 1))
			continue;
		w.cpu = (int)cpu;
		if (vg_as_read_u64(&lx->kas, offsets + 8ull * cpu, &off) ||
		    !vg_ids_kptr(rq = runqueues + off) ||
		    vg_as_read_u64(&lx->kas, rq + w.rq_idle, &w.idle) ||
		    vg_as_read_u64(&lx->kas, rq + w.rq_curr, &curr)) {
			w.broken = true;
			break;
		}
		add_task(&w, curr, "curr");
		walk_cfs(&w, rq + w.rq_cfs, 0);
		if (rt)
			walk_rt(&w, rq);
	}
	if (w.broken) {
		vg_ids_note(s, "scheduler run queues broken");
		return;
	}
	s->have_sched = true;
}
