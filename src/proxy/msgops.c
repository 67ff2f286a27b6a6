// SPDX-License-Identifier: MIT
/*
 * Data transfer on placeholders: read/write, readv/writev, the send and recv calls and mmsg,
 * normalised to one description (the service's iovecs, flags, address) and moved through the
 * shared window. A transfer is cut to VG_PROXY_IO_MAX bytes; iovec counts, address and control
 * sizes are bounded first. Received bytes the service could not take (a bad buffer, or its
 * call was interrupted before our answer) are pushed back for its next read, so none is lost.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "px.h"

#define IOV_LIMIT 1024u

struct io_desc {
	int fd;
	bool out;
	int flags;
	unsigned niov;
	size_t len;
	uint64_t name, namelenp; /* recvfrom: where the source and its size go */
	uint32_t namelen;
	uint64_t msg; /* recvmsg: the msghdr whose lengths and flags are written back */
	struct iovec iov[IOV_LIMIT]; /* last: the fields above are cleared, this is filled */
};

/* The service's iovec array, bounded, its total cut at the transfer limit. */
static int read_iov(struct px_sup *s, struct px_call *c, uint64_t addr, uint64_t n,
		    struct io_desc *d)
{
	if (n > IOV_LIMIT)
		return -EINVAL;
	if (n && px_target_read(s, c, addr, d->iov, n * sizeof(struct iovec)))
		return -EFAULT;
	d->niov = 0;
	d->len = 0;
	for (unsigned i = 0; i < n && d->len < VG_PROXY_IO_MAX; i++) {
		size_t l = d->iov[i].iov_len;

		if ((ssize_t)l < 0)
			return -EINVAL;
		if (l > VG_PROXY_IO_MAX - d->len)
			l = VG_PROXY_IO_MAX - d->len;
		d->iov[d->niov].iov_base = d->iov[i].iov_base;
		d->iov[d->niov++].iov_len = l;
		d->len += l;
	}
	return 0;
}

static void one_buf(struct io_desc *d, uint64_t addr, uint64_t len)
{
	d->iov[0].iov_base = (void *)(uintptr_t)addr;
	d->iov[0].iov_len = len < VG_PROXY_IO_MAX ? len : VG_PROXY_IO_MAX;
	d->niov = 1;
	d->len = d->iov[0].iov_len;
}

static int read_msghdr(struct px_sup *s, struct px_call *c, uint64_t addr, struct io_desc *d)
{
	struct msghdr mh;
	int ret;

	if (px_target_read(s, c, addr, &mh, sizeof(mh)))
		return -EFAULT;
	/* ancillary data (descriptors, credentials) has no meaning across domains */
	if (mh.msg_controllen && d->out)
		return -EOPNOTSUPP;
	ret = read_iov(s, c, (uintptr_t)mh.msg_iov, mh.msg_iovlen, d);
	if (ret)
		return ret;
	d->name = (uintptr_t)mh.msg_name;
	d->namelen = mh.msg_namelen;
	if (d->name && d->namelen > PX_ADDR_MAX && d->out)
		return -EINVAL;
	d->msg = addr;
	return 0;
}

static int describe(struct px_sup *s, struct px_call *c, struct io_desc *d)
{
	memset(d, 0, offsetof(struct io_desc, iov));
	d->fd = (int)c->a[0];
	switch (c->nr) {
	case SYS_write:
		d->out = true;
		/* fallthrough */
	case SYS_read:
		one_buf(d, c->a[1], c->a[2]);
		return 0;
	case SYS_writev:
		d->out = true;
		/* fallthrough */
	case SYS_readv:
		return read_iov(s, c, c->a[1], c->a[2], d);
	case SYS_sendto:
		d->out = true;
		one_buf(d, c->a[1], c->a[2]);
		d->flags = (int)c->a[3];
		d->name = c->a[4];
		d->namelen = (uint32_t)c->a[5];
		if (d->name && c->a[5] > PX_ADDR_MAX)
			return -EINVAL;
		return 0;
	case SYS_recvfrom:
		one_buf(d, c->a[1], c->a[2]);
		d->flags = (int)c->a[3];
		d->name = c->a[4];
		d->namelenp = c->a[5];
		return 0;
	case SYS_sendmsg:
		d->out = true;
		/* fallthrough */
	case SYS_recvmsg:
		d->flags = (int)c->a[2];
		return read_msghdr(s, c, c->a[1], d);
	default:
		return -ENOSYS;
	}
}

static int64_t park(struct px_sup *s, struct px_call *c, struct px_handle *h, short ev,
		    int64_t tmo_ms)
{
	if (c->expired)
		return -EAGAIN; /* SO_RCVTIMEO/SO_SNDTIMEO ran out */
	px_deadline(c, tmo_ms ? tmo_ms : -1);
	px_handle_watch(s, h, (uint32_t)ev);
	return PX_WAIT;
}

static void raise_sigpipe(struct px_sup *s, struct px_call *c)
{
	int pfd = px_target_pidfd(s, c);

	if (pfd >= 0)
		syscall(SYS_pidfd_send_signal, pfd, SIGPIPE, NULL, 0);
}

static int64_t send_one(struct px_sup *s, struct px_call *c, struct px_handle *h,
			const struct io_desc *d, bool nb)
{
	struct px_hdr m = { .op = PX_SEND, .h = h->xh };
	int ret;

	nb = nb || (d->flags & MSG_DONTWAIT);
	m.ret = -EPIPE;
	if (!px_handle_dead(s, h)) {
		ret = px_target_readv(s, c, d->iov, d->niov, s->ch.shm + PX_SHM_DATA, d->len);
		if (ret)
			return ret == -ESRCH ? PX_SENT : -EFAULT;
		if (d->name && d->namelen) {
			if (px_target_read(s, c, d->name, s->ch.shm + PX_SHM_AUX, d->namelen))
				return -EFAULT;
			m.a[2] = d->namelen;
		}
		m.a[0] = (int64_t)d->len;
		m.a[1] = d->flags & (MSG_OOB | MSG_DONTROUTE | MSG_EOR | MSG_MORE | MSG_CONFIRM);
		/* a call interrupted by a signal is retried by the service: sending now would
		 * send its bytes twice */
		if (!px_target_valid(s, c))
			return PX_SENT;
		if (px_chan_call(&s->ch, &m, NULL))
			m.ret = -EPIPE;
	}
	if (m.ret == -EAGAIN && !nb)
		return park(s, c, h, POLLOUT, h->sndtimeo_ms);
	if (m.ret == -EPIPE && !(d->flags & MSG_NOSIGNAL))
		raise_sigpipe(s, c);
	if (m.ret > 0)
		s->st->bytes_out += (uint64_t)m.ret;
	return m.ret;
}

/* The bytes (and source) for one receive: pushed-back ones first, else the executor's. */
static int64_t fetch(struct px_sup *s, struct px_call *c, struct px_handle *h,
		     const struct io_desc *d, bool nb, struct sockaddr_storage *sa, socklen_t *alen,
		     int *mflags)
{
	uint8_t *buf = s->ch.shm + PX_SHM_DATA;
	struct px_hdr m = { .op = PX_RECV, .h = h->xh };
	bool peek = d->flags & MSG_PEEK;
	uint32_t n;

	if (h->pblen) {
		n = d->len < h->pblen ? (uint32_t)d->len : h->pblen;
		memcpy(buf, h->pb, n);
		*alen = h->pbalen;
		*sa = h->pbaddr;
		if (h->type != SOCK_STREAM && h->pblen > d->len)
			*mflags |= MSG_TRUNC;
		if (!peek) {
			h->pblen = h->type == SOCK_STREAM ? h->pblen - n : 0;
			memmove(h->pb, h->pb + n, h->pblen);
		}
		return n;
	}
	if (px_handle_dead(s, h))
		return -ECONNRESET;
	m.a[0] = (int64_t)d->len;
	m.a[1] = d->flags & (MSG_PEEK | MSG_TRUNC | MSG_OOB);
	if (px_chan_call(&s->ch, &m, NULL))
		return -ECONNRESET;
	if (m.ret == -EAGAIN && !nb && !(d->flags & MSG_DONTWAIT))
		return park(s, c, h, POLLIN, h->rcvtimeo_ms);
	if (m.ret < 0)
		return m.ret;
	*alen = (socklen_t)m.a[0];
	if (*alen > sizeof(*sa))
		*alen = sizeof(*sa);
	memcpy(sa, s->ch.shm + PX_SHM_AUX, *alen);
	*mflags = (int)m.a[1];
	return m.ret;
}

/* Source address, msghdr lengths and flags: what recvfrom/recvmsg write besides the data. */
static int put_meta(struct px_sup *s, struct px_call *c, const struct io_desc *d,
		    const struct sockaddr_storage *sa, socklen_t alen, int mflags)
{
	int room = (int)d->namelen;

	if (d->name && d->namelenp && px_target_read(s, c, d->namelenp, &room, sizeof(room)))
		return -EFAULT;
	if (d->name && room > 0 && alen &&
	    px_target_write(s, c, d->name, sa, (size_t)room < alen ? (size_t)room : alen))
		return -EFAULT;
	if (d->name && d->namelenp && px_target_write(s, c, d->namelenp, &alen, sizeof(alen)))
		return -EFAULT;
	if (d->msg) {
		struct msghdr mh = { 0 };
		size_t ctl = 0;

		if (px_target_write(s, c, d->msg + offsetof(struct msghdr, msg_namelen),
				    d->name ? &alen : (const void *)&mh.msg_namelen,
				    sizeof(mh.msg_namelen)) ||
		    px_target_write(s, c, d->msg + offsetof(struct msghdr, msg_controllen), &ctl,
				    sizeof(ctl)) ||
		    px_target_write(s, c, d->msg + offsetof(struct msghdr, msg_flags), &mflags,
				    sizeof(mflags)))
			return -EFAULT;
	}
	return 0;
}

/* Receives into the service's buffers and answers the call (VAL when >= 0, else the byte
 * count; LENP, when set, gets the count first: recvmmsg's msg_len). */
static int64_t recv_one(struct px_sup *s, struct px_call *c, struct px_handle *h,
			const struct io_desc *d, bool nb, uint64_t lenp, int64_t val)
{
	struct sockaddr_storage sa;
	socklen_t alen = 0;
	int mflags = 0;
	bool peek = d->flags & MSG_PEEK;
	uint8_t *buf = s->ch.shm + PX_SHM_DATA;
	int64_t n = fetch(s, c, h, d, nb, &sa, &alen, &mflags), put;
	size_t copy;
	uint32_t len32;

	if (n < 0 || n == PX_WAIT)
		return n;
	copy = (size_t)n < d->len ? (size_t)n : d->len;
	put = px_target_writev(s, c, d->iov, d->niov, buf, copy);
	if (put <= 0 && copy) {
		if (!peek)
			px_handle_push(h, buf, copy, &sa, alen);
		return put == -ESRCH ? PX_SENT : -EFAULT;
	}
	if ((size_t)put < copy && !peek && h->type == SOCK_STREAM) {
		px_handle_push(h, buf + put, copy - (size_t)put, NULL, 0);
		n = put;
		copy = (size_t)put;
	}
	len32 = (uint32_t)n;
	if (put_meta(s, c, d, &sa, alen, mflags) ||
	    (lenp && px_target_write(s, c, lenp, &len32, sizeof(len32)))) {
		if (!peek)
			px_handle_push(h, buf, copy, &sa, alen);
		return -EFAULT;
	}
	s->st->bytes_in += copy;
	if (px_respond(s, c, val >= 0 ? val : n) && !peek)
		px_handle_push(h, buf, copy, &sa, alen);
	return PX_SENT;
}

int64_t px_op_io(struct px_sup *s, struct px_call *c)
{
	struct io_desc d;
	struct px_handle *h;
	bool nb = false;
	int ret = px_resolve(s, c, (int)c->a[0], &h, &nb);

	if (ret)
		return ret;
	if (!h)
		return PX_CONTINUE;
	ret = describe(s, c, &d);
	if (ret)
		return ret;
	if (d.out)
		return send_one(s, c, h, &d, nb);
	return recv_one(s, c, h, &d, nb, 0, -1);
}

/* sendmmsg sends as many as go without blocking after the first; recvmmsg takes one message
 * per call, which the call's contract allows and keeps a datagram from being lost between
 * two answers. */
int64_t px_op_mmsg(struct px_sup *s, struct px_call *c)
{
	uint64_t vec = c->a[1], vlen = c->a[2] < IOV_LIMIT ? c->a[2] : IOV_LIMIT;
	struct io_desc d;
	struct px_handle *h;
	bool nb = false;
	int ret = px_resolve(s, c, (int)c->a[0], &h, &nb);

	if (ret)
		return ret;
	if (!h)
		return PX_CONTINUE;
	if (!vlen)
		return 0;
	if (c->nr == SYS_recvmmsg) {
		memset(&d, 0, offsetof(struct io_desc, iov));
		d.flags = (int)c->a[3] & ~MSG_WAITFORONE;
		ret = read_msghdr(s, c, vec, &d);
		if (ret)
			return ret;
		return recv_one(s, c, h, &d, nb, vec + offsetof(struct mmsghdr, msg_len), 1);
	}
	for (uint64_t i = 0; i < vlen; i++) {
		uint64_t at = vec + i * sizeof(struct mmsghdr);
		uint32_t len32;
		int64_t r;

		memset(&d, 0, offsetof(struct io_desc, iov));
		d.out = true;
		d.flags = (int)c->a[3];
		ret = read_msghdr(s, c, at, &d);
		r = ret ? ret : send_one(s, c, h, &d, nb || i > 0);
		if (r == PX_WAIT || r == PX_SENT)
			return r;
		if (r < 0)
			return i ? (int64_t)i : r;
		len32 = (uint32_t)r;
		if (px_target_write(s, c, at + offsetof(struct mmsghdr, msg_len), &len32,
				    sizeof(len32)))
			return i ? (int64_t)i : -EFAULT;
	}
	return (int64_t)vlen;
}
