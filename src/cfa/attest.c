// SPDX-License-Identifier: MIT
/*
 * Attesting an execution: a session fed from a recorded trace, or live from a program run
 * under the drainer. Either way the trace or the program must be of the binary the model was
 * built for: a model's verdict about another binary would be meaningless.
 */
#include <errno.h>
#include <stdio.h>

#include "vigil/cfa_run.h"

int vg_cfa_attest_trace(struct vg_cfa_session *s, const char *path, struct vg_err *err)
{
	struct vg_cfa_trace_reader r;
	struct vg_cfa_batch b;
	int rc;

	if ((rc = vg_cfa_trace_open(&r, path, err)))
		return rc;
	if (!vg_cfa_model_same_build(vg_cfa_session_model(s), r.hdr.build_id, r.hdr.build_id_len)) {
		vg_cfa_trace_close(&r);
		return vg_errf(err, EINVAL,
			       "trace %s was recorded from a different binary than the model was "
			       "built for (build ids differ)",
			       path);
	}
	vg_cfa_session_target(s, path);
	while ((rc = vg_cfa_trace_next(&r, &b, err)) > 0)
		if ((rc = vg_cfa_session_feed(s, b.stream, b.seq, b.lost, b.ev, b.n, err)))
			break;
	vg_cfa_trace_close(&r);
	return rc;
}

struct live {
	struct vg_cfa_session *s;
	const char *path;
};

static void started(void *ctx, pid_t pid)
{
	struct live *l = ctx;
	char id[4200];

	snprintf(id, sizeof(id), "%s[%d]", l->path, (int)pid);
	vg_cfa_session_target(l->s, id);
}

static int feed(void *ctx, uint32_t stream, uint64_t seq, uint64_t lost, const uint32_t *ev,
		uint32_t n, struct vg_err *err)
{
	return vg_cfa_session_feed(((struct live *)ctx)->s, stream, seq, lost, ev, n, err);
}

int vg_cfa_attest_run(struct vg_cfa_session *s, const struct vg_cfa_exec *e, struct vg_cfa_exit *x,
		      struct vg_err *err)
{
	struct live l = { s, e->path };
	struct vg_cfa_exec run = *e;
	uint8_t id[32];
	uint32_t idlen;
	int rc;

	if ((rc = vg_cfa_elf_build_id(e->path, id, &idlen, err)))
		return rc;
	if (!vg_cfa_model_same_build(vg_cfa_session_model(s), id, idlen))
		return vg_errf(err, EINVAL, "the model was built for a different binary than %s",
			       e->path);
	run.sink = feed;
	run.ctx = &l;
	run.started = started;
	return vg_cfa_exec_run(&run, x, err);
}
