// SPDX-License-Identifier: MIT
/*
 * One worker: a sinkhole namespace and an environment instance, running samples one at a
 * time. For each sample: identification's verdict (the environments run 32-bit little-endian
 * ARM; a missing program interpreter is a load failure known before running), then the run
 * with the sinkhole logging into the run directory, a retry when the environment itself
 * failed, and the analysis of what the run left.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env.h"
#include "sbx_int.h"
#include "vigil/clock.h"
#include "vigil/sandbox.h"
#include "vigil/util.h"

struct sbx_worker {
	const struct sbx_env_ops *ops;
	struct sbx_env *env;
	struct sbx_sink *sink;
	char cache_dir[1024], work_dir[1024];
};

static const struct sbx_env_ops *env_ops(const char *name)
{
	const struct sbx_env_ops *all[] = { &sbx_env_system, &sbx_env_container, &sbx_env_minimal };

	for (size_t i = 0; i < 3; i++)
		if (!strcmp(all[i]->name, name))
			return all[i];
	return NULL;
}

bool sbx_env_known(const char *name)
{
	return env_ops(name) != NULL;
}

int sbx_worker_open(struct sbx_worker **wp, const struct sbx_worker_opts *o, struct vg_err *err)
{
	struct sbx_worker *w = calloc(1, sizeof(*w));
	struct sbx_env_opts eo;
	int rc;

	*wp = NULL;
	if (!w)
		return vg_errf(err, ENOMEM, "out of memory");
	w->ops = env_ops(o->env);
	if (!w->ops) {
		free(w);
		return vg_errf(err, EINVAL, "unknown environment '%s' (system, container, minimal)",
			       o->env);
	}
	if (o->cache_dir)
		snprintf(w->cache_dir, sizeof(w->cache_dir), "%s", o->cache_dir);
	else if ((rc = sbx_cache_dir(w->cache_dir, sizeof(w->cache_dir)))) {
		free(w);
		return vg_errf(err, -rc, "the cache directory's name is too long");
	}
	snprintf(w->work_dir, sizeof(w->work_dir), "%s", o->work_dir);
	if ((rc = vg_mkdir_p(w->cache_dir, 0755)) || (rc = vg_mkdir_p(w->work_dir, 0755))) {
		vg_errf(err, -rc, "creating %s or %s: %s", w->cache_dir, w->work_dir,
			strerror(-rc));
		free(w);
		return rc;
	}
	rc = sbx_sink_open(&w->sink, o->worker, err);
	if (rc) {
		free(w);
		return vg_err_prefix(err, "sinkhole");
	}
	eo = (struct sbx_env_opts){ w->cache_dir, w->work_dir, o->worker };
	rc = w->ops->open(&w->env, &eo, err);
	if (rc) {
		sbx_sink_close(w->sink);
		free(w);
		return vg_err_prefix(err, "%s environment", o->env);
	}
	*wp = w;
	return 0;
}

void sbx_worker_close(struct sbx_worker *w)
{
	if (!w)
		return;
	w->ops->close(w->env);
	sbx_sink_close(w->sink);
	free(w);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) && errno != ENOENT ? -1 : 0;
}

int sbx_rmtree(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) ? -errno : 0;
}

int sbx_sha256_file(const char *path, char hex[65], struct vg_err *err)
{
	crypto_hash_sha256_state st;
	unsigned char buf[65536], h[crypto_hash_sha256_BYTES];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return vg_errf(err, errno, "%s: %m", path);
	crypto_hash_sha256_init(&st);
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		crypto_hash_sha256_update(&st, buf, (size_t)r);
	close(fd);
	if (r < 0)
		return vg_errf(err, errno, "reading %s: %m", path);
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(hex, 65, h, sizeof(h));
	return 0;
}

/* A fresh, empty run directory (a retry starts from nothing too). */
static int fresh_dir(const char *dir, struct vg_err *err)
{
	int rc = sbx_rmtree(dir);

	if (rc)
		return vg_errf(err, -rc, "clearing %s: %s", dir, strerror(-rc));
	if ((rc = vg_mkdir_p(dir, 0755)))
		return vg_errf(err, -rc, "creating %s: %s", dir, strerror(-rc));
	return 0;
}

static int run_env(struct sbx_worker *w, const char *sample, const char *run_dir,
		   unsigned timeout_s, struct vg_err *err)
{
	char log[1100];
	struct sbx_run_req rq = { sample,	 run_dir,	timeout_s, sbx_sink_netns(w->sink),
				  SBX_SINK_ADDR, SBX_GUEST_ADDR };
	int rc;

	snprintf(log, sizeof(log), "%s/net.jsonl", run_dir);
	rc = sbx_sink_begin(w->sink, log, err);
	if (rc)
		return vg_err_prefix(err, "sinkhole");
	rc = w->ops->run(w->env, &rq, err);
	sbx_sink_end(w->sink);
	return rc;
}

int sbx_worker_run(struct sbx_worker *w, const char *sample, const struct sbx_ident *id,
		   const char *run_dir, unsigned timeout_s, const struct sbx_scores *scores,
		   bool force, struct sbx_result *res, struct vg_err *err)
{
	struct sbx_analyse_opts ao = { sbx_basename(sample), scores };
	uint64_t t0 = vg_mono_ms();
	enum sbx_runnable rn;
	char why[SBX_NOTE];
	int rc;

	memset(res, 0, sizeof(*res));
	rn = sbx_ident_runnable(id, !id->dynamic || w->ops->has_interp(w->env, id->interp), why,
				sizeof(why));
	if (rn != SBX_RUN_OK && !force) {
		sbx_outcome_not_run(rn == SBX_RUN_NO_LOADER ? SBX_V_LOAD_FAILED : SBX_V_NOT_EXEC,
				    why, &res->o);
		res->wall_ms = (int64_t)(vg_mono_ms() - t0);
		return 0;
	}
	for (res->attempts = 1; res->attempts <= 2; res->attempts++) {
		struct vg_err env_err = { 0 };

		if ((rc = fresh_dir(run_dir, err)))
			return rc;
		rc = run_env(w, sample, run_dir, timeout_s, &env_err);
		if (!rc)
			break;
		if (res->attempts == 2) {
			sbx_outcome_not_run(SBX_V_ENV_ERROR, env_err.msg, &res->o);
			res->wall_ms = (int64_t)(vg_mono_ms() - t0);
			return 0;
		}
	}
	rc = sbx_analyse(&res->r, run_dir, &ao, err);
	if (rc)
		return rc;
	res->ran = true;
	sbx_outcome_from_status(&res->r.st, timeout_s, &res->o);
	res->wall_ms = (int64_t)(vg_mono_ms() - t0);
	return 0;
}
