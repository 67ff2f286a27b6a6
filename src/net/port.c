// SPDX-License-Identifier: MIT
/* Switch port I/O (port.h): Unix stream and datagram sockets, tap devices. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "port.h"

#define DGRAM_BATCH 64
#define TAP_BATCH 64

static int bind_unix(struct vg_port *p, int type, struct vg_err *err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(p->spec.path) >= sizeof(a.sun_path))
		return vg_errf(err, ENAMETOOLONG, "port %s: socket path too long", p->spec.name);
	strcpy(a.sun_path, p->spec.path);
	/* a socket left by an earlier run is replaced; anything else is not ours to remove */
	if (!lstat(p->spec.path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return vg_errf(err, EEXIST, "port %s: %s exists and is not a socket",
				       p->spec.name, p->spec.path);
		unlink(p->spec.path);
	}
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return vg_errf(err, errno, "port %s: socket: %s", p->spec.name, strerror(errno));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || (type == SOCK_STREAM && listen(fd, 4)) ||
	    chmod(p->spec.path, 0660)) {
		int e = errno;

		close(fd);
		return vg_errf(err, e, "port %s: cannot listen on %s: %s", p->spec.name,
			       p->spec.path, strerror(e));
	}
	if (type == SOCK_DGRAM) {
		int sz = 4 << 20;

		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		p->fd = fd;
	} else {
		p->lfd = fd;
	}
	return 0;
}

static int tap_create(struct vg_port *p, struct vg_err *err)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC), s;

	if (fd < 0)
		return vg_errf(err, errno, "uplink: /dev/net/tun: %s", strerror(errno));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%.15s", p->spec.path);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		int e = errno;

		close(fd);
		return vg_errf(err, e, "uplink: cannot create tap %s: %s", p->spec.path,
			       strerror(e));
	}
	/* the interface comes up with the switch; addresses are the operator's to set */
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s >= 0 && !ioctl(s, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (s >= 0)
		close(s);
	p->fd = fd;
	return 0;
}

/* A tap inside network namespace NS: enter it, create the device, come back. */
static int tap_in_netns(struct vg_port *p, struct vg_err *err)
{
	char path[256];
	int self, ns, ret;

	if (strchr(p->spec.netns, '/'))
		snprintf(path, sizeof(path), "%s", p->spec.netns);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", p->spec.netns);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || ns < 0) {
		ret = vg_errf(err, errno, "uplink: cannot open network namespace %s: %s", path,
			      strerror(errno));
		goto out;
	}
	if (setns(ns, CLONE_NEWNET)) {
		ret = vg_errf(err, errno, "uplink: cannot enter %s: %s", path, strerror(errno));
		goto out;
	}
	ret = tap_create(p, err);
	if (setns(self, CLONE_NEWNET) && !ret) {
		/* a process stuck in the guests' namespace must not carry on */
		ret = vg_errf(err, errno, "uplink: cannot return from %s: %s", path,
			      strerror(errno));
		close(p->fd);
		p->fd = -1;
	}
out:
	if (self >= 0)
		close(self);
	if (ns >= 0)
		close(ns);
	return ret;
}

int vg_port_open(struct vg_port *p, const struct vg_port_spec *spec, struct vg_err *err)
{
	int ret;

	memset(p, 0, sizeof(*p));
	p->spec = *spec;
	p->lfd = p->fd = -1;
	p->in = malloc(PORT_IN_BYTES);
	p->out = spec->kind == VG_PORT_STREAM ? malloc(PORT_OUT_BYTES) : NULL;
	if (!p->in || (spec->kind == VG_PORT_STREAM && !p->out)) {
		vg_port_close(p);
		return vg_errf(err, ENOMEM, "port %s: out of memory", spec->name);
	}
	switch (spec->kind) {
	case VG_PORT_STREAM:
		ret = bind_unix(p, SOCK_STREAM, err);
		break;
	case VG_PORT_DGRAM:
		ret = bind_unix(p, SOCK_DGRAM, err);
		break;
	default:
		ret = spec->netns[0] ? tap_in_netns(p, err) : tap_create(p, err);
		p->st.connected = !ret;
		break;
	}
	if (ret)
		vg_port_close(p);
	return ret;
}

int vg_port_accept(struct vg_port *p)
{
	int fd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int sz = 1 << 20;

	if (fd < 0)
		return -errno;
	if (p->fd >= 0) {
		close(fd);
		return -EBUSY;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	p->fd = fd;
	p->inlen = p->outlen = p->outoff = 0;
	p->st.connected = true;
	p->st.connects++;
	return 0;
}

static inline uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int read_stream(struct vg_port *p, int idx, vg_frames_fn fn, void *ctx)
{
	ssize_t n = read(p->fd, p->in + p->inlen, PORT_IN_BYTES - p->inlen);
	struct vg_net_frame fr[VG_NET_BATCH];
	uint32_t pos = 0;
	int nf = 0, ret = 0;

	if (n == 0)
		return -EPIPE;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
	p->inlen += (uint32_t)n;
	while (p->inlen - pos >= 4) {
		uint32_t len = be32(p->in + pos);

		if (len == 0 || len > PORT_MAX_FRAME) {
			ret = -EPROTO; /* the frames before it still go out */
			break;
		}
		if (p->inlen - pos - 4 < len)
			break;
		fr[nf].data = p->in + pos + 4;
		fr[nf++].len = len;
		if (nf == VG_NET_BATCH) {
			fn(ctx, idx, fr, nf);
			nf = 0;
		}
		pos += 4 + len;
	}
	if (nf)
		fn(ctx, idx, fr, nf);
	if (ret)
		return ret;
	if (pos) {
		memmove(p->in, p->in + pos, p->inlen - pos);
		p->inlen -= pos;
	}
	return 0;
}

static void one(vg_frames_fn fn, void *ctx, int idx, uint8_t *data, uint32_t len)
{
	struct vg_net_frame f = { .data = data, .len = len };

	fn(ctx, idx, &f, 1);
}

static int read_dgram(struct vg_port *p, int idx, vg_frames_fn fn, void *ctx)
{
	int ret = 0;

	for (int i = 0; i < DGRAM_BATCH; i++) {
		struct sockaddr_un from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(p->fd, p->in, PORT_IN_BYTES, 0, (struct sockaddr *)&from, &fl);

		if (n < 0)
			return ret;
		/* the first sender is the port's guest; others are not let in */
		if (!p->peerlen) {
			p->peer = from;
			p->peerlen = fl;
			p->st.connected = true;
			p->st.connects++;
			ret = 1;
		} else if (fl != p->peerlen || memcmp(&from, &p->peer, fl)) {
			p->st.bad++;
			continue;
		}
		one(fn, ctx, idx, p->in, (uint32_t)n);
	}
	return ret;
}

static int read_tap(struct vg_port *p, int idx, vg_frames_fn fn, void *ctx)
{
	for (int i = 0; i < TAP_BATCH; i++) {
		ssize_t n = read(p->fd, p->in, PORT_IN_BYTES);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
		one(fn, ctx, idx, p->in, (uint32_t)n);
	}
	return 0;
}

int vg_port_read(struct vg_port *p, int idx, vg_frames_fn fn, void *ctx)
{
	if (p->fd < 0)
		return 0;
	switch (p->spec.kind) {
	case VG_PORT_STREAM:
		return read_stream(p, idx, fn, ctx);
	case VG_PORT_DGRAM:
		return read_dgram(p, idx, fn, ctx);
	default:
		return read_tap(p, idx, fn, ctx);
	}
}

bool vg_port_has_peer(const struct vg_port *p)
{
	return p->fd >= 0 && (p->spec.kind != VG_PORT_DGRAM || p->peerlen);
}

bool vg_port_send(struct vg_port *p, const uint8_t *frame, uint32_t len)
{
	ssize_t n;

	if (!vg_port_has_peer(p))
		goto lost;
	if (p->spec.kind == VG_PORT_STREAM) {
		uint8_t *o;

		if (PORT_OUT_BYTES - p->outlen < len + 4) {
			/* make room by moving what is left of a partly written queue */
			if (!p->outoff || PORT_OUT_BYTES - (p->outlen - p->outoff) < len + 4)
				goto lost;
			memmove(p->out, p->out + p->outoff, p->outlen - p->outoff);
			p->outlen -= p->outoff;
			p->outoff = 0;
		}
		o = p->out + p->outlen;
		o[0] = (uint8_t)(len >> 24);
		o[1] = (uint8_t)(len >> 16);
		o[2] = (uint8_t)(len >> 8);
		o[3] = (uint8_t)len;
		memcpy(o + 4, frame, len);
		p->outlen += len + 4;
		goto sent;
	}
	if (p->spec.kind == VG_PORT_DGRAM)
		n = sendto(p->fd, frame, len, MSG_DONTWAIT, (struct sockaddr *)&p->peer,
			   p->peerlen);
	else
		n = write(p->fd, frame, len);
	if (n != (ssize_t)len)
		goto lost;
sent:
	p->st.tx++;
	p->st.tx_bytes += len;
	return true;
lost:
	p->st.tx_lost++;
	return false;
}

int vg_port_flush(struct vg_port *p)
{
	while (p->outoff < p->outlen && p->fd >= 0) {
		ssize_t n = send(p->fd, p->out + p->outoff, p->outlen - p->outoff,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 1 : -EPIPE;
		}
		p->outoff += (uint32_t)n;
	}
	p->outlen = p->outoff = 0;
	return 0;
}

void vg_port_disconnect(struct vg_port *p)
{
	if (p->spec.kind == VG_PORT_STREAM && p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	p->peerlen = 0;
	p->inlen = p->outlen = p->outoff = 0;
	p->out_armed = false;
	if (p->spec.kind != VG_PORT_TAP)
		p->st.connected = false;
}

void vg_port_close(struct vg_port *p)
{
	if (p->fd >= 0)
		close(p->fd);
	if (p->lfd >= 0)
		close(p->lfd);
	if ((p->lfd >= 0 || (p->spec.kind == VG_PORT_DGRAM && p->fd >= 0)) && p->spec.path[0])
		unlink(p->spec.path);
	free(p->in);
	free(p->out);
	p->in = p->out = NULL;
	p->fd = p->lfd = -1;
}
