// SPDX-License-Identifier: MIT
/*
 * The socket calls other than data transfer: socket (both modes), connect, bind, listen,
 * accept, shutdown, the name and option calls, FIONREAD and the dup family, emulated for the
 * service's placeholders in data mode by making the call on the real socket behind the
 * placeholder. Every address, option and length comes from the service and is bounded before
 * it is read.
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

uint64_t vg_px_deadline(struct px_call *c, int64_t timeout_ms)
{
	if (!c->deadline_ms)
		c->deadline_ms = timeout_ms < 0 ? UINT64_MAX : vg_mono_ms() + (uint64_t)timeout_ms;
	return c->deadline_ms;
}

/* A new socket from the executor: in its namespace, of TYPE (flags included). */
static int exec_socket(struct px_sup *s, int domain, int type, int proto, int *fd)
{
	for (int tries = 0; tries < 2; tries++) {
		struct px_hdr m = { .op = PX_SOCKET, .a = { domain, type, proto } };
		int ret = s->ch.fd < 0 ? -EPIPE : vg_px_chan_call(&s->ch, &m, fd);

		if (!ret)
			return m.ret < 0 ? (int)m.ret : *fd < 0 ? -EPROTO : 0;
		/* the executor died: a new one makes this socket, if the budget allows */
		if (vg_px_exec_restart(s))
			break;
	}
	return -ENETDOWN;
}

int64_t vg_px_op_socket(struct px_sup *s, struct px_call *c)
{
	int domain = (int)c->a[0], type = (int)c->a[1], proto = (int)c->a[2];
	bool cloexec = type & SOCK_CLOEXEC;
	struct px_handle *h;
	int fd = -1, rfd, nfd, ret;

	if (domain != AF_INET && domain != AF_INET6)
		return PX_CONTINUE;
	if (s->mode == VG_PROXY_FD) {
		ret = exec_socket(s, domain, type, proto, &fd);
		if (ret)
			return ret;
		s->st->sockets++;
		ret = vg_px_addfd_send(s, c, fd, -1, cloexec);
		close(fd);
		return ret < 0 ? ret : PX_SENT;
	}
	ret = exec_socket(s, domain, (type & SOCK_TYPE_MASK) | SOCK_NONBLOCK | SOCK_CLOEXEC, proto,
			  &fd);
	if (ret)
		return ret;
	ret = vg_px_handle_new(s, fd, domain, type & SOCK_TYPE_MASK, &h, &rfd);
	if (ret) {
		close(fd);
		return ret;
	}
	h->nonblock = type & SOCK_NONBLOCK;
	if (h->nonblock)
		fcntl(rfd, F_SETFL, O_NONBLOCK);
	nfd = vg_px_target_freefd(s, c, VG_PROXY_FD_BASE);
	ret = nfd < 0 ? nfd : vg_px_addfd_send(s, c, rfd, nfd, cloexec);
	/* once installed the service holds the only reader; if not, EPOLLERR frees the handle */
	close(rfd);
	return ret < 0 ? ret : PX_SENT;
}

/* Reads a socklen_t the service points at; it must be sane before anything is copied. */
static int read_len(struct px_sup *s, struct px_call *c, uint64_t lenp, socklen_t *len)
{
	int v;
	int ret = vg_px_target_read(s, c, lenp, &v, sizeof(v));

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

	if (n && vg_px_target_write(s, c, buf, val, n))
		return -EFAULT;
	if (vg_px_target_write(s, c, lenp, &v, sizeof(v)))
		return -EFAULT;
	return 0;
}

static int64_t sys_ret(int r)
{
	return r < 0 ? -errno : r;
}

static int64_t do_addr_op(struct px_sup *s, struct px_call *c, struct px_handle *h)
{
	struct sockaddr_storage a;
	socklen_t alen = (socklen_t)c->a[2];

	if (c->a[2] > PX_ADDR_MAX || c->a[2] > sizeof(a))
		return -EINVAL;
	if (vg_px_target_read(s, c, c->a[1], &a, alen))
		return -EFAULT;
	if (c->nr == SYS_bind)
		return sys_ret(bind(h->sfd, (struct sockaddr *)&a, alen));
	return sys_ret(connect(h->sfd, (struct sockaddr *)&a, alen));
}

static int64_t do_connect(struct px_sup *s, struct px_call *c, struct px_handle *h, bool nb)
{
	struct pollfd pf = { .fd = h->sfd, .events = POLLOUT };
	int64_t r;

	if (c->stage == 0) {
		r = do_addr_op(s, c, h);
		if (r != -EINPROGRESS || nb)
			return r;
		c->stage = 1;
	}
	if (c->expired)
		return -EINPROGRESS;
	if (poll(&pf, 1, 0) < 0)
		return -errno;
	if (pf.revents) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (getsockopt(h->sfd, SOL_SOCKET, SO_ERROR, &soerr, &len))
			return -errno;
		return -soerr;
	}
	vg_px_deadline(c, h->sndtimeo_ms ? h->sndtimeo_ms : -1);
	vg_px_handle_watch(s, h, POLLOUT);
	return PX_WAIT;
}

/* Installs SFD (an accepted connection) as a new placeholder and answers. */
static int64_t deliver_accept(struct px_sup *s, struct px_call *c, struct px_handle *lh, int sfd,
			      const struct sockaddr_storage *peer, socklen_t alen)
{
	int flags = c->nr == SYS_accept4 ? (int)c->a[3] : 0;
	struct px_handle *h;
	int rfd, nfd, ret;
	socklen_t room;

	if (c->a[1] && c->a[2]) {
		ret = read_len(s, c, c->a[2], &room);
		if (!ret)
			ret = (int)put_sized(s, c, c->a[1], c->a[2], room, peer, alen);
		if (ret)
			goto requeue;
	}
	ret = vg_px_handle_new(s, sfd, lh->domain, lh->type, &h, &rfd);
	if (ret)
		goto requeue;
	h->nonblock = flags & SOCK_NONBLOCK;
	if (h->nonblock)
		fcntl(rfd, F_SETFL, O_NONBLOCK);
	nfd = vg_px_target_freefd(s, c, VG_PROXY_FD_BASE);
	ret = nfd < 0 ? nfd : vg_px_addfd_send(s, c, rfd, nfd, flags & SOCK_CLOEXEC);
	close(rfd);
	if (ret >= 0)
		return PX_SENT;
	/* the caller is gone or could not take it: keep the connection for the next accept */
	h->sfd = -1;
requeue:
	if (lh->nacq < 16)
		lh->acq[lh->nacq++] = sfd;
	else
		close(sfd);
	return ret == -ENOENT ? PX_SENT : ret;
}

static int64_t do_accept(struct px_sup *s, struct px_call *c, struct px_handle *h, bool nb)
{
	struct sockaddr_storage peer;
	socklen_t alen = sizeof(peer);
	int fd;

	if (c->nr == SYS_accept4 && (c->a[3] & ~(uint64_t)(SOCK_NONBLOCK | SOCK_CLOEXEC)))
		return -EINVAL;
	if (h->nacq) {
		fd = h->acq[0];
		memmove(h->acq, h->acq + 1, --h->nacq * sizeof(h->acq[0]));
		if (getpeername(fd, (struct sockaddr *)&peer, &alen))
			alen = 0;
		return deliver_accept(s, c, h, fd, &peer, alen);
	}
	fd = accept4(h->sfd, (struct sockaddr *)&peer, &alen, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0)
		return deliver_accept(s, c, h, fd, &peer, alen);
	if (errno != EAGAIN || nb)
		return -errno;
	if (c->expired)
		return -EAGAIN;
	vg_px_deadline(c, h->rcvtimeo_ms ? h->rcvtimeo_ms : -1);
	vg_px_handle_watch(s, h, POLLIN);
	return PX_WAIT;
}

static int64_t do_name(struct px_sup *s, struct px_call *c, struct px_handle *h)
{
	struct sockaddr_storage a;
	socklen_t room, alen = sizeof(a);
	int64_t r = read_len(s, c, c->a[2], &room);

	if (r)
		return r;
	if ((c->nr == SYS_getpeername ? getpeername : getsockname)(h->sfd, (struct sockaddr *)&a,
								   &alen))
		return -errno;
	return put_sized(s, c, c->a[1], c->a[2], room, &a, alen);
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
	uint8_t v[PX_OPT_MAX];
	socklen_t room, len;
	int64_t r;

	if (c->nr == SYS_setsockopt) {
		if (c->a[4] > PX_OPT_MAX)
			return -EINVAL;
		if (vg_px_target_read(s, c, c->a[3], v, c->a[4]))
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
		return sys_ret(setsockopt(h->sfd, level, name, v, (socklen_t)c->a[4]));
	}
	r = read_len(s, c, c->a[4], &room);
	if (r)
		return r;
	len = room < PX_OPT_MAX ? room : PX_OPT_MAX;
	if (getsockopt(h->sfd, level, name, v, &len))
		return -errno;
	return put_sized(s, c, c->a[3], c->a[4], room, v, len);
}

static int64_t do_ioctl(struct px_sup *s, struct px_call *c, struct px_handle *h)
{
	int v;

	if (c->a[1] == FIONBIO) {
		/* the kernel sets it on the placeholder too, where F_GETFL reads it */
		if (vg_px_target_read(s, c, c->a[2], &v, sizeof(v)))
			return -EFAULT;
		h->nonblock = v != 0;
		return PX_CONTINUE;
	}
	if (c->a[1] != FIONREAD)
		return PX_CONTINUE; /* FIOCLEX and the like act on the placeholder */
	if (ioctl(h->sfd, FIONREAD, &v))
		return -errno;
	v += (int)h->pblen;
	return vg_px_target_write(s, c, c->a[2], &v, sizeof(v)) ? -EFAULT : 0;
}

int64_t vg_px_op_sockcall(struct px_sup *s, struct px_call *c)
{
	struct px_handle *h;
	int ret = vg_px_resolve(s, c, (int)c->a[0], &h);

	if (ret)
		return ret;
	if (!h)
		return PX_CONTINUE;
	switch (c->nr) {
	case SYS_connect:
		return do_connect(s, c, h, h->nonblock);
	case SYS_bind:
		return do_addr_op(s, c, h);
	case SYS_listen:
		if (!vg_px_target_valid(s, c))
			return PX_SENT;
		return sys_ret(listen(h->sfd, (int)c->a[1]));
	case SYS_accept:
	case SYS_accept4:
		return do_accept(s, c, h, h->nonblock);
	case SYS_shutdown:
		if (!vg_px_target_valid(s, c))
			return PX_SENT;
		return sys_ret(shutdown(h->sfd, (int)c->a[1]));
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

/* fcntl(F_GETFL) answers as for a socket; F_SETFL records O_NONBLOCK (the placeholder has one
 * open file, whose flags all its copies share). dup, dup2, dup3, fcntl(F_DUPFD*): a copy of a
 * placeholder must stay in the placeholder range (calls on it are caught by number), so the copy is
 * installed by us, at or above the base. */
int64_t vg_px_op_dup(struct px_sup *s, struct px_call *c)
{
	int old = (int)c->a[0], want = -1, min = VG_PROXY_FD_BASE, dup, ret;
	bool cloexec = false;
	struct px_handle *h;

	ret = vg_px_resolve(s, c, old, &h);
	if (ret)
		return ret;
	if (!h)
		return PX_CONTINUE;
	switch (c->nr) {
	case SYS_fcntl:
		if (c->a[1] == F_GETFL) {
			int fl;

			dup = vg_px_target_getfd(s, c, old);
			if (dup < 0)
				return dup;
			fl = fcntl(dup, F_GETFL);
			close(dup);
			/* a socket is open for reading and writing (fdopen "r+" checks) */
			return fl < 0 ? -EBADF : (fl & ~O_ACCMODE) | O_RDWR;
		}
		if (c->a[1] == F_SETFL) {
			if (!vg_px_target_valid(s, c))
				return PX_SENT;
			h->nonblock = c->a[2] & O_NONBLOCK;
			return PX_CONTINUE; /* and the kernel sets the placeholder's flags */
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
		want = vg_px_target_freefd(s, c, min);
		if (want < 0)
			return want;
	}
	dup = vg_px_target_getfd(s, c, old);
	if (dup < 0)
		return dup;
	ret = vg_px_addfd_send(s, c, dup, want, cloexec);
	close(dup);
	return ret < 0 ? ret : PX_SENT;
}
