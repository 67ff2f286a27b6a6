// SPDX-License-Identifier: MIT
/*
 * One sample in one environment, outside a campaign (`vigil sandbox one`): describe the
 * sample, open a worker (its own sinkhole and environment instance) in a scratch directory,
 * run the sample into the run directory, close the worker. The run directory must be new or
 * empty, so the artifacts left there are this run's and nothing else's.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/sandbox.h"

static bool empty_or_absent(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;

	if (!d)
		return errno == ENOENT;
	while (empty && (e = readdir(d)))
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	closedir(d);
	return empty;
}

int sbx_one(const struct sbx_one_opts *o, struct sbx_sample *s, struct sbx_ident *id,
	    struct sbx_result *res, struct vg_err *err)
{
	const char *tmp = getenv("TMPDIR");
	struct sbx_worker_opts wo = { o->env, o->worker, NULL, o->scratch };
	struct sbx_worker *w = NULL;
	char scratch[4200];
	int rc;

	if (!sbx_env_known(o->env))
		return vg_errf(err, EINVAL, "unknown environment '%s' (system, container, minimal)",
			       o->env);
	if ((rc = sbx_sample_load(s, id, o->sample, o->labels_dir, o->scores, err)))
		return rc;
	if (!empty_or_absent(o->run_dir))
		return vg_errf(err, EEXIST, "%s exists and is not an empty directory", o->run_dir);
	if (wo.worker < 0)
		wo.worker = 100 + getpid() % 800; /* clear of a campaign's 0..63 */
	if (!wo.work_dir) {
		snprintf(scratch, sizeof(scratch), "%s/vigil-sbx-one-%d", tmp ? tmp : "/tmp",
			 (int)getpid());
		wo.work_dir = scratch;
	}
	/* on failure the scratch directory stays if the environment left logs there */
	if ((rc = sbx_worker_open(&w, &wo, err))) {
		rmdir(wo.work_dir);
		return rc;
	}
	rc = sbx_worker_run(w, o->sample, id, o->run_dir, o->timeout_s, o->scores, o->force, res,
			    err);
	sbx_worker_close(w);
	sbx_rmtree(wo.work_dir);
	return rc;
}
