// SPDX-License-Identifier: MIT
/*
 * The switch loop (vigil/net_switch.h): epoll over the ports, the inspection verdict, MAC
 * learning and forwarding. A forwarding table entry maps (MAC, VLAN) to the port it was last
 * seen on, for fdb_age_s; unknown, broadcast and multicast destinations are flooded to every
 * other port with a peer. Frames read in one round are forwarded in that round and every
 * queued output is written before the next epoll wait.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "btab.h"
#include "port.h"
#include "vigil/clock.h"
#include "vigil/net_switch.h"

#define S_US 1000000ll
#define TICK_US 100000
#define FDB_ENTRIES 4096
/* epoll data: port index, with this bit for a stream port's listening socket */
#define LISTEN_BIT 0x100

struct fdb_key {
	uint8_t mac[6];
	uint16_t vlan;
};

struct vg_switch {
	struct vg_port ports[VG_NET_MAX_PORTS];
	int nports;
	int ep;
	struct vg_net_engine *engine;
	struct vg_btab fdb;
	int64_t fdb_age_us;
	int64_t now; /* wall clock of this round, microseconds */
	int64_t last_tick;
	void (*note)(void *ctx, const char *msg);
	void *note_ctx;
};

static void note(struct vg_switch *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct vg_switch *s, const char *fmt, ...)
{
	char buf[300];
	va_list ap;

	if (!s->note)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	s->note(s->note_ctx, buf);
}

static int watch(struct vg_switch *s, int op, int fd, uint32_t events, uint32_t data)
{
	struct epoll_event ev = { .events = events, .data.u32 = data };

	return epoll_ctl(s->ep, op, fd, &ev) ? -errno : 0;
}

int vg_switch_open(struct vg_switch **out, const struct vg_switch_opts *o, struct vg_err *err)
{
	struct vg_switch *s;
	int ret = 0;

	if (o->nports < 1 || o->nports > VG_NET_MAX_PORTS)
		return vg_errf(err, EINVAL, "a switch has 1 to %d ports", VG_NET_MAX_PORTS);
	s = calloc(1, sizeof(*s));
	if (!s)
		return vg_errf(err, ENOMEM, "out of memory for the switch");
	for (int i = 0; i < VG_NET_MAX_PORTS; i++)
		s->ports[i].fd = s->ports[i].lfd = -1;
	s->engine = o->engine;
	s->note = o->note;
	s->note_ctx = o->note_ctx;
	s->fdb_age_us = (int64_t)(o->fdb_age_s ? o->fdb_age_s : 300) * S_US;
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep < 0 || vg_btab_init(&s->fdb, FDB_ENTRIES, sizeof(struct fdb_key), sizeof(int))) {
		vg_switch_close(s);
		return vg_errf(err, ENOMEM, "switch: cannot create its event loop");
	}
	for (int i = 0; i < o->nports && !ret; i++) {
		for (int k = 0; k < i && !ret; k++)
			if (!strcmp(o->ports[k].name, o->ports[i].name))
				ret = vg_errf(err, EINVAL, "two ports are named %s",
					      o->ports[i].name);
		if (!ret)
			ret = vg_port_open(&s->ports[i], &o->ports[i], err);
		s->nports = i + 1;
		if (!ret && s->ports[i].lfd >= 0)
			ret = watch(s, EPOLL_CTL_ADD, s->ports[i].lfd, EPOLLIN,
				    (uint32_t)i | LISTEN_BIT);
		else if (!ret)
			ret = watch(s, EPOLL_CTL_ADD, s->ports[i].fd, EPOLLIN, (uint32_t)i);
		if (ret > 0 || (ret < 0 && !err->code))
			ret = vg_errf(err, -ret, "switch: epoll: %s", strerror(-ret));
		if (!ret && s->engine)
			vg_net_engine_port(s->engine, i, o->ports[i].name, o->ports[i].uplink);
	}
	if (ret) {
		vg_switch_close(s);
		return ret;
	}
	*out = s;
	return 0;
}

static void disconnect(struct vg_switch *s, int i, const char *why)
{
	struct vg_port *p = &s->ports[i];

	note(s, "port %s: %s", p->spec.name, why);
	if (p->spec.kind == VG_PORT_STREAM && p->fd >= 0)
		epoll_ctl(s->ep, EPOLL_CTL_DEL, p->fd, NULL);
	vg_port_disconnect(p);
}

static void forward(struct vg_switch *s, int out, const uint8_t *f, uint32_t len)
{
	vg_port_send(&s->ports[out], f, len);
}

/* Learns the source, then forwards to the destination's port or floods. */
static void forward_frame(struct vg_switch *s, int in, const uint8_t *f, uint32_t len)
{
	struct fdb_key k = { 0 };
	int *where;

	if (f[12] == 0x81 && f[13] == 0x00 && len >= 18)
		k.vlan = (uint16_t)((f[14] << 8 | f[15]) & 0xfff);
	if (!(f[6] & 1)) { /* learn unicast sources only */
		memcpy(k.mac, f + 6, 6);
		where = vg_btab_get(&s->fdb, &k, s->now, s->now - s->fdb_age_us, true, NULL);
		*where = in + 1;
	}
	if (!(f[0] & 1)) {
		memcpy(k.mac, f, 6);
		where = vg_btab_get(&s->fdb, &k, s->now, s->now - s->fdb_age_us, false, NULL);
		if (where && *where) {
			if (*where - 1 != in)
				forward(s, *where - 1, f, len);
			return;
		}
	}
	for (int o = 0; o < s->nports; o++)
		if (o != in && vg_port_has_peer(&s->ports[o]))
			forward(s, o, f, len);
}

static void on_frames(void *ctx, int in, struct vg_net_frame *fr, int n)
{
	struct vg_switch *s = ctx;
	struct vg_port *p = &s->ports[in];
	uint8_t verdict[VG_NET_BATCH];
	int k = 0;

	/* runts cannot be switched; the rest goes to the engine in one batch */
	for (int i = 0; i < n; i++) {
		p->st.rx++;
		p->st.rx_bytes += fr[i].len;
		if (fr[i].len < 14) {
			p->st.bad++;
			continue;
		}
		fr[k] = fr[i];
		fr[k].wire_len = fr[k].len;
		fr[k].ts_us = s->now;
		fr[k++].port = in;
	}
	if (s->engine)
		vg_net_engine_batch(s->engine, fr, k, verdict);
	for (int i = 0; i < k; i++) {
		if (s->engine && verdict[i] == VG_NET_DROP) {
			p->st.dropped++;
			continue;
		}
		forward_frame(s, in, fr[i].data, fr[i].len);
	}
}

static void readable(struct vg_switch *s, int i)
{
	int r = vg_port_read(&s->ports[i], i, on_frames, s);

	if (r == -EPROTO) {
		s->ports[i].st.bad++;
		disconnect(s, i,
			   "disconnected: its peer sent a frame length that is not QEMU's "
			   "framing");
	} else if (r == 1) {
		note(s, "port %s: connected (datagrams from %.100s)", s->ports[i].spec.name,
		     s->ports[i].peer.sun_path[0] ? s->ports[i].peer.sun_path
						  : "an unnamed socket");
	} else if (r) {
		disconnect(s, i, "disconnected");
	}
}

static void accept_peer(struct vg_switch *s, int i)
{
	struct vg_port *p = &s->ports[i];
	int r = vg_port_accept(p);

	if (r == -EBUSY) {
		note(s, "port %s: refused a second connection (the port has its guest)",
		     p->spec.name);
		return;
	}
	if (r)
		return;
	if (watch(s, EPOLL_CTL_ADD, p->fd, EPOLLIN, (uint32_t)i)) {
		vg_port_disconnect(p);
		return;
	}
	note(s, "port %s: connected", p->spec.name);
}

/* Writes every queued output; a port that cannot take it all waits for EPOLLOUT. */
static void flush_all(struct vg_switch *s)
{
	for (int i = 0; i < s->nports; i++) {
		struct vg_port *p = &s->ports[i];
		int r;

		if (p->spec.kind != VG_PORT_STREAM || p->fd < 0)
			continue;
		r = vg_port_flush(p);
		if (r < 0) {
			disconnect(s, i, "disconnected");
			continue;
		}
		if ((r == 1) != p->out_armed) {
			p->out_armed = r == 1;
			watch(s, EPOLL_CTL_MOD, p->fd, EPOLLIN | (p->out_armed ? EPOLLOUT : 0),
			      (uint32_t)i);
		}
	}
}

int vg_switch_run(struct vg_switch *s, volatile sig_atomic_t *stop, struct vg_err *err)
{
	struct epoll_event ev[64];

	while (!*stop) {
		int n = epoll_wait(s->ep, ev, 64, 100);

		if (n < 0 && errno != EINTR)
			return vg_errf(err, errno, "switch: epoll_wait: %s", strerror(errno));
		s->now = vg_wall_us();
		for (int k = 0; k < n; k++) {
			uint32_t d = ev[k].data.u32;
			int i = (int)(d & 0xff);

			if (d & LISTEN_BIT)
				accept_peer(s, i);
			else if (ev[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				readable(s, i);
		}
		flush_all(s);
		if (s->engine && (s->now - s->last_tick >= TICK_US || s->now < s->last_tick)) {
			vg_net_engine_tick(s->engine, s->now);
			s->last_tick = s->now;
		}
	}
	return 0;
}

const struct vg_port_stats *vg_switch_port_stats(const struct vg_switch *s, int port)
{
	return port >= 0 && port < s->nports ? &s->ports[port].st : NULL;
}

void vg_switch_close(struct vg_switch *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nports; i++)
		vg_port_close(&s->ports[i]);
	if (s->ep >= 0)
		close(s->ep);
	vg_btab_free(&s->fdb);
	free(s);
}
