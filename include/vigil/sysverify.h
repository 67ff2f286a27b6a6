/* SPDX-License-Identifier: MIT */
/*
 * Syscall verifier engine: pure computation over decoded batches (vigil/sysbatch.h) and a
 * syscall model (vigil/sysmodel.h), no I/O, so the gateway can run it isolated. One verifier
 * follows one device boot: it keeps the device's module and syscall definitions and each
 * thread's previous syscall.
 *
 * Each distinct syscall (token) is judged once, when first used, and the judgement is reused
 * for every later occurrence; a folded loop is checked once and counted. Checks:
 *   injected-code   the syscall instruction is in executable memory backed by no file
 *   bad-instruction no syscall instruction of the module is there (a gadget, misaligned code)
 *   wrong-number    the instruction loads another number by immediate
 *   bad-callsite    the word where the issuing function's frame keeps its return address is
 *                   not the return address of a call that leads to that function (ROP,
 *                   stack pivot, a jump into a wrapper)
 *   unmodelled      code of a file the model does not know made the syscall
 *   unseen          trained model: this syscall tuple (code, call site, number, argument
 *                   kinds; for exec the path) never happened in training
 *   unseen-transition  trained model: this syscall never followed the thread's previous one
 *   unexpected-exec a process executed a file that is neither the program nor trained
 *   events-lost     the device could not record some syscalls
 *   undefined       a batch used a definition the gateway never received
 * A tuple seen in training is accepted even where the static model disagrees (training
 * refines the static model); injected code never is.
 */
#ifndef VIGIL_SYSVERIFY_H
#define VIGIL_SYSVERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/alert.h"
#include "vigil/err.h"
#include "vigil/sysbatch.h"
#include "vigil/sysmodel.h"

enum vg_sys_check {
	VG_SYS_C_INJECTED = 1,
	VG_SYS_C_BADINSN,
	VG_SYS_C_WRONGNR,
	VG_SYS_C_CALLSITE,
	VG_SYS_C_UNMODELLED,
	VG_SYS_C_UNSEEN,
	VG_SYS_C_TRANSITION,
	VG_SYS_C_EXEC,
	VG_SYS_C_LOST,
	VG_SYS_C_UNDEFINED,
	VG_SYS_C_KINDS
};

enum vg_sys_verdict { VG_SYS_V_CLEAN, VG_SYS_V_ANOMALY, VG_SYS_V_VIOLATION, VG_SYS_V_INCOMPLETE };

#define VG_SYS_MAX_TOKENS (1u << 16) /* distinct syscalls one device boot may define */
#define VG_SYS_MAX_DEVMODS 4096u     /* modules one device boot may define */

struct vg_sys_where {
	const char *module, *function; /* NULL when unknown */
	uint64_t off;
	int word; /* stack word (call sites), -1 */
	uint8_t kind;
};

struct vg_sys_alert {
	enum vg_sys_check check;
	enum vg_severity severity;
	const char *reason;
	uint32_t tid;
	uint32_t nr; /* syscall number, or VG_SYS_NONE */
	uint32_t argkey;
	struct vg_sys_where code, site;	 /* the syscall instruction; the call site */
	int expected_word;		 /* where the call site had to be, -1 */
	const struct vg_sys_where *prev; /* unseen-transition: the previous syscall's code */
	uint32_t prev_nr;
	uint32_t pid;
	const char *path; /* unexpected-exec */
	size_t pathlen;
	uint64_t count; /* events-lost */
};

typedef void (*vg_sys_alert_fn)(void *ctx, const struct vg_sys_alert *a);

struct vg_sys_verify_opts {
	bool train; /* collect tuples, transitions and executed files instead of judging */
	vg_sys_alert_fn alert;
	void *ctx;
	uint32_t max_alerts; /* per check kind; 0 = 64 */
};

struct vg_sys_result {
	uint64_t events;		 /* syscalls in the batch, folded loops expanded */
	uint64_t alerts[VG_SYS_C_KINDS]; /* raised */
	uint64_t observed, dropped;	 /* the device's own counters (STATS) */
	enum vg_sys_verdict verdict;
};

struct vg_sys_totals {
	uint64_t batches, events, tokens, modules, processes, threads, lost;
	uint64_t alerts[VG_SYS_C_KINDS];
	enum vg_sys_verdict worst;
};

struct vg_sys_verifier;

int vg_sys_verifier_new(struct vg_sys_verifier **v, const struct vg_sys_model *m,
			const struct vg_sys_verify_opts *o, struct vg_err *err);
/* Verifies one batch (header included, already accepted by the session layer). -EBADMSG
 * for a malformed batch: nothing of it may be trusted, the caller rejects it. */
int vg_sys_verifier_batch(struct vg_sys_verifier *v, const uint8_t *buf, size_t len,
			  struct vg_sys_result *res, struct vg_err *err);
/* The device restarted its definitions (a new boot, or an agent that had to start over). */
void vg_sys_verifier_reset(struct vg_sys_verifier *v);
void vg_sys_verifier_totals(const struct vg_sys_verifier *v, struct vg_sys_totals *t);
/* The trained sets merged into M's (views into a new buffer *OWNED; free it after saving). */
int vg_sys_verifier_train_into(const struct vg_sys_verifier *v, struct vg_sys_model *m,
			       void **owned, struct vg_err *err);
void vg_sys_verifier_free(struct vg_sys_verifier *v);

const char *vg_sys_check_name(enum vg_sys_check c);
const char *vg_sys_verdict_name(enum vg_sys_verdict v);
const char *vg_sys_check_attack(enum vg_sys_check c);
const char *vg_sys_nr_name(uint32_t nr);

#endif
