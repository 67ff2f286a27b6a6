/* SPDX-License-Identifier: MIT */
/*
 * CFA verifier engine: pure computation (no I/O, no globals) so it can run in an isolated
 * process or a TEE. It consumes event batches per stream (one stream per traced thread), checks
 * every transition against the model interprocedurally with a shadow stack, folds loops C-FLAT
 * style, checks per-function path measurements and loop counts against training, and maintains
 * the attested measurement chain. Findings are handed to a caller-supplied callback.
 *
 * Measurement chain (per stream, deterministic: independent of how the drainer batched events):
 * the event stream is cut into segments of VG_CFA_SEG_EVENTS events (the last may be shorter);
 *   H_0 = BLAKE2b-256("vigil-cfa-measure-v1" || build_id[32] || le32(stream))
 *   k_i = BLAKE2b-256_keyed(K, "seg" || H_{i-1} || le64(i))        (K: the verifier's key)
 *   t_i = Poly1305_{k_i}(le32 events of segment i)
 *   H_i = BLAKE2b-256(H_{i-1} || le64(i) || le32(n_i) || t_i)
 * Poly1305 under a per-segment key that the prover cannot predict is a universal hash running at
 * several GB/s; the chain links segments with BLAKE2b. See docs/cfa.md.
 */
#ifndef VIGIL_CFA_VERIFY_H
#define VIGIL_CFA_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/cfa_chain.h"
#include "vigil/cfa_model.h"
#include "vigil/err.h"

#define VG_CFA_MAX_STREAMS 64u
#define VG_CFA_LAST 8u

enum vg_cfa_alert_kind {
	VG_CFA_A_CFG = 1,	/* transition the CFG does not allow */
	VG_CFA_A_DENIED,	/* operator-denied function or edge */
	VG_CFA_A_UNSEEN_PATH,	/* CFG-valid path (function or loop iteration) training never saw */
	VG_CFA_A_LOOP,		/* loop ran more iterations than training ever did */
	VG_CFA_A_UNKNOWN_EVENT, /* event value that is no site of this binary */
	VG_CFA_A_LOST,		/* the runtime dropped events (full ring) */
	VG_CFA_A_STACK,		/* shadow stack exhausted */
	VG_CFA_A_KINDS
};

struct vg_cfa_alert {
	enum vg_cfa_alert_kind kind;
	uint32_t stream;
	uint64_t index;		 /* event index in the stream */
	uint32_t from_ev, to_ev; /* offending transition (event values); VG_CFA_NONE if none */
	uint32_t from_func, to_func;
	uint32_t last[VG_CFA_LAST]; /* the events before it, oldest first */
	uint32_t nlast;
	uint32_t owner;	       /* function whose path or loop is reported, else VG_CFA_NONE */
	uint64_t count, limit; /* loop anomaly: iterations seen and trained maximum */
	const char *reason;
};

typedef void (*vg_cfa_alert_fn)(void *ctx, const struct vg_cfa_alert *a);

struct vg_cfa_verify_opts {
	int train;	 /* collect path sets and loop bounds instead of checking them */
	uint8_t key[32]; /* measurement key K */
	vg_cfa_alert_fn alert;
	void *ctx;
	uint32_t max_alerts; /* per stream and kind; 0 = 32 */
};

struct vg_cfa_stream_result {
	uint64_t events, segments;
	uint8_t measurement[32];
	uint64_t alerts[VG_CFA_A_KINDS];
};

struct vg_cfa_loop_summary {
	uint32_t header; /* node */
	uint64_t instances, max_iters, total_iters, distinct;
};

struct vg_cfa_verifier;

int vg_cfa_verifier_new(struct vg_cfa_verifier **v, const struct vg_cfa_model *m,
			const struct vg_cfa_verify_opts *o, struct vg_err *err);
/* Feeds N events of STREAM (< VG_CFA_MAX_STREAMS); returns 0 or -EINVAL for a bad stream. */
int vg_cfa_verifier_feed(struct vg_cfa_verifier *v, uint32_t stream, const uint32_t *ev, size_t n);
/* Ends every stream: closes open frames and loops, hashes the last partial segment. */
void vg_cfa_verifier_finish(struct vg_cfa_verifier *v);
/* Streams seen so far (bit mask) and one stream's result. */
uint64_t vg_cfa_verifier_streams(const struct vg_cfa_verifier *v);
void vg_cfa_verifier_result(const struct vg_cfa_verifier *v, uint32_t stream,
			    struct vg_cfa_stream_result *r);
/* Loop summaries of headers seen in this run (caller frees *out). */
int vg_cfa_verifier_loops(const struct vg_cfa_verifier *v, struct vg_cfa_loop_summary **out,
			  size_t *n);
/* Training result merged with the model's own: sets M's trained views to new arrays owned by
 * *OWNED (free it after saving M). */
int vg_cfa_verifier_train_into(const struct vg_cfa_verifier *v, struct vg_cfa_model *m,
			       void **owned, struct vg_err *err);
void vg_cfa_verifier_free(struct vg_cfa_verifier *v);

const char *vg_cfa_alert_check(enum vg_cfa_alert_kind k);
const char *vg_cfa_alert_severity(enum vg_cfa_alert_kind k);

#endif
