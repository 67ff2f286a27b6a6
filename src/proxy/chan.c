// SPDX-License-Identifier: MIT
/*
 * The supervisor <-> executor channel: fixed-size headers on a stream socket (one descriptor
 * may ride on a header), payloads in the shared window. Events the executor sends while the
 * supervisor waits for a reply are queued, not lost.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "px.h"

int px_hdr_write(int fd, const struct px_hdr *m, int passfd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (passfd >= 0) {
		struct cmsghdr *cm;

		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &passfd, sizeof(int));
	}
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* a header is far smaller than the socket buffer: a short write means a broken peer */
	return n == sizeof(*m) ? 0 : -EPIPE;
}

int px_hdr_read(int fd, struct px_hdr *m, int *passfd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	size_t got = 0;

	if (passfd)
		*passfd = -1;
	while (got < sizeof(*m)) {
		struct iovec iov = { .iov_base = (char *)m + got, .iov_len = sizeof(*m) - got };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (got == 0) {
			mh.msg_control = cbuf;
			mh.msg_controllen = sizeof(cbuf);
		}
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		if (got == 0) {
			for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
			     cm = CMSG_NXTHDR(&mh, cm)) {
				int pfd;

				if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
				    cm->cmsg_len < CMSG_LEN(sizeof(int)))
					continue;
				memcpy(&pfd, CMSG_DATA(cm), sizeof(int));
				if (passfd && *passfd < 0)
					*passfd = pfd;
				else
					close(pfd);
			}
		}
		got += (size_t)n;
	}
	return 0;
}

static void queue_event(struct px_chan *c, const struct px_hdr *m)
{
	if (c->nev < PX_EVQ)
		c->evq[c->nev++] = *m;
	else
		c->evq_lost = true;
}

int px_chan_post(struct px_chan *c, struct px_hdr *req)
{
	req->flags &= ~PX_F_REPLY;
	req->seq = 0;
	return px_hdr_write(c->fd, req, -1);
}

int px_chan_call(struct px_chan *c, struct px_hdr *req, int *fd)
{
	uint32_t seq = ++c->seq ? c->seq : ++c->seq;
	struct px_hdr m;
	int ret;

	if (fd)
		*fd = -1;
	req->seq = seq;
	req->flags &= ~PX_F_REPLY;
	ret = px_hdr_write(c->fd, req, -1);
	if (ret)
		return ret;
	for (;;) {
		int pfd = -1;

		ret = px_hdr_read(c->fd, &m, &pfd);
		if (ret)
			return ret;
		if (!(m.flags & PX_F_REPLY)) {
			if (pfd >= 0)
				close(pfd);
			queue_event(c, &m);
			continue;
		}
		if (m.seq != seq) {
			if (pfd >= 0)
				close(pfd);
			return -EPROTO;
		}
		if (fd)
			*fd = pfd;
		else if (pfd >= 0)
			close(pfd);
		*req = m;
		return 0;
	}
}

int px_chan_drain(struct px_chan *c)
{
	for (;;) {
		struct px_hdr m;
		ssize_t n = recv(c->fd, &m, sizeof(m), MSG_DONTWAIT | MSG_PEEK);
		int ret;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0)
			return -EPIPE;
		if ((size_t)n < sizeof(m))
			return 0; /* the rest of the header is on its way; the loop comes back */
		ret = px_hdr_read(c->fd, &m, NULL);
		if (ret)
			return ret;
		if (m.flags & PX_F_REPLY)
			return -EPROTO;
		queue_event(c, &m);
	}
}
