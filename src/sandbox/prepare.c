// SPDX-License-Identifier: MIT
/*
 * `vigil sandbox prepare`: builds the environments' images into the cache, the one step that
 * needs the network (Debian's archive); runs afterwards only look for them (builder.c).
 * container and minimal come from one builder, which then runs once for both. Each builder's
 * output is logged in the cache (prepare-rootfs.log, prepare-system.log) and its "step:" lines
 * are handed to the caller as progress.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sbx_int.h"
#include "vigil/clock.h"
#include "vigil/sandbox.h"
#include "vigil/util.h"

static const char *const all_envs[] = { "container", "minimal", "system" };

struct step_ctx {
	const struct sbx_prepare_opts *o;
	const char *what; /* the environments this builder makes, "container, minimal" */
};

static void step(void *ctx, const char *line)
{
	struct step_ctx *s = ctx;

	if (s->o->step)
		s->o->step(s->o->ctx, s->what, line);
}

/* Runs the builder of OUT[I].env unless an earlier environment had the same one. */
static int build(const struct sbx_prepare_opts *o, const char *cache, struct sbx_prepared *out,
		 unsigned i, struct vg_err *err)
{
	const char *script = sbx_builder_script(out[i].env);
	char what[64] = "", log[4200], last[4200];
	struct sbx_builder_opts b = { script, false, cache, log, step, NULL };
	struct step_ctx sc = { o, what };
	uint64_t t0 = vg_mono_ms();
	int st, rc;

	for (unsigned k = 0; k < i; k++)
		if (!strcmp(sbx_builder_script(out[k].env), script)) {
			out[i].seconds = 0;
			return sbx_image_find(out[i].env, cache, out[i].image, sizeof(out[i].image),
					      err);
		}
	for (unsigned k = 0; k < o->nenvs; k++)
		if (!strcmp(sbx_builder_script(o->envs[k]), script))
			snprintf(what + strlen(what), sizeof(what) - strlen(what), "%s%s",
				 what[0] ? ", " : "", o->envs[k]);
	snprintf(log, sizeof(log), "%s/prepare-%s.log", cache,
		 strcmp(out[i].env, "system") ? "rootfs" : "system");
	b.ctx = &sc;
	if ((rc = sbx_builder_run(&b, last, sizeof(last), &st, err)))
		return rc;
	if (st)
		return vg_errf(err, EIO,
			       "preparing %s failed (exit %d): %s (the builder's log: %s)", what,
			       st, last[0] ? last : "no output", log);
	out[i].seconds = (double)(vg_mono_ms() - t0) / 1e3;
	/* what a run will look for is what was built */
	return sbx_image_find(out[i].env, cache, out[i].image, sizeof(out[i].image), err);
}

int sbx_prepare(const struct sbx_prepare_opts *opts, struct sbx_prepared *out, unsigned *nout,
		struct vg_err *err)
{
	struct sbx_prepare_opts o = *opts;
	char cache[4096];
	int rc;

	*nout = 0;
	if (!o.nenvs) {
		o.envs = all_envs;
		o.nenvs = 3;
	}
	if (o.nenvs > SBX_MAX_ENVS)
		return vg_errf(err, EINVAL, "at most %d environments", SBX_MAX_ENVS);
	if (o.cache_dir)
		snprintf(cache, sizeof(cache), "%s", o.cache_dir);
	else if ((rc = sbx_cache_dir(cache, sizeof(cache))))
		return vg_errf(err, -rc, "the cache directory's name is too long");
	if ((rc = vg_mkdir_p(cache, 0755)) < 0)
		return vg_errf(err, -rc, "creating %s: %s", cache, strerror(-rc));
	for (unsigned i = 0; i < o.nenvs; i++) {
		if (!sbx_env_known(o.envs[i]))
			return vg_errf(err, EINVAL,
				       "unknown environment '%s' (system, container, minimal)",
				       o.envs[i]);
		memset(&out[i], 0, sizeof(out[i]));
		sbx_copy(out[i].env, sizeof(out[i].env), o.envs[i]);
		if ((rc = build(&o, cache, out, i, err)))
			return rc;
		*nout = i + 1;
	}
	return 0;
}
