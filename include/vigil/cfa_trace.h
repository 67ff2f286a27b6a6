/* SPDX-License-Identifier: MIT */
/*
 * CFA traces: the drainer side of the libvigil-rt shared-memory rings and the offline trace file.
 *
 * Trace file: a 64-byte header ("VGCFATR1", version, runtime kind, load base, build id) then
 * batch records: { u32 magic "BTCH", u32 stream, u32 count, u32 flags, u64 seq, u64 lost } and
 * COUNT u32 events. seq is the stream index of the batch's first event; the reader rejects a
 * batch whose seq is not exactly where the stream left off (reordered, replayed, missing) and a
 * truncated file, with a message naming the batch.
 */
#ifndef VIGIL_CFA_TRACE_H
#define VIGIL_CFA_TRACE_H

#include <stdint.h>
#include <stdio.h>

#include "vigil/cfa_model.h"
#include "vigil/err.h"
#include "vigil/rt.h"

#define VG_CFA_TRACE_MAX_BATCH (1u << 20)

struct vg_cfa_trace_hdr {
	uint32_t kind;
	uint64_t base;
	uint8_t build_id[32];
	uint32_t build_id_len;
};

struct vg_cfa_batch {
	uint32_t stream;
	uint64_t seq, lost;
	uint32_t n;
	uint32_t *ev; /* owned by the reader, valid until the next call */
};

struct vg_cfa_trace_reader {
	FILE *f;
	struct vg_cfa_trace_hdr hdr;
	uint64_t next_seq[VG_RT_MAX_RINGS];
	uint64_t batches, off;
	uint32_t *buf;
};

int vg_cfa_trace_open(struct vg_cfa_trace_reader *r, const char *path, struct vg_err *err);
/* 1: a batch, 0: end of file, <0: error (truncated, reordered, ...). */
int vg_cfa_trace_next(struct vg_cfa_trace_reader *r, struct vg_cfa_batch *b, struct vg_err *err);
void vg_cfa_trace_close(struct vg_cfa_trace_reader *r);

int vg_cfa_trace_write_hdr(FILE *f, const struct vg_cfa_trace_hdr *h);
int vg_cfa_trace_write_batch(FILE *f, uint32_t stream, uint64_t seq, uint64_t lost,
			     const uint32_t *ev, uint32_t n);

/* Drainer. */
struct vg_cfa_shm {
	int fd;
	struct vg_rt_shm *h;
	size_t size;
	uint32_t
		*buf; /* private copy of a batch: the program cannot change it under the verifier */
};

struct vg_cfa_shm_opts {
	uint32_t ring_events; /* power of two; 0 = 256 Ki events (1 MiB, measured best in bench/cfa)
			       */
	uint32_t block_ms;    /* 0 = 2000 */
	const struct vg_cfa_model *reduce; /* switch off the model's reduced sites, or NULL */
};

/* Takes one drained batch; a non-zero return stops the drain, with ERR saying why. */
typedef int (*vg_cfa_sink_fn)(void *ctx, uint32_t stream, uint64_t seq, uint64_t lost,
			      const uint32_t *ev, uint32_t n, struct vg_err *err);

int vg_cfa_shm_create(struct vg_cfa_shm *s, const struct vg_cfa_shm_opts *o, struct vg_err *err);
/* Empties every claimed ring into SINK in batches; *N gets the number of events moved. */
int vg_cfa_shm_drain(struct vg_cfa_shm *s, vg_cfa_sink_fn sink, void *ctx, uint64_t *n,
		     struct vg_err *err);
void vg_cfa_shm_close(struct vg_cfa_shm *s);

#endif
