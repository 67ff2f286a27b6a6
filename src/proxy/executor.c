// SPDX-License-Identifier: MIT
/*
 * The executor: runs in the domain the service's traffic is meant to live in and performs the
 * supervisor's requests on real sockets. Every socket is non-blocking, so one slow peer never
 * stalls the others; a call that would block is answered -EAGAIN and a one-shot watch (WATCH)
 * tells the supervisor when to try again. Requests are checked like any other input:
 * handles, lengths and option sizes are bounded here too.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "px.h"

#define XH_MAX 65536u

struct xsock {
	int fd; /* -1: free slot */
	bool in_ep;
};

struct xctx {
	int chan, ep;
	uint8_t *shm;
	struct xsock *s;
	unsigned n, cap;
};

static int xh_new(struct xctx *x, int fd)
{
	unsigned i;

	for (i = 0; i < x->n; i++)
		if (x->s[i].fd < 0)
			break;
	if (i == x->n) {
		if (x->n == x->cap) {
			unsigned cap = x->cap ? x->cap * 2 : 64;
			struct xsock *ns;

			if (cap > XH_MAX)
				return -EMFILE;
			ns = realloc(x->s, cap * sizeof(*ns));
			if (!ns)
				return -ENOMEM;
			x->s = ns;
			x->cap = cap;
		}
		x->n++;
	}
	x->s[i].fd = fd;
	x->s[i].in_ep = false;
	return (int)i + 1;
}

static int xh_fd(struct xctx *x, uint32_t h)
{
	if (h == 0 || h > x->n || x->s[h - 1].fd < 0)
		return -EBADF;
	return x->s[h - 1].fd;
}

static int arm(struct xctx *x, uint32_t h, uint32_t events)
{
	struct xsock *xs = &x->s[h - 1];
	struct epoll_event ev = {
		.events = (events & (EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP)) | EPOLLONESHOT,
		.data.u32 = h
	};

	if (epoll_ctl(x->ep, xs->in_ep ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, xs->fd, &ev))
		return -errno;
	xs->in_ep = true;
	return 0;
}

static void xh_close(struct xctx *x, uint32_t h)
{
	int fd = xh_fd(x, h);

	if (fd < 0)
		return;
	close(fd); /* also leaves the epoll set */
	x->s[h - 1].fd = -1;
}

static int64_t do_socket(struct xctx *x, struct px_hdr *m, int *passfd)
{
	int fd;
	int64_t h;

	if (m->flags & PX_F_PASSFD) {
		fd = socket((int)m->a[0], (int)m->a[1], (int)m->a[2]);
		if (fd < 0)
			return -errno;
		*passfd = fd;
		return 0;
	}
	fd = socket((int)m->a[0], (int)m->a[1] | SOCK_NONBLOCK | SOCK_CLOEXEC, (int)m->a[2]);
	if (fd < 0)
		return -errno;
	h = xh_new(x, fd);
	if (h < 0)
		close(fd);
	return h;
}

static int64_t do_accept(struct xctx *x, struct px_hdr *m, int fd)
{
	socklen_t alen = PX_ADDR_MAX;
	int nfd = accept4(fd, (struct sockaddr *)(x->shm + PX_SHM_AUX), &alen,
			  SOCK_NONBLOCK | SOCK_CLOEXEC);
	int64_t h;

	if (nfd < 0)
		return -errno;
	h = xh_new(x, nfd);
	if (h < 0) {
		close(nfd);
		return h;
	}
	m->a[0] = alen;
	return h;
}

static int64_t do_send(struct xctx *x, struct px_hdr *m, int fd)
{
	uint64_t len = (uint64_t)m->a[0], alen = (uint64_t)m->a[2];
	ssize_t n;

	if (len > VG_PROXY_IO_MAX || alen > PX_ADDR_MAX)
		return -EINVAL;
	n = sendto(fd, x->shm + PX_SHM_DATA, len, (int)m->a[1] | MSG_DONTWAIT | MSG_NOSIGNAL,
		   alen ? (struct sockaddr *)(x->shm + PX_SHM_AUX) : NULL, (socklen_t)alen);
	if (n < 0)
		return -errno;
	return n;
}

static int64_t do_recv(struct xctx *x, struct px_hdr *m, int fd)
{
	uint64_t len = (uint64_t)m->a[0];
	struct iovec iov = { .iov_base = x->shm + PX_SHM_DATA };
	struct msghdr mh = { .msg_name = x->shm + PX_SHM_AUX,
			     .msg_namelen = PX_ADDR_MAX,
			     .msg_iov = &iov,
			     .msg_iovlen = 1 };
	ssize_t n;

	if (len > VG_PROXY_IO_MAX)
		return -EINVAL;
	iov.iov_len = len;
	n = recvmsg(fd, &mh, (int)(m->a[1] & (MSG_PEEK | MSG_TRUNC | MSG_OOB)) | MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	m->a[0] = mh.msg_namelen;
	m->a[1] = mh.msg_flags;
	return n;
}

static int64_t do_sockopt(struct xctx *x, struct px_hdr *m, int fd)
{
	socklen_t len = (socklen_t)m->a[2];

	if ((uint64_t)m->a[2] > PX_OPT_MAX)
		return -EINVAL;
	if (m->op == PX_SETSOCKOPT)
		return setsockopt(fd, (int)m->a[0], (int)m->a[1], x->shm + PX_SHM_AUX, len) ? -errno
											    : 0;
	if (getsockopt(fd, (int)m->a[0], (int)m->a[1], x->shm + PX_SHM_AUX, &len))
		return -errno;
	m->a[0] = len;
	return 0;
}

static int64_t do_poll(struct xctx *x, struct px_hdr *m)
{
	struct px_pollent *pe = (struct px_pollent *)(x->shm + PX_SHM_AUX);
	struct pollfd pf[64];
	uint64_t n = (uint64_t)m->a[0];
	int64_t ready = 0;

	if (n > PX_POLL_MAX)
		return -EINVAL;
	for (uint64_t i = 0; i < n; i += 64) {
		unsigned k = n - i < 64 ? (unsigned)(n - i) : 64;

		for (unsigned j = 0; j < k; j++) {
			int fd = xh_fd(x, pe[i + j].h);

			pf[j].fd = fd < 0 ? -1 : fd;
			pf[j].events = pe[i + j].events;
			pf[j].revents = 0;
		}
		if (poll(pf, k, 0) < 0)
			return -errno;
		for (unsigned j = 0; j < k; j++) {
			pe[i + j].revents = xh_fd(x, pe[i + j].h) < 0 ? POLLNVAL : pf[j].revents;
			ready += pe[i + j].revents != 0;
		}
	}
	return ready;
}

static int64_t handle(struct xctx *x, struct px_hdr *m, int *passfd)
{
	int fd = -1;
	socklen_t alen;
	int nread;

	if (m->op != PX_SOCKET && m->op != PX_POLL) {
		fd = xh_fd(x, m->h);
		if (fd < 0)
			return fd;
	}
	switch (m->op) {
	case PX_SOCKET:
		return do_socket(x, m, passfd);
	case PX_CONNECT:
		if ((uint64_t)m->a[0] > PX_ADDR_MAX)
			return -EINVAL;
		if (connect(fd, (struct sockaddr *)(x->shm + PX_SHM_AUX), (socklen_t)m->a[0]))
			return -errno;
		return 0;
	case PX_BIND:
		if ((uint64_t)m->a[0] > PX_ADDR_MAX)
			return -EINVAL;
		return bind(fd, (struct sockaddr *)(x->shm + PX_SHM_AUX), (socklen_t)m->a[0])
			       ? -errno
			       : 0;
	case PX_LISTEN:
		return listen(fd, (int)m->a[0]) ? -errno : 0;
	case PX_ACCEPT:
		return do_accept(x, m, fd);
	case PX_SEND:
		return do_send(x, m, fd);
	case PX_RECV:
		return do_recv(x, m, fd);
	case PX_SHUTDOWN:
		return shutdown(fd, (int)m->a[0]) ? -errno : 0;
	case PX_SOCKNAME:
		alen = PX_ADDR_MAX;
		if ((m->a[0] ? getpeername
			     : getsockname)(fd, (struct sockaddr *)(x->shm + PX_SHM_AUX), &alen))
			return -errno;
		m->a[0] = alen;
		return 0;
	case PX_GETSOCKOPT:
	case PX_SETSOCKOPT:
		return do_sockopt(x, m, fd);
	case PX_POLL:
		return do_poll(x, m);
	case PX_WATCH:
		return arm(x, m->h, (uint32_t)m->a[0]);
	case PX_NREAD:
		return ioctl(fd, FIONREAD, &nread) ? -errno : nread;
	default:
		return -EOPNOTSUPP;
	}
}

static int serve_one(struct xctx *x)
{
	struct px_hdr m;
	int passfd = -1, ret;
	bool reply;

	ret = px_hdr_read(x->chan, &m, NULL);
	if (ret)
		return ret;
	if (m.op == PX_CLOSE) {
		xh_close(x, m.h);
		return 0;
	}
	reply = m.seq != 0;
	m.ret = handle(x, &m, &passfd);
	if (!reply)
		return 0;
	m.flags = PX_F_REPLY;
	ret = px_hdr_write(x->chan, &m, passfd);
	if (passfd >= 0)
		close(passfd);
	return ret;
}

static int fire(struct xctx *x, const struct epoll_event *ev)
{
	struct px_hdr m = { .op = PX_EVENT, .h = ev->data.u32, .a = { (int64_t)ev->events } };

	return px_hdr_write(x->chan, &m, -1);
}

int px_executor_loop(int chan, uint8_t *shm, struct vg_err *err)
{
	struct xctx x = { .chan = chan, .shm = shm };
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 0 };
	int ret = 0;

	x.ep = epoll_create1(EPOLL_CLOEXEC);
	if (x.ep < 0)
		return vg_errf(err, errno, "executor: epoll_create1: %s", strerror(errno));
	if (epoll_ctl(x.ep, EPOLL_CTL_ADD, chan, &ev)) {
		ret = vg_errf(err, errno, "executor: watching the channel: %s", strerror(errno));
		goto out;
	}
	for (;;) {
		struct epoll_event evs[64];
		int n = epoll_wait(x.ep, evs, 64, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = vg_errf(err, errno, "executor: epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n && !ret; i++)
			ret = evs[i].data.u32 ? fire(&x, &evs[i]) : serve_one(&x);
		if (ret == -EPIPE) {
			ret = 0; /* the supervisor closed the channel: our work is over */
			break;
		}
		if (ret) {
			vg_errf(err, -ret, "executor: channel: %s", strerror(-ret));
			break;
		}
	}
out:
	for (uint32_t h = 1; h <= x.n; h++)
		xh_close(&x, h);
	free(x.s);
	close(x.ep);
	return ret;
}
