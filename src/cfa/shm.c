// SPDX-License-Identifier: MIT
/*
 * Drainer side of the libvigil-rt rings: creates the shared region (memfd) with the runtime's
 * reduction settings, and empties claimed rings in batches. The program on the other side is
 * untrusted: indices are sanity-checked and every batch is copied to private memory before the
 * ring slot is released, so the program cannot rewrite events the verifier is looking at.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vigil/cfa_trace.h"

#define BATCH_MAX 65536u

int vg_cfa_shm_create(struct vg_cfa_shm *s, const struct vg_cfa_shm_opts *o, struct vg_err *err)
{
	uint32_t ev = o && o->ring_events ? o->ring_events : (1u << 18);
	uint32_t ndis = 0;
	uint64_t bits = 0;
	const struct vg_cfa_model *m = o ? o->reduce : NULL;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (ev < VG_RT_MIN_RING_EVENTS || (ev & (ev - 1)))
		return vg_errf(err, EINVAL, "ring size %u is not a power of two >= %u", ev,
			       VG_RT_MIN_RING_EVENTS);
	for (uint32_t i = 0; m && i < m->nnodes; i++)
		if (m->nodes[i].flags & VG_CFA_N_REDUCED) {
			ndis++;
			if (m->kind == VG_RT_KIND_PC && m->nodes[i].off + 1ull > bits)
				bits = m->nodes[i].off + 1ull;
		}
	uint64_t stride = sizeof(struct vg_rt_ring) + 4ull * ev;
	uint64_t disable_off = 4096, bitmap_off = (disable_off + 8ull * ndis + 63) & ~63ull;
	uint64_t ring_off = (bitmap_off + (bits + 7) / 8 + 4095) & ~4095ull;

	s->size = ring_off + VG_RT_MAX_RINGS * stride;
	s->fd = memfd_create("vigil-cfa", 0); /* no CLOEXEC: the traced program inherits it */
	if (s->fd < 0)
		return vg_errf(err, errno, "memfd_create: %m");
	if (ftruncate(s->fd, (off_t)s->size)) {
		vg_cfa_shm_close(s);
		return vg_errf(err, errno, "sizing the trace region to %zu bytes: %m", s->size);
	}
	s->h = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	s->buf = malloc(BATCH_MAX * 4);
	if (s->h == MAP_FAILED || !s->buf) {
		s->h = NULL;
		vg_cfa_shm_close(s);
		return vg_errf(err, ENOMEM, "mapping the trace region: %m");
	}
	s->h->magic = VG_RT_MAGIC;
	s->h->version = VG_RT_VERSION;
	s->h->nrings = VG_RT_MAX_RINGS;
	s->h->ring_events = ev;
	s->h->ring_off = ring_off;
	s->h->ring_stride = stride;
	s->h->block_ms = o && o->block_ms ? o->block_ms : 2000;
	s->h->size = s->size;
	s->h->disable_off = disable_off;
	s->h->bitmap_off = bitmap_off;
	s->h->bitmap_bits = bits;
	struct vg_rt_disable *d = (struct vg_rt_disable *)((char *)s->h + disable_off);
	uint8_t *bm = (uint8_t *)s->h + bitmap_off;

	for (uint32_t i = 0; m && i < m->nnodes; i++)
		if (m->nodes[i].flags & VG_CFA_N_REDUCED) {
			d->off = m->nodes[i].off;
			d->guard = m->nodes[i].guard;
			d++;
			s->h->ndisable++;
			if (bits)
				bm[m->nodes[i].off >> 3] |= (uint8_t)(1u << (m->nodes[i].off & 7));
		}
	return 0;
}

/*
 * The producer publishes head once per chunk (include/vigil/rt.h); the events it wrote since are
 * the non-zero slots below `open` (zeroed by the producer before it published `open`). A head
 * behind our tail is normal (we took slots past it before it was published); a head or open
 * further ahead than the ring holds is corruption.
 */
static int drain_ring(struct vg_cfa_shm *s, uint32_t i, vg_cfa_sink_fn sink, void *ctx, uint64_t *n,
		      struct vg_err *err)
{
	struct vg_rt_ring *r = vg_rt_ring_at(s->h, i);
	uint32_t ev = s->h->ring_events, *src = vg_rt_ring_events(r);
	uint64_t open = __atomic_load_n(&r->open, __ATOMIC_ACQUIRE);
	uint64_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE), tail = r->tail, avail, lim;

	if ((int64_t)(head - tail) > (int64_t)ev || (int64_t)(open - tail) > (int64_t)ev) {
		bool h = (int64_t)(head - tail) > (int64_t)ev;

		return vg_errf(err, EPROTO,
			       "ring %u: %s %llu is %llu events past tail (the program corrupted "
			       "its trace ring)",
			       i, h ? "head" : "open", (unsigned long long)(h ? head : open),
			       (unsigned long long)((h ? head : open) - tail));
	}
	avail = (int64_t)(head - tail) > 0 ? head - tail : 0;
	lim = (int64_t)(open - tail) > (int64_t)avail ? open - tail : avail;
	while (avail < lim && __atomic_load_n(&src[(tail + avail) & (ev - 1)], __ATOMIC_RELAXED))
		avail++;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	while (avail) {
		uint32_t k = avail > BATCH_MAX ? BATCH_MAX : (uint32_t)avail;
		uint32_t pos = (uint32_t)(tail & (ev - 1)), first = ev - pos;
		int rc;

		if (first > k)
			first = k;
		memcpy(s->buf, src + pos, (size_t)first * 4);
		memcpy(s->buf + first, src, (size_t)(k - first) * 4);
		__atomic_store_n(&r->tail, tail + k, __ATOMIC_RELEASE);
		rc = sink(ctx, i, tail, r->lost, s->buf, k, err);
		if (rc)
			return rc;
		tail += k;
		avail -= k;
		*n += k;
	}
	return 0;
}

int vg_cfa_shm_drain(struct vg_cfa_shm *s, vg_cfa_sink_fn sink, void *ctx, uint64_t *n,
		     struct vg_err *err)
{
	*n = 0;
	for (uint32_t i = 0; i < VG_RT_MAX_RINGS; i++) {
		int rc;

		if (!__atomic_load_n(&vg_rt_ring_at(s->h, i)->claimed, __ATOMIC_ACQUIRE))
			continue;
		rc = drain_ring(s, i, sink, ctx, n, err);
		if (rc)
			return rc;
	}
	return 0;
}

void vg_cfa_shm_close(struct vg_cfa_shm *s)
{
	if (s->h)
		munmap(s->h, s->size);
	if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}
