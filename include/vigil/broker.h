/* SPDX-License-Identifier: MIT */
/*
 * The memory broker: runs beside QEMU on the VM host and serves guest memory read-only, over
 * the secure channel (vigil/wire.h, protocol label VG_BROKER_PROTO), to the clients its
 * configuration names per guest. Its client is the remote memory driver (remote://HOST:PORT/NAME,
 * vmi/mem/remote.c), so every vmi and ids command works against a guest on another host.
 *
 * Protocol (all integers little-endian; one request, one reply, in order; requests may be
 * pipelined):
 *   OPEN  u8 1 | u8 len | name            -> layouts of the guest's memory file (kind, size,
 *                                            candidate layouts with their ranges, CPU state)
 *   READ  u8 2 | u32 n | n x (u64 off, u32 len) -> the bytes at those file offsets, in order
 *   CHECK u8 3                             -> vg_mem_check() of the broker's file
 *   LIVE  u8 4                             -> vg_mem_live() of the broker's file
 * Reply: u8 op | i32 status (0 or -errno; LIVE: 1/0) | body, or | u16 len | message when the
 * status is negative. A session opens one guest; nothing but its file's bytes is reachable.
 *
 * Everything a peer sends is checked: sizes, counts and offsets are bounded before anything is
 * allocated or read, and a malformed message ends the session.
 */
#ifndef VIGIL_BROKER_H
#define VIGIL_BROKER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/err.h"
#include "vigil/mem.h"
#include "vigil/wire.h"

#define VG_BROKER_PROTO "vigil-broker/1"
#define VG_BROKER_MAX_NAME 64
#define VG_BROKER_MAX_EXTENTS 4096
/* Bytes one READ may ask for: replies stay small enough that the buffers carrying them are
 * reused rather than grown (fresh memory is what a client pays most for). */
#define VG_BROKER_MAX_READ (256u << 10)
#define VG_BROKER_MAX_LAYOUTS 6 /* VG_MEM_MAX_LAYOUTS: PC and ARM candidates */

enum vg_broker_op { VG_BR_OPEN = 1, VG_BR_READ = 2, VG_BR_CHECK = 3, VG_BR_LIVE = 4 };

/* ---- messages (proto.c) ---- */

/* A growing byte buffer for building messages; a failed allocation sticks in ERR. */
struct vg_bbuf {
	uint8_t *p;
	size_t len, cap;
	int err; /* -ENOMEM once an append failed */
};

void vg_bbuf_u8(struct vg_bbuf *b, uint8_t v);
void vg_bbuf_u16(struct vg_bbuf *b, uint16_t v);
void vg_bbuf_u32(struct vg_bbuf *b, uint32_t v);
void vg_bbuf_u64(struct vg_bbuf *b, uint64_t v);
void vg_bbuf_bytes(struct vg_bbuf *b, const void *p, size_t n);
/* Room for N more bytes at the end, which the caller fills; NULL when out of memory. */
uint8_t *vg_bbuf_grow(struct vg_bbuf *b, size_t n);
void vg_bbuf_free(struct vg_bbuf *b);

/* A bounds-checked reader: a read past the end sets BAD and yields zeros. */
struct vg_brd {
	const uint8_t *p;
	size_t len, pos;
	bool bad;
};

uint8_t vg_brd_u8(struct vg_brd *r);
uint16_t vg_brd_u16(struct vg_brd *r);
uint32_t vg_brd_u32(struct vg_brd *r);
uint64_t vg_brd_u64(struct vg_brd *r);
/* A pointer to the next N bytes (consumed), NULL past the end. */
const uint8_t *vg_brd_bytes(struct vg_brd *r, size_t n);

struct vg_broker_extent {
	uint64_t off;
	uint32_t len;
};

struct vg_broker_req {
	uint8_t op;
	char name[VG_BROKER_MAX_NAME + 1]; /* OPEN */
	uint32_t n;			   /* READ: extents in ext */
	uint64_t total;			   /* READ: bytes asked for */
};

/* Decodes a request; READ's extents go to EXT (room for VG_BROKER_MAX_EXTENTS). -EPROTO with a
 * message for anything malformed: an unknown op, a bad name, too many extents or bytes, an
 * empty extent, trailing bytes. Offsets are checked against the file by the server. */
int vg_broker_req_decode(const uint8_t *msg, size_t len, struct vg_broker_req *req,
			 struct vg_broker_extent *ext, struct vg_err *err);
/* A guest name: 1..VG_BROKER_MAX_NAME of [A-Za-z0-9._-], not starting with '.'. */
bool vg_broker_name_ok(const char *name, size_t len);

/* What OPEN tells the client about the guest's memory file. */
struct vg_broker_layout {
	char name[32];
	enum vg_arch arch; /* the architecture the layout belongs to (VG_ARCH_ANY: either) */
	struct vg_mem_range *r;
	size_t n;
};

struct vg_broker_info {
	enum vg_mem_kind kind;
	uint64_t size;
	int nlayouts;
	struct vg_broker_layout layouts[VG_BROKER_MAX_LAYOUTS];
	struct vg_cpu_state cpu;
	uint32_t ncpus;
};

/* The OPEN reply for source M (status 0). */
void vg_broker_info_encode(struct vg_bbuf *b, const struct vg_mem *m);
/* Decodes an OPEN reply's body; ranges are allocated (vg_broker_info_free). -EPROTO when
 * malformed: a range past the file's size, too many layouts or ranges, trailing bytes. */
int vg_broker_info_decode(struct vg_brd *r, struct vg_broker_info *info, struct vg_err *err);
void vg_broker_info_free(struct vg_broker_info *info);

/* An error reply: op, -code, message. */
void vg_broker_reply_err(struct vg_bbuf *b, uint8_t op, int code, const char *msg);

/* ---- configuration (config.c) ---- */

struct vg_broker_vm {
	char name[VG_BROKER_MAX_NAME + 1];
	char *memory;			   /* the guest's RAM file or dump */
	char *format;			   /* NULL (as vmi decides), "auto", "raw", "elf", "lime" */
	uint8_t (*allow)[VG_WIRE_KEY_LEN]; /* client public keys */
	size_t nallow;
};

struct vg_broker_config {
	char *listen; /* HOST:PORT, NULL when not set */
	char *key;    /* the broker's secret key file, NULL when not set */
	struct vg_broker_vm *vms;
	size_t nvms;
};

/*
 * Parses a configuration (docs/broker.md):
 *   [broker]  listen = HOST:PORT   key = FILE
 *   [vm NAME] memory = FILE   format = auto|raw|elf|lime   allow = KEY...  (base64 public keys)
 * Strict: an unknown section or key, a repeated guest or key, a bad name or key, a guest
 * without memory, is an error naming the line. At most 1 MiB, 256 guests, 1024 keys a guest.
 */
int vg_broker_config_parse(struct vg_broker_config *c, const char *text, size_t len,
			   struct vg_err *err);
int vg_broker_config_load(struct vg_broker_config *c, const char *path, struct vg_err *err);
void vg_broker_config_free(struct vg_broker_config *c);
const struct vg_broker_vm *vg_broker_config_vm(const struct vg_broker_config *c, const char *name);
bool vg_broker_vm_allows(const struct vg_broker_vm *vm, const uint8_t pk[VG_WIRE_KEY_LEN]);
/* Does any guest allow this key? (the handshake's question; OPEN asks per guest) */
bool vg_broker_config_knows(const struct vg_broker_config *c, const uint8_t pk[VG_WIRE_KEY_LEN]);

/* ---- serving (server.c) ---- */

typedef void (*vg_broker_log_fn)(void *ctx, const char *msg);

struct vg_broker_opts {
	const struct vg_broker_config *cfg;
	const struct vg_wire_keypair *kp;
	int max_clients;	     /* concurrent sessions; 0 = 64 */
	int idle_timeout_ms;	     /* a session with no request for this long ends; 0 = 1 hour */
	volatile sig_atomic_t *stop; /* set (by a signal handler) to stop serving */
	vg_broker_log_fn log;	     /* one line per connection, refusal and session end */
	void *log_ctx;
};

/* Serves LISTEN_FD until *stop: every connection is served by a child process of its own
 * (forked in advance, a couple kept waiting), so one client's session cannot read another's
 * state or stall it. At most max_clients sessions at once; more wait in the listen queue. */
int vg_broker_serve(int listen_fd, const struct vg_broker_opts *o, struct vg_err *err);
/* One client on connected socket FD (taken over), in this process: handshake, OPEN, requests,
 * until the client leaves, idles out or misbehaves. 0 when it ended cleanly. */
int vg_broker_session(int fd, const struct vg_broker_opts *o, struct vg_err *err);

#endif
