// SPDX-License-Identifier: MIT
/*
 * Recording a program's events into a trace file (format in cfa_trace.h). The header is
 * written first with the program's build id and rewritten at the end, once the runtime has
 * said which instrumentation it saw and where the program was loaded.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vigil/cfa_run.h"

static int write_batch(void *ctx, uint32_t stream, uint64_t seq, uint64_t lost, const uint32_t *ev,
		       uint32_t n, struct vg_err *err)
{
	if (vg_cfa_trace_write_batch(ctx, stream, seq, lost, ev, n))
		return vg_errf(err, EIO, "writing the trace: %m");
	return 0;
}

int vg_cfa_record(const char *out, const struct vg_cfa_exec *e, struct vg_cfa_exit *x,
		  struct vg_err *err)
{
	struct vg_cfa_trace_hdr h = { 0 };
	struct vg_cfa_exec run = *e;
	FILE *f;
	int rc;

	memset(x, 0, sizeof(*x));
	if ((rc = vg_cfa_elf_build_id(e->path, h.build_id, &h.build_id_len, err)))
		return rc;
	if (e->shm.reduce && !vg_cfa_model_same_build(e->shm.reduce, h.build_id, h.build_id_len))
		return vg_errf(err, EINVAL, "the model was built for a different binary than %s",
			       e->path);
	f = fopen(out, "wbe");
	if (!f)
		return vg_errf(err, errno, "%s: %m", out);
	run.sink = write_batch;
	run.ctx = f;
	if (vg_cfa_trace_write_hdr(f, &h))
		rc = vg_errf(err, EIO, "%s: writing the header: %m", out);
	if (!rc)
		rc = vg_cfa_exec_run(&run, x, err);
	if (!rc) {
		h.kind = x->kind;
		h.base = x->base;
		if (fseek(f, 0, SEEK_SET) || vg_cfa_trace_write_hdr(f, &h))
			rc = vg_errf(err, EIO, "%s: rewriting the header failed", out);
	}
	if (fclose(f) && !rc)
		rc = vg_errf(err, EIO, "%s: %m", out);
	/* a partial file (a program that never attached, a failed write) is not a trace */
	if (rc)
		unlink(out);
	return rc;
}
