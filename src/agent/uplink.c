// SPDX-License-Identifier: MIT
/*
 * The way out of the device: every batch is appended to the recording file (when asked) and
 * queued for the gateway until the gateway acknowledges it. The session is the shared secure
 * channel (vigil/wire.h); after the handshake the agent says which boot it is and where its
 * sequence stands, the gateway answers with the next sequence number it expects, and queued
 * batches from there on are sent (again). A lost gateway is retried with backoff (1 s to 30 s)
 * while batches wait in the queue (64 MiB at most; beyond that the oldest are dropped and the
 * gateway sees the gap in the sequence).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_int.h"
#include "vigil/clock.h"

#define QUEUE_MAX (64u << 20)
#define CONNECT_MS 2000
#define BACKOFF_MIN 1000
#define BACKOFF_MAX 30000
static const char rec_magic[8] = "VGSREC01";

void vg_ag_note(const struct vg_agent_opts *o, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!o->note)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	o->note(o->note_ctx, buf);
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int vg_ag_uplink_open(struct ag_uplink *u, const struct vg_agent_opts *o, uint64_t boot,
		   struct vg_agent_stats *st, struct vg_err *err)
{
	memset(u, 0, sizeof(*u));
	u->o = o;
	u->boot = boot;
	u->st = st;
	u->recfd = -1;
	if (o->record) {
		u->recfd = open(o->record, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (u->recfd < 0)
			return vg_errf(err, errno, "recording %s: %m%s", o->record,
				       errno == EEXIST ? " (an existing file is never overwritten)"
						       : "");
		if (write_all(u->recfd, rec_magic, sizeof(rec_magic)))
			return vg_errf(err, errno, "recording %s: %m", o->record);
	}
	return 0;
}

static void account(struct ag_uplink *u)
{
	struct vg_wire_stats ws;

	if (!u->w)
		return;
	vg_wire_stats(u->w, &ws);
	u->st->wire_bytes += ws.bytes_sent;
}

static void disconnect(struct ag_uplink *u, const char *why)
{
	if (!u->w)
		return;
	account(u);
	vg_wire_close(u->w);
	u->w = NULL;
	u->retry_at_ms = vg_mono_ms() + u->backoff_ms;
	vg_ag_note(u->o, "lost the gateway %s: %s; retrying", u->o->gateway, why);
}

static void pop_acked(struct ag_uplink *u, uint64_t upto)
{
	uint32_t k = 0;

	while (k < u->qn && u->q[k].seq < upto) {
		u->qbytes -= u->q[k].len;
		free(u->q[k].buf);
		k++;
	}
	memmove(u->q, u->q + k, (u->qn - k) * sizeof(*u->q));
	u->qn -= k;
	if (upto > u->acked)
		u->acked = upto;
}

static int send_queued(struct ag_uplink *u)
{
	struct vg_err err = { 0 };

	for (uint32_t i = 0; i < u->qn; i++)
		if (vg_wire_send(u->w, u->q[i].buf, u->q[i].len, &err)) {
			disconnect(u, err.msg);
			return -1;
		}
	return 0;
}

static void connect_now(struct ag_uplink *u)
{
	struct vg_wire_opts wo = { .proto = VG_SB_PROTO, .timeout_ms = CONNECT_MS };
	char host[256], port[16];
	uint8_t hello[VG_SB_HELLO_LEN];
	struct vg_sb_hello h = { .boot = u->boot };
	struct vg_err err = { 0 };
	const uint8_t *m;
	size_t len;
	uint64_t next;
	bool known;
	int fd, r;

	u->backoff_ms = u->backoff_ms ? u->backoff_ms * 2 : BACKOFF_MIN;
	if (u->backoff_ms > BACKOFF_MAX)
		u->backoff_ms = BACKOFF_MAX;
	u->retry_at_ms = vg_mono_ms() + u->backoff_ms;
	if (vg_wire_split_hostport(u->o->gateway, host, sizeof(host), port, sizeof(port)))
		return;
	fd = vg_wire_dial(host, port, CONNECT_MS, &err);
	if (fd < 0 || vg_wire_client(&u->w, fd, u->o->key, u->o->gateway_pk, &wo, &err)) {
		vg_ag_note(u->o, "gateway %s: %s", u->o->gateway, err.msg);
		u->w = NULL;
		return;
	}
	h.next_seq = u->qn ? u->q[0].seq : u->next_seq;
	snprintf(h.device, sizeof(h.device), "%s", u->o->device);
	vg_sb_hello_pack(hello, &h);
	r = vg_wire_send(u->w, hello, sizeof(hello), &err);
	if (!r)
		r = vg_wire_recv(u->w, &m, &len, CONNECT_MS, &err);
	if (!r && vg_sb_reply_unpack(m, len, &known, &next))
		r = vg_errf(&err, EPROTO, "the gateway's answer is not a vigil hello reply");
	if (r) {
		disconnect(u, err.msg);
		return;
	}
	if (!known && u->next_seq)
		/* a gateway that lost our state: definitions it acknowledged must be repeated */
		u->reset_defs = true;
	pop_acked(u, next);
	u->backoff_ms = 0;
	if (u->connected_once)
		u->st->reconnects++;
	u->connected_once = true;
	send_queued(u);
}

int vg_ag_uplink_push(struct ag_uplink *u, uint64_t seq, uint8_t *buf, size_t len, struct vg_err *err)
{
	uint8_t l[4] = { (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
			 (uint8_t)(len >> 24) };
	struct vg_err e = { 0 };

	u->st->batches++;
	u->st->batch_bytes += len;
	if (u->recfd >= 0 && (write_all(u->recfd, l, 4) || write_all(u->recfd, buf, len))) {
		free(buf);
		return vg_errf(err, errno ? errno : EIO, "recording %s: %m", u->o->record);
	}
	if (!u->o->gateway) {
		free(buf);
		u->acked = seq + 1;
		return 0;
	}
	while (u->qn && u->qbytes + len > QUEUE_MAX) {
		vg_ag_note(u->o, "dropping batch %llu: the gateway has been unreachable too long",
			(unsigned long long)u->q[0].seq);
		pop_acked(u, u->q[0].seq + 1);
	}
	if (u->qn == u->qcap) {
		uint32_t cap = u->qcap ? u->qcap * 2 : 64;
		void *p = realloc(u->q, cap * sizeof(*u->q));

		if (!p) {
			free(buf);
			return vg_errf(err, ENOMEM, "out of memory");
		}
		u->q = p;
		u->qcap = cap;
	}
	u->q[u->qn++] = (struct ag_qbatch){ .seq = seq, .buf = buf, .len = len };
	u->qbytes += len;
	if (u->w && vg_wire_send(u->w, buf, len, &e))
		disconnect(u, e.msg);
	return 0;
}

void vg_ag_uplink_poll(struct ag_uplink *u)
{
	struct vg_err err = { 0 };
	const uint8_t *m;
	size_t len;

	if (!u->o->gateway)
		return;
	if (!u->w) {
		if (vg_mono_ms() >= u->retry_at_ms)
			connect_now(u);
		return;
	}
	for (;;) {
		uint64_t seq;
		uint32_t verdict;
		int r = vg_wire_recv(u->w, &m, &len, 0, &err);

		if (r == -EAGAIN)
			return;
		if (r) {
			disconnect(u, err.msg);
			return;
		}
		if (vg_sb_ack_unpack(m, len, &seq, &verdict)) {
			disconnect(u, "the gateway sent something that is not an acknowledgement");
			return;
		}
		u->st->acked++;
		if (verdict < 4)
			u->st->verdicts[verdict]++;
		pop_acked(u, seq + 1);
	}
}

void vg_ag_uplink_drain(struct ag_uplink *u, uint32_t ms)
{
	uint64_t end = vg_mono_ms() + ms;

	while (u->o->gateway && u->qn && vg_mono_ms() < end) {
		vg_ag_uplink_poll(u);
		if (u->qn)
			vg_sleep_ms(5);
	}
}

void vg_ag_uplink_close(struct ag_uplink *u)
{
	account(u);
	if (u->w)
		vg_wire_close(u->w);
	u->w = NULL;
	for (uint32_t i = 0; i < u->qn; i++)
		free(u->q[i].buf);
	free(u->q);
	if (u->recfd >= 0)
		close(u->recfd);
	memset(u, 0, sizeof(*u));
	u->recfd = -1;
}
