/* SPDX-License-Identifier: MIT */
/*
 * One device's batch stream at the gateway (or from a recording): the application-level
 * checks on top of the secure channel, the verifier engine, alerts in the one schema, the
 * measurement chain and signed attestation reports.
 *
 * Session checks, per batch, before the engine sees it:
 *   cfa.batch-forged    the batch names another device than the key that sent it: rejected
 *   cfa.batch-replayed  a sequence number already accepted, or a batch of an earlier boot or
 *                       after the boot's final batch: rejected
 *   cfa.batch-missing   a sequence number skipped: the batch is accepted, the gap reported
 *   cfa.batch-malformed the batch does not decode: rejected
 *   cfa.device-restarted (info) a new agent boot begins
 *   cfa.device-silent   no batch for longer than the gateway allows (vg_sys_stream_silent)
 *
 * Measurement (per boot, deterministic however batches travelled):
 *   M_0 = BLAKE2b-256("vigil-sys-measure-v1" || device || le64(boot))
 *   M_i = BLAKE2b-256(M_{i-1} || le64(seq) || BLAKE2b-256(batch))
 * A report is the cfa report format (vigil/cfa_report.h): one JSON line, then
 * "ed25519:<hex>" over it; `vigil cfa check-report` verifies it.
 */
#ifndef VIGIL_SYSSTREAM_H
#define VIGIL_SYSSTREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/alert.h"
#include "vigil/sysverify.h"

enum vg_sys_batch_status {
	VG_SYS_B_ACCEPTED,
	VG_SYS_B_FORGED,
	VG_SYS_B_REPLAYED,
	VG_SYS_B_MALFORMED,
};

enum vg_sys_session_check {
	VG_SYS_S_FORGED,
	VG_SYS_S_REPLAYED,
	VG_SYS_S_MISSING,
	VG_SYS_S_MALFORMED,
	VG_SYS_S_RESTARTED,
	VG_SYS_S_SILENT,
	VG_SYS_S_KINDS
};

#define VG_SYS_OLD_BOOTS 16

struct vg_sys_stream_opts {
	const char *device;  /* the registered device id */
	const char *program; /* what it runs, for alerts and reports */
	const struct vg_sys_model *model;
	struct vg_alerter *alerter; /* NULL: alerts are only counted */
	bool train;
	/* training warnings (static findings in clean runs), NULL to ignore */
	void (*warn)(void *ctx, const struct vg_sys_alert *a);
	void *warn_ctx;
};

struct vg_sys_stream {
	struct vg_sys_stream_opts o;
	struct vg_sys_verifier *v;
	bool started, final;
	uint64_t boot, next_seq, first_seq;
	uint64_t old_boots[VG_SYS_OLD_BOOTS];
	uint32_t nold;
	uint8_t chain[32];
	uint64_t batches, rejected, missing, events, observed;
	uint64_t session_alerts[VG_SYS_S_KINDS];
	enum vg_sys_verdict worst;
	uint64_t cur_seq; /* of the batch being verified, for evidence */
	bool silent;	  /* reported silent and not heard from since */
	int64_t last_us;  /* wall clock of the last accepted batch */
};

int vg_sys_stream_init(struct vg_sys_stream *s, const struct vg_sys_stream_opts *o,
		       struct vg_err *err);
/* A batch received for this device. *ST says what became of it; RES is the engine's verdict
 * for an accepted batch. Returns 0 unless out of memory. */
int vg_sys_stream_batch(struct vg_sys_stream *s, const uint8_t *buf, size_t len,
			enum vg_sys_batch_status *st, struct vg_sys_result *res,
			struct vg_err *err);
/* The agent's hello: whether this boot is known and the sequence number expected next. */
void vg_sys_stream_hello(struct vg_sys_stream *s, const struct vg_sb_hello *h, bool *known,
			 uint64_t *next);
/* Reports the device silent (once until it is heard from again); NOW_US wall clock. */
void vg_sys_stream_silent(struct vg_sys_stream *s, int64_t now_us, int64_t last_us);
/* Signed report of the stream so far (CHECKPOINT 0 = final). */
int vg_sys_stream_report(const struct vg_sys_stream *s, uint64_t checkpoint, const uint8_t sk[64],
			 char **out, size_t *len, struct vg_err *err);
void vg_sys_stream_free(struct vg_sys_stream *s);

const char *vg_sys_session_check_name(enum vg_sys_session_check c);

#endif
