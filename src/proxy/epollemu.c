// SPDX-License-Identifier: MIT
/*
 * epoll with placeholders in the set. epoll_ctl on a placeholder is recorded here, keyed by
 * the service's epoll file (a copy we keep; kcmp tells two copies of one file apart from two
 * files); epoll_wait on such a set merges the members' readiness from the executor with the
 * real set's own events (epoll_wait on our copy, which consumes them as the service would).
 * Level-triggered members behave as the kernel's; EPOLLONESHOT disarms after one report;
 * EPOLLET is approximated: a reported event fires again only after a look that found it not
 * ready (the kernel would also fire on every new arrival).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "px.h"

#define EP_EVENTS_LIMIT 1024u
#define EP_MEMBERS_LIMIT 4096u

static bool same_file(int a, int b)
{
	pid_t me = getpid();

	return syscall(SYS_kcmp, me, me, 0 /* KCMP_FILE */, a, b) == 0;
}

static bool is_epoll(int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	return !strcmp(link, "anon_inode:[eventpoll]");
}

/* The emulated set whose file DUP is a copy of; NULL when none. */
static struct px_epoll *find(struct px_sup *s, int dup)
{
	for (struct px_epoll *e = s->epolls; e; e = e->next)
		if (same_file(e->dup, dup))
			return e;
	return NULL;
}

static struct px_epoll_member *member(struct px_epoll *e, int fd)
{
	for (unsigned i = 0; i < e->n; i++)
		if (e->m[i].fd == fd)
			return &e->m[i];
	return NULL;
}

static int64_t do_ctl(struct px_sup *s, struct px_call *c)
{
	int epfd = (int)c->a[0], op = (int)c->a[1], fd = (int)c->a[2], dup;
	struct epoll_event ev = { 0 };
	struct px_handle *h;
	struct px_epoll *e;
	struct px_epoll_member *m;
	int ret = px_resolve(s, c, fd, &h, NULL);

	if (ret)
		return ret;
	if (!h)
		return PX_CONTINUE;
	if (op != EPOLL_CTL_DEL && px_target_read(s, c, c->a[3], &ev, sizeof(ev)))
		return -EFAULT;
	dup = px_target_getfd(s, c, epfd);
	if (dup < 0)
		return dup;
	if (!is_epoll(dup)) {
		close(dup);
		return -EINVAL;
	}
	e = find(s, dup);
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			close(dup);
			return -ENOMEM;
		}
		e->dup = dup;
		e->next = s->epolls;
		s->epolls = e;
	} else {
		close(dup);
	}
	m = member(e, fd);
	switch (op) {
	case EPOLL_CTL_ADD:
		if (m)
			return -EEXIST;
		if (e->n == e->cap) {
			unsigned cap = e->cap ? e->cap * 2 : 8;
			struct px_epoll_member *nm;

			if (cap > EP_MEMBERS_LIMIT)
				return -ENOSPC;
			nm = realloc(e->m, cap * sizeof(*nm));
			if (!nm)
				return -ENOMEM;
			e->m = nm;
			e->cap = cap;
		}
		m = &e->m[e->n++];
		m->h = h;
		m->fd = fd;
		/* fallthrough */
	case EPOLL_CTL_MOD:
		if (!m)
			return -ENOENT;
		m->events = ev.events | EPOLLERR | EPOLLHUP;
		m->data = ev.data.u64;
		m->armed = m->events;
		return 0;
	case EPOLL_CTL_DEL:
		if (!m)
			return -ENOENT;
		*m = e->m[--e->n];
		return 0;
	default:
		return -EINVAL;
	}
}

/* Readiness of the members, reported by the rules of their flags, into OUT (at most MAX). */
static int members_ready(struct px_sup *s, struct px_epoll *e, struct epoll_event *out,
			 unsigned max)
{
	struct px_handle **hs = calloc(e->n + 1, sizeof(*hs));
	short *ev = calloc(e->n + 1, sizeof(short)), *rev = calloc(e->n + 1, sizeof(short));
	int ret = -ENOMEM, k = 0;

	if (!hs || !ev || !rev)
		goto out;
	for (unsigned i = 0; i < e->n; i++) {
		hs[i] = e->m[i].h;
		ev[i] = (short)(e->m[i].events & 0xffff);
	}
	ret = px_handles_poll(s, hs, ev, rev, e->n);
	if (ret)
		goto out;
	for (unsigned i = 0; i < e->n && (unsigned)k < max; i++) {
		struct px_epoll_member *m = &e->m[i];
		uint32_t r = (uint16_t)rev[i] & m->events;

		if (m->events & EPOLLET) {
			m->armed |= ~r & m->events; /* not ready now: may fire again */
			r &= m->armed;
			m->armed &= ~r;
		}
		if (!r)
			continue;
		if (m->events & EPOLLONESHOT)
			m->events = 0;
		out[k].events = r;
		out[k++].data.u64 = m->data;
	}
	ret = k;
out:
	free(hs);
	free(ev);
	free(rev);
	return ret;
}

static int64_t do_wait(struct px_sup *s, struct px_call *c, struct px_park *p)
{
	int epfd = (int)c->a[0], max = (int)c->a[2], dup, n, more;
	int64_t timeout = (int)c->a[3];
	struct epoll_event *out;
	struct px_epoll *e;

	if (!s->epolls)
		return PX_CONTINUE;
	dup = px_target_getfd(s, c, epfd);
	if (dup < 0)
		return dup == -ESRCH ? PX_SENT : PX_CONTINUE;
	e = find(s, dup);
	close(dup);
	if (!e || !e->n)
		return PX_CONTINUE;
	if (max <= 0)
		return -EINVAL;
	if ((unsigned)max > EP_EVENTS_LIMIT)
		max = EP_EVENTS_LIMIT;
	if (c->nr == SYS_epoll_pwait2) {
		int64_t t[2];

		timeout = -1;
		if (c->a[3]) {
			if (px_target_read(s, c, c->a[3], t, sizeof(t)))
				return -EFAULT;
			if (t[0] < 0 || t[1] < 0 || t[1] >= 1000000000)
				return -EINVAL;
			timeout = t[0] > INT32_MAX ? -1 : t[0] * 1000 + (t[1] + 999999) / 1000000;
		}
	}
	out = calloc((size_t)max, sizeof(*out));
	if (!out)
		return -ENOMEM;
	n = members_ready(s, e, out, (unsigned)max);
	if (n < 0)
		goto done;
	more = epoll_wait(e->dup, out + n, max - n, 0);
	if (more > 0)
		n += more;
	if (n == 0 && timeout != 0 && !c->expired) {
		px_deadline(c, timeout);
		for (unsigned i = 0; i < e->n; i++)
			px_handle_watch(s, e->m[i].h, e->m[i].events & 0xffff);
		dup = fcntl(e->dup, F_DUPFD_CLOEXEC, 0);
		if (dup >= 0 && px_park_watch_fd(s, p, dup, EPOLLIN))
			close(dup);
		free(out);
		return PX_WAIT;
	}
	if (n > 0 && px_target_write(s, c, c->a[1], out, (size_t)n * sizeof(*out)))
		n = -EFAULT;
done:
	free(out);
	return n;
}

int64_t px_op_epoll(struct px_sup *s, struct px_call *c, struct px_park *p)
{
	if (c->nr == SYS_epoll_ctl)
		return do_ctl(s, c);
	return do_wait(s, c, p);
}

void px_epoll_drop_handle(struct px_sup *s, const struct px_handle *h)
{
	for (struct px_epoll *e = s->epolls; e; e = e->next)
		for (unsigned i = 0; i < e->n;)
			if (e->m[i].h == h)
				e->m[i] = e->m[--e->n];
			else
				i++;
}

void px_epoll_free_all(struct px_sup *s)
{
	while (s->epolls) {
		struct px_epoll *e = s->epolls;

		s->epolls = e->next;
		close(e->dup);
		free(e->m);
		free(e);
	}
}
