// SPDX-License-Identifier: MIT
/*
 * A verification session: one verifier over a model, its findings handed on as alerts, signed
 * checkpoint reports while events arrive, and at the end the verdict and the final report.
 * Where the events come from (a trace file, a running program) is attest.c's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/cfa_run.h"
#include "vigil/clock.h"

struct vg_cfa_session {
	struct vg_cfa_session_opts o;
	struct vg_cfa_verifier *v;
	char target[4200];
	uint64_t next_checkpoint, checkpoints;
	uint64_t unformatted; /* alerts lost for want of memory */
	struct vg_cfa_loop_summary *loops;
};

static void on_alert(void *ctx, const struct vg_cfa_alert *a)
{
	struct vg_cfa_session *s = ctx;
	struct vg_alert va;
	char *evidence;

	if (vg_cfa_alert_make(s->o.model, a, s->o.target_kind, s->target, &va, &evidence)) {
		s->unformatted++;
		return;
	}
	if (s->o.alert)
		s->o.alert(s->o.ctx, &va);
	free(evidence);
}

int vg_cfa_session_new(struct vg_cfa_session **out, const struct vg_cfa_session_opts *o,
		       struct vg_err *err)
{
	struct vg_cfa_verify_opts vo = { .alert = on_alert };
	struct vg_cfa_session *s;
	int rc;

	*out = NULL;
	if ((o->report || o->checkpoint) && !o->sk)
		return vg_errf(err, EINVAL, "a signed report needs the signing key (--key)");
	if (o->checkpoint && !o->report)
		return vg_errf(err, EINVAL, "checkpoint reports need a report path (--report)");
	if (sodium_init() < 0)
		return vg_errf(err, EIO, "libsodium failed to initialise");
	s = calloc(1, sizeof(*s));
	if (!s)
		return vg_errf(err, ENOMEM, "out of memory");
	s->o = *o;
	s->next_checkpoint = o->checkpoint;
	vo.ctx = s;
	if (o->sk)
		vg_cfa_measure_key(o->sk, vo.key);
	rc = vg_cfa_verifier_new(&s->v, o->model, &vo, err);
	sodium_memzero(vo.key, sizeof(vo.key));
	if (rc) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void vg_cfa_session_free(struct vg_cfa_session *s)
{
	if (!s)
		return;
	vg_cfa_verifier_free(s->v);
	free(s->loops);
	free(s);
}

const struct vg_cfa_model *vg_cfa_session_model(const struct vg_cfa_session *s)
{
	return s->o.model;
}

void vg_cfa_session_target(struct vg_cfa_session *s, const char *id)
{
	snprintf(s->target, sizeof(s->target), "%s", id);
}

/* Every stream's result so far, and the alert counts over all of them. */
static size_t collect(const struct vg_cfa_verifier *v, struct vg_cfa_report_stream *rs,
		      uint64_t total[VG_CFA_A_KINDS])
{
	uint64_t mask = vg_cfa_verifier_streams(v);
	size_t ns = 0;

	memset(total, 0, VG_CFA_A_KINDS * sizeof(*total));
	for (uint32_t i = 0; i < VG_CFA_MAX_STREAMS; i++)
		if (mask & (1ull << i)) {
			rs[ns].stream = i;
			vg_cfa_verifier_result(v, i, &rs[ns].r);
			for (int k = 1; k < VG_CFA_A_KINDS; k++)
				total[k] += rs[ns].r.alerts[k];
			ns++;
		}
	return ns;
}

static int write_text(const char *path, const char *text, size_t len, struct vg_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return vg_errf(err, errno, "%s: %m", path);
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return vg_errf(err, EIO, "writing %s: %m", path);
	}
	return close(fd) ? vg_errf(err, errno, "closing %s: %m", path) : 0;
}

/* Signs and writes one report; CHECKPOINT 0 is the final one (the report path itself),
 * N > 0 goes to REPORT.N. */
static int write_report(struct vg_cfa_session *s, uint64_t checkpoint, struct vg_err *err)
{
	struct vg_cfa_report_stream rs[VG_CFA_MAX_STREAMS];
	struct vg_cfa_loop_summary *loops = NULL;
	uint64_t total[VG_CFA_A_KINDS];
	size_t ns = collect(s->v, rs, total), nl = 0, len;
	char ts[VG_RFC3339_LEN], path[4200], *text;
	int rc;

	if (vg_cfa_verifier_loops(s->v, &loops, &nl))
		return vg_errf(err, ENOMEM, "report: out of memory");
	vg_rfc3339_now(ts, sizeof(ts));
	struct vg_cfa_report_in in = {
		.program = s->o.program,
		.ts = ts,
		.model = s->o.model,
		.verdict = vg_cfa_verdict_name(vg_cfa_verdict_of(total)),
		.checkpoint = checkpoint,
		.streams = rs,
		.nstreams = ns,
		.loops = loops,
		.nloops = nl,
	};

	if (checkpoint)
		snprintf(path, sizeof(path), "%s.%llu", s->o.report,
			 (unsigned long long)checkpoint);
	else
		snprintf(path, sizeof(path), "%s", s->o.report);
	rc = vg_cfa_report_build(&in, s->o.sk, &text, &len, err);
	if (!rc) {
		rc = write_text(path, text, len, err);
		free(text);
	}
	free(loops);
	return rc;
}

/* A report every N events (all streams), at batch granularity: each carries the chain value
 * after the last complete segment and that segment count, so it is reproducible however the
 * events were batched. */
static int checkpoint(struct vg_cfa_session *s, struct vg_err *err)
{
	struct vg_cfa_report_stream rs[VG_CFA_MAX_STREAMS];
	uint64_t total[VG_CFA_A_KINDS], events = 0;
	size_t ns;

	if (!s->o.checkpoint)
		return 0;
	ns = collect(s->v, rs, total);
	for (size_t i = 0; i < ns; i++)
		events += rs[i].r.events;
	if (events < s->next_checkpoint)
		return 0;
	s->next_checkpoint = events - events % s->o.checkpoint + s->o.checkpoint;
	return write_report(s, ++s->checkpoints, err);
}

int vg_cfa_session_feed(void *ctx, uint32_t stream, uint64_t seq, uint64_t lost, const uint32_t *ev,
			uint32_t n, struct vg_err *err)
{
	struct vg_cfa_session *s = ctx;

	int rc = vg_cfa_verifier_feed(s->v, stream, ev, n);

	if (rc == -ENOMEM)
		return vg_errf(err, ENOMEM, "verifier: out of memory");
	if (rc)
		return vg_errf(err, -rc, "verifier: stream %u is out of range", stream);
	return checkpoint(s, err);
}

int vg_cfa_session_finish(struct vg_cfa_session *s, struct vg_cfa_outcome *out, struct vg_err *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	vg_cfa_verifier_finish(s->v);
	out->nstreams = collect(s->v, out->streams, out->alerts);
	out->verdict = vg_cfa_verdict_of(out->alerts);
	free(s->loops);
	s->loops = NULL;
	if (vg_cfa_verifier_loops(s->v, &s->loops, &out->nloops))
		return vg_errf(err, ENOMEM, "verifier: out of memory");
	out->loops = s->loops;
	if (s->unformatted)
		return vg_errf(err, ENOMEM, "%llu alerts could not be written (out of memory)",
			       (unsigned long long)s->unformatted);
	if (s->o.report && (rc = write_report(s, 0, err)))
		return rc;
	return 0;
}
