/* SPDX-License-Identifier: MIT */
/*
 * Syscall attestation batches: what a device agent (src/agent) sends to the gateway
 * (`vigil cfa serve`, src/cfa/sys_*.c) inside the secure channel (vigil/wire.h), and what a
 * recording file holds. The encoder is device-side (src/agent/batch_enc.c); the decoder is
 * gateway-side (src/cfa/sys_batch.c) and treats every byte as hostile.
 *
 * Channel messages (the first four bytes say which):
 *   "VGSH" hello, agent -> gateway: version, boot id, next sequence number, device id
 *   "VGSR" hello reply: whether the gateway knows this boot and the next sequence it expects
 *   "VGSB" a batch (below)
 *   "VGSA" ack: the verdict of one batch
 *
 * A batch: a 64-byte header
 *   u32 "VGSB" | u16 version | u16 flags | u64 boot | u64 seq | i64 wall-clock us |
 *   char device[32] (NUL-padded)
 * then records, each a tag byte and LEB128 fields:
 *   MODULE  id, identity kind, identity length, identity bytes, name length, name
 *   TOKEN   id, nr, argkey, path hash, unresolved-words bitmap, ip {kind, module, off},
 *           ncand, ncand x {kind, word, module, off}: one distinct syscall as recorded
 *           (interned: defined before use; a definition is repeated until the gateway has
 *           acknowledged a batch holding it)
 *   PROC    pid, parent pid, parent tid: a process was created
 *   THREAD  tid, pid, creator tid: a thread was created
 *   EXEC    pid, module, path length, path: a process executed a file
 *   EXIT    pid: a process ended
 *   EVENTS  tid, item count, items: one thread's syscalls in order (loop folding). Item v:
 *           even: the token v>>1;
 *           v&3 == 1: the last ((v>>2)&7)+1 syscalls of this record repeat v>>5 more times;
 *           v&3 == 3: the last ((v>>2)&7)+1 items of this record repeat v>>5 more times (a
 *           loop around a loop; none of those items is such a group, and each repeat among
 *           them refers only to syscalls of the group, so every copy expands alike)
 *   GAP     tid, count: syscalls the device could not record
 *   STATS   syscalls observed since the agent started, records dropped by the kernel
 * The sequence number counts batches of one boot from 0; the device id must be the one the
 * gateway registered for the session's key. So a batch that is missing, repeated, reordered
 * or sent under another device's name is detected even though the channel already rejects
 * tampering.
 */
#ifndef VIGIL_SYSBATCH_H
#define VIGIL_SYSBATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/err.h"

#define VG_SB_MAGIC_BATCH 0x42534756u /* "VGSB" little-endian */
#define VG_SB_MAGIC_HELLO 0x48534756u /* "VGSH" */
#define VG_SB_MAGIC_REPLY 0x52534756u /* "VGSR" */
#define VG_SB_MAGIC_ACK 0x41534756u   /* "VGSA" */
#define VG_SB_VERSION 1
#define VG_SB_HDR_LEN 64
#define VG_SB_DEVICE_MAX 32 /* bytes, NUL included */
#define VG_SB_MAX_BATCH (8u << 20)
#define VG_SB_MAX_PERIOD 8
#define VG_SB_MAX_CAND 4
/* call-site candidates come from the first VG_SB_WINDOW stack words (src/agent/bpf/sysmon.h) */
#define VG_SB_WINDOW 32
#define VG_SB_ID_MAX 32
#define VG_SB_NAME_MAX 1024
#define VG_SB_PROTO "vigil-sysattest/1" /* the wire protocol label */

enum vg_sb_tag {
	VG_SB_T_MODULE = 1,
	VG_SB_T_TOKEN,
	VG_SB_T_PROC,
	VG_SB_T_THREAD,
	VG_SB_T_EXEC,
	VG_SB_T_EXIT,
	VG_SB_T_EVENTS,
	VG_SB_T_GAP,
	VG_SB_T_STATS,
};

enum vg_sb_flags {
	VG_SB_F_FINAL = 1, /* the agent is ending: no batch of this boot follows */
};

/* How a module (an executable file) is identified. */
enum vg_sb_idkind {
	VG_SB_ID_NONE = 0,  /* the agent could not read the file */
	VG_SB_ID_BUILD = 1, /* its GNU build id */
	VG_SB_ID_HASH = 2,  /* BLAKE2b-160 of its contents (no build id) */
};

/* Location kinds are the eBPF recorder's (src/agent/bpf/sysmon.h, enum sm_kind). */
enum vg_sb_kind {
	VG_SB_K_FILE = 1,
	VG_SB_K_ANON,
	VG_SB_K_VDSO,
	VG_SB_K_NOVMA,
	VG_SB_K_DATA,
};

#define VG_SB_ITEM_TOKEN(t) ((uint64_t)(t) << 1)
#define VG_SB_ITEM_REPEAT(p, n) ((uint64_t)(n) << 5 | (uint64_t)((p)-1) << 2 | 1)
#define VG_SB_ITEM_GROUP(k, n) ((uint64_t)(n) << 5 | (uint64_t)((k)-1) << 2 | 3)
#define VG_SB_ITEM_KIND(v) ((v)&1 ? ((v)&3) : 0) /* 0 token, 1 repeat, 3 group */
#define VG_SB_ITEM_LEN(v) ((uint32_t)(((v) >> 2) & 7) + 1)
#define VG_SB_ITEM_COUNT(v) ((v) >> 5)

struct vg_sb_hdr {
	uint16_t version, flags;
	uint64_t boot, seq;
	int64_t t_us;
	char device[VG_SB_DEVICE_MAX + 1];
};

struct vg_sb_module {
	uint32_t id;
	uint8_t idkind, idlen;
	uint8_t ident[VG_SB_ID_MAX];
	const char *name; /* not NUL-terminated */
	size_t namelen;
};

struct vg_sb_loc {
	uint8_t kind, word;
	uint32_t module;
	uint64_t off;
};

struct vg_sb_token {
	uint32_t id;
	uint32_t nr, argkey, pathhash;
	uint32_t unres; /* stack words the device could not look up (bit per word) */
	struct vg_sb_loc ip;
	uint8_t ncand;
	struct vg_sb_loc cand[VG_SB_MAX_CAND];
};

/* ---- encoder (src/agent/batch_enc.c) ---- */

struct vg_sb_enc {
	uint8_t *buf;
	size_t len, cap;
	int oom;
};

void vg_sb_enc_begin(struct vg_sb_enc *e, const char *device, uint64_t boot, uint64_t seq,
		     int64_t t_us, uint16_t flags);
void vg_sb_enc_module(struct vg_sb_enc *e, const struct vg_sb_module *m);
void vg_sb_enc_token(struct vg_sb_enc *e, const struct vg_sb_token *t);
void vg_sb_enc_proc(struct vg_sb_enc *e, uint32_t pid, uint32_t ppid, uint32_t ptid);
void vg_sb_enc_thread(struct vg_sb_enc *e, uint32_t tid, uint32_t pid, uint32_t creator);
void vg_sb_enc_exec(struct vg_sb_enc *e, uint32_t pid, uint32_t module, const char *path);
void vg_sb_enc_exit(struct vg_sb_enc *e, uint32_t pid);
void vg_sb_enc_events(struct vg_sb_enc *e, uint32_t tid, uint32_t nitems);
/* One item, encoded with the VG_SB_ITEM_* macros. */
void vg_sb_enc_item(struct vg_sb_enc *e, uint64_t item);
void vg_sb_enc_gap(struct vg_sb_enc *e, uint32_t tid, uint64_t count);
void vg_sb_enc_stats(struct vg_sb_enc *e, uint64_t observed, uint64_t dropped);
/* Appends records encoded elsewhere (another vg_sb_enc used without vg_sb_enc_begin). */
void vg_sb_enc_raw(struct vg_sb_enc *e, const void *p, size_t n);
/* 0, or -ENOMEM when any append failed (the batch is then unusable). */
int vg_sb_enc_status(const struct vg_sb_enc *e);
void vg_sb_enc_free(struct vg_sb_enc *e);

/* Channel control messages. */
struct vg_sb_hello {
	uint64_t boot, next_seq;
	char device[VG_SB_DEVICE_MAX + 1];
};
#define VG_SB_HELLO_LEN 56
#define VG_SB_REPLY_LEN 16
#define VG_SB_ACK_LEN 16
void vg_sb_hello_pack(uint8_t out[VG_SB_HELLO_LEN], const struct vg_sb_hello *h);
int vg_sb_hello_unpack(const uint8_t *buf, size_t len, struct vg_sb_hello *h);
void vg_sb_reply_pack(uint8_t out[VG_SB_REPLY_LEN], bool known, uint64_t next_seq);
int vg_sb_reply_unpack(const uint8_t *buf, size_t len, bool *known, uint64_t *next_seq);
void vg_sb_ack_pack(uint8_t out[VG_SB_ACK_LEN], uint64_t seq, uint32_t verdict);
int vg_sb_ack_unpack(const uint8_t *buf, size_t len, uint64_t *seq, uint32_t *verdict);

/* ---- decoder (src/cfa/sys_batch.c) ---- */

struct vg_sb_visitor {
	int (*module)(void *ctx, const struct vg_sb_module *m);
	int (*token)(void *ctx, const struct vg_sb_token *t);
	int (*proc)(void *ctx, uint32_t pid, uint32_t ppid, uint32_t ptid);
	int (*thread)(void *ctx, uint32_t tid, uint32_t pid, uint32_t creator);
	int (*exec)(void *ctx, uint32_t pid, uint32_t module, const char *path, size_t len);
	int (*exit)(void *ctx, uint32_t pid);
	int (*events)(void *ctx, uint32_t tid); /* start of one thread's items */
	int (*event)(void *ctx, uint32_t token);
	/* the last PERIOD events (all in this EVENTS record) repeat COUNT more times */
	int (*repeat)(void *ctx, uint32_t period, uint64_t count);
	/* the last ITEMS items (self-contained, no group among them) repeat COUNT more times */
	int (*group)(void *ctx, uint32_t items, uint64_t count);
	int (*gap)(void *ctx, uint32_t tid, uint64_t count);
	int (*stats)(void *ctx, uint64_t observed, uint64_t dropped);
};

/* Reads and checks a batch header (magic, version, NUL-terminated device). */
int vg_sb_parse_hdr(const uint8_t *buf, size_t len, struct vg_sb_hdr *h, struct vg_err *err);
/* Walks every record, calling V's callbacks (NULL ones are skipped). A callback's non-zero
 * return stops the walk and is returned. -EBADMSG for malformed input, with the offset. */
int vg_sb_parse(const uint8_t *buf, size_t len, const struct vg_sb_visitor *v, void *ctx,
		struct vg_err *err);

/* ---- recording files (src/cfa/sys_record.c): "VGSREC01", then u32 length + batch ---- */
struct vg_sb_reader {
	int fd;
	uint8_t *buf;
	size_t cap;
	uint64_t off, batches;
	char path[256];
};
int vg_sb_rec_open(struct vg_sb_reader *r, const char *path, struct vg_err *err);
/* 1 and the next batch (valid until the next call), 0 at the end, <0 when truncated/bad. */
int vg_sb_rec_next(struct vg_sb_reader *r, const uint8_t **batch, size_t *len, struct vg_err *err);
void vg_sb_rec_close(struct vg_sb_reader *r);

#endif
