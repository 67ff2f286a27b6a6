// SPDX-License-Identifier: MIT
/*
 * libvigil-rt: the instrumentation runtime linked into a monitored program (libc only).
 *
 * Contract: implements the compiler hooks for clang -fsanitize-coverage=trace-pc-guard (with or
 * without pc-table), gcc/clang -fsanitize-coverage=trace-pc and -finstrument-functions. When the
 * program runs under `vigil cfa trace|run` (VIGIL_CFA_SHM names an inherited memfd laid out as in
 * include/vigil/rt.h) each thread appends 32-bit events to its own ring; otherwise every hook
 * returns at once. Hot path: two TLS loads, one store into the ring and one TLS store - no system
 * call, no lock, no store to a shared line (head is published once per chunk of VG_RT_CHUNK). Full
 * ring: wait for the drainer up to block_ms, then count the loss in the ring and write a VG_RT_GAP
 * marker once space returns, so loss is never silent.
 *
 * This is the one place in vigil with process-global state: the compiler's hooks take no context
 * argument, so the mapping and load base must be reachable from a bare function call.
 */
#include <fcntl.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vigil/rt.h"

#define NOINSTR __attribute__((no_instrument_function))
/* The runtime is never built with instrumentation flags; this keeps -finstrument-functions users
 * of an amalgamated build from recursing. */
#define HOT __attribute__((no_instrument_function, hot))

extern const char __executable_start[];
extern const char __etext[];

/* The fast path touches only cur and stop: store the event at cur, bump cur; cur == stop sends
 * the event through slow(), which publishes head, checks the drainer's tail and opens the next
 * chunk (at most `chunk` slots, never past the ring's end or the free space). */
struct vg_tls {
	uint32_t *cur;
	uint32_t *stop; /* end of the open chunk; cur == stop == 0: no ring yet */
	uint32_t *ev;	/* ring slots */
	uint64_t head0; /* stream position of ev[(head0 & mask)] = start of the open chunk */
	uint64_t mask;
	uint64_t cap;
	uint32_t chunk;
	struct vg_rt_ring *ring;
	uint32_t state;	  /* 0: no ring yet, 1: recording, 2: not recording */
	uint32_t gap;	  /* events were dropped; emit VG_RT_GAP before the next event */
	uint32_t starved; /* the drainer did not make room within block_ms: stop waiting */
};

static __thread struct vg_tls tls __attribute__((tls_model("local-exec")));
static struct vg_rt_shm *g_shm;
static uintptr_t g_base;
static uintptr_t g_textlen;
static const uint8_t *g_bitmap;
static uint64_t g_bmbits;
static int g_attach_done;

static NOINSTR void reset_after_fork(void)
{
	/* The child must not write into the parent's ring: it claims a fresh one on first use. */
	memset(&tls, 0, sizeof(tls));
}

void __sanitizer_cov_trace_pc(void);
void __sanitizer_cov_trace_pc_guard(uint32_t *guard);

/*
 * Event reduction, the cheap way: the hook calls of switched-off sites are overwritten with a
 * 5-byte NOP, so they cost nothing at all rather than a call that returns early. Only a direct
 * `call <our hook>` ending exactly at the site's event offset is touched; anything else keeps the
 * runtime check (guard 0 or the bitmap). Runs once at start-up, before other threads exist; the
 * text pages are writable only for the duration (mprotect, the one place with system calls).
 */
static NOINSTR uint32_t patch_out(const struct vg_rt_shm *shm)
{
	static const uint8_t nop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
	const struct vg_rt_disable *d =
		(const struct vg_rt_disable *)((const char *)shm + shm->disable_off);
	uintptr_t lo = UINTPTR_MAX, hi = 0, pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uint32_t n = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < shm->ndisable; i++) {
			uintptr_t at = g_base + d[i].off - 5, target;
			int32_t rel;

			if (d[i].off < 5 || d[i].off > g_textlen || *(const uint8_t *)at != 0xe8)
				continue;
			memcpy(&rel, (const void *)(at + 1), 4);
			target = at + 5 + (uintptr_t)(intptr_t)rel;
			if (target != (uintptr_t)__sanitizer_cov_trace_pc &&
			    target != (uintptr_t)__sanitizer_cov_trace_pc_guard)
				continue;
			if (pass == 0) {
				lo = at < lo ? at : lo;
				hi = at + 5 > hi ? at + 5 : hi;
				n++;
			} else {
				memcpy((void *)at, nop5, 5);
			}
		}
		if (pass == 0) {
			if (!n)
				return 0;
			lo &= ~(pg - 1);
			hi = (hi + pg - 1) & ~(pg - 1);
			/* RWX, not RW: this very code may share a page with a patched site */
			if (mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE | PROT_EXEC))
				return 0;
		}
	}
	mprotect((void *)lo, hi - lo, PROT_READ | PROT_EXEC);
	return n;
}

static NOINSTR void attach(void)
{
	const char *s;
	struct stat st;
	void *p;
	long fd;
	char *end;

	if (__atomic_exchange_n(&g_attach_done, 1, __ATOMIC_ACQ_REL))
		return;
	g_base = (uintptr_t)__executable_start;
	g_textlen = (uintptr_t)__etext - g_base;
	s = getenv(VG_RT_ENV);
	if (!s)
		return;
	fd = strtol(s, &end, 10);
	if (*end || fd < 0 || fd > 65535 || fstat((int)fd, &st) ||
	    st.st_size < (off_t)sizeof(*g_shm))
		return;
	p = mmap(0, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
	/* Programs this one executes must not attach to our region with their own base. */
	fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	unsetenv(VG_RT_ENV);
	if (p == MAP_FAILED)
		return;
	struct vg_rt_shm *shm = p;
	if (shm->magic != VG_RT_MAGIC || shm->version != VG_RT_VERSION ||
	    shm->size != (uint64_t)st.st_size || shm->ring_events < VG_RT_MIN_RING_EVENTS ||
	    (shm->ring_events & (shm->ring_events - 1)) || shm->nrings > VG_RT_MAX_RINGS ||
	    shm->ring_off + (uint64_t)shm->nrings * shm->ring_stride > shm->size ||
	    shm->ring_stride < sizeof(struct vg_rt_ring) + 4ull * shm->ring_events ||
	    shm->disable_off + 8ull * shm->ndisable > shm->size ||
	    shm->bitmap_off + (shm->bitmap_bits + 7) / 8 > shm->size) {
		munmap(p, (size_t)st.st_size);
		return;
	}
	shm->base = g_base;
	shm->attached = (uint32_t)getpid();
	if (shm->bitmap_bits) {
		g_bitmap = (const uint8_t *)shm + shm->bitmap_off;
		g_bmbits = shm->bitmap_bits;
	}
	pthread_atfork(0, 0, reset_after_fork);
	/* every switched-off site patched: the hook need not look at the bitmap */
	if (shm->ndisable && patch_out(shm) == shm->ndisable)
		g_bmbits = 0;
	__atomic_store_n(&g_shm, shm, __ATOMIC_RELEASE);
}

__attribute__((constructor(101))) static NOINSTR void vg_rt_init(void)
{
	attach();
}

static NOINSTR uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * A fresh ring's pages are faulted in now, once per thread, rather than one page fault every
 * 1024 events during the first lap (measured: that is most of the cost of short traced runs on a
 * VM, where a fault costs microseconds). The ring is unused at claim time, so writing it is safe.
 */
static NOINSTR void prefault(uint32_t *ev, uint64_t n)
{
#ifdef MADV_POPULATE_WRITE
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), lo = ((uintptr_t)ev + pg - 1) & ~(pg - 1);
	uintptr_t hi = ((uintptr_t)(ev + n)) & ~(pg - 1);

	if (hi > lo && !madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE))
		return;
#endif
	for (uint64_t i = 0; i < n; i += 1024)
		__atomic_store_n(&ev[i], 0, __ATOMIC_RELAXED);
}

static NOINSTR int claim(struct vg_tls *p, uint32_t kind)
{
	struct vg_rt_shm *shm = __atomic_load_n(&g_shm, __ATOMIC_ACQUIRE);

	if (!shm) {
		attach();
		shm = __atomic_load_n(&g_shm, __ATOMIC_ACQUIRE);
	}
	p->state = 2;
	if (!shm)
		return 0;
	for (uint32_t i = 0; i < shm->nrings; i++) {
		struct vg_rt_ring *r = vg_rt_ring_at(shm, i);
		uint32_t zero = 0;

		if (!__atomic_compare_exchange_n(&r->claimed, &zero, 1, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;
		r->tid = (uint32_t)syscall(SYS_gettid);
		__atomic_fetch_or(&shm->kind, kind, __ATOMIC_RELAXED);
		__atomic_fetch_add(&shm->nclaimed, 1, __ATOMIC_RELAXED);
		p->ring = r;
		p->ev = vg_rt_ring_events(r);
		p->mask = shm->ring_events - 1;
		p->cap = shm->ring_events - 1; /* keep one slot for a pending VG_RT_GAP marker */
		p->chunk = shm->ring_events >= 4 * VG_RT_CHUNK ? VG_RT_CHUNK : shm->ring_events / 4;
		p->head0 = r->head;
		p->cur = p->stop = p->ev + (p->head0 & p->mask);
		prefault(p->ev, shm->ring_events);
		p->state = 1;
		return 1;
	}
	__atomic_fetch_add(&shm->lost_threads, 1, __ATOMIC_RELAXED);
	return 0;
}

/*
 * Slow path, once per chunk: no ring yet, or the open chunk is used up. Publishes head, waits for
 * room if the ring is full (or counts the loss), writes a pending gap marker and opens the next
 * chunk. Returns the slot for the event, or NULL when it is not recorded.
 */
static NOINSTR __attribute__((noinline, cold)) uint32_t *slow(struct vg_tls *p, uint32_t kind)
{
	uint64_t deadline = 0, head, used, room, pos;
	uint32_t spins = 0;

	if (p->state == 0 && !claim(p, kind))
		return 0;
	if (p->state != 1)
		return 0;
	struct vg_rt_ring *r = p->ring;
	uint64_t size = p->mask + 1;

	head = p->head0 + (uint64_t)(p->cur - (p->ev + (p->head0 & p->mask)));
	__atomic_store_n(&r->head, head, __ATOMIC_RELEASE);
	p->head0 = head;
	p->cur = p->stop = p->ev + (head & p->mask);
	for (;;) {
		used = head - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
		if (used < p->cap)
			break;
		if (p->starved) {
			__atomic_fetch_add(&r->lost, 1, __ATOMIC_RELAXED);
			p->gap = 1;
			return 0;
		}
		if (!deadline) {
			__atomic_fetch_add(&r->waits, 1, __ATOMIC_RELAXED);
			deadline = now_ms() + g_shm->block_ms;
		}
		sched_yield();
		if ((++spins & 63) == 0 && now_ms() > deadline)
			p->starved = 1;
	}
	p->starved = 0;
	room = p->cap - used;
	if (p->gap) {
		/* the slot kept free by cap = size - 1 takes the marker, so ROOM still fits the
		 * event after it */
		p->ev[head & p->mask] = VG_RT_GAP;
		head++;
		p->gap = 0;
		__atomic_store_n(&r->head, head, __ATOMIC_RELEASE);
	}
	pos = head & p->mask;
	if (room > p->chunk)
		room = p->chunk;
	if (room > size - pos)
		room = size - pos;
	/* the drainer consumed these slots; zeroing them lets it tell written from unwritten (and
	 * brings the lines into this core's cache for the stores that follow) */
	memset(p->ev + pos, 0, (size_t)room * 4);
	__atomic_store_n(&r->open, head + room, __ATOMIC_RELEASE);
	p->head0 = head;
	p->cur = p->ev + pos;
	p->stop = p->cur + room;
	return p->cur;
}

/* Two TLS loads, one store into the ring, one TLS store: head is published once per chunk, so
 * the hot path never writes a cache line the drainer polls. Events of a chunk that is still open
 * when the thread blocks or the process dies are not lost: the chunk was zeroed when it was
 * opened, so the drainer takes its non-zero slots past the published head (include/vigil/rt.h). */
static inline HOT void put(uint32_t ev, uint32_t kind)
{
	uint32_t *c = tls.cur;

	if (__builtin_expect(c == tls.stop, 0)) {
		c = slow(&tls, kind);
		if (!c)
			return;
	}
	*c = ev;
	tls.cur = c + 1;
}

HOT void __sanitizer_cov_trace_pc(void)
{
	uintptr_t off = (uintptr_t)__builtin_return_address(0) - g_base;

	/* g_bmbits is 0 when every switched-off site was patched out */
	if (__builtin_expect(off < g_bmbits, 0) && (g_bitmap[off >> 3] >> (off & 7) & 1))
		return;
	put((uint32_t)off, VG_RT_KIND_PC);
}

HOT void __sanitizer_cov_trace_pc_guard(uint32_t *guard)
{
	if (!*guard)
		return;
	put((uint32_t)((uintptr_t)__builtin_return_address(0) - g_base), VG_RT_KIND_GUARD);
}

NOINSTR void __sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop)
{
	attach();
	if (start == stop || *start || !g_shm)
		return; /* guards stay 0: every hook returns at once */
	uint64_t n = (uint64_t)(stop - start);
	const struct vg_rt_disable *d =
		(const struct vg_rt_disable *)((const char *)g_shm + g_shm->disable_off);

	for (uint64_t i = 0; i < n; i++)
		start[i] = 1;
	for (uint32_t i = 0; i < g_shm->ndisable; i++)
		if (d[i].guard >= 0 && (uint64_t)d[i].guard < n)
			start[d[i].guard] = 0;
	__atomic_fetch_or(&g_shm->kind, VG_RT_KIND_GUARD, __ATOMIC_RELAXED);
}

/* The model reads the PC table from the ELF itself; the hook only has to exist. */
NOINSTR void __sanitizer_cov_pcs_init(const uintptr_t *beg, const uintptr_t *end)
{
}

HOT void __cyg_profile_func_enter(void *fn, void *site)
{
	uintptr_t cs = (uintptr_t)site - g_base;

	put(cs < g_textlen ? (uint32_t)cs | VG_RT_CALLSITE_BIT : VG_RT_CALLSITE_EXT,
	    VG_RT_KIND_FUNC);
	put((uint32_t)((uintptr_t)fn - g_base), VG_RT_KIND_FUNC);
}

HOT void __cyg_profile_func_exit(void *fn, void *site)
{
	put((uint32_t)((uintptr_t)fn - g_base) | VG_RT_EXIT_BIT, VG_RT_KIND_FUNC);
}
