// SPDX-License-Identifier: MIT
/*
 * The remote driver's I/O thread (see remote_int.h): the only user of the channel and the
 * userfaultfd. It waits on three things — page faults, the broker's replies and the caller's
 * commands — and keeps at most RM_WINDOW bytes of replies outstanding, faults first.
 *
 * A lost broker is reconnected every RM_RETRY_MS; meanwhile commands fail with -EAGAIN and a
 * faulting reader waits up to RM_FAULT_WAIT_MS, after which its pages are filled with zeros
 * and the source is marked torn, so every later read through the driver fails until a check
 * finds the guest again (a reader must never take zeros for guest memory unknowingly).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "vigil/clock.h"
#include "vigil/util.h"
#include "vmi/mem/remote_int.h"

static const uint8_t zero_page[RM_PAGE];

int vg_rm_pages_push(struct rm_pages *p, uint32_t page)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 256;
		uint32_t *v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = page;
	return 0;
}

static void complete(struct remote *r, struct rm_cmd *c, int result)
{
	pthread_mutex_lock(&r->mu);
	c->result = result;
	c->done = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static int open_reply(struct remote *r, const uint8_t *msg, size_t len, struct vg_broker_info *info,
		      uint64_t *hash, struct vg_err *err)
{
	struct vg_brd rd = { .p = msg, .len = len };
	uint8_t op = vg_brd_u8(&rd);
	int32_t st = (int32_t)vg_brd_u32(&rd);

	if (rd.bad || op != VG_BR_OPEN)
		return vg_errf(err, EPROTO, "broker %s:%s: malformed answer", r->host, r->port);
	if (st < 0) {
		uint16_t n = vg_brd_u16(&rd);
		const uint8_t *m = vg_brd_bytes(&rd, n);

		return vg_errf(err, -st, "broker %s:%s: %.*s", r->host, r->port, m ? (int)n : 0,
			       m ? (const char *)m : "");
	}
	*hash = vg_fasthash64(msg, len, 0);
	if (vg_broker_info_decode(&rd, info, err))
		return vg_err_prefix(err, "broker %s:%s", r->host, r->port);
	return 0;
}

int vg_rm_connect(struct remote *r, struct vg_broker_info *info, uint64_t *hash, struct vg_err *err)
{
	struct vg_wire_opts wo = { .proto = VG_BROKER_PROTO, .timeout_ms = r->timeout_ms };
	struct vg_bbuf b = { 0 };
	const uint8_t *msg;
	size_t len;
	int fd, ret;

	fd = vg_wire_dial(r->host, r->port, r->timeout_ms, err);
	if (fd < 0)
		return fd;
	ret = vg_wire_client(&r->w, fd, &r->kp, r->spk, &wo, err);
	if (ret) {
		if (ret == -EACCES) {
			char pk[VG_WIRE_KEY_B64_LEN];

			vg_err_clear(err);
			vg_wire_key_encode(r->kp.pk, pk);
			return vg_errf(err, EACCES,
				       "broker %s:%s refused this client's key %s (add it to the "
				       "guest's allow list)",
				       r->host, r->port, pk);
		}
		return vg_err_prefix(err, "broker %s:%s", r->host, r->port);
	}
	vg_bbuf_u8(&b, VG_BR_OPEN);
	vg_bbuf_u8(&b, (uint8_t)strlen(r->name));
	vg_bbuf_bytes(&b, r->name, strlen(r->name));
	ret = b.err ? vg_errf(err, ENOMEM, "out of memory") : vg_wire_send(r->w, b.p, b.len, err);
	vg_bbuf_free(&b);
	if (!ret)
		ret = vg_wire_recv(r->w, &msg, &len, -1, err);
	if (!ret)
		ret = open_reply(r, msg, len, info, hash, err);
	if (ret) {
		vg_wire_close(r->w);
		r->w = NULL;
	}
	return ret;
}

/* ---- pages ---- */

static void map_pages(struct remote *r, uint32_t page, uint32_t n)
{
	uint64_t off = (uint64_t)page * RM_PAGE;

	/* a page mapped already (EEXIST) only needed its new bytes, which the shared mapping
	 * shows; whoever faulted on it is woken anyway */
	for (uint32_t done = 0; done < n;) {
		struct uffdio_continue c = {
			.range = { (uintptr_t)r->view + off + (uint64_t)done * RM_PAGE,
				   (uint64_t)(n - done) * RM_PAGE },
		};

		if (!ioctl(r->uffd, UFFDIO_CONTINUE, &c))
			break;
		done += c.mapped > 0 ? (uint32_t)(c.mapped / RM_PAGE) + 1 : 1;
		if (errno == EEXIST) {
			struct uffdio_range w = {
				(uintptr_t)r->view + off + (uint64_t)(done - 1) * RM_PAGE, RM_PAGE
			};

			ioctl(r->uffd, UFFDIO_WAKE, &w);
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t p = page + i;

		if (r->state[p] != r->gen) {
			r->state[p] = r->gen;
			if (r->ws.n < RM_WS_MAX)
				vg_rm_pages_push(&r->ws, p);
		}
		if (r->waiting[p]) {
			r->waiting[p] = 0;
			r->nwaiting--;
		}
		if (p < r->lo_page)
			r->lo_page = p;
		if (p > r->hi_page)
			r->hi_page = p;
	}
}

/* Bytes for N pages from PAGE: written to the memfd, then mapped when MAP says so or a reader
 * waits on them, else left ready for the first reader's fault. */
static void install(struct remote *r, uint32_t page, uint32_t n, const uint8_t *data, bool map)
{
	uint64_t off = (uint64_t)page * RM_PAGE, len = (uint64_t)n * RM_PAGE;
	uint32_t i = 0;

	if (off + len > r->size)
		len = r->size - off; /* the file's last page may be short */
	if (pwrite(r->memfd, data, len, (off_t)off) != (ssize_t)len)
		return; /* no memory for the memfd: readers stay blocked until the next try */
	r->fetched_pages += n;
	while (i < n) {
		uint32_t k = i;
		bool m = map || r->waiting[page + i];

		while (k < n && (map || r->waiting[page + k]) == m)
			r->inflight[page + k++] = 0;
		if (m) {
			map_pages(r, page + i, k - i);
		} else {
			for (uint32_t x = i; x < k; x++)
				r->ready[page + x] = r->gen;
		}
		i = k;
	}
}

/* Readers blocked on pages the broker cannot bring: zeros, and reads fail from now on. */
static void give_up_waiters(struct remote *r)
{
	atomic_store(&r->torn, 1);
	for (uint32_t p = 0; r->nwaiting && p < r->npages; p++)
		if (r->waiting[p])
			install(r, p, 1, zero_page, true);
	r->nwaiting = 0;
}

static void want(struct remote *r, struct rm_pages *list, uint32_t page)
{
	if (page < r->npages && r->state[page] != r->gen && r->inflight[page] != r->gen &&
	    r->ready[page] != r->gen)
		vg_rm_pages_push(list, page);
}

/* A new generation: nothing mapped is current any more; what the last one read is fetched
 * again in the background, in the order it was first read, so the pages the next look needs
 * first come first (neighbours that were read one after the other still share a request). */
static void new_generation(struct remote *r)
{
	struct rm_pages t;

	if (r->hi_page >= r->lo_page)
		madvise(r->view + (uint64_t)r->lo_page * RM_PAGE,
			(uint64_t)(r->hi_page - r->lo_page + 1) * RM_PAGE, MADV_DONTNEED);
	r->gen++;
	if (r->ws.n) {
		t = r->pws;
		r->pws = r->ws;
		r->ws = t;
		r->ws.n = 0;
	}
	r->background.n = 0;
	r->bulk.n = 0;
	for (size_t i = 0; i < r->pws.n; i++)
		want(r, &r->background, r->pws.v[i]);
	atomic_store(&r->gen_ms, vg_mono_ms());
}

/* ---- requests ---- */

static void enqueue(struct remote *r, struct rm_req *q)
{
	q->next = NULL;
	if (r->qt)
		r->qt->next = q;
	else
		r->qh = q;
	r->qt = q;
	r->qbytes += q->bytes;
}

static void lose(struct remote *r);

static int send_msg(struct remote *r)
{
	struct vg_err e = { 0 };

	if (r->sb.err || vg_wire_send(r->w, r->sb.p, r->sb.len, &e)) {
		lose(r);
		return -EAGAIN;
	}
	return 0;
}

/* One READ for the next pages of LIST (coalesced into runs), within the window. */
static int send_pages(struct remote *r, struct rm_pages *list, size_t *pos, bool map)
{
	struct rm_req *q = calloc(1, sizeof(*q));
	uint32_t cap = 64;

	if (!q || !(q->run = malloc(cap * sizeof(*q->run)))) {
		free(q);
		return -ENOMEM;
	}
	q->kind = RQ_PAGES;
	q->gen = r->gen;
	q->map = map;
	for (; *pos < list->n && q->bytes + RM_PAGE <= VG_BROKER_MAX_READ &&
	       q->nrun < VG_BROKER_MAX_EXTENTS;
	     (*pos)++) {
		uint32_t p = list->v[*pos];

		if (r->state[p] == r->gen || r->inflight[p] == r->gen || r->ready[p] == r->gen)
			continue;
		r->inflight[p] = r->gen;
		q->bytes += RM_PAGE;
		if (q->nrun && q->run[q->nrun - 1].page + q->run[q->nrun - 1].n == p) {
			q->run[q->nrun - 1].n++;
			continue;
		}
		if (q->nrun == cap) {
			struct rm_run *v = realloc(q->run, 2 * cap * sizeof(*v));

			if (!v)
				break;
			q->run = v;
			cap *= 2;
		}
		q->run[q->nrun++] = (struct rm_run){ p, 1 };
	}
	if (!q->nrun) {
		free(q->run);
		free(q);
		return 0;
	}
	r->sb.len = 0;
	vg_bbuf_u8(&r->sb, VG_BR_READ);
	vg_bbuf_u32(&r->sb, q->nrun);
	q->bytes = 0;
	for (uint32_t i = 0; i < q->nrun; i++) {
		uint64_t off = (uint64_t)q->run[i].page * RM_PAGE;
		uint64_t len = (uint64_t)q->run[i].n * RM_PAGE;

		if (off + len > r->size)
			len = r->size - off;
		vg_bbuf_u64(&r->sb, off);
		vg_bbuf_u32(&r->sb, (uint32_t)len);
		q->bytes += len;
	}
	enqueue(r, q);
	return send_msg(r);
}

static bool pump_list(struct remote *r, struct rm_pages *list, bool map, size_t window)
{
	while (r->w && list->n && r->qbytes < window) {
		size_t pos = 0;

		if (send_pages(r, list, &pos, map))
			return false;
		memmove(list->v, list->v + pos, (list->n - pos) * sizeof(uint32_t));
		list->n -= pos;
	}
	return true;
}

/* Sends what the window allows: pages readers wait for (with their read-ahead, which stays
 * unmapped: the waiting pages are mapped anyway), then bulk maps, then guesses. */
static void pump(struct remote *r)
{
	/* guesses keep little in flight: a fault's request queues behind them */
	if (pump_list(r, &r->urgent, false, RM_WINDOW) && pump_list(r, &r->bulk, true, RM_WINDOW))
		pump_list(r, &r->background, false, RM_GUESS_WINDOW);
}

static int send_simple(struct remote *r, enum rm_req_kind kind, struct rm_cmd *c)
{
	struct rm_req *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	q->kind = kind;
	q->cmd = c;
	enqueue(r, q);
	r->sb.len = 0;
	vg_bbuf_u8(&r->sb, kind == RQ_CHECK ? VG_BR_CHECK : VG_BR_LIVE);
	return send_msg(r);
}

/* One piece of a streamed read is answered or lost. The caller is woken only when every
 * piece is accounted for: its buffer and its command (on its stack) must not be touched after
 * it returns. The first error is what it gets. */
static void stream_piece(struct remote *r, struct rm_cmd *c, int err)
{
	if (err && !c->result)
		c->result = err;
	if (--c->pending == 0)
		complete(r, c, c->result);
}

/* A streamed read into the caller's buffer (one pass over RAM: not worth caching). */
static int send_stream(struct remote *r, struct rm_cmd *c)
{
	c->pending = 0;
	c->result = 0;
	for (size_t done = 0; done < c->len;) {
		size_t n = c->len - done < VG_BROKER_MAX_READ ? c->len - done : VG_BROKER_MAX_READ;
		struct rm_req *q = calloc(1, sizeof(*q));

		if (!q) {
			/* what was sent finishes first (stream_piece); nothing sent: done now */
			c->result = -ENOMEM;
			if (!c->pending)
				complete(r, c, -ENOMEM);
			return 0;
		}
		q->kind = RQ_STREAM;
		q->cmd = c;
		q->dst = c->buf + done;
		q->bytes = n;
		enqueue(r, q);
		c->pending++;
		r->sb.len = 0;
		vg_bbuf_u8(&r->sb, VG_BR_READ);
		vg_bbuf_u32(&r->sb, 1);
		vg_bbuf_u64(&r->sb, c->off + done);
		vg_bbuf_u32(&r->sb, (uint32_t)n);
		if (send_msg(r))
			return -EAGAIN;
		done += n;
	}
	return 0;
}

static void free_req(struct rm_req *q)
{
	free(q->run);
	free(q);
}

/* The channel is gone: what was asked is lost; readers keep waiting for a reconnection. */
static void lose(struct remote *r)
{
	struct rm_req *q = r->qh, *next;

	if (r->w) {
		vg_wire_close(r->w);
		r->w = NULL;
	}
	for (; q; q = next) {
		next = q->next;
		if (q->kind == RQ_PAGES) {
			for (uint32_t i = 0; i < q->nrun; i++)
				for (uint32_t k = 0; k < q->run[i].n; k++)
					r->inflight[q->run[i].page + k] = 0;
		} else if (q->kind == RQ_STREAM) {
			stream_piece(r, q->cmd, -EAGAIN);
		} else if (q->cmd && !q->cmd->done) {
			complete(r, q->cmd, -EAGAIN);
		}
		free_req(q);
	}
	r->qh = r->qt = NULL;
	r->qbytes = 0;
}

static int reply(struct remote *r, const uint8_t *msg, size_t len)
{
	struct rm_req *q = r->qh;
	struct vg_brd rd = { .p = msg, .len = len };
	uint8_t op = vg_brd_u8(&rd);
	int32_t st = (int32_t)vg_brd_u32(&rd);
	const uint8_t *data;

	if (!q || rd.bad)
		return -EPROTO;
	r->qh = q->next;
	if (!r->qh)
		r->qt = NULL;
	r->qbytes -= q->bytes;
	if (q->kind == RQ_CHECK || q->kind == RQ_LIVE) {
		if (op != (q->kind == RQ_CHECK ? VG_BR_CHECK : VG_BR_LIVE)) {
			free_req(q);
			return -EPROTO;
		}
		complete(r, q->cmd, st);
		free_req(q);
		return 0;
	}
	if (op != VG_BR_READ || st < 0 || (data = vg_brd_bytes(&rd, q->bytes)) == NULL ||
	    rd.pos != len) {
		if (q->kind == RQ_STREAM)
			stream_piece(r, q->cmd, st < 0 ? st : -EPROTO);
		/* the broker cannot read its file: whoever waits on these pages gets zeros and
		 * the source turns torn (reads fail) */
		for (uint32_t i = 0; st < 0 && i < q->nrun; i++) {
			for (uint32_t k = 0; k < q->run[i].n; k++) {
				uint32_t p = q->run[i].page + k;

				r->inflight[p] = 0;
				if (r->waiting[p]) {
					atomic_store(&r->torn, 1);
					install(r, p, 1, zero_page, true);
				}
			}
		}
		free_req(q);
		return st < 0 ? 0 : -EPROTO;
	}
	if (q->kind == RQ_STREAM) {
		memcpy(q->dst, data, q->bytes);
		stream_piece(r, q->cmd, 0);
	} else {
		for (uint32_t i = 0; i < q->nrun; i++) {
			uint32_t p = q->run[i].page, n = q->run[i].n;

			if (q->gen == r->gen) {
				install(r, p, n, data, q->map);
			} else {
				/* fetched before a refresh: not current; readers ask again */
				for (uint32_t k = 0; k < n; k++) {
					r->inflight[p + k] = 0;
					if (r->waiting[p + k])
						want(r, &r->urgent, p + k);
				}
			}
			data += (uint64_t)n * RM_PAGE;
		}
	}
	free_req(q);
	return 0;
}

/* The first reason the channel failed since it last worked, for vg_mem_failure. */
static void set_why(struct remote *r, const char *why)
{
	pthread_mutex_lock(&r->mu);
	if (!r->why[0])
		snprintf(r->why, sizeof(r->why), "%.250s", why);
	pthread_mutex_unlock(&r->mu);
}

static void drain(struct remote *r)
{
	while (r->w) {
		struct vg_err e = { 0 };
		const uint8_t *msg;
		size_t len;
		int ret = vg_wire_recv(r->w, &msg, &len, 0, &e);

		if (ret == -EAGAIN)
			return;
		if (ret || reply(r, msg, len)) {
			set_why(r, ret ? e.msg : "the broker sent a malformed reply");
			lose(r);
			return;
		}
	}
}

/* ---- faults ---- */

static void fault(struct remote *r, uint64_t addr)
{
	uint64_t off = addr - (uintptr_t)r->view;
	uint32_t p, ra;

	if (addr < (uintptr_t)r->view || off >= r->size)
		return;
	p = (uint32_t)(off / RM_PAGE);
	r->faults++;
	if (r->state[p] == r->gen) {
		/* installed after the fault was raised: the reader may still sleep */
		struct uffdio_range w = { addr, RM_PAGE };

		ioctl(r->uffd, UFFDIO_WAKE, &w);
		return;
	}
	if (r->ready[p] == r->gen) {
		/* prefetched: its bytes are in the page file already. The prefetched pages after
		 * it are mapped with it (one fault instead of one each, and readers walk
		 * forwards); they count as read, so the working set is the pages read and their
		 * next neighbours, which does not grow from run to run. */
		uint32_t n = 1;

		while (n < RM_MAP_RUN && p + n < r->npages && r->ready[p + n] == r->gen &&
		       r->state[p + n] != r->gen)
			n++;
		map_pages(r, p, n);
		return;
	}
	if (!r->waiting[p]) {
		r->waiting[p] = 1;
		if (!r->nwaiting++)
			r->fault_since_ms = vg_mono_ms();
	}
	/* a reader walking forwards gets a growing read-ahead; anything else one page */
	ra = p == r->last_fault + 1 || p == r->last_fault + r->ra ? r->ra * 2 : 1;
	if (ra > RM_MAX_RA)
		ra = RM_MAX_RA;
	r->last_fault = p;
	r->ra = ra;
	/* the faulted page is mapped on arrival; the read-ahead travels in the same request
	 * and is left ready, so only pages somebody reads join the working set */
	for (uint32_t i = 0; i < ra; i++)
		want(r, &r->urgent, p + i);
}

static void read_faults(struct remote *r)
{
	struct uffd_msg m[16];
	ssize_t n;

	while ((n = read(r->uffd, m, sizeof(m))) > 0)
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(m[0]); i++)
			if (m[i].event == UFFD_EVENT_PAGEFAULT)
				fault(r, m[i].arg.pagefault.address & ~(uint64_t)(RM_PAGE - 1));
}

/* ---- commands and reconnection ---- */

static void reconnect(struct remote *r)
{
	struct vg_broker_info info;
	struct vg_err e = { 0 };
	uint64_t hash = 0;
	int ret;

	ret = vg_rm_connect(r, &info, &hash, &e);
	if (ret) {
		if (ret == -ENOENT || ret == -EACCES)
			atomic_store(&r->lost, -ENOENT);
		set_why(r, e.msg);
		return;
	}
	vg_broker_info_free(&info);
	if (hash != r->info_hash) {
		atomic_store(&r->lost, -ESTALE);
		set_why(r, "the broker now serves another guest under this name");
		lose(r);
		return;
	}
	atomic_store(&r->lost, 0);
	pthread_mutex_lock(&r->mu);
	r->why[0] = '\0';
	pthread_mutex_unlock(&r->mu);
	/* whatever was mapped may have changed while we were away */
	new_generation(r);
	for (uint32_t p = 0; r->nwaiting && p < r->npages; p++)
		if (r->waiting[p])
			want(r, &r->urgent, p);
}

static void run_cmd(struct remote *r, struct rm_cmd *c)
{
	int ret = 0;

	if (!r->w && (c->type == CMD_CHECK || c->type == CMD_LIVE || c->type == CMD_PREAD))
		reconnect(r);
	switch (c->type) {
	case CMD_REFRESH:
		new_generation(r);
		complete(r, c, 0);
		return;
	case CMD_PREFETCH:
		for (uint64_t p = c->off / RM_PAGE; p * RM_PAGE < c->off + c->len; p++)
			want(r, c->bulk ? &r->bulk : &r->background, (uint32_t)p);
		complete(r, c, 0);
		return;
	case CMD_STOP:
		complete(r, c, 0);
		return;
	default:
		break;
	}
	if (!r->w) {
		int lost = atomic_load(&r->lost);

		complete(r, c, c->type == CMD_CHECK && lost ? lost : -EAGAIN);
		return;
	}
	if (c->type == CMD_CHECK) {
		/* a check starts a fresh look: after the broker's answer nothing cached counts */
		new_generation(r);
		ret = send_simple(r, RQ_CHECK, c);
	} else if (c->type == CMD_LIVE) {
		ret = send_simple(r, RQ_LIVE, c);
	} else {
		send_stream(r, c); /* completes the command itself, in every case */
		return;
	}
	if (ret == -ENOMEM)
		complete(r, c, ret);
}

void *vg_rm_io_main(void *arg)
{
	struct remote *r = arg;
	bool stop = false;

	while (!stop) {
		struct pollfd p[3] = {
			{ .fd = r->evfd, .events = POLLIN },
			{ .fd = r->uffd, .events = POLLIN },
			{ .fd = r->w ? vg_wire_fd(r->w) : -1, .events = POLLIN },
		};
		int timeout = r->w && !r->nwaiting ? -1 : RM_RETRY_MS;
		uint64_t now;

		if (poll(p, 3, timeout) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN) {
			uint64_t v;
			struct rm_cmd *c;

			if (read(r->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				break;
			pthread_mutex_lock(&r->mu);
			c = r->cmd;
			r->cmd = NULL;
			pthread_mutex_unlock(&r->mu);
			if (c) {
				stop = c->type == CMD_STOP;
				run_cmd(r, c);
			}
		}
		if (p[1].revents & POLLIN)
			read_faults(r);
		if (r->w && (p[2].revents & (POLLIN | POLLHUP | POLLERR)))
			drain(r);
		now = vg_mono_ms();
		if (r->w && r->nwaiting && now - r->fault_since_ms >= RM_FAULT_WAIT_MS) {
			set_why(r, "the broker stopped answering");
			lose(r); /* connected but silent: as good as lost */
		}
		/* a reader waits: one reconnection at once, else its read fails (a watch rides
		 * that out; a one-shot command reports it) */
		if (!r->w && r->nwaiting && !atomic_load(&r->lost))
			reconnect(r);
		if (r->nwaiting && (!r->w || atomic_load(&r->lost)))
			give_up_waiters(r);
		pump(r);
	}
	lose(r);
	return NULL;
}
