// SPDX-License-Identifier: MIT
/*
 * Data mode's handles: each proxied socket is an executor handle behind a placeholder in the
 * service, the read end of a pipe. The pipe's inode names the handle however the service
 * copies the descriptor (dup, fork, SCM_RIGHTS), and the kernel counts its copies for us: when
 * the last one is closed (close, exec, exit, a dup2 over it) our write end reports EPOLLERR and
 * the socket is closed in the executor. The placeholder carries the O_NONBLOCK flag exactly as
 * a socket's open file would.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

struct px_handle *px_handle_find(struct px_sup *s, uint64_t ino)
{
	for (struct px_handle *h = s->tab[bucket(ino)]; h; h = h->next)
		if (h->ino == ino)
			return h;
	return NULL;
}

bool px_handle_dead(const struct px_sup *s, const struct px_handle *h)
{
	return h->gen != s->gen;
}

int px_resolve(struct px_sup *s, const struct px_call *c, int fd, struct px_handle **h,
	       bool *nonblock)
{
	struct stat st;
	int dup, fl;

	*h = NULL;
	if (fd < VG_PROXY_FD_BASE || !s->nhandles)
		return 0;
	dup = px_target_getfd(s, c, fd);
	if (dup == -EBADF)
		return 0;
	if (dup < 0)
		return dup;
	if (fstat(dup, &st) == 0 && S_ISFIFO(st.st_mode))
		*h = px_handle_find(s, st.st_ino);
	fl = fcntl(dup, F_GETFL);
	if (nonblock)
		*nonblock = fl >= 0 && (fl & O_NONBLOCK);
	close(dup);
	return 0;
}

int px_handle_new(struct px_sup *s, uint32_t xh, int domain, int type, struct px_handle **out,
		  int *rfd)
{
	struct px_handle *h = calloc(1, sizeof(*h));
	struct epoll_event ev = { .events = 0 };
	struct stat st;
	int p[2];

	if (!h)
		return -ENOMEM;
	if (pipe2(p, O_CLOEXEC)) {
		free(h);
		return -errno;
	}
	if (fstat(p[0], &st)) {
		int e = errno;

		close(p[0]);
		close(p[1]);
		free(h);
		return -e;
	}
	h->ino = st.st_ino;
	h->wfd = p[1];
	h->xh = xh;
	h->gen = s->gen;
	h->domain = domain;
	h->type = type;
	ev.data.ptr = h;
	/* events 0: only EPOLLERR (no reader left) is reported, which is all we want */
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, p[1], &ev)) {
		int e = errno;

		close(p[0]);
		close(p[1]);
		free(h);
		return -e;
	}
	h->next = s->tab[bucket(h->ino)];
	s->tab[bucket(h->ino)] = h;
	s->nhandles++;
	s->st->sockets++;
	*out = h;
	*rfd = p[0];
	return 0;
}

static void close_remote(struct px_sup *s, uint32_t xh, uint32_t gen)
{
	struct px_hdr m = { .op = PX_CLOSE, .h = xh };

	if (gen == s->gen && s->ch.fd >= 0)
		px_chan_post(&s->ch, &m);
}

void px_handle_free(struct px_sup *s, struct px_handle *h)
{
	struct px_handle **pp = &s->tab[bucket(h->ino)];

	while (*pp && *pp != h)
		pp = &(*pp)->next;
	if (*pp)
		*pp = h->next;
	s->nhandles--;
	px_epoll_drop_handle(s, h);
	close_remote(s, h->xh, h->gen);
	for (unsigned i = 0; i < h->nacq; i++)
		close_remote(s, h->acq[i], h->gen);
	epoll_ctl(s->ep, EPOLL_CTL_DEL, h->wfd, NULL);
	close(h->wfd);
	free(h->pb);
	free(h);
}

int px_handle_push(struct px_handle *h, const void *data, size_t len,
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

int px_handle_watch(struct px_sup *s, struct px_handle *h, uint32_t events)
{
	struct px_hdr m = { .op = PX_WATCH, .h = h->xh };

	if (px_handle_dead(s, h))
		return 0;
	h->waitmask |= events;
	m.a[0] = h->waitmask;
	return px_chan_post(&s->ch, &m);
}

int px_handles_poll(struct px_sup *s, struct px_handle **h, const short *events, short *revents,
		    unsigned n)
{
	struct px_pollent *pe = (struct px_pollent *)(s->ch.shm + PX_SHM_AUX);
	struct px_hdr m = { .op = PX_POLL };
	unsigned k = 0;
	int ret;

	if (n > PX_POLL_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		revents[i] = 0;
		if (px_handle_dead(s, h[i])) {
			revents[i] = POLLERR | POLLHUP | (events[i] & POLLIN);
			continue;
		}
		if (h[i]->pblen || h[i]->nacq)
			revents[i] |= POLLIN & events[i];
		pe[k].h = h[i]->xh;
		pe[k].events = events[i];
		pe[k].revents = 0;
		k++;
	}
	if (!k)
		return 0;
	m.a[0] = k;
	ret = px_chan_call(&s->ch, &m, NULL);
	if (ret)
		return ret;
	if (m.ret < 0)
		return (int)m.ret;
	k = 0;
	for (unsigned i = 0; i < n; i++) {
		if (px_handle_dead(s, h[i]))
			continue;
		revents[i] |= pe[k++].revents & (events[i] | POLLERR | POLLHUP | POLLNVAL);
	}
	return 0;
}
