/* SPDX-License-Identifier: MIT */
/*
 * Internal to the device agent (src/agent). The pipeline, one stage per file:
 *   loader.c   load and attach the eBPF recorder, set targets, read its counters
 *   seccomp.c  the fallback recorder: seccomp user notification, same records
 *   files.c    (dev, ino) of mapped files -> modules with a stable identity
 *   tokens.c   distinct syscalls (a record without its thread) -> interned token ids
 *   reduce.c   per-thread loop folding of token streams
 *   uplink.c   the gateway session, unacknowledged batches, the recording file
 *   core.c     records -> modules, tokens, threads; adaptive batching
 *   run.c      starting or attaching to the program; the loop; the eBPF probe
 */
#ifndef VIGIL_AGENT_INT_H
#define VIGIL_AGENT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bpf/sysmon.h"
#include "vigil/agent.h"
#include "vigil/sysbatch.h"

#define AG_NONE 0xffffffffu

/* ---- a small open-addressing map, u64 key -> u32 value (files, threads, processes) ---- */
struct ag_map {
	uint64_t *keys;
	uint32_t *vals; /* AG_NONE = empty slot */
	uint32_t cap, n;
};
uint32_t vg_ag_map_get(const struct ag_map *m, uint64_t key);
int vg_ag_map_put(struct ag_map *m, uint64_t key, uint32_t val);
/* Removes KEY (backward-shift deletion keeps probe chains intact). */
void vg_ag_map_del(struct ag_map *m, uint64_t key);
void vg_ag_map_free(struct ag_map *m);

/* ---- modules (files.c) ---- */
struct ag_module {
	uint32_t dev;
	uint64_t ino;
	struct vg_sb_module m; /* m.name points at name */
	char name[VG_SB_NAME_MAX];
	uint64_t sent_seq; /* last batch that carried the definition, UINT64_MAX = none */
	uint64_t used_seq;
	bool counted; /* in the statistics already */
};

struct ag_files {
	struct ag_map byfile; /* (dev, ino) -> module index */
	struct ag_map names;  /* (dev, ino) -> index in pending names */
	char (*pending)[VG_SB_NAME_MAX];
	uint32_t npending, cappending;
	struct ag_module *mods;
	uint32_t nmods, capmods;
};
/* SM_FILE: remembers the file's name (the kernel's components, leaf first). */
int vg_ag_files_name(struct ag_files *f, const struct sm_file *rec, size_t len);
/* The module of (DEV, INO), identified now if new; PID's maps help find its path. */
uint32_t vg_ag_files_module(struct ag_files *f, uint32_t dev, uint64_t ino, pid_t pid);
/* A module known by path only (the seccomp recorder reads /proc/PID/maps). */
uint32_t vg_ag_files_module_path(struct ag_files *f, uint32_t dev, uint64_t ino, const char *path);
void vg_ag_files_free(struct ag_files *f);

/* ---- tokens (tokens.c) ---- */
struct ag_token {
	struct vg_sb_token t; /* canonical contents, t.id 0: the id is the index */
	uint64_t sent_seq, used_seq;
};

struct ag_tokens {
	struct ag_token *v;
	uint32_t n, cap;
	uint32_t *slots; /* open addressing over token indices */
	uint32_t nslots;
	uint8_t key[16]; /* SipHash key: the traced program cannot aim for collisions */
};
int vg_ag_tokens_init(struct ag_tokens *t);
/* The id of T's contents (T.id ignored), interning it if new; AG_NONE when out of memory. */
uint32_t vg_ag_tokens_intern(struct ag_tokens *t, const struct vg_sb_token *tok, bool *is_new);
void vg_ag_tokens_free(struct ag_tokens *t);

/* ---- loop folding (reduce.c) ---- */
#define AG_HIST 16
struct ag_thread {
	uint32_t tid, pid;
	uint32_t hist[AG_HIST];	  /* last tokens of the expanded stream in this batch */
	uint32_t nhist;		  /* tokens pushed since the batch began */
	uint32_t period, matched; /* current repetition: its period, tokens matched so far */
	uint64_t *items;	  /* encoded items for this batch (sysbatch.h) */
	uint32_t nitems, capitems;
	uint64_t events; /* syscalls in this batch */
	uint64_t gap;	 /* syscalls lost before the next item */
	uint32_t last;	 /* last token, across batches; AG_NONE after a gap */
	bool exited;
};
int vg_ag_reduce_event(struct ag_thread *th, uint32_t token);
/* The last token happened COUNT more times (the kernel folded them). */
int vg_ag_reduce_repeat(struct ag_thread *th, uint64_t count);
/* Ends the batch for TH: pending partial repetitions become plain events. */
int vg_ag_reduce_finish(struct ag_thread *th);
void vg_ag_reduce_reset(struct ag_thread *th);

/* ---- uplink (uplink.c) ---- */
struct ag_qbatch {
	uint64_t seq;
	uint8_t *buf;
	size_t len;
};

struct ag_uplink {
	const struct vg_agent_opts *o;
	struct vg_wire *w;
	int recfd;
	uint64_t boot;
	uint64_t next_seq;   /* of the next batch to be made */
	uint64_t acked;	     /* batches below this are acknowledged (or need no ack) */
	bool reset_defs;     /* the gateway lost our definitions: send them again */
	bool connected_once; /* a later connection is a reconnection */
	uint64_t retry_at_ms, backoff_ms;
	struct ag_qbatch *q; /* sent or unsent, not yet acknowledged, in sequence order */
	uint32_t qn, qcap;
	size_t qbytes;
	struct vg_agent_stats *st;
};
int vg_ag_uplink_open(struct ag_uplink *u, const struct vg_agent_opts *o, uint64_t boot,
		   struct vg_agent_stats *st, struct vg_err *err);
/* Takes BUF (malloc'd): recorded, queued and sent when connected. */
int vg_ag_uplink_push(struct ag_uplink *u, uint64_t seq, uint8_t *buf, size_t len, struct vg_err *err);
/* Connects when due, reads acknowledgements, sends what is queued; never blocks for long. */
void vg_ag_uplink_poll(struct ag_uplink *u);
/* At the end: waits up to MS for every batch to be acknowledged. */
void vg_ag_uplink_drain(struct ag_uplink *u, uint32_t ms);
void vg_ag_uplink_close(struct ag_uplink *u);
void vg_ag_note(const struct vg_agent_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- the agent core (core.c): what both recorders feed ---- */
struct ag_proc {
	uint32_t pid;
	bool exited;
};

struct ag_core {
	const struct vg_agent_opts *o;
	struct vg_agent_stats *st;
	struct ag_files files;
	struct ag_tokens tokens;
	struct ag_map threads; /* tid -> index in th */
	struct ag_thread *th;
	uint32_t nth, capth;
	struct ag_map procs; /* pid -> index in pr */
	struct ag_proc *pr;
	uint32_t npr, cappr;
	uint32_t live;	       /* processes started and not yet ended */
	struct vg_sb_enc meta; /* PROC, THREAD, EXEC, EXIT records of this batch */
	uint32_t *defmods, ndefmods, capdefmods;
	uint32_t *deftoks, ndeftoks, capdeftoks;
	uint64_t items; /* items and meta records waiting for the next batch */
	bool novel;	/* something new since the last batch */
	uint64_t boot;
	uint64_t interval_ms, next_flush_ms;
	pid_t launcher; /* our own child before its exec: not the program yet */
	pid_t root;
	bool root_exited;
	uint64_t counters[SM_ST_NSTATS]; /* the recorder's, read before each batch */
	void (*read_counters)(void *ctx, uint64_t out[SM_ST_NSTATS]);
	void *counters_ctx;
	struct ag_uplink up;
};

int vg_ag_core_init(struct ag_core *c, const struct vg_agent_opts *o, struct vg_agent_stats *st,
		 struct vg_err *err);
/* One record of the recorder (sysmon.h layouts). */
int vg_ag_core_record(struct ag_core *c, const void *rec, size_t len);
/* The seccomp recorder found a mapped file by path (from /proc/PID/maps). */
uint32_t vg_ag_core_module_path(struct ag_core *c, uint32_t dev, uint64_t ino, const char *path);
/* Makes and sends a batch when due (or now when FORCE); FINAL marks the last one. */
int vg_ag_core_flush(struct ag_core *c, bool force, bool final, struct vg_err *err);
void vg_ag_core_free(struct ag_core *c);

/* ---- recorders ---- */
struct ag_bpf;
int vg_ag_bpf_open(struct ag_bpf **b, struct vg_err *err);
int vg_ag_bpf_add_target(struct ag_bpf *b, pid_t pid, struct vg_err *err);
/* Drains the ring into C, waiting up to TIMEOUT_MS for records; the number drained. */
int vg_ag_bpf_poll(struct ag_bpf *b, struct ag_core *c, int timeout_ms);
void vg_ag_bpf_counters(struct ag_bpf *b, uint64_t out[SM_ST_NSTATS]);
void vg_ag_bpf_close(struct ag_bpf *b);

/* seccomp user notification: runs ARGV under a filter that reports every syscall to us. */
struct ag_seccomp;
int vg_ag_seccomp_start(struct ag_seccomp **s, char *const argv[], struct ag_core *c, pid_t *child,
		     struct vg_err *err);
/* Handles notifications for up to TIMEOUT_MS; 0, or -ECHILD once no traced task is left. */
int vg_ag_seccomp_poll(struct ag_seccomp *s, int timeout_ms);
void vg_ag_seccomp_counters(struct ag_seccomp *s, uint64_t out[SM_ST_NSTATS]);
void vg_ag_seccomp_close(struct ag_seccomp *s);

#endif
