/* SPDX-License-Identifier: MIT */
/*
 * The gateway (`vigil cfa serve`): many devices' agents connect over the secure channel
 * (vigil/wire.h, protocol VG_SB_PROTO); each device's key, id and syscall model come from a
 * registry file; every batch gets the session checks and the engine (vigil/sysstream.h), a
 * verdict acknowledged to the agent, alerts in the one schema and, with a signing key,
 * signed reports per device (every N batches and when its session ends). Devices silent for
 * longer than allowed are reported once until they speak again.
 *
 * Registry: one device per line, "ID PUBLIC-KEY MODEL [PROGRAM]" (ID: letters, digits, '.',
 * '_', '-'; PUBLIC-KEY: base64 from `vigil agent keygen`; '#' starts a comment). Models are
 * loaded once and shared by every device that names them.
 *
 * Threads: handshakes run in their own threads (a slow or silent client cannot stall
 * verification); everything else, verification included, is one event loop on one core.
 */
#ifndef VIGIL_SYSSERVE_H
#define VIGIL_SYSSERVE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vigil/alert.h"
#include "vigil/err.h"
#include "vigil/wire.h"

struct vg_sys_serve_opts {
	const char *listen; /* HOST:PORT */
	const struct vg_wire_keypair *key;
	const char *registry;
	const uint8_t *sign_sk;	    /* Ed25519 secret key for reports, or NULL */
	const char *report_dir;	    /* DIR/<device>.report (the latest), or NULL */
	uint32_t report_every;	    /* batches between checkpoint reports; 0 = at the end only */
	uint32_t silent_after_s;    /* 0 = 30 */
	uint32_t handshake_threads; /* 0 = 2 */
	struct vg_alerter *alerter;
	FILE *batch_log; /* a JSON line per batch (device, seq, status, verdict), or NULL */
	const volatile int *stop;
	void (*note)(void *ctx, const char *msg);
	void *note_ctx;
};

struct vg_sys_serve_stats {
	uint64_t devices, seen, sessions, refused, handshake_failures, channel_errors;
	uint64_t batches, rejected, syscalls, alerts, silent;
	uint64_t verdicts[4];
	double cpu_s;	     /* CPU time of the event loop (verification, decryption, I/O) */
	double verify_cpu_s; /* of which in the engine and session checks */
	double wall_s;
};

int vg_sys_serve(const struct vg_sys_serve_opts *o, struct vg_sys_serve_stats *st,
		 struct vg_err *err);

#endif
