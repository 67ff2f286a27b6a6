// SPDX-License-Identifier: MIT
/*
 * The socket calls other than data transfer: socket (both modes), connect, bind, listen,
 * accept, shutdown, the name and option calls, FIONREAD and the dup family, emulated for the
 * service's placeholders in data mode. Every address, option and length comes from the
 * service and is bounded before it is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "px.h"
#include "vigil/clock.h"

#define SOCK_TYPE_MASK 0xf

uint64_t px_deadline(struct px_call *c, int64_t timeout_ms)
{
	if (!c->deadline_ms)
		c->deadline_ms = timeout_ms < 0 ? UINT64_MAX : vg_mono_ms() + (uint64_t)timeout_ms;
	return c->deadline_ms;
}

static int64_t chan_err(int ret)
{
	return ret == -EPIPE || ret == -EPROTO ? -ECONNRESET : ret;
}

int64_t px_op_socket(struct px_sup *s, struct px_call *c)
{
	int domain = (int)c->a[0], type = (int)c->a[1], proto = (int)c->a[2];
	bool cloexec = type & SOCK_CLOEXEC;
	struct px_hdr m = { .op = PX_SOCKET, .a = { domain, type, proto } };
	struct px_handle *h;
	int fd = -1, rfd, nfd, ret;

	if (domain != AF_INET && domain != AF_INET6)
		return PX_CONTINUE;
	if (s->ch.fd < 0)
		return -ENETDOWN;
	if (s->mode == VG_PROXY_FD) {
		m.flags = PX_F_PASSFD;
		ret = px_chan_call(&s->ch, &m, &fd);
		if (ret)
			return -ENETDOWN;
		if (m.ret < 0 || fd < 0)
			return m.ret < 0 ? m.ret : -EPROTO;
		s->st->sockets++;
		ret = px_addfd_send(s, c, fd, -1, cloexec);
		close(fd);
		return ret < 0 ? ret : PX_SENT;
	}
	m.a[1] = type & SOCK_TYPE_MASK;
	ret = px_chan_call(&s->ch, &m, NULL);
	if (ret)
		return -ENETDOWN;
	if (m.ret < 0)
		return m.ret;
	ret = px_handle_new(s, (uint32_t)m.ret, domain, type & SOCK_TYPE_MASK, &h, &rfd);
	if (ret) {
		struct px_hdr cl = { .op = PX_CLOSE, .h = (uint32_t)m.ret };

		px_chan_post(&s->ch, &cl);
		return ret;
	}
	if (type & SOCK_NONBLOCK)
		fcntl(rfd, F_SETFL, O_NONBLOCK);
	nfd = px_target_freefd(s, c, VG_PROXY_FD_BASE);
	ret = nfd < 0 ? nfd : px_addfd_send(s, c, rfd, nfd, cloexec);
	/* once installed the service holds the only reader; if not, EPOLLERR frees the handle */
	close(rfd);
	return ret < 0 ? ret : PX_SENT;
}

/* Reads a socklen_t the service points at; it must be sane before anything is copied. */
static int read_len(struct px_sup *s, struct px_call *c, uint64_t lenp, socklen_t *len)
{
	int v;
	int ret = px_target_read(s, c, lenp, &v, sizeof(v));

	if (ret)
		return ret == -ESRCH ? ret : -EFAULT;
	if (v < 0)
		return -EINVAL;
	*len = (socklen_t)v;
	return 0;
}

/* Writes an address or option value back: min(bufsize, actual) bytes and the actual size. */
static int64_t put_sized(struct px_sup *s, struct px_call *c, uint64_t buf, uint64_t lenp,
			 socklen_t room, const void *val, socklen_t actual)
{
	socklen_t n = actual < room ? actual : room;
	int v = (int)actual;

	if (n && px_target_write(s, c, buf, val, n))
		return -EFAULT;
	if (px_target_write(s, c, lenp, &v, sizeof(v)))
		return -EFAULT;
	return 0;
}

static int64_t call_x(struct px_sup *s, struct px_handle *h, struct px_hdr *m)
{
	int ret;

	if (px_handle_dead(s, h))
		return -ECONNRESET;
	m->h = h->xh;
	ret = px_chan_call(&s->ch, m, NULL);
	return ret ? chan_err(ret) : m->ret;
}

static int64_t do_addr_op(struct px_sup *s, struct px_call *c, struct px_handle *h, int op)
{
	struct px_hdr m = { .op = (uint32_t)op, .a = { (int64_t)c->a[2] } };

	if (c->a[2] > PX_ADDR_MAX)
		return -EINVAL;
	if (px_target_read(s, c, c->a[1], s->ch.shm + PX_SHM_AUX, c->a[2]))
		return -EFAULT;
	return call_x(s, h, &m);
}

static int64_t do_connect(struct px_sup *s, struct px_call *c, struct px_handle *h, bool nb)
{
	struct px_handle *hs[1] = { h };
	short ev = POLLOUT, rev;
	int64_t r;

	if (c->stage == 0) {
		r = do_addr_op(s, c, h, PX_CONNECT);
		if (r != -EINPROGRESS || nb)
			return r;
		c->stage = 1;
	}
	if (c->expired)
		return -EINPROGRESS;
	r = px_handles_poll(s, hs, &ev, &rev, 1);
	if (r)
		return chan_err((int)r);
	if (rev) {
		struct px_hdr m = { .op = PX_GETSOCKOPT,
				    .a = { SOL_SOCKET, SO_ERROR, sizeof(int) } };
		int soerr = 0;

		r = call_x(s, h, &m);
		if (r)
			return r;
		memcpy(&soerr, s->ch.shm + PX_SHM_AUX, sizeof(soerr));
		return -soerr;
	}
	px_deadline(c, h->sndtimeo_ms ? h->sndtimeo_ms : -1);
	px_handle_watch(s, h, POLLOUT);
	return PX_WAIT;
}

/* Installs executor handle XH (an accepted connection) as a new placeholder and answers. */
static int64_t deliver_accept(struct px_sup *s, struct px_call *c, struct px_handle *lh,
			      uint32_t xh, socklen_t alen)
{
	int flags = c->nr == SYS_accept4 ? (int)c->a[3] : 0;
	struct px_handle *h;
	int rfd, nfd, ret;
	socklen_t room;

	if (c->a[1] && c->a[2]) {
		ret = read_len(s, c, c->a[2], &room);
		if (!ret)
			ret = (int)put_sized(s, c, c->a[1], c->a[2], room, s->ch.shm + PX_SHM_AUX,
					     alen);
		if (ret)
			goto requeue;
	}
	ret = px_handle_new(s, xh, lh->domain, lh->type, &h, &rfd);
	if (ret)
		goto requeue;
	if (flags & SOCK_NONBLOCK)
		fcntl(rfd, F_SETFL, O_NONBLOCK);
	nfd = px_target_freefd(s, c, VG_PROXY_FD_BASE);
	ret = nfd < 0 ? nfd : px_addfd_send(s, c, rfd, nfd, flags & SOCK_CLOEXEC);
	close(rfd);
	if (ret >= 0)
		return PX_SENT;
	/* the caller is gone or could not take it: keep the connection for the next accept */
	h->xh = 0;
requeue:
	if (lh->nacq < 16) {
		lh->acq[lh->nacq++] = xh;
	} else {
		struct px_hdr cl = { .op = PX_CLOSE, .h = xh };

		px_chan_post(&s->ch, &cl);
	}
	return ret == -ENOENT ? PX_SENT : ret;
}

static int64_t do_accept(struct px_sup *s, struct px_call *c, struct px_handle *h, bool nb)
{
	struct px_hdr m = { .op = PX_ACCEPT };
	int64_t r;

	if (c->nr == SYS_accept4 && (c->a[3] & ~(uint64_t)(SOCK_NONBLOCK | SOCK_CLOEXEC)))
		return -EINVAL;
	if (h->nacq) {
		uint32_t xh = h->acq[0];
		struct px_hdr pm = { .op = PX_SOCKNAME, .h = xh, .a = { 1 } };

		memmove(h->acq, h->acq + 1, --h->nacq * sizeof(h->acq[0]));
		if (px_chan_call(&s->ch, &pm, NULL) || pm.ret < 0)
			pm.a[0] = 0;
		return deliver_accept(s, c, h, xh, (socklen_t)pm.a[0]);
	}
	r = call_x(s, h, &m);
	if (r >= 0)
		return deliver_accept(s, c, h, (uint32_t)r, (socklen_t)m.a[0]);
	if (r != -EAGAIN || nb)
		return r;
	if (c->expired)
		return -EAGAIN;
	px_deadline(c, h->rcvtimeo_ms ? h->rcvtimeo_ms : -1);
	px_handle_watch(s, h, POLLIN);
	return PX_WAIT;
}

static int64_t do_name(struct px_sup *s, struct px_call *c, struct px_handle *h)
{
	struct px_hdr m = { .op = PX_SOCKNAME, .a = { c->nr == SYS_getpeername } };
	socklen_t room;
	int64_t r = read_len(s, c, c->a[2], &room);

	if (r)
		return r;
	r = call_x(s, h, &m);
	if (r)
		return r;
	return put_sized(s, c, c->a[1], c->a[2], room, s->ch.shm + PX_SHM_AUX, (socklen_t)m.a[0]);
}

static int64_t timeo_ms(const uint8_t *v, uint64_t len)
{
	int64_t sec, usec;

	if (len < 16)
		return -EINVAL;
	memcpy(&sec, v, 8);
	memcpy(&usec, v + 8, 8);
	if (sec < 0 || usec < 0 || usec >= 1000000)
		return -EDOM;
	if (sec > INT32_MAX)
		return 0;
	return sec * 1000 + (usec + 999) / 1000;
}

static int64_t do_sockopt(struct px_sup *s, struct px_call *c, struct px_handle *h)
{
	int level = (int)c->a[1], name = (int)c->a[2];
	struct px_hdr m = { .a = { level, name } };
	uint8_t *v = s->ch.shm + PX_SHM_AUX;
	socklen_t room;
	int64_t r;

	if (c->nr == SYS_setsockopt) {
		if (c->a[4] > PX_OPT_MAX)
			return -EINVAL;
		if (px_target_read(s, c, c->a[3], v, c->a[4]))
			return -EFAULT;
		if (level == SOL_SOCKET && (name == SO_RCVTIMEO_OLD || name == SO_RCVTIMEO_NEW ||
					    name == SO_SNDTIMEO_OLD || name == SO_SNDTIMEO_NEW)) {
			int64_t ms = timeo_ms(v, c->a[4]);

			if (ms < 0)
				return ms;
			if (name == SO_RCVTIMEO_OLD || name == SO_RCVTIMEO_NEW)
				h->rcvtimeo_ms = ms;
			else
				h->sndtimeo_ms = ms;
		}
		m.op = PX_SETSOCKOPT;
		m.a[2] = (int64_t)c->a[4];
		return call_x(s, h, &m);
	}
	r = read_len(s, c, c->a[4], &room);
	if (r)
		return r;
	m.op = PX_GETSOCKOPT;
	m.a[2] = room < PX_OPT_MAX ? room : PX_OPT_MAX;
	r = call_x(s, h, &m);
	if (r)
		return r;
	return put_sized(s, c, c->a[3], c->a[4], room, v, (socklen_t)m.a[0]);
}

static int64_t do_ioctl(struct px_sup *s, struct px_call *c, struct px_handle *h)
{
	struct px_hdr m = { .op = PX_NREAD };
	int64_t r;
	int v;

	if (c->a[1] != FIONREAD)
		return PX_CONTINUE; /* FIONBIO, FIOCLEX and the like act on the placeholder */
	r = call_x(s, h, &m);
	if (r < 0)
		return r;
	v = (int)(r + h->pblen);
	return px_target_write(s, c, c->a[2], &v, sizeof(v)) ? -EFAULT : 0;
}

int64_t px_op_sockcall(struct px_sup *s, struct px_call *c)
{
	struct px_handle *h;
	struct px_hdr m = { 0 };
	bool nb = false;
	int ret = px_resolve(s, c, (int)c->a[0], &h, &nb);

	if (ret)
		return ret;
	if (!h)
		return PX_CONTINUE;
	switch (c->nr) {
	case SYS_connect:
		return do_connect(s, c, h, nb);
	case SYS_bind:
		return do_addr_op(s, c, h, PX_BIND);
	case SYS_listen:
		m.op = PX_LISTEN;
		m.a[0] = (int)c->a[1];
		return call_x(s, h, &m);
	case SYS_accept:
	case SYS_accept4:
		return do_accept(s, c, h, nb);
	case SYS_shutdown:
		m.op = PX_SHUTDOWN;
		m.a[0] = (int)c->a[1];
		return call_x(s, h, &m);
	case SYS_getsockname:
	case SYS_getpeername:
		return do_name(s, c, h);
	case SYS_getsockopt:
	case SYS_setsockopt:
		return do_sockopt(s, c, h);
	case SYS_ioctl:
		return do_ioctl(s, c, h);
	default:
		return PX_CONTINUE;
	}
}

/* fcntl(F_GETFL) answers as for a socket. dup, dup2, dup3, fcntl(F_DUPFD*): a copy of a placeholder
 * must stay in the placeholder range (calls on it are caught by number), so the copy is installed
 * by us, at or above the base. */
int64_t px_op_dup(struct px_sup *s, struct px_call *c)
{
	int old = (int)c->a[0], want = -1, min = VG_PROXY_FD_BASE, dup, ret;
	bool cloexec = false;
	struct px_handle *h;

	ret = px_resolve(s, c, old, &h, NULL);
	if (ret)
		return ret;
	if (!h)
		return PX_CONTINUE;
	switch (c->nr) {
	case SYS_fcntl:
		if (c->a[1] == F_GETFL) {
			int fl;

			dup = px_target_getfd(s, c, old);
			if (dup < 0)
				return dup;
			fl = fcntl(dup, F_GETFL);
			close(dup);
			/* a socket is open for reading and writing (fdopen "r+" checks) */
			return fl < 0 ? -EBADF : (fl & ~O_ACCMODE) | O_RDWR;
		}
		if (c->a[1] != F_DUPFD && c->a[1] != F_DUPFD_CLOEXEC)
			return PX_CONTINUE;
		if ((int)c->a[2] < 0)
			return -EINVAL;
		if ((int)c->a[2] > min)
			min = (int)c->a[2];
		cloexec = c->a[1] == F_DUPFD_CLOEXEC;
		break;
	case SYS_dup2:
	case SYS_dup3:
		want = (int)c->a[1];
		if (c->nr == SYS_dup3 && (want == old || (c->a[2] & ~(uint64_t)O_CLOEXEC)))
			return -EINVAL;
		if (want == old)
			return want;
		/* below the base the copy would escape the filter and read the bare pipe */
		if (want < VG_PROXY_FD_BASE)
			return -EINVAL;
		cloexec = c->nr == SYS_dup3 && (c->a[2] & O_CLOEXEC);
		break;
	default:
		break;
	}
	if (want < 0) {
		want = px_target_freefd(s, c, min);
		if (want < 0)
			return want;
	}
	dup = px_target_getfd(s, c, old);
	if (dup < 0)
		return dup;
	ret = px_addfd_send(s, c, dup, want, cloexec);
	close(dup);
	return ret < 0 ? ret : PX_SENT;
}
