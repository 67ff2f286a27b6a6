// SPDX-License-Identifier: MIT
/*
 * The content pass: every regular file that anything needs is read once and handed to the
 * checks that asked for it, then hashed (BLAKE2b) and scanned with YARA, which cost far
 * more than reading. N workers (one per CPU, the calling thread among them) each take the
 * next file, read it and run the checks' callbacks under one lock (sources and the checks'
 * state are not thread-safe; both are cheap), then hash and scan it on their own. No file
 * is handed between threads: on a busy machine each hand-off waits for the scheduler, which
 * for ten thousand small files cost more than the work (1.5 CPU seconds took 5 s of wall
 * time with a reader feeding workers).
 * Each worker keeps its buffer for the whole scan, backed by huge pages: on a virtualised
 * host a fresh 4 KiB page costs about 12 us to fault in, which for per-file buffers cost
 * more than reading the data (1.2 s of 2.5 s CPU for 430 MB here). A buffer over
 * KEEP_BUFFER is given back after its file.
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
#define KEEP_BUFFER (64u << 20)
#define HUGE_PAGE (2u << 20)

struct buffer {
	uint8_t *b;
	size_t cap;
};

struct pool {
	struct vg_scan *c;
	pthread_mutex_t lock; /* the source, the checks' callbacks, the cursor, the stats */
	uint32_t next;	      /* next entry to look at */
	size_t want;	      /* next want (sorted by entry) */
	uint64_t max;
	bool hash, yara;
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

/* Hash and YARA for entry I, read into BUF (a worker's own part, outside the lock). */
static void digest(struct pool *p, struct vg_yara_scanner *ys, uint32_t i, const uint8_t *buf,
		   size_t len)
{
	struct vg_scan *c = p->c;
	const struct vg_fent *e = &c->t->v[i];
	struct vg_err err = { 0 };

	if (p->hash) {
		crypto_generichash(c->out->hash[i], 32, buf, len, NULL, 0);
		c->out->hashed[i] = 1;
	}
	if (p->yara) {
		struct yctx y = { .c = c, .e = e };

		if (!ys)
			vg_scan_add(c, "fs-anomaly", VG_SEV_LOW, NULL, NULL, vg_fent_path(c->t, e),
				    NULL, "YARA could not scan %s: out of memory",
				    vg_fent_path(c->t, e));
		else if (vg_yara_scan(ys, buf, len, on_yara, &y, &err))
			vg_scan_add(c, "fs-anomaly", VG_SEV_LOW, NULL, NULL, vg_fent_path(c->t, e),
				    NULL, "YARA could not scan %s: %s", vg_fent_path(c->t, e),
				    err.msg);
	}
}

static void drop_buffer(struct buffer *b)
{
	if (b->b)
		munmap(b->b, b->cap);
	b->b = NULL;
	b->cap = 0;
}

/* Room for LEN bytes: whole huge pages, mapped once and then reused. */
static int grow_buffer(struct buffer *b, size_t len)
{
	size_t cap = len < HUGE_PAGE ? HUGE_PAGE : (len + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
	void *m;

	if (b->b && b->cap >= len)
		return 0;
	drop_buffer(b);
	m = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -ENOMEM;
	madvise(m, cap, MADV_HUGEPAGE);
	b->b = m;
	b->cap = cap;
	return 0;
}

static void unreadable(struct vg_scan *c, const struct vg_fent *e, const char *why)
{
	struct vg_json ev;

	if (vg_ev_open(&ev)) {
		c->ret = -ENOMEM;
		return;
	}
	vg_ev_entry(&ev, c->t, e);
	vg_json_kstr(&ev, "error", why);
	vg_scan_add(c, "fs-anomaly", VG_SEV_MEDIUM, NULL, NULL, vg_fent_path(c->t, e), &ev,
		    "%s cannot be read: %s", vg_fent_path(c->t, e), why);
}

/* Under the lock: the next entry to read (-1 when none is left), read into BUF, with the
 * checks that wanted it run. */
static long next_file(struct pool *p, struct buffer *buf)
{
	struct vg_scan *c = p->c;
	bool all = p->hash || p->yara;

	while (p->next < c->t->n && !c->ret) {
		uint32_t i = p->next++;
		const struct vg_fent *e = &c->t->v[i];
		size_t w0 = p->want, w;
		struct vg_err err = { 0 };

		while (p->want < c->nwants && c->wants[p->want].idx == i)
			p->want++;
		w = p->want;
		if (!S_ISREG(e->mode) || (!all && w == w0))
			continue;
		if (e->size > p->max || e->size > SIZE_MAX / 2) {
			c->out->stats.too_large++;
			if (w > w0)
				vg_scan_add(
					c, "fs-anomaly", VG_SEV_LOW, NULL, NULL,
					vg_fent_path(c->t, e), NULL,
					"%s (%llu bytes) is over the %llu-byte limit: its checks "
					"did not run",
					vg_fent_path(c->t, e), (unsigned long long)e->size,
					(unsigned long long)p->max);
			continue;
		}
		if (grow_buffer(buf, (size_t)e->size)) {
			c->ret = -ENOMEM;
			return -1;
		}
		if (vg_fsrc_read(c->src, e, buf->b, (size_t)e->size, &err)) {
			unreadable(c, e, err.msg);
			continue;
		}
		c->out->stats.files_read++;
		c->out->stats.bytes_read += e->size;
		for (size_t k = w0; k < w; k++)
			c->wants[k].fn(c, i, buf->b, (size_t)e->size, c->wants[k].arg);
		return i;
	}
	return -1;
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	struct vg_yara_scanner *ys = NULL;
	struct buffer buf = { 0 };
	struct vg_err err = { 0 };

	if (p->yara)
		vg_yara_scanner_open(p->c->o->yara, &ys, &err);
	for (;;) {
		long i;

		pthread_mutex_lock(&p->lock);
		i = next_file(p, &buf);
		pthread_mutex_unlock(&p->lock);
		if (i < 0)
			break;
		digest(p, ys, (uint32_t)i, buf.b, (size_t)p->c->t->v[i].size);
		if (buf.cap > KEEP_BUFFER)
			drop_buffer(&buf);
	}
	drop_buffer(&buf);
	vg_yara_scanner_close(ys);
	return NULL;
}

static int cmp_want(const void *a, const void *b)
{
	const struct vg_want *x = a, *y = b;

	return x->idx < y->idx ? -1 : x->idx > y->idx;
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
	p.max = c->o->max_file ? c->o->max_file : VG_DISK_MAX_FILE_DEFAULT;
	if (c->nwants)
		qsort(c->wants, c->nwants, sizeof(*c->wants), cmp_want);
	pthread_mutex_init(&p.lock, NULL);
	/* findings come from every worker: vg_scan_add takes this lock too, never while the
	 * pool's is held by the same thread (the checks' callbacks run under the pool's) */
	c->lock = malloc(sizeof(*c->lock));
	if (!c->lock) {
		c->ret = -ENOMEM;
		pthread_mutex_destroy(&p.lock);
		return;
	}
	pthread_mutex_init(c->lock, NULL);
	/* only the checks' reads: no need for more threads */
	for (int k = 1; (p.hash || p.yara) && k < nw; k++)
		if (!pthread_create(&tids[started], NULL, worker, &p))
			started++;
	worker(&p);
	for (int k = 0; k < started; k++)
		pthread_join(tids[k], NULL);
	pthread_mutex_destroy(c->lock);
	free(c->lock);
	c->lock = NULL;
	pthread_mutex_destroy(&p.lock);
}
