/* SPDX-License-Identifier: MIT */
/*
 * The device agent: records a program's system calls with the code that made them and where
 * it was called from, folds repeated loops, batches adaptively and sends the batches to a
 * gateway over the secure channel (vigil/wire.h) and/or into a recording file. The gateway
 * (`vigil cfa serve`) checks them against the program's syscall model.
 *
 * Recording uses an eBPF program on the raw_syscalls and sched tracepoints (no fentry,
 * kprobes or LSM). Where eBPF cannot be loaded, vg_agent_probe() says why and the seccomp
 * user-notification recorder (VG_AGENT_SECCOMP) records the same events for a program the
 * agent starts itself, at a much higher cost per syscall.
 *
 * Batching: a batch goes out after an interval that starts at min_interval_ms, doubles after
 * every batch that held nothing new (no new syscall kind, module or process) up to
 * max_interval_ms, and drops back to the minimum when something new happens. An idle program
 * still sends an empty batch every max_interval_ms, so the gateway can tell silence from
 * death. Batches the gateway has not acknowledged are kept (up to 64 MiB) and sent again
 * after a reconnection.
 */
#ifndef VIGIL_AGENT_H
#define VIGIL_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vigil/err.h"
#include "vigil/wire.h"

enum vg_agent_recorder { VG_AGENT_BPF = 0, VG_AGENT_SECCOMP };

struct vg_agent_opts {
	const char *device;		   /* device id in every batch (at most 31 bytes) */
	const char *gateway;		   /* HOST:PORT of `vigil cfa serve`, or NULL */
	const struct vg_wire_keypair *key; /* the device's static key (with a gateway) */
	const uint8_t *gateway_pk;	   /* the gateway's pinned public key */
	const char *record;		   /* also append every batch to this new file, or NULL */
	uint32_t min_interval_ms, max_interval_ms; /* 0: 100 ms and 5000 ms */
	enum vg_agent_recorder recorder;
	const volatile int *stop; /* set (by a signal handler) to finish and send the rest */
	/* warnings and state changes, one line each (the CLI prints them); may be NULL */
	void (*note)(void *ctx, const char *msg);
	void *note_ctx;
};

struct vg_agent_stats {
	uint64_t syscalls;	       /* observed in traced tasks */
	uint64_t records;	       /* ring records drained (after the kernel's folding) */
	uint64_t dropped;	       /* lost to a full ring (reported to the gateway as gaps) */
	uint64_t batches, batch_bytes; /* batches made, their payload bytes */
	uint64_t wire_bytes;	       /* bytes written to the gateway's socket */
	uint64_t tokens, modules, processes, threads;
	uint64_t acked, verdicts[4]; /* batch verdicts: clean, anomaly, violation, incomplete */
	uint64_t reconnects;
	int exit_status; /* the program's wait status (run), -1 if unknown */
};

/* 0 when the eBPF recorder can be loaded and attached here; otherwise -errno and a sentence
 * saying why and what to do (root/CAP_BPF+CAP_PERFMON, kernel BTF, or --seccomp). */
int vg_agent_probe(struct vg_err *err);
/* Starts ARGV (argv[0] searched in PATH), records it and its children and threads until it
 * and they have exited or *o->stop is set, and sends/records the batches. */
int vg_agent_run(const struct vg_agent_opts *o, char *const argv[], struct vg_agent_stats *st,
		 struct vg_err *err);
/* Records the running process PID (and what it starts from now on) until it exits or
 * *o->stop is set. eBPF only. */
int vg_agent_attach(const struct vg_agent_opts *o, pid_t pid, struct vg_agent_stats *st,
		    struct vg_err *err);

/* A module's identity as the agent and the gateway compute it: the GNU build id, else a
 * BLAKE2b-160 of the file. *KIND is enum vg_sb_idkind. */
int vg_agent_module_ident(const char *path, uint8_t *kind, uint8_t id[32], uint8_t *len,
			  struct vg_err *err);

#endif
