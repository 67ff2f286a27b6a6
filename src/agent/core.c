// SPDX-License-Identifier: MIT
/*
 * The agent core: recorder records -> modules, tokens and per-thread folded streams, and the
 * adaptive batching that turns them into batches (format in vigil/sysbatch.h).
 *
 * Definitions (modules, tokens) go into a batch when the batch uses them and no acknowledged
 * batch carried them yet, so every batch the gateway accepts can be decoded from what it has
 * acknowledged plus the batch itself, whatever was lost or repeated on the way.
 *
 * Interval: after a batch with something new (a token, module or process), the next one goes
 * out after min_interval; after a batch with nothing new, after twice the last interval, up to
 * max_interval. A batch also goes out early when a megabyte of items waits.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "agent_int.h"
#include "vigil/clock.h"
#include "vigil/util.h"

/* the recorder's layout is the batch format's (sysmon.h and sysbatch.h must agree) */
_Static_assert(SM_WINDOW == VG_SB_WINDOW && SM_NCAND == VG_SB_MAX_CAND, "stack window");
_Static_assert((int)SM_K_FILE == (int)VG_SB_K_FILE && (int)SM_K_ANON == (int)VG_SB_K_ANON &&
		       (int)SM_K_VDSO == (int)VG_SB_K_VDSO &&
		       (int)SM_K_NOVMA == (int)VG_SB_K_NOVMA && (int)SM_K_DATA == (int)VG_SB_K_DATA,
	       "location kinds");

#define MIN_INTERVAL 100
#define MAX_INTERVAL 5000
#define EARLY_ITEMS (256u << 10)

int vg_ag_core_init(struct ag_core *c, const struct vg_agent_opts *o, struct vg_agent_stats *st,
		 struct vg_err *err)
{
	int r;

	memset(c, 0, sizeof(*c));
	c->o = o;
	c->st = st;
	if (vg_ag_tokens_init(&c->tokens))
		return vg_errf(err, EIO, "libsodium could not be initialised");
	randombytes_buf(&c->boot, sizeof(c->boot));
	c->interval_ms = o->min_interval_ms ? o->min_interval_ms : MIN_INTERVAL;
	c->next_flush_ms = vg_mono_ms() + c->interval_ms;
	c->launcher = -1;
	c->root = -1;
	r = vg_ag_uplink_open(&c->up, o, c->boot, st, err);
	return r;
}

static struct ag_thread *thread_of(struct ag_core *c, uint32_t tid, uint32_t pid)
{
	uint32_t i = vg_ag_map_get(&c->threads, tid);

	if (i != AG_NONE)
		return &c->th[i];
	if (c->nth == c->capth) {
		uint32_t cap = c->capth ? c->capth * 2 : 16;
		void *p = realloc(c->th, cap * sizeof(*c->th));

		if (!p)
			return NULL;
		c->th = p;
		c->capth = cap;
	}
	if (vg_ag_map_put(&c->threads, tid, c->nth))
		return NULL;
	memset(&c->th[c->nth], 0, sizeof(c->th[0]));
	c->th[c->nth].tid = tid;
	c->th[c->nth].pid = pid;
	c->th[c->nth].last = AG_NONE;
	c->st->threads++;
	return &c->th[c->nth++];
}

static struct ag_proc *proc_of(struct ag_core *c, uint32_t pid, bool *created)
{
	uint32_t i = vg_ag_map_get(&c->procs, pid);

	*created = false;
	if (i != AG_NONE)
		return &c->pr[i];
	if (c->npr == c->cappr) {
		uint32_t cap = c->cappr ? c->cappr * 2 : 16;
		void *p = realloc(c->pr, cap * sizeof(*c->pr));

		if (!p)
			return NULL;
		c->pr = p;
		c->cappr = cap;
	}
	if (vg_ag_map_put(&c->procs, pid, c->npr))
		return NULL;
	c->pr[c->npr] = (struct ag_proc){ .pid = pid };
	c->live++;
	c->st->processes++;
	c->novel = true;
	*created = true;
	return &c->pr[c->npr++];
}

static int push_u32(uint32_t **v, uint32_t *n, uint32_t *cap, uint32_t x)
{
	if (*n == *cap) {
		uint32_t nc = *cap ? *cap * 2 : 64;
		void *p = realloc(*v, nc * sizeof(**v));

		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = nc;
	}
	(*v)[(*n)++] = x;
	return 0;
}

static bool acked(const struct ag_core *c, uint64_t sent_seq)
{
	return sent_seq != UINT64_MAX && sent_seq < c->up.acked;
}

/* Makes sure module M can be referred to in the batch being built. */
static int use_module(struct ag_core *c, uint32_t m)
{
	struct ag_module *md = &c->files.mods[m];

	if (md->used_seq == c->up.next_seq)
		return 0;
	md->used_seq = c->up.next_seq;
	if (acked(c, md->sent_seq))
		return 0;
	if (md->sent_seq == UINT64_MAX && !md->counted) {
		md->counted = true;
		c->st->modules++;
		c->novel = true;
	}
	md->sent_seq = c->up.next_seq;
	return push_u32(&c->defmods, &c->ndefmods, &c->capdefmods, m);
}

static int use_token(struct ag_core *c, uint32_t id)
{
	struct ag_token *t = &c->tokens.v[id];
	int r = 0;

	if (t->used_seq == c->up.next_seq)
		return 0;
	t->used_seq = c->up.next_seq;
	if (acked(c, t->sent_seq))
		return 0;
	t->sent_seq = c->up.next_seq;
	if (t->t.ip.kind == VG_SB_K_FILE)
		r = use_module(c, t->t.ip.module);
	for (uint8_t i = 0; i < t->t.ncand && !r; i++)
		if (t->t.cand[i].kind == VG_SB_K_FILE)
			r = use_module(c, t->t.cand[i].module);
	return r ? r : push_u32(&c->deftoks, &c->ndeftoks, &c->capdeftoks, id);
}

static uint32_t module_of(struct ag_core *c, const struct sm_loc *l, uint32_t pid)
{
	uint32_t m = vg_ag_files_module(&c->files, l->dev, l->ino, (pid_t)pid);

	return m;
}

static void loc_of(struct ag_core *c, struct vg_sb_loc *out, const struct sm_loc *l, uint32_t pid)
{
	out->kind = l->kind;
	out->word = l->word;
	out->off = l->off;
	out->module = 0;
	if (l->kind == SM_K_FILE) {
		uint32_t m = module_of(c, l, pid);

		if (m == AG_NONE)
			out->kind = SM_K_NOVMA; /* out of memory: say "unknown" rather than lie */
		else
			out->module = m;
	}
}

static int on_sys(struct ag_core *c, const struct sm_sys *r, size_t len)
{
	struct vg_sb_token t = { 0 };
	struct ag_thread *th;
	struct ag_proc *p;
	bool created, is_new;
	uint32_t id;
	int rc;

	if (len < SM_SYS_HDR_LEN || (size_t)SM_SYS_HDR_LEN + r->pathlen > len ||
	    r->pathlen > SM_PATH_MAX)
		return 0;
	if ((pid_t)r->tgid == c->launcher)
		return 0;
	p = proc_of(c, r->tgid, &created);
	th = thread_of(c, r->tid, r->tgid);
	if (!p || !th)
		return -ENOMEM;
	if (r->flags & SM_F_LOST) {
		/* the gap must sit between batches: finish this one if the thread is in it */
		if (th->nitems) {
			if ((rc = vg_ag_core_flush(c, true, false, NULL)))
				return rc;
			th = thread_of(c, r->tid, r->tgid); /* the flush moved the threads */
			if (!th)
				return -ENOMEM;
		}
		th->gap++;
		th->last = AG_NONE;
		c->novel = true;
	}
	t.nr = r->nr;
	t.argkey = r->argkey;
	t.unres = r->unres;
	if (r->pathlen)
		t.pathhash =
			(uint32_t)vg_fnv64(r->path, strnlen(r->path, r->pathlen), VG_FNV64_INIT);
	loc_of(c, &t.ip, &r->ip, r->tgid);
	for (int i = 0; i < SM_NCAND && r->cand[i].kind; i++) {
		loc_of(c, &t.cand[i], &r->cand[i], r->tgid);
		t.ncand++;
	}
	id = vg_ag_tokens_intern(&c->tokens, &t, &is_new);
	if (id == AG_NONE)
		return -ENOMEM;
	if (is_new) {
		c->st->tokens++;
		c->novel = true;
	}
	if ((rc = use_token(c, id)))
		return rc;
	c->items++;
	return vg_ag_reduce_event(th, id);
}

static int on_repeat(struct ag_core *c, const struct sm_repeat *r)
{
	uint32_t i = vg_ag_map_get(&c->threads, r->tid);

	if ((pid_t)r->tgid == c->launcher || i == AG_NONE || c->th[i].last == AG_NONE)
		return 0;
	if (!c->th[i].nitems)
		/* a new batch: the folded token is named again in it */
		use_token(c, c->th[i].last);
	c->items++;
	return vg_ag_reduce_repeat(&c->th[i], r->count);
}

static int on_fork(struct ag_core *c, const struct sm_fork *r)
{
	bool created;

	if ((pid_t)r->parent_tgid == c->launcher)
		return 0;
	c->items++;
	if (r->child_tgid == r->parent_tgid) {
		vg_sb_enc_thread(&c->meta, r->child_tid, r->child_tgid, r->parent_tid);
		return thread_of(c, r->child_tid, r->child_tgid) ? 0 : -ENOMEM;
	}
	vg_sb_enc_proc(&c->meta, r->child_tgid, r->parent_tgid, r->parent_tid);
	return proc_of(c, r->child_tgid, &created) ? 0 : -ENOMEM;
}

static int on_exec(struct ag_core *c, const struct sm_exec *r, size_t len)
{
	struct sm_loc l = { .kind = SM_K_FILE, .dev = r->dev, .ino = r->ino };
	char path[SM_PATH_MAX + 1];
	size_t n = r->pathlen < SM_PATH_MAX ? r->pathlen : SM_PATH_MAX;
	uint32_t m;
	bool created;

	if (len < sizeof(*r) - SM_PATH_MAX + n)
		return 0;
	if ((pid_t)r->tgid == c->launcher) {
		c->launcher = -1; /* from here on it is the program */
		vg_sb_enc_proc(&c->meta, r->tgid, (uint32_t)getpid(), 0);
	}
	if (!proc_of(c, r->tgid, &created))
		return -ENOMEM;
	memcpy(path, r->path, n);
	path[n] = 0;
	m = module_of(c, &l, r->tgid);
	if (m == AG_NONE || use_module(c, m))
		return -ENOMEM;
	vg_sb_enc_exec(&c->meta, r->tgid, m, path);
	c->items++;
	c->novel = true;
	return 0;
}

static int on_exit_rec(struct ag_core *c, const struct sm_exit *r)
{
	uint32_t i = vg_ag_map_get(&c->threads, r->tid), p;

	if (i != AG_NONE)
		c->th[i].exited = true;
	if (!r->group_dead)
		return 0;
	if ((pid_t)r->tgid == c->root)
		c->root_exited = true;
	p = vg_ag_map_get(&c->procs, r->tgid);
	if (p != AG_NONE && !c->pr[p].exited) {
		c->pr[p].exited = true;
		c->live--;
	}
	if ((pid_t)r->tgid != c->launcher) {
		vg_sb_enc_exit(&c->meta, r->tgid);
		c->items++;
	}
	return 0;
}

int vg_ag_core_record(struct ag_core *c, const void *rec, size_t len)
{
	uint32_t type;
	int r = 0;

	if (len < sizeof(type))
		return 0;
	memcpy(&type, rec, sizeof(type));
	c->st->records++;
	switch (type) {
	case SM_SYS:
		r = on_sys(c, rec, len);
		break;
	case SM_REPEAT:
		if (len >= sizeof(struct sm_repeat))
			r = on_repeat(c, rec);
		break;
	case SM_FILE:
		r = vg_ag_files_name(&c->files, rec, len);
		break;
	case SM_FORK:
		if (len >= sizeof(struct sm_fork))
			r = on_fork(c, rec);
		break;
	case SM_EXEC:
		r = on_exec(c, rec, len);
		break;
	case SM_EXIT:
		if (len >= sizeof(struct sm_exit))
			r = on_exit_rec(c, rec);
		break;
	}
	if (!r && c->items >= EARLY_ITEMS)
		r = vg_ag_core_flush(c, true, false, NULL);
	return r;
}

uint32_t vg_ag_core_module_path(struct ag_core *c, uint32_t dev, uint64_t ino, const char *path)
{
	return vg_ag_files_module_path(&c->files, dev, ino, path);
}

static void encode(struct ag_core *c, struct vg_sb_enc *e, bool final)
{
	vg_sb_enc_begin(e, c->o->device, c->boot, c->up.next_seq, vg_wall_us(),
			final ? VG_SB_F_FINAL : 0);
	for (uint32_t i = 0; i < c->ndefmods; i++)
		vg_sb_enc_module(e, &c->files.mods[c->defmods[i]].m);
	for (uint32_t i = 0; i < c->ndeftoks; i++) {
		struct vg_sb_token t = c->tokens.v[c->deftoks[i]].t;

		t.id = c->deftoks[i];
		vg_sb_enc_token(e, &t);
	}
	vg_sb_enc_raw(e, c->meta.buf, c->meta.len);
	for (uint32_t i = 0; i < c->nth; i++) {
		struct ag_thread *th = &c->th[i];

		if (th->gap)
			vg_sb_enc_gap(e, th->tid, th->gap);
		vg_ag_reduce_finish(th);
		if (!th->nitems)
			continue;
		vg_sb_enc_events(e, th->tid, th->nitems);
		for (uint32_t k = 0; k < th->nitems; k++)
			vg_sb_enc_item(e, th->items[k]);
	}
	vg_sb_enc_stats(e, c->counters[SM_ST_EVENTS], c->counters[SM_ST_DROPPED]);
}

/* Forgets the batch just made: threads that ended go, the others start empty. */
static void reset_batch(struct ag_core *c)
{
	uint32_t w = 0;

	vg_ag_map_free(&c->threads);
	for (uint32_t i = 0; i < c->nth; i++) {
		struct ag_thread th = c->th[i];

		if (th.exited) {
			free(th.items);
			continue;
		}
		vg_ag_reduce_reset(&th);
		th.gap = 0;
		c->th[w] = th;
		vg_ag_map_put(&c->threads, th.tid, w++);
	}
	c->nth = w;
	c->meta.len = 0;
	c->ndefmods = c->ndeftoks = 0;
	c->items = 0;
}

int vg_ag_core_flush(struct ag_core *c, bool force, bool final, struct vg_err *err)
{
	struct vg_err local = { 0 };
	struct vg_sb_enc e = { 0 };
	uint64_t now = vg_mono_ms(), max, min;
	int r;

	if (!err)
		err = &local;
	if (!force && !final && now < c->next_flush_ms)
		return 0;
	if (c->up.reset_defs) {
		/* the gateway forgot our definitions: a batch uses only what it carries again */
		for (uint32_t i = 0; i < c->files.nmods; i++)
			c->files.mods[i].sent_seq = UINT64_MAX;
		for (uint32_t i = 0; i < c->tokens.n; i++)
			c->tokens.v[i].sent_seq = UINT64_MAX;
		c->up.reset_defs = false;
	}
	if (c->read_counters)
		c->read_counters(c->counters_ctx, c->counters);
	c->st->syscalls = c->counters[SM_ST_EVENTS];
	c->st->dropped = c->counters[SM_ST_DROPPED];
	if (vg_sb_enc_status(&c->meta))
		return vg_errf(err, ENOMEM, "out of memory");
	encode(c, &e, final);
	if ((r = vg_sb_enc_status(&e))) {
		vg_sb_enc_free(&e);
		return vg_errf(err, ENOMEM, "out of memory making a batch");
	}
	r = vg_ag_uplink_push(&c->up, c->up.next_seq, e.buf, e.len, err);
	c->up.next_seq++;
	reset_batch(c);
	min = c->o->min_interval_ms ? c->o->min_interval_ms : MIN_INTERVAL;
	max = c->o->max_interval_ms ? c->o->max_interval_ms : MAX_INTERVAL;
	c->interval_ms = c->novel ? min : c->interval_ms * 2 > max ? max : c->interval_ms * 2;
	c->novel = false;
	c->next_flush_ms = now + c->interval_ms;
	return r;
}

void vg_ag_core_free(struct ag_core *c)
{
	vg_ag_uplink_close(&c->up);
	vg_ag_files_free(&c->files);
	vg_ag_tokens_free(&c->tokens);
	for (uint32_t i = 0; i < c->nth; i++)
		free(c->th[i].items);
	free(c->th);
	free(c->pr);
	vg_ag_map_free(&c->threads);
	vg_ag_map_free(&c->procs);
	vg_sb_enc_free(&c->meta);
	free(c->defmods);
	free(c->deftoks);
}
