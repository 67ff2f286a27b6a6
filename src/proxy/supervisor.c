// SPDX-License-Identifier: MIT
/*
 * The supervisor's loop: one epoll over the seccomp listener, the executor's channel, the
 * placeholders' pipes and the descriptors parked waits watch. Each notification is answered at
 * once or parked; nothing here waits on one service call while another is pending, so one
 * thread's blocking recv never stalls another's DNS lookup. No polling: the loop sleeps until
 * the kernel, the executor or a deadline has something. When the executor dies its sockets are
 * gone with it (the kernel closed them); the service's calls on them fail as on a reset
 * connection, a new executor takes the next sockets, and nothing is left open.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "px.h"
#include "vigil/clock.h"

#define TAG_NOTIFY 1ull
#define TAG_CHAN 2ull
#define TAG_PARK 1ull /* low bit of a park pointer; handles are plain pointers */

static int64_t dispatch(struct px_sup *s, struct px_call *c, struct px_park *p)
{
	if (c->nr == SYS_socket)
		return px_op_socket(s, c);
	if (s->mode == VG_PROXY_FD)
		return PX_CONTINUE;
	switch (c->nr) {
	case SYS_connect:
	case SYS_bind:
	case SYS_listen:
	case SYS_accept:
	case SYS_accept4:
	case SYS_shutdown:
	case SYS_getsockname:
	case SYS_getpeername:
	case SYS_getsockopt:
	case SYS_setsockopt:
	case SYS_ioctl:
		return px_op_sockcall(s, c);
	case SYS_dup:
	case SYS_dup2:
	case SYS_dup3:
	case SYS_fcntl:
		return px_op_dup(s, c);
	case SYS_read:
	case SYS_write:
	case SYS_readv:
	case SYS_writev:
	case SYS_sendto:
	case SYS_recvfrom:
	case SYS_sendmsg:
	case SYS_recvmsg:
		return px_op_io(s, c);
	case SYS_sendmmsg:
	case SYS_recvmmsg:
		return px_op_mmsg(s, c);
	case SYS_poll:
	case SYS_ppoll:
	case SYS_select:
	case SYS_pselect6:
		return px_op_poll(s, c, p);
	case SYS_epoll_ctl:
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
	case SYS_epoll_pwait2:
		return px_op_epoll(s, c, p);
	default:
		return PX_CONTINUE;
	}
}

int px_park_watch_fd(struct px_sup *s, struct px_park *p, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events | EPOLLONESHOT,
				  .data.u64 = (uint64_t)(uintptr_t)p | TAG_PARK };
	int *n = realloc(p->lfds, (p->nlfd + 1) * sizeof(int));

	if (!n)
		return -ENOMEM;
	p->lfds = n;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	p->lfds[p->nlfd++] = fd;
	return 0;
}

static void park_release(struct px_sup *s, struct px_park *p)
{
	for (unsigned i = 0; i < p->nlfd; i++) {
		epoll_ctl(s->ep, EPOLL_CTL_DEL, p->lfds[i], NULL);
		close(p->lfds[i]);
	}
	free(p->lfds);
	p->lfds = NULL;
	p->nlfd = 0;
}

static void finish(struct px_sup *s, const struct px_call *c, int64_t r)
{
	if (r == PX_CONTINUE)
		px_continue(s, c);
	else if (r != PX_SENT)
		px_respond(s, c, r);
}

/* Runs C (fresh or retried) with park P; P is linked in when the call has to wait. */
static void run(struct px_sup *s, struct px_park *p)
{
	int64_t r = dispatch(s, &p->c, p);

	if (r == PX_WAIT) {
		p->next = s->parked;
		s->parked = p;
		return;
	}
	park_release(s, p);
	finish(s, &p->c, r);
	free(p);
}

/* A thread has one call at a time: a new one from it means its parked one was interrupted. */
static void drop_parked_of(struct px_sup *s, pid_t pid)
{
	for (struct px_park **pp = &s->parked; *pp;) {
		struct px_park *p = *pp;

		if (p->c.pid == pid) {
			*pp = p->next;
			park_release(s, p);
			free(p);
		} else {
			pp = &p->next;
		}
	}
}

static void retry_parked(struct px_sup *s, bool all)
{
	struct px_park *list = s->parked;
	uint64_t now = vg_mono_ms();

	s->parked = NULL;
	while (list) {
		struct px_park *p = list;

		list = p->next;
		if (!all && !p->fire && p->c.deadline_ms > now) {
			p->next = s->parked;
			s->parked = p;
			continue;
		}
		p->fire = false;
		p->c.expired = p->c.deadline_ms <= now;
		park_release(s, p);
		run(s, p);
	}
}

static int on_notify(struct px_sup *s)
{
	struct px_park *p;

	/* the kernel refuses a receive buffer that is not all zeroes */
	memset(s->req, 0, sizeof(*s->req));
	if (seccomp_notify_receive(s->nfd, s->req))
		return errno == ENOENT || errno == EINTR ? 0 : -errno;
	s->st->notifications++;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->c.id = s->req->id;
	p->c.pid = (pid_t)s->req->pid;
	p->c.nr = s->req->data.nr;
	memcpy(p->c.a, s->req->data.args, sizeof(p->c.a));
	if (s->parked)
		drop_parked_of(s, p->c.pid);
	run(s, p);
	return 0;
}

static void on_exec_dead(struct px_sup *s)
{
	if (s->ch.fd >= 0) {
		epoll_ctl(s->ep, EPOLL_CTL_DEL, s->ch.fd, NULL);
		close(s->ch.fd);
		s->ch.fd = -1;
	}
	if (s->xpid > 0)
		waitpid(s->xpid, NULL, 0);
	s->xpid = 0;
	s->gen++; /* every socket of the dead executor is gone: its handles are dead */
	s->ch.nev = 0;
	s->ch.evq_lost = false;
	for (unsigned i = 0; i < 256; i++)
		for (struct px_handle *h = s->tab[i]; h; h = h->next)
			h->waitmask = 0;
	if (s->restarts < s->max_restarts) {
		struct vg_err e = { 0 };
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_CHAN };

		s->restarts++;
		if (px_spawn_executor(s, &e) == 0) {
			s->st->exec_restarts++;
			epoll_ctl(s->ep, EPOLL_CTL_ADD, s->ch.fd, &ev);
		}
	}
	retry_parked(s, true);
}

static void on_chan(struct px_sup *s)
{
	int ret = px_chan_drain(&s->ch);

	for (unsigned i = 0; i < s->ch.nev; i++)
		for (unsigned b = 0; b < 256; b++)
			for (struct px_handle *h = s->tab[b]; h; h = h->next)
				if (h->xh == s->ch.evq[i].h && !px_handle_dead(s, h))
					h->waitmask = 0;
	if (s->ch.evq_lost)
		for (unsigned b = 0; b < 256; b++)
			for (struct px_handle *h = s->tab[b]; h; h = h->next)
				h->waitmask = 0;
	s->ch.nev = 0;
	s->ch.evq_lost = false;
	if (ret)
		on_exec_dead(s);
	else
		retry_parked(s, true);
}

static int next_timeout(struct px_sup *s)
{
	uint64_t now = vg_mono_ms(), first = UINT64_MAX;

	for (struct px_park *p = s->parked; p; p = p->next)
		if (p->c.deadline_ms < first)
			first = p->c.deadline_ms;
	if (first == UINT64_MAX)
		return -1;
	return first <= now ? 0 : (int)(first - now < INT32_MAX ? first - now : INT32_MAX);
}

static int loop(struct px_sup *s)
{
	bool done = false;

	while (!done) {
		struct epoll_event evs[64];
		bool chan = false, retry = false;
		int n = epoll_wait(s->ep, evs, 64, next_timeout(s));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vg_errf(s->err, errno, "proxy: epoll_wait: %s", strerror(errno));
		/* the channel first: an event may be queued behind replies read meanwhile */
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == TAG_NOTIFY) {
				int ret;

				if (evs[i].events & EPOLLIN) {
					ret = on_notify(s);
					if (ret)
						return vg_errf(
							s->err, -ret,
							"proxy: receiving a notification: %s",
							strerror(-ret));
				} else if (evs[i].events & (EPOLLHUP | EPOLLERR)) {
					done = true; /* the service's whole tree has exited */
				}
			} else if (tag == TAG_CHAN) {
				chan = true;
			} else if (tag & TAG_PARK) {
				((struct px_park *)(uintptr_t)(tag & ~TAG_PARK))->fire = true;
				retry = true;
			} else {
				px_handle_free(s, (struct px_handle *)(uintptr_t)tag);
			}
		}
		if (chan)
			on_chan(s);
		if (retry || (!chan && n == 0))
			retry_parked(s, false);
	}
	return 0;
}

static int setup(struct px_sup *s, const struct vg_proxy_opts *o)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_NOTIFY };

	s->ch.fd = -1;
	for (unsigned i = 0; i < 32; i++)
		s->pidfds[i].fd = -1;
	s->ch.shm =
		mmap(NULL, PX_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s->ch.shm == MAP_FAILED) {
		s->ch.shm = NULL;
		return vg_errf(s->err, errno, "proxy: mapping the data window: %s",
			       strerror(errno));
	}
	if (seccomp_notify_alloc(&s->req, &s->resp))
		return vg_errf(s->err, ENOMEM, "proxy: seccomp_notify_alloc failed");
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep < 0)
		return vg_errf(s->err, errno, "proxy: epoll_create1: %s", strerror(errno));
	if (px_spawn_executor(s, s->err))
		return -s->err->code;
	ev.data.u64 = TAG_CHAN;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->ch.fd, &ev))
		return vg_errf(s->err, errno, "proxy: watching the executor: %s", strerror(errno));
	(void)o;
	return 0;
}

static void teardown(struct px_sup *s)
{
	while (s->parked) {
		struct px_park *p = s->parked;

		s->parked = p->next;
		park_release(s, p);
		free(p);
	}
	for (unsigned i = 0; i < 256; i++)
		while (s->tab[i])
			px_handle_free(s, s->tab[i]);
	px_epoll_free_all(s);
	px_target_forget(s);
	if (s->ch.fd >= 0)
		close(s->ch.fd); /* the executor ends on EOF, closing whatever it still had */
	if (s->xpid > 0)
		waitpid(s->xpid, NULL, 0);
	if (s->ep >= 0)
		close(s->ep);
	if (s->nfd >= 0)
		close(s->nfd);
	if (s->req)
		seccomp_notify_free(s->req, s->resp);
	if (s->ch.shm)
		munmap(s->ch.shm, PX_SHM_SIZE);
}

int vg_proxy_run(const struct vg_proxy_opts *o, int *status, struct vg_proxy_stats *st,
		 struct vg_err *err)
{
	struct px_sup *s = calloc(1, sizeof(*s));
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_NOTIFY };
	pid_t pid = -1;
	int ret;

	if (!s)
		return vg_errf(err, ENOMEM, "proxy: out of memory");
	memset(st, 0, sizeof(*st));
	s->mode = o->mode;
	s->exec_netns = o->exec_netns;
	s->max_restarts = o->max_restarts ? o->max_restarts : 16;
	s->st = st;
	s->err = err;
	s->nfd = -1;
	s->ep = -1;
	/* a service that ends while we write to the channel must not end us */
	signal(SIGPIPE, SIG_IGN);
	ret = setup(s, o);
	if (!ret)
		ret = px_spawn_service(o, &s->nfd, &pid, err);
	if (!ret && o->sync_wakeup)
		st->sync_wakeup = ioctl(s->nfd, PX_IOCTL_SET_FLAGS, PX_SYNC_WAKE_UP) == 0;
	if (!ret && epoll_ctl(s->ep, EPOLL_CTL_ADD, s->nfd, &ev))
		ret = vg_errf(err, errno, "proxy: watching the listener: %s", strerror(errno));
	if (!ret)
		ret = loop(s);
	teardown(s);
	if (pid > 0) {
		if (ret)
			kill(pid, SIGKILL);
		while (waitpid(pid, status, 0) < 0 && errno == EINTR)
			;
	}
	free(s);
	return ret;
}
