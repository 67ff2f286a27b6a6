// SPDX-License-Identifier: MIT
/*
 * Training: clean runs' traces through a verifier in training mode, which collects per
 * function the path measurements seen and per loop header the iteration measurements and the
 * most iterations of one instance; the result is merged into the model. The model must be in
 * its final static form (validated, reduced), because training walks it as the verifier will.
 */
#include <errno.h>

#include "vigil/cfa_run.h"

int vg_cfa_train(struct vg_cfa_model *m, const char *const *traces, unsigned ntraces,
		 vg_cfa_alert_fn warn, void *ctx, void **owned, struct vg_err *err)
{
	struct vg_cfa_verify_opts vo = { .train = 1, .alert = warn, .ctx = ctx };
	struct vg_cfa_verifier *v = NULL;
	int rc;

	*owned = NULL;
	rc = vg_cfa_verifier_new(&v, m, &vo, err);
	for (unsigned i = 0; i < ntraces && !rc; i++) {
		struct vg_cfa_trace_reader r;
		struct vg_cfa_batch b;

		if ((rc = vg_cfa_trace_open(&r, traces[i], err)))
			break;
		if (!vg_cfa_model_same_build(m, r.hdr.build_id, r.hdr.build_id_len))
			rc = vg_errf(err, EINVAL, "training trace %s is from a different binary",
				     traces[i]);
		while (!rc && (rc = vg_cfa_trace_next(&r, &b, err)) > 0)
			/* one stream id space per trace: offset by the trace's number */
			rc = vg_cfa_verifier_feed(v, (b.stream + i) % VG_CFA_MAX_STREAMS, b.ev, b.n)
				     ? vg_errf(err, ENOMEM, "training: out of memory")
				     : 0;
		vg_cfa_trace_close(&r);
		vg_cfa_verifier_finish(v);
	}
	if (!rc)
		rc = vg_cfa_verifier_train_into(v, m, owned, err);
	vg_cfa_verifier_free(v);
	return rc;
}
