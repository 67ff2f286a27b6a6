// SPDX-License-Identifier: MIT
/*
 * Data mode's handles: each proxied socket (made by the executor in its namespace, held by the
 * supervisor) sits behind a placeholder in the service, the read end of a pipe. The pipe's inode
 * names the handle however the service copies the descriptor (dup, fork, SCM_RIGHTS), and the
 * kernel counts its copies for us: when the last one is closed (close, exec, exit, a dup2 over it)
 * our write end reports EPOLLERR and we close the socket. The placeholder carries the O_NONBLOCK
 * flag exactly as a socket's open file would; the socket itself is always non-blocking (a call that
 * would block is parked until our epoll reports the socket ready).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "px.h"

static unsigned bucket(uint64_t ino)
{
	return (unsigned)((ino * 0x9e3779b97f4a7c15ull) >> 56);
}

struct px_handle *vg_px_handle_find(struct px_sup *s, uint64_t ino)
{
	for (struct px_handle *h = s->tab[bucket(ino)]; h; h = h->next)
		if (h->ino == ino)
			return h;
	return NULL;
}

/* The inode behind the service's FD: one stat of /proc/TID/fd/FD, or through a copy of the
 * descriptor when /proc does not show the service (another pid namespace mounted there). */
static int fd_stat(struct px_sup *s, const struct px_call *c, int fd, struct stat *st)
{
	char path[48];
	int dup, ret;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)c->pid, fd);
	if (stat(path, st) == 0)
		return 0;
	dup = vg_px_target_getfd(s, c, fd);
	if (dup < 0)
		return dup;
	ret = fstat(dup, st) ? -errno : 0;
	close(dup);
	return ret;
}

int vg_px_resolve(struct px_sup *s, struct px_call *c, int fd, struct px_handle **h)
{
	struct stat st;
	int ret;

	*h = NULL;
	if (c->rino && c->rfd == fd) {
		*h = vg_px_handle_find(s, c->rino);
		return *h ? 0 : -EBADF;
	}
	if (fd < VG_PROXY_FD_BASE || !s->nhandles)
		return 0;
	ret = fd_stat(s, c, fd, &st);
	if (ret == -EBADF)
		return 0;
	if (ret)
		return ret;
	if (S_ISFIFO(st.st_mode) && st.st_dev == s->pipe_dev)
		*h = vg_px_handle_find(s, st.st_ino);
	if (*h) {
		c->rfd = fd;
		c->rino = st.st_ino;
	}
	return 0;
}

int vg_px_handle_new(struct px_sup *s, int sfd, int domain, int type, struct px_handle **out,
		     int *rfd)
{
	struct px_handle *h = calloc(1, sizeof(*h));
	struct epoll_event ev = { .events = 0 };
	struct stat st;
	int p[2] = { -1, -1 }, ret;

	if (!h || pipe2(p, O_CLOEXEC) || fstat(p[0], &st)) {
		ret = h ? -errno : -ENOMEM;
		goto fail;
	}
	h->ino = st.st_ino;
	s->pipe_dev = st.st_dev;
	h->wfd = p[1];
	h->sfd = sfd;
	h->domain = domain;
	h->type = type;
	/* events 0: only EPOLLERR (no reader left) is reported, which is all we want */
	ev.data.u64 = PX_TAG(PX_TAG_PIPE, h->ino);
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, p[1], &ev)) {
		ret = -errno;
		goto fail;
	}
	h->next = s->tab[bucket(h->ino)];
	s->tab[bucket(h->ino)] = h;
	s->nhandles++;
	s->st->sockets++;
	*out = h;
	*rfd = p[0];
	return 0;
fail:
	if (p[0] >= 0) {
		close(p[0]);
		close(p[1]);
	}
	free(h);
	return ret;
}

void vg_px_handle_free(struct px_sup *s, struct px_handle *h)
{
	struct px_handle **pp = &s->tab[bucket(h->ino)];

	while (*pp && *pp != h)
		pp = &(*pp)->next;
	if (*pp)
		*pp = h->next;
	s->nhandles--;
	vg_px_epoll_drop_handle(s, h);
	if (h->sfd >= 0)
		close(h->sfd); /* also leaves our epoll */
	for (unsigned i = 0; i < h->nacq; i++)
		close(h->acq[i]);
	epoll_ctl(s->ep, EPOLL_CTL_DEL, h->wfd, NULL);
	close(h->wfd);
	free(h->pb);
	free(h);
}

int vg_px_handle_push(struct px_handle *h, const void *data, size_t len,
		      const struct sockaddr_storage *a, socklen_t alen)
{
	uint8_t *nb;

	/* a stream's pushed-back bytes come before anything still in the socket; a datagram
	 * keeps its own boundary and source, so only one is held */
	if (h->type == SOCK_STREAM) {
		nb = malloc(h->pblen + len);
		if (!nb)
			return -ENOMEM;
		memcpy(nb, data, len);
		if (h->pblen)
			memcpy(nb + len, h->pb, h->pblen);
		free(h->pb);
		h->pb = nb;
		h->pblen += (uint32_t)len;
		return 0;
	}
	if (h->pblen)
		return -ENOBUFS;
	nb = malloc(len ? len : 1);
	if (!nb)
		return -ENOMEM;
	memcpy(nb, data, len);
	h->pb = nb;
	h->pblen = (uint32_t)len;
	if (a && alen <= sizeof(h->pbaddr)) {
		memcpy(&h->pbaddr, a, alen);
		h->pbalen = alen;
	}
	return 0;
}

int vg_px_handle_watch(struct px_sup *s, struct px_handle *h, uint32_t events)
{
	struct epoll_event ev = { .data.u64 = PX_TAG(PX_TAG_SOCK, h->ino) };
	struct px_park *p = s->arming;

	if (p)
		p->wait_ino = !p->wait_ino || p->wait_ino == h->ino ? h->ino : PX_WAIT_ANY;
	h->waitmask |= events & (EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP);
	ev.events = h->waitmask | EPOLLONESHOT;
	if (epoll_ctl(s->ep, h->in_ep ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, h->sfd, &ev))
		return -errno;
	h->in_ep = true;
	return 0;
}

short vg_px_handle_pending(const struct px_handle *h, short events)
{
	return h->pblen || h->nacq ? (short)(POLLIN & events) : 0;
}

int vg_px_handles_poll(struct px_handle **h, const short *events, short *revents, unsigned n)
{
	struct pollfd *pf = calloc(n ? n : 1, sizeof(*pf));

	if (!pf)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		pf[i].fd = h[i]->sfd;
		pf[i].events = events[i];
	}
	if (n && poll(pf, n, 0) < 0) {
		int e = errno;

		free(pf);
		return -e;
	}
	for (unsigned i = 0; i < n; i++)
		revents[i] = pf[i].revents | vg_px_handle_pending(h[i], events[i]);
	free(pf);
	return 0;
}

/* A handle going away leaves every emulated epoll set it was in. */
void vg_px_epoll_drop_handle(struct px_sup *s, const struct px_handle *h)
{
	for (struct px_epoll *e = s->epolls; e; e = e->next)
		for (unsigned i = 0; i < e->n;)
			if (e->m[i].h == h)
				e->m[i] = e->m[--e->n];
			else
				i++;
}
