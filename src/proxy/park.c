// SPDX-License-Identifier: MIT
/* Parked calls: a call that has to wait watches descriptors on the supervisor's epoll, one
 * shot each, and is retried when one of them is ready. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "px.h"

int vg_px_park_watch_fd(struct px_sup *s, struct px_park *p, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events | EPOLLONESHOT,
				  .data.u64 = PX_TAG(PX_TAG_PARK, (uintptr_t)p) };
	int *n = realloc(p->lfds, (p->nlfd + 1) * sizeof(int));

	if (!n)
		return -ENOMEM;
	p->lfds = n;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	p->lfds[p->nlfd++] = fd;
	return 0;
}
