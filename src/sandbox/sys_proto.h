/* SPDX-License-Identifier: MIT */
/*
 * Wire format of the `system` environment's control channel: a virtio-serial port between
 * the host (env_system.c) and the in-guest agent (sys_agent/agent.c), never the guest's
 * network. All integers are little-endian 32-bit; both ends are little-endian, and the
 * structs hold only uint32_t/uint8_t so their layout is the same on x86-64 and ARM EABI.
 *
 *   guest -> host  after boot:   record SYSP_READY (empty), then the agent waits
 *   host -> guest  per run:      struct sysp_req, then req.sample_len bytes of the sample
 *   guest -> host  per run:      records (struct sysp_rec + rec.len bytes), last SYSP_END
 *
 * The guest side is hostile once a sample ran: the host bounds every record by kind
 * (sysp_max_len) and the whole exchange by a deadline.
 */
#ifndef VIGIL_SANDBOX_SYS_PROTO_H
#define VIGIL_SANDBOX_SYS_PROTO_H

#include <stdint.h>

#define SYSP_PORT_NAME "vigil.0"
#define SYSP_REQ_MAGIC 0x51524756u /* "VGRQ" */
#define SYSP_REC_MAGIC 0x43524756u /* "VGRC" */
#define SYSP_VERSION 2u
#define SYSP_MAX_SAMPLE (32u << 20)

struct sysp_req {
	uint32_t magic;
	uint32_t version;
	uint32_t timeout_s;
	uint32_t sample_len;
	uint32_t time_sec_lo, time_sec_hi; /* host wall clock, so guest mtimes make sense */
	uint8_t seed[32];		   /* mixed into the guest's RNG: restored snapshots
					    * would otherwise all share one RNG state */
	char name[64]; /* the sample's file name in the guest's /tmp/run, [A-Za-z0-9._-], NUL
			* terminated (the host sanitises, the agent checks) */
};

enum sysp_kind {
	SYSP_READY = 1,
	SYSP_STATUS = 2,   /* status.json */
	SYSP_SYSCALLS = 3, /* syscalls.log */
	SYSP_FILES = 4,	   /* files.tsv */
	SYSP_SERVICES = 5, /* services.json */
	SYSP_STDOUT = 6,
	SYSP_STDERR = 7,
	SYSP_LOG = 8, /* agent diagnostics, agent.log */
	SYSP_END = 9,
	SYSP_KIND_MAX = 10,
};

struct sysp_rec {
	uint32_t magic;
	uint32_t kind;
	uint32_t len;
};

/* Upper bound of a record's payload by kind (the agent truncates to it, the host rejects
 * anything larger). */
static inline uint32_t sysp_max_len(uint32_t kind)
{
	switch (kind) {
	case SYSP_SYSCALLS:
		return 4u << 20;
	case SYSP_FILES:
		return 1u << 20;
	case SYSP_STDOUT:
	case SYSP_STDERR:
		return 64u << 10;
	case SYSP_LOG:
		return 16u << 10;
	case SYSP_STATUS:
	case SYSP_SERVICES:
		return 4096;
	default:
		return 0;
	}
}

#endif
