/* SPDX-License-Identifier: MIT */
/*
 * Running and attesting programs: what `vigil cfa trace|verify|run|model`, benches and tests
 * share, so they all run the same code.
 *   exec     a program linked with libvigil-rt, started with the trace region and drained
 *            until it exits (refused when it carries the compiler's own coverage runtime)
 *   record   its events into a trace file (cfa_trace.h)
 *   session  a verifier with its alerts, checkpoint reports and final verdict; fed from a
 *            trace file or live from a running program
 *   train    training traces folded into a model
 * Every verifier finding becomes a struct vg_alert (vigil/alert.h, source "cfa") handed to the
 * caller, who writes it through the one alert writer. Verdicts: a violation (CFG, denied flow,
 * unknown event, shadow stack) outranks an anomaly (unseen path, loop count), which outranks
 * an incomplete trace (lost events); otherwise clean.
 */
#ifndef VIGIL_CFA_RUN_H
#define VIGIL_CFA_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vigil/alert.h"
#include "vigil/cfa_model.h"
#include "vigil/cfa_report.h"
#include "vigil/cfa_trace.h"
#include "vigil/cfa_verify.h"
#include "vigil/err.h"

/* ---- verdicts and alerts (findings.c) ---- */
enum vg_cfa_verdict { VG_CFA_CLEAN, VG_CFA_INCOMPLETE, VG_CFA_ANOMALY, VG_CFA_VIOLATION };

const char *vg_cfa_verdict_name(enum vg_cfa_verdict v);
/* The verdict of a run with ALERTS[kind] findings of each kind. */
enum vg_cfa_verdict vg_cfa_verdict_of(const uint64_t alerts[VG_CFA_A_KINDS]);
/* Finding A of a program described by M as an alert about TARGET_KIND/TARGET_ID. The evidence
 * (reason, stream, transition, functions, last events) is built into *EVIDENCE, which OUT
 * points at: free it after use. -ENOMEM. */
int vg_cfa_alert_make(const struct vg_cfa_model *m, const struct vg_cfa_alert *a,
		      const char *target_kind, const char *target_id, struct vg_alert *out,
		      char **evidence);

/* ---- a program under the drainer (exec.c) ---- */
/* PROG looked up like execvp(3) does (a name without '/' through $PATH) into PATH: 0, or
 * -ENOENT when there is no executable file of that name. */
int vg_cfa_resolve(const char *prog, char *path, size_t n);

struct vg_cfa_exec {
	const char *path;  /* the program (vg_cfa_resolve) */
	char *const *argv; /* its arguments, argv[0] first */
	struct vg_cfa_shm_opts shm;
	vg_cfa_sink_fn sink; /* every drained batch */
	void *ctx;
	void (*started)(void *ctx, pid_t pid); /* once the program runs; may be NULL */
};

struct vg_cfa_exit {
	int status;			    /* wait(2) status of the program */
	uint32_t kind;			    /* what the runtime reported: VG_RT_KIND_* */
	uint64_t base;			    /* and its load base */
	uint64_t lost_events, lost_threads; /* never recorded (full rings, a 65th thread) */
};

/* Runs E->path under the drainer until it exits, then drains what is left (the region
 * outlives the program). -ENOEXEC when it carries its own coverage runtime (checked before it
 * runs) or never attached to the trace region; errors of the sink stop it (it is killed). */
int vg_cfa_exec_run(const struct vg_cfa_exec *e, struct vg_cfa_exit *x, struct vg_err *err);

/* ---- recording (record.c) ---- */
/* Runs E (its sink and ctx are replaced) and writes its events to the trace file OUT (refused
 * when E's reduction model is of another binary); the header carries the program's build id and,
 * rewritten at the end, the runtime's kind and base. OUT is removed on failure (a partial file is
 * not a trace). */
int vg_cfa_record(const char *out, const struct vg_cfa_exec *e, struct vg_cfa_exit *x,
		  struct vg_err *err);

/* ---- a verification session (session.c) ---- */
struct vg_cfa_session_opts {
	const struct vg_cfa_model *model;
	const uint8_t *sk;	 /* Ed25519 signing key (64 bytes) for reports and the measurement
				  * key; NULL: all-zero measurement key, no reports */
	const char *report;	 /* the final report's path (needs sk), or NULL */
	uint64_t checkpoint;	 /* also REPORT.1, REPORT.2, ... every this many events; 0: none */
	const char *program;	 /* named in reports */
	const char *target_kind; /* the alerts' target: "process", "trace" */
	void (*alert)(void *ctx, const struct vg_alert *a);
	void *ctx;
};

struct vg_cfa_session;

int vg_cfa_session_new(struct vg_cfa_session **s, const struct vg_cfa_session_opts *o,
		       struct vg_err *err);
void vg_cfa_session_free(struct vg_cfa_session *s);
const struct vg_cfa_model *vg_cfa_session_model(const struct vg_cfa_session *s);
/* The alerts' target id from now on (a trace's path, "PATH[PID]" of a program). */
void vg_cfa_session_target(struct vg_cfa_session *s, const char *id);
/* A batch of one stream's events (a vg_cfa_sink_fn: CTX is the session); writes a checkpoint
 * report when one is due. */
int vg_cfa_session_feed(void *s, uint32_t stream, uint64_t seq, uint64_t lost, const uint32_t *ev,
			uint32_t n, struct vg_err *err);

struct vg_cfa_outcome {
	enum vg_cfa_verdict verdict;
	uint64_t alerts[VG_CFA_A_KINDS];
	struct vg_cfa_report_stream streams[VG_CFA_MAX_STREAMS];
	size_t nstreams;
	const struct vg_cfa_loop_summary *loops; /* owned by the session */
	size_t nloops;
};

/* Ends every stream, writes the final report when one was asked for, and describes the run. */
int vg_cfa_session_finish(struct vg_cfa_session *s, struct vg_cfa_outcome *out, struct vg_err *err);

/* ---- attesting (attest.c) ---- */
/* Feeds the trace file PATH to S (refused when it was recorded from another binary than the
 * model's); alerts are about the trace. */
int vg_cfa_attest_trace(struct vg_cfa_session *s, const char *path, struct vg_err *err);
/* Runs E with its events verified live by S (refused when E->path is not the model's binary;
 * E's sink is replaced); alerts are about "PATH[PID]". */
int vg_cfa_attest_run(struct vg_cfa_session *s, const struct vg_cfa_exec *e, struct vg_cfa_exit *x,
		      struct vg_err *err);

/* ---- training (train.c) ---- */
/* Runs each training trace through a training verifier over M (which must be the final
 * static model) and stores the path sets and loop bounds in M; M's trained arrays then live
 * in *OWNED (free it after saving M). Each trace has its own stream ids. Findings other than
 * unseen paths and loop counts go to WARN (a training trace that leaves the CFG is suspect);
 * a trace of another binary is refused. */
int vg_cfa_train(struct vg_cfa_model *m, const char *const *traces, unsigned ntraces,
		 vg_cfa_alert_fn warn, void *ctx, void **owned, struct vg_err *err);

#endif
