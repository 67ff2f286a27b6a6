// SPDX-License-Identifier: MIT
/*
 * The /proc view's snapshot (procview.h): its parts are read on first use, so `lsmod` never
 * walks the task list and `ps` never walks the socket tables; a snapshot older than the TTL is
 * dropped at the next request.
 *
 * Hidden tasks: after the task list, the PID allocator and the run queues are read (the IDS's
 * own views, vigil/ids.h); a task either holds that the task list (with threads) lacks is read
 * by address and added, marked with where it was found.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/clock.h"
#include "vigil/ids.h"
#include "vigil/util.h"
#include "pv_int.h"

#define DEFAULT_TTL_MS 1000

static void snap_free(struct pv_snap *s)
{
	for (int b = 0; b < PV_TEXT_BUCKETS; b++) {
		for (struct pv_text *x = s->texts[b], *next; x; x = next) {
			next = x->next;
			free(x->path);
			free(x->buf);
			free(x);
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		free(s->tasks[i].t.cmdline);
		free(s->tasks[i].t.exe);
		free(s->tasks[i].fds);
	}
	free(s->tasks);
	vg_modules_free(&s->mods);
	vg_sockets_free(&s->socks);
	vg_mounts_free(&s->mounts);
	memset(s, 0, sizeof(*s));
}

/* A new look when the old one has expired; the first request of a look starts its clock. */
static void fresh(struct vg_procview *pv)
{
	uint64_t now = vg_mono_ms();

	if (pv->s.taken_ms && now - pv->s.taken_ms < (uint64_t)pv->ttl_ms)
		return;
	if (pv->s.taken_ms) {
		snap_free(&pv->s);
		vg_as_flush(&pv->lx->kas);
	}
	pv->s.taken_ms = now;
	pv->s.serial = ++pv->serial;
}

static int cmp_pid(const void *a, const void *b)
{
	const struct pv_task *x = a, *y = b;

	return x->t.pid < y->t.pid ? -1 : x->t.pid > y->t.pid;
}

static bool known(const struct pv_snap *s, uint64_t task)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->tasks[i].t.addr == task)
			return true;
	return false;
}

static int push_task(struct pv_snap *s, size_t *cap, const struct vg_task *t, const char *how)
{
	if (s->n == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		struct pv_task *p = realloc(s->tasks, c * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->tasks = p;
		*cap = c;
	}
	memset(&s->tasks[s->n], 0, sizeof(s->tasks[0]));
	s->tasks[s->n].t = *t;
	s->tasks[s->n].hidden = how != NULL;
	s->tasks[s->n].how = how;
	s->n++;
	s->nhidden += how != NULL;
	return 0;
}

static void add_hidden(struct vg_procview *pv, size_t *cap, uint64_t task, const char *how)
{
	struct vg_task t;

	if (!task || known(&pv->s, task) || vg_task_read(pv->lx, task, NULL, &t))
		return;
	if (push_task(&pv->s, cap, &t, how)) {
		free(t.cmdline);
		free(t.exe);
	}
}

int vg_pv_tasks(struct vg_procview *pv)
{
	struct vg_task_opts to = { .threads = true };
	struct vg_task_list tl;
	struct vg_snapshot other = { 0 };
	struct vg_err err = { 0 };
	size_t cap = 0;
	int ret;

	fresh(pv);
	if (pv->s.have_tasks)
		return 0;
	ret = vg_tasks_list(pv->lx, &to, &tl, &err);
	if (ret)
		return ret;
	for (size_t i = 0; i < tl.n; i++) {
		if (push_task(&pv->s, &cap, &tl.v[i], NULL)) {
			/* what was not taken over is freed with the list */
			tl.v += i;
			tl.n -= i;
			vg_tasks_free(&tl);
			return -ENOMEM;
		}
	}
	free(tl.v);
	vg_ids_gather_pids(pv->lx, &other);
	vg_ids_gather_sched(pv->lx, &other);
	for (size_t i = 0; i < other.npids; i++)
		add_hidden(pv, &cap, other.pids[i].task, "pid allocator");
	for (size_t i = 0; i < other.nsched; i++)
		add_hidden(pv, &cap, other.sched[i].task, "run queue");
	vg_ids_snapshot_free(&other);
	qsort(pv->s.tasks, pv->s.n, sizeof(*pv->s.tasks), cmp_pid);
	pv->s.have_tasks = true;
	return 0;
}

struct pv_task *vg_pv_task(struct vg_procview *pv, int32_t pid)
{
	size_t lo = 0, hi;

	if (vg_pv_tasks(pv))
		return NULL;
	hi = pv->s.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pv->s.tasks[mid].t.pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < pv->s.n && pv->s.tasks[lo].t.pid == pid ? &pv->s.tasks[lo] : NULL;
}

const struct vg_task_extra *vg_pv_extra(struct vg_procview *pv, struct pv_task *t)
{
	if (!t->have_x) {
		vg_task_extra(pv->lx, &t->t, &t->x);
		vg_task_proc_name(pv->lx, &t->t, t->name, sizeof(t->name));
		t->have_x = true;
	}
	return &t->x;
}

static int add_fd(void *ctx, const struct vg_fd *f)
{
	struct pv_task *t = ctx;
	struct vg_fd *p;

	if (t->nfds == t->capfds) {
		size_t cap = t->capfds ? 2 * t->capfds : 8;

		p = realloc(t->fds, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		t->fds = p;
		t->capfds = cap;
	}
	t->fds[t->nfds++] = *f;
	return 0;
}

int vg_pv_fds(struct vg_procview *pv, struct pv_task *t)
{
	int ret;

	if (t->have_fds)
		return 0;
	ret = vg_task_fds(pv->lx, &t->t, add_fd, t);
	t->have_fds = true;
	return ret == -ENOMEM ? ret : 0;
}

int vg_pv_modules(struct vg_procview *pv)
{
	struct vg_err err = { 0 };
	int ret;

	fresh(pv);
	if (pv->s.have_mods)
		return 0;
	ret = vg_modules_list(pv->lx, &pv->s.mods, &err);
	pv->s.have_mods = !ret;
	return ret;
}

int vg_pv_sockets(struct vg_procview *pv)
{
	struct vg_err err = { 0 };
	int ret;

	fresh(pv);
	if (pv->s.have_socks)
		return 0;
	ret = vg_sockets_list(pv->lx, &pv->s.socks, &err);
	pv->s.have_socks = !ret;
	return ret;
}

int vg_pv_mounts(struct vg_procview *pv)
{
	struct vg_err err = { 0 };
	int ret;

	fresh(pv);
	if (pv->s.have_mounts)
		return 0;
	ret = vg_mounts_list(pv->lx, &pv->s.mounts, &err);
	pv->s.have_mounts = !ret;
	return ret;
}

const struct vg_kstat *vg_pv_kstat(struct vg_procview *pv)
{
	fresh(pv);
	if (!pv->s.have_kstat) {
		vg_kstat_read(pv->lx, &pv->s.ks);
		pv->s.have_kstat = true;
	}
	return &pv->s.ks;
}

int vg_procview_new(struct vg_procview **out, struct vg_guest *g, const struct vg_procview_opts *o,
		    struct vg_err *err)
{
	struct vg_procview *pv;

	*out = NULL;
	if (!g->have_kernel)
		return vg_errf(err, EINVAL, "the guest's kernel has not been discovered");
	pv = calloc(1, sizeof(*pv));
	if (!pv)
		return vg_errf(err, ENOMEM, "out of memory");
	pv->g = g;
	pv->lx = &g->lx;
	pv->ttl_ms = o && o->ttl_ms > 0 ? o->ttl_ms : DEFAULT_TTL_MS;
	/* symbols are needed for the hidden-task views and the system files */
	if (vg_linux_load_symbols(pv->lx, err)) {
		free(pv);
		return -err->code;
	}
	*out = pv;
	return 0;
}

void vg_procview_free(struct vg_procview *pv)
{
	if (!pv)
		return;
	snap_free(&pv->s);
	free(pv);
}
