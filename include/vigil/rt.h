/* SPDX-License-Identifier: MIT */
/*
 * libvigil-rt <-> drainer contract: the layout of the shared-memory region through which an
 * instrumented program hands its control-flow events to `vigil cfa trace|run`.
 *
 * The drainer creates the region (a memfd), writes this header and passes the descriptor number
 * in the environment variable VIGIL_CFA_SHM. The runtime maps it at start-up and, per thread,
 * claims one single-producer/single-consumer ring. Events are 32-bit words:
 *   - block granularity (trace-pc, trace-pc-guard): the instrumentation call's return address
 *     minus the executable's load base (__executable_start), i.e. a link-time offset;
 *   - function granularity (-finstrument-functions): on entry the call site (return address
 *     offset | VG_RT_CALLSITE_BIT, or VG_RT_CALLSITE_EXT) then the function offset; on exit the
 *     function offset | VG_RT_EXIT_BIT;
 *   - VG_RT_GAP: the producer dropped events (see full-ring policy in docs/cfa.md) and the
 *     stream is discontinuous here. Loss is also counted in the ring's `lost` field.
 * Publication: the producer writes slots in order and publishes `head` (release) at least every
 * VG_RT_CHUNK events (and whenever it waits for room), not after every event, so its hot path
 * never stores to a line the drainer polls. When it opens a chunk it zeroes the chunk's slots and
 * then publishes `open`, the end of that chunk: every slot below `open` is therefore either 0 (not
 * written yet) or its final value, and the drainer also takes the non-zero slots between `head`
 * and `open` (0 is never an event: no code sits at offset 0). So the last, unpublished chunk of a
 * thread that blocks, or of a process that crashes, is not lost. The drainer publishes `tail`.
 * Only this header is shared with the runtime, which is built with libc only.
 */
#ifndef VIGIL_RT_H
#define VIGIL_RT_H

#include <stdint.h>

#define VG_RT_MAGIC 0x54524756u /* "VGRT" little-endian */
#define VG_RT_VERSION 2u
#define VG_RT_ENV "VIGIL_CFA_SHM"
#define VG_RT_MAX_RINGS 64u
/* The smallest ring: its chunk (a quarter) must hold at least one event. */
#define VG_RT_MIN_RING_EVENTS 64u
#define VG_RT_CHUNK 128u /* events between head publications (a quarter ring if smaller) */
#define VG_RT_GAP 0xffffffffu
#define VG_RT_EXIT_BIT 0x80000000u
#define VG_RT_CALLSITE_BIT 0x40000000u /* function granularity: the caller's return address */
#define VG_RT_CALLSITE_EXT 0x7fffffffu /* ... when the caller is outside the executable */

enum vg_rt_kind {
	VG_RT_KIND_NONE = 0,
	VG_RT_KIND_PC = 1,    /* gcc/clang -fsanitize-coverage=trace-pc */
	VG_RT_KIND_GUARD = 2, /* clang -fsanitize-coverage=trace-pc-guard[,pc-table] */
	VG_RT_KIND_FUNC = 4,  /* -finstrument-functions */
};

/* One event site the drainer asks the runtime to switch off (event reduction). */
struct vg_rt_disable {
	uint32_t off;  /* event value of the site */
	int32_t guard; /* index into __sancov_guards, or -1 when unknown */
};

struct vg_rt_ring {
	_Alignas(64) volatile uint64_t head; /* written by the producer only */
	volatile uint64_t open;		     /* producer: slots below it are zeroed or written */
	_Alignas(64) volatile uint64_t tail; /* written by the drainer only */
	_Alignas(64) volatile uint32_t claimed;
	volatile uint32_t tid;
	volatile uint64_t lost;	 /* events dropped after the blocking budget ran out */
	volatile uint64_t waits; /* times the producer found the ring full */
	uint8_t pad[40];
	/* uint32_t ev[ring_events] follows */
};

struct vg_rt_shm {
	uint32_t magic, version;
	uint32_t nrings;      /* rings in the region */
	uint32_t ring_events; /* power of two */
	uint64_t ring_off;    /* offset of ring 0's header */
	uint64_t ring_stride; /* bytes from one ring header to the next */
	uint32_t block_ms;    /* how long a producer waits on a full ring before counting loss */
	uint32_t ndisable;    /* struct vg_rt_disable entries at disable_off */
	uint64_t disable_off;
	uint64_t bitmap_off; /* trace-pc reduction bitmap: bit (off) set = site switched off */
	uint64_t bitmap_bits;
	uint64_t size; /* total bytes of the region */
	/* written by the runtime */
	volatile uint64_t base; /* load base of the executable */
	volatile uint32_t kind; /* OR of enum vg_rt_kind seen */
	volatile uint32_t nclaimed;
	volatile uint64_t lost_threads; /* threads that found no free ring */
	volatile uint32_t attached;	/* pid of the process that attached */
	uint32_t reserved;
};

static inline struct vg_rt_ring *vg_rt_ring_at(struct vg_rt_shm *s, uint32_t i)
{
	return (struct vg_rt_ring *)((char *)s + s->ring_off + (uint64_t)i * s->ring_stride);
}

static inline uint32_t *vg_rt_ring_events(struct vg_rt_ring *r)
{
	return (uint32_t *)(r + 1);
}

#endif
