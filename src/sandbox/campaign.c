// SPDX-License-Identifier: MIT
/*
 * A campaign: every (sample, environment) pair run once into the store, in parallel worker
 * processes. Processes rather than threads because the environments enter namespaces and the
 * sinkhole forks; each worker has its own sinkhole and environment instances, opened on first
 * use, and claims runs from the store, so the work spreads itself and an interruption at any
 * point loses at most the runs in flight (they return to pending on the next start). Workers
 * die with the campaign (PR_SET_PDEATHSIG), so killing it leaves no orphans behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sbx_int.h"
#include "vigil/clock.h"
#include "vigil/sandbox.h"
#include "vigil/util.h"

#define MAX_WORKERS 64
#define MAX_DIR_SAMPLES 100000
#define TICK_MS 300

static int add_sample(struct sbx_store *st, const struct sbx_campaign_opts *o, const char *path,
		      struct vg_err *err)
{
	struct sbx_sample s;
	struct sbx_ident id;
	int rc;

	if ((rc = sbx_sample_load(&s, &id, path, o->labels_dir, o->scores, err)) ||
	    (rc = sbx_store_put_sample(st, &s, err)))
		return rc;
	for (unsigned e = 0; e < o->nenvs; e++)
		if ((rc = sbx_store_add_run(st, s.sha256, o->envs[e], o->timeout_s, err)))
			return rc;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's regular files, sorted so campaigns are reproducible. */
static int add_dir(struct sbx_store *st, const struct sbx_campaign_opts *o, const char *dir,
		   struct vg_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!d)
		return vg_errf(err, errno, "%s: %m", dir);
	while ((e = readdir(d)) && n < MAX_DIR_SAMPLES) {
		char path[4096];
		struct stat sb;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &sb) || !S_ISREG(sb.st_mode))
			continue;
		if (n == cap) {
			char **p = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));

			if (!p) {
				rc = vg_errf(err, ENOMEM, "out of memory");
				break;
			}
			names = p;
		}
		if (!(names[n] = strdup(path))) {
			rc = vg_errf(err, ENOMEM, "out of memory");
			break;
		}
		n++;
	}
	closedir(d);
	if (!rc)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (!rc)
			rc = add_sample(st, o, names[i], err);
		free(names[i]);
	}
	free(names);
	return rc;
}

/* ---- in a worker process ---- */

struct slot {
	char env[16];
	struct sbx_worker *w;
};

static int worker_loop(const struct sbx_campaign_opts *o, const char *root, int idx,
		       struct vg_err *err)
{
	struct slot slots[3] = { 0 };
	const char *skip[4] = { 0 };
	char open_err[sizeof(err->msg)] = "";
	unsigned nskip = 0, nslots = 0;
	struct sbx_store *st;
	struct sbx_claim c;
	const char *prefer = NULL;
	struct sbx_result *res = malloc(sizeof(*res));
	int rc;

	if (!res)
		return vg_errf(err, ENOMEM, "out of memory");
	if ((rc = sbx_store_open(&st, o->db, false, err))) {
		free(res);
		return rc;
	}
	while ((rc = sbx_store_claim(st, idx, prefer, skip, &c, err)) == 1) {
		struct sbx_worker *w = NULL;
		struct sbx_ident id;
		struct vg_err rerr = { 0 };
		char run_dir[4200];

		for (unsigned i = 0; i < nslots; i++)
			if (!strcmp(slots[i].env, c.env))
				w = slots[i].w;
		if (!w && nslots < 3) {
			char work[4200];
			struct sbx_worker_opts wo;

			snprintf(work, sizeof(work), "%s/.work/w%d-%s", root, idx, c.env);
			wo = (struct sbx_worker_opts){ c.env, idx, NULL, work };
			if (sbx_worker_open(&w, &wo, err)) {
				/* keep the first error for the campaign; other environments
				 * can still run in this worker */
				if (!open_err[0])
					sbx_copy(open_err, sizeof(open_err), err->msg);
				if (nskip < 3)
					skip[nskip++] = strdup(c.env);
				if ((rc = sbx_store_release(st, &c, err)))
					break;
				vg_err_clear(err);
				rc = -EAGAIN;
				continue;
			}
			sbx_copy(slots[nslots].env, sizeof(slots[0].env), c.env);
			slots[nslots++].w = w;
		}
		prefer = c.env;
		snprintf(run_dir, sizeof(run_dir), "%s/%s-%s", root, c.sha256, c.env);
		if (sbx_identify_file(&id, c.path, &rerr)) {
			memset(res, 0, sizeof(*res));
			sbx_outcome_not_run(SBX_V_ENV_ERROR, rerr.msg, &res->o);
		} else if ((rc = sbx_worker_run(w, c.path, &id, run_dir, c.timeout_s, o->scores,
						false, res, err))) {
			break;
		}
		if ((rc = sbx_store_finish(st, &c, res, o->scores, err)))
			break;
	}
	for (unsigned i = 0; i < nslots; i++)
		sbx_worker_close(slots[i].w);
	for (unsigned i = 0; i < nskip; i++)
		free((char *)skip[i]);
	sbx_store_close(st);
	free(res);
	if (rc < 0)
		return rc;
	return nskip ? vg_errf(err, EIO, "%s", open_err) : 0;
}

static void worker_main(const struct sbx_campaign_opts *o, const char *root, int idx, int fd)
{
	struct vg_err err = { 0 };
	int rc;

	/* die with the campaign: a killed campaign leaves nothing running */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(3);
	rc = worker_loop(o, root, idx, &err);
	if (rc && err.msg[0])
		(void)!write(fd, err.msg, strlen(err.msg));
	_exit(rc ? 2 : 0);
}

/* ---- in the campaign process ---- */

static double secs_since(uint64_t t0_ms)
{
	return (double)(vg_mono_ms() - t0_ms) / 1e3;
}

struct feed {
	const struct sbx_campaign_opts *o;
	struct sbx_counts n; /* n.done counts the rows reported so far while rows are fed */
	int64_t last;
	unsigned shown; /* finished runs, counting those done before this start */
	double elapsed;
};

/* A finished run that scored high enough becomes an alert; a failing sink is the alerter's to
 * report, so the campaign goes on. */
static void alert(const struct sbx_campaign_opts *o, const struct sbx_row *r)
{
	struct sbx_alert_text t;
	struct vg_alert a;

	if (!o->alerts)
		return;
	if (sbx_run_alert(r, o->alert_score, &a, &t) == 1)
		vg_alerter_emit(o->alerts, &a);
	free(t.evidence);
}

static int feed_row(void *ctx, const struct sbx_row *r)
{
	struct feed *f = ctx;
	struct sbx_progress p;

	alert(f->o, r);
	f->shown++;
	p = (struct sbx_progress){ f->n, r, f->elapsed };
	p.n.done = f->shown;
	f->last = r->seq;
	if (f->o->progress)
		f->o->progress(f->o->ctx, &p);
	return 0;
}

static int skip_row(void *ctx, const struct sbx_row *r)
{
	((struct feed *)ctx)->last = r->seq;
	((struct feed *)ctx)->shown++;
	return 0;
}

static int report(struct feed *f, struct sbx_store *st, double elapsed, struct vg_err *err)
{
	int rc = sbx_store_counts(st, &f->n, err);

	f->elapsed = elapsed;
	if (!rc)
		rc = sbx_store_each(st, f->last, false, feed_row, f, err);
	if (!rc && f->o->progress) {
		struct sbx_progress p = { f->n, NULL, elapsed };

		f->o->progress(f->o->ctx, &p);
	}
	return rc;
}

/* Every environment's image must be in the cache before anything starts: a run never
 * downloads (a campaign is often without network), and one clear error beats a worker error
 * per sample. */
static int prepared(const struct sbx_campaign_opts *o, struct vg_err *err)
{
	char cache[4096], image[4200];
	int rc = sbx_cache_dir(cache, sizeof(cache));

	if (rc)
		return vg_errf(err, -rc, "the cache directory's name is too long");
	for (unsigned i = 0; i < o->nenvs; i++)
		if ((rc = sbx_image_find(o->envs[i], cache, image, sizeof(image), err)))
			return vg_err_prefix(err, "%s environment", o->envs[i]);
	return 0;
}

int sbx_campaign_run(const struct sbx_campaign_opts *o, struct sbx_counts *final,
		     struct vg_err *err)
{
	struct sbx_store *st;
	pid_t pids[MAX_WORKERS];
	int fds[MAX_WORKERS];
	char root[4096], first_err[512] = "";
	unsigned nw, alive;
	uint64_t t0;
	struct feed f = { o, { 0 }, 0, 0, 0 };
	int rc;

	memset(final, 0, sizeof(*final));
	if ((rc = prepared(o, err)))
		return rc;
	if (o->run_root)
		snprintf(root, sizeof(root), "%s", o->run_root);
	else
		snprintf(root, sizeof(root), "%s.runs", o->db);
	if ((rc = vg_mkdir_p(root, 0755)) < 0)
		return vg_errf(err, -rc, "creating %s: %s", root, strerror(-rc));
	if ((rc = sbx_store_open(&st, o->db, true, err)))
		return rc;
	for (unsigned i = 0; i < o->nsamples && !rc; i++) {
		struct stat sb;

		if (!stat(o->samples[i], &sb) && S_ISDIR(sb.st_mode))
			rc = add_dir(st, o, o->samples[i], err);
		else
			rc = add_sample(st, o, o->samples[i], err);
	}
	if (!rc && (rc = sbx_store_reset_running(st, err)) > 0)
		rc = 0;
	if (!rc)
		rc = sbx_store_counts(st, &f.n, err);
	/* already-finished runs are not reported again as progress */
	if (!rc)
		rc = sbx_store_each(st, 0, false, skip_row, &f, err);
	sbx_store_close(st);
	if (rc < 0)
		return rc;
	nw = o->workers ? o->workers : 1;
	nw = nw > MAX_WORKERS ? MAX_WORKERS : nw;
	nw = nw > f.n.pending ? f.n.pending : nw;
	t0 = vg_mono_ms();
	fflush(NULL);
	for (alive = 0; alive < nw; alive++) {
		int p[2];

		if (pipe2(p, O_CLOEXEC) || (pids[alive] = fork()) < 0) {
			rc = vg_errf(err, errno, "starting a worker: %m");
			break;
		}
		if (pids[alive] == 0) {
			close(p[0]);
			worker_main(o, root, (int)alive, p[1]);
		}
		close(p[1]);
		fds[alive] = p[0];
	}
	nw = alive;
	if ((rc = sbx_store_open(&st, o->db, false, err)) < 0) {
		for (unsigned i = 0; i < nw; i++)
			kill(pids[i], SIGKILL);
	}
	while (alive) {
		poll(NULL, 0, TICK_MS);
		for (unsigned i = 0; i < nw; i++) {
			int ws;

			if (pids[i] <= 0 || waitpid(pids[i], &ws, WNOHANG) != pids[i])
				continue;
			pids[i] = 0;
			alive--;
			if (!first_err[0]) {
				ssize_t r = read(fds[i], first_err, sizeof(first_err) - 1);

				first_err[r > 0 ? r : 0] = '\0';
			}
			close(fds[i]);
		}
		if (st && report(&f, st, secs_since(t0), err) < 0)
			break;
	}
	if (st) {
		rc = report(&f, st, secs_since(t0), err);
		sbx_store_close(st);
	}
	*final = f.n;
	if (rc < 0)
		return rc;
	if (f.n.done < f.n.total)
		return vg_errf(err, EIO, "%u of %u runs unfinished%s%s", f.n.total - f.n.done,
			       f.n.total, first_err[0] ? ": " : "", first_err);
	return 0;
}
