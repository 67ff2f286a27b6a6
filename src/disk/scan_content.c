// SPDX-License-Identifier: MIT
/*
 * The content pass: every regular file that anything needs is read once, by this thread
 * (sources are not thread-safe), and handed to the checks that asked for it; hashing
 * (BLAKE2b) and YARA, which cost far more than reading, run on worker threads fed through a
 * small pool of buffers. The bytes in flight are bounded. Buffers are kept for the whole
 * scan and backed by huge pages: on a virtualised host a fresh 4 KiB page costs about 12 us
 * to fault in, which for freshly allocated per-file buffers cost more than reading the data
 * (1.2 s of 2.5 s CPU for 430 MB here). Buffers over KEEP_BUFFER are given back after use.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "scan_int.h"

#define MAX_WORKERS 4
#define INFLIGHT_BUDGET (512ull << 20)
#define KEEP_BUFFER (64u << 20)
#define HUGE_PAGE (2u << 20)

struct job {
	uint32_t idx;
	uint8_t *buf;
	size_t cap, len;
};

struct pool {
	struct vg_scan *c;
	pthread_mutex_t lock;
	pthread_cond_t work, freed;
	struct job *jobs;
	int njobs;
	int *free, nfree;
	int *queue, qhead, qcount;
	uint64_t inflight;
	bool done, hash, yara;
};

struct yctx {
	struct vg_scan *c;
	const struct vg_fent *e;
};

static enum vg_severity yara_severity(const char *s)
{
	enum vg_severity sev = VG_SEV_HIGH;

	if (s)
		vg_severity_parse(s, &sev);
	return sev;
}

static void on_yara(void *ctx, const struct vg_yara_match *m)
{
	struct yctx *y = ctx;
	const char *path = vg_fent_path(y->c->t, y->e);
	char *attack = m->attack ? strdup(m->attack) : NULL;
	struct vg_json j;

	if (vg_ev_open(&j)) {
		free(attack);
		return;
	}
	vg_json_kstr(&j, "path", path);
	vg_json_kstr(&j, "rule", m->rule);
	vg_json_kstr(&j, "namespace", m->ns);
	if (m->tags && *m->tags)
		vg_json_kstr(&j, "tags", m->tags);
	if (m->description)
		vg_json_kstr(&j, "description", m->description);
	vg_json_key(&j, "strings");
	vg_json_arr_open(&j);
	for (int i = 0; i < m->nstrings; i++) {
		vg_json_obj_open(&j);
		vg_json_kstr(&j, "id", m->strings[i]);
		vg_json_kuint(&j, "offset", m->offsets[i]);
		vg_json_obj_close(&j);
	}
	vg_json_arr_close(&j);
	vg_json_kuint(&j, "size", y->e->size);
	/* the technique comes from the rule's own metadata: the finding owns the string */
	vg_scan_add_owned(y->c, "yara-match", yara_severity(m->severity), attack, NULL, path, &j,
			  "YARA rule %s matched %s%s%s", m->rule, path, m->description ? ": " : "",
			  m->description ? m->description : "");
}

/* Hash and YARA for one file (a worker's part). */
static void digest(struct pool *p, struct vg_yara_scanner *ys, const struct job *j)
{
	struct vg_scan *c = p->c;
	const struct vg_fent *e = &c->t->v[j->idx];
	struct vg_err err = { 0 };

	if (p->hash) {
		crypto_generichash(c->out->hash[j->idx], 32, j->buf, j->len, NULL, 0);
		c->out->hashed[j->idx] = 1;
	}
	if (p->yara) {
		struct yctx y = { .c = c, .e = e };

		if (!ys)
			vg_scan_add(c, "fs-anomaly", VG_SEV_LOW, NULL, NULL, vg_fent_path(c->t, e),
				    NULL, "YARA could not scan %s: out of memory",
				    vg_fent_path(c->t, e));
		else if (vg_yara_scan(ys, j->buf, j->len, on_yara, &y, &err))
			vg_scan_add(c, "fs-anomaly", VG_SEV_LOW, NULL, NULL, vg_fent_path(c->t, e),
				    NULL, "YARA could not scan %s: %s", vg_fent_path(c->t, e),
				    err.msg);
	}
}

static void drop_buffer(struct job *j)
{
	if (j->buf)
		munmap(j->buf, j->cap);
	j->buf = NULL;
	j->cap = 0;
}

/* Room for LEN bytes in J's buffer: whole huge pages, mapped once and then reused. */
static int grow_buffer(struct job *j, size_t len)
{
	size_t cap = len < HUGE_PAGE ? HUGE_PAGE : (len + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
	void *b;

	if (j->buf && j->cap >= len)
		return 0;
	drop_buffer(j);
	b = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		return -ENOMEM;
	madvise(b, cap, MADV_HUGEPAGE);
	j->buf = b;
	j->cap = cap;
	return 0;
}

static void give_back(struct pool *p, int k)
{
	struct job *j = &p->jobs[k];

	p->inflight -= j->len;
	if (j->cap > KEEP_BUFFER)
		drop_buffer(j);
	p->free[p->nfree++] = k;
	pthread_cond_signal(&p->freed);
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	struct vg_yara_scanner *ys = NULL;
	struct vg_err err = { 0 };

	if (p->yara)
		vg_yara_scanner_open(p->c->o->yara, &ys, &err);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		int k;

		while (!p->qcount && !p->done)
			pthread_cond_wait(&p->work, &p->lock);
		if (!p->qcount)
			break;
		k = p->queue[p->qhead];
		p->qhead = (p->qhead + 1) % p->njobs;
		p->qcount--;
		pthread_mutex_unlock(&p->lock);
		digest(p, ys, &p->jobs[k]);
		pthread_mutex_lock(&p->lock);
		give_back(p, k);
	}
	pthread_mutex_unlock(&p->lock);
	vg_yara_scanner_close(ys);
	return NULL;
}

/* A free buffer with room for LEN bytes, waiting for the workers when the pool or the
 * in-flight budget is exhausted; -1 when out of memory. */
static int take(struct pool *p, size_t len)
{
	struct job *j;
	int k;

	pthread_mutex_lock(&p->lock);
	while (!p->nfree || (p->inflight && p->inflight + len > INFLIGHT_BUDGET))
		pthread_cond_wait(&p->freed, &p->lock);
	k = p->free[--p->nfree];
	p->inflight += len;
	pthread_mutex_unlock(&p->lock);
	j = &p->jobs[k];
	j->len = len;
	if (grow_buffer(j, len)) {
		pthread_mutex_lock(&p->lock);
		give_back(p, k);
		pthread_mutex_unlock(&p->lock);
		return -1;
	}
	return k;
}

static void read_one(struct pool *p, uint32_t i, size_t w0, size_t w1)
{
	struct vg_scan *c = p->c;
	const struct vg_fent *e = &c->t->v[i];
	struct vg_err err = { 0 };
	struct job *j;
	struct vg_json ev;
	int k = take(p, (size_t)e->size);

	if (k < 0) {
		c->ret = -ENOMEM;
		return;
	}
	j = &p->jobs[k];
	j->idx = i;
	if (vg_fsrc_read(c->src, e, j->buf, j->len, &err)) {
		if (!vg_ev_open(&ev)) {
			vg_ev_entry(&ev, c->t, e);
			vg_json_kstr(&ev, "error", err.msg);
			vg_scan_add(c, "fs-anomaly", VG_SEV_MEDIUM, NULL, NULL,
				    vg_fent_path(c->t, e), &ev, "%s cannot be read: %s",
				    vg_fent_path(c->t, e), err.msg);
		}
		j->len = (size_t)e->size; /* what take() counted in */
		pthread_mutex_lock(&p->lock);
		give_back(p, k);
		pthread_mutex_unlock(&p->lock);
		return;
	}
	c->out->stats.files_read++;
	c->out->stats.bytes_read += j->len;
	for (size_t w = w0; w < w1; w++)
		c->wants[w].fn(c, i, j->buf, j->len, c->wants[w].arg);
	pthread_mutex_lock(&p->lock);
	if (p->hash || p->yara) {
		p->queue[(p->qhead + p->qcount) % p->njobs] = k;
		p->qcount++;
		pthread_cond_signal(&p->work);
	} else {
		give_back(p, k);
	}
	pthread_mutex_unlock(&p->lock);
}

static int cmp_want(const void *a, const void *b)
{
	const struct vg_want *x = a, *y = b;

	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void feed(struct pool *p)
{
	struct vg_scan *c = p->c;
	uint64_t max = c->o->max_file ? c->o->max_file : VG_DISK_MAX_FILE_DEFAULT;
	bool all = p->hash || p->yara;
	size_t w = 0;

	qsort(c->wants, c->nwants, sizeof(*c->wants), cmp_want);
	for (uint32_t i = 0; i < c->t->n && !c->ret; i++) {
		const struct vg_fent *e = &c->t->v[i];
		size_t w0 = w;

		while (w < c->nwants && c->wants[w].idx == i)
			w++;
		if (!S_ISREG(e->mode) || (!all && w == w0))
			continue;
		if (e->size > max || e->size > SIZE_MAX / 2) {
			c->out->stats.too_large++;
			if (w > w0)
				vg_scan_add(
					c, "fs-anomaly", VG_SEV_LOW, NULL, NULL,
					vg_fent_path(c->t, e), NULL,
					"%s (%llu bytes) is over the %llu-byte limit: its checks "
					"did not run",
					vg_fent_path(c->t, e), (unsigned long long)e->size,
					(unsigned long long)max);
			continue;
		}
		read_one(p, i, w0, w);
	}
}

static int workers_wanted(const struct vg_disk_scan_opts *o)
{
	long n = o->threads > 0 ? o->threads : sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

void vg_scan_content(struct vg_scan *c)
{
	struct pool p = { .c = c };
	pthread_t tids[MAX_WORKERS];
	int nw = workers_wanted(c->o), started = 0;

	/* no sodium_init(): it switches BLAKE2b to its AVX2 code, which measures 40% slower on
	 * this project's (virtualised) machines than the portable code it starts with (600 vs
	 * 1000 MB per CPU second); hashing needs nothing else sodium_init sets up */
	p.hash = c->o->hash;
	p.yara = c->o->yara && vg_scan_on(c, "yara-match");
	p.njobs = 2 * nw + 2;
	p.jobs = calloc((size_t)p.njobs, sizeof(*p.jobs));
	p.free = calloc((size_t)p.njobs, sizeof(*p.free));
	p.queue = calloc((size_t)p.njobs, sizeof(*p.queue));
	if (!p.jobs || !p.free || !p.queue) {
		c->ret = -ENOMEM;
		goto out;
	}
	for (int k = 0; k < p.njobs; k++)
		p.free[p.nfree++] = k;
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.work, NULL);
	pthread_cond_init(&p.freed, NULL);
	c->lock = &p.lock;
	for (int k = 0; (p.hash || p.yara) && k < nw; k++)
		if (!pthread_create(&tids[k], NULL, worker, &p))
			started++;
	if ((p.hash || p.yara) && !started)
		c->ret = -EAGAIN;
	else
		feed(&p);
	pthread_mutex_lock(&p.lock);
	p.done = true;
	pthread_cond_broadcast(&p.work);
	pthread_mutex_unlock(&p.lock);
	for (int k = 0; k < started; k++)
		pthread_join(tids[k], NULL);
	c->lock = NULL;
	pthread_cond_destroy(&p.work);
	pthread_cond_destroy(&p.freed);
	pthread_mutex_destroy(&p.lock);
out:
	for (int k = 0; p.jobs && k < p.njobs; k++)
		drop_buffer(&p.jobs[k]);
	free(p.jobs);
	free(p.free);
	free(p.queue);
}
