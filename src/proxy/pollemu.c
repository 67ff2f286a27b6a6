// SPDX-License-Identifier: MIT
/*
 * poll, ppoll, select and pselect6 over a mix of placeholders and the service's own
 * descriptors. A set with no placeholder is handed back to the kernel. Otherwise placeholders
 * are asked of the executor and the service's own descriptors are polled here through copies
 * (pidfd_getfd: the same open files, so the same readiness); when nothing is ready the call is
 * parked on both until one is, or its timeout passes. Set sizes are bounded like the kernel's.
 * The signal mask of ppoll/pselect6 cannot be applied to a thread waiting in a notification:
 * a signal it would unblock is delivered when the call returns.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "px.h"
#include "vigil/clock.h"

#define NFDS_LIMIT 4096u

struct pent {
	int fd;
	short events, revents;
	struct px_handle *h;
	int dup;
};

struct pset {
	struct pent *e;
	unsigned n;
	unsigned nprox;
	int64_t timeout_ms; /* < 0: none */
	uint64_t tsp;	    /* where the remaining time is written back (0: nowhere) */
	bool tv;	    /* tsp is a timeval (select) rather than a timespec */
};

static int read_timeout(struct px_sup *s, struct px_call *c, uint64_t addr, bool tv, int64_t *ms)
{
	int64_t t[2];

	*ms = -1;
	if (!addr)
		return 0;
	if (px_target_read(s, c, addr, t, sizeof(t)))
		return -EFAULT;
	if (t[0] < 0 || t[1] < 0 || t[1] >= (tv ? 1000000 : 1000000000))
		return -EINVAL;
	if (t[0] > INT32_MAX)
		return 0; /* longer than anyone waits: no timeout */
	*ms = t[0] * 1000 + (tv ? (t[1] + 999) / 1000 : (t[1] + 999999) / 1000000);
	return 0;
}

static int load_poll(struct px_sup *s, struct px_call *c, struct pset *ps)
{
	struct pollfd *pf;
	uint64_t n = c->a[1];
	int ret = 0;

	if (n > NFDS_LIMIT)
		return -EINVAL;
	ps->e = calloc(n ? n : 1, sizeof(*ps->e));
	pf = calloc(n ? n : 1, sizeof(*pf));
	if (!ps->e || !pf) {
		free(pf);
		return -ENOMEM;
	}
	if (n && px_target_read(s, c, c->a[0], pf, n * sizeof(*pf)))
		ret = -EFAULT;
	for (unsigned i = 0; i < n && !ret; i++) {
		ps->e[i].fd = pf[i].fd;
		ps->e[i].events = pf[i].events;
	}
	free(pf);
	ps->n = (unsigned)n;
	if (ret)
		return ret;
	if (c->nr == SYS_poll) {
		ps->timeout_ms = (int)c->a[2] < 0 ? -1 : (int)c->a[2];
		return 0;
	}
	ps->tsp = c->a[2];
	return read_timeout(s, c, c->a[2], false, &ps->timeout_ms);
}

static int load_select(struct px_sup *s, struct px_call *c, struct pset *ps)
{
	uint64_t nfds = c->a[0], words = (c->a[0] + 63) / 64;
	uint64_t sets[3][NFDS_LIMIT / 64] = { { 0 } };
	static const short ev[3] = { POLLIN, POLLOUT, POLLPRI };

	if ((int)nfds < 0 || nfds > NFDS_LIMIT)
		return -EINVAL;
	for (int k = 0; k < 3; k++)
		if (c->a[1 + k] && words && px_target_read(s, c, c->a[1 + k], sets[k], words * 8))
			return -EFAULT;
	ps->e = calloc(nfds ? nfds : 1, sizeof(*ps->e));
	if (!ps->e)
		return -ENOMEM;
	for (unsigned fd = 0; fd < nfds; fd++) {
		short want = 0;

		for (int k = 0; k < 3; k++)
			if (sets[k][fd / 64] >> (fd % 64) & 1)
				want |= ev[k];
		if (!want)
			continue;
		ps->e[ps->n].fd = (int)fd;
		ps->e[ps->n++].events = want;
	}
	ps->tsp = c->a[4];
	ps->tv = c->nr == SYS_select;
	return read_timeout(s, c, c->a[4], ps->tv, &ps->timeout_ms);
}

static void close_dups(struct pset *ps)
{
	for (unsigned i = 0; i < ps->n; i++)
		if (ps->e[i].dup >= 0)
			close(ps->e[i].dup);
}

/* Splits the set into placeholders and the service's own descriptors (copied here). */
static int classify(struct px_sup *s, struct px_call *c, struct pset *ps)
{
	for (unsigned i = 0; i < ps->n; i++) {
		struct pent *e = &ps->e[i];
		struct stat st;

		e->dup = -1;
		e->h = NULL;
		if (e->fd < 0)
			continue;
		e->dup = px_target_getfd(s, c, e->fd);
		if (e->dup == -ESRCH)
			return -ESRCH;
		if (e->dup < 0) {
			e->revents = POLLNVAL;
			continue;
		}
		if (e->fd >= VG_PROXY_FD_BASE && fstat(e->dup, &st) == 0 && S_ISFIFO(st.st_mode))
			e->h = px_handle_find(s, st.st_ino);
		if (e->h) {
			close(e->dup);
			e->dup = -1;
			ps->nprox++;
		}
	}
	return 0;
}

static int evaluate(struct px_sup *s, struct pset *ps)
{
	struct px_handle **hs = calloc(ps->nprox + 1, sizeof(*hs));
	short *hev = calloc(ps->nprox + 1, sizeof(short)), *hrev = calloc(ps->nprox + 1, 2);
	struct pollfd *lp = calloc(ps->n + 1, sizeof(*lp));
	unsigned k = 0, nl = 0;
	int ret = -ENOMEM;

	if (!hs || !hev || !hrev || !lp)
		goto out;
	for (unsigned i = 0; i < ps->n; i++) {
		struct pent *e = &ps->e[i];

		if (e->h) {
			hs[k] = e->h;
			hev[k++] = e->events;
		} else if (e->dup >= 0) {
			lp[nl].fd = e->dup;
			lp[nl++].events = e->events;
		}
	}
	ret = px_handles_poll(s, hs, hev, hrev, k);
	if (ret)
		goto out;
	if (nl && poll(lp, nl, 0) < 0) {
		ret = -errno;
		goto out;
	}
	k = nl = 0;
	for (unsigned i = 0; i < ps->n; i++) {
		struct pent *e = &ps->e[i];

		if (e->h)
			e->revents = hrev[k++];
		else if (e->dup >= 0)
			e->revents = lp[nl++].revents;
	}
out:
	free(hs);
	free(hev);
	free(hrev);
	free(lp);
	return ret;
}

static int64_t answer_poll(struct px_sup *s, struct px_call *c, struct pset *ps)
{
	int64_t ready = 0;

	for (unsigned i = 0; i < ps->n; i++) {
		uint64_t at =
			c->a[0] + i * sizeof(struct pollfd) + offsetof(struct pollfd, revents);

		ready += ps->e[i].revents != 0;
		if (px_target_write(s, c, at, &ps->e[i].revents, sizeof(short)))
			return -EFAULT;
	}
	return ready;
}

static int64_t answer_select(struct px_sup *s, struct px_call *c, struct pset *ps)
{
	uint64_t words = (c->a[0] + 63) / 64;
	uint64_t sets[3][NFDS_LIMIT / 64] = { { 0 } };
	static const short ev[3] = { POLLIN | POLLHUP | POLLERR, POLLOUT | POLLERR, POLLPRI };
	int64_t ready = 0;

	for (unsigned i = 0; i < ps->n; i++) {
		struct pent *e = &ps->e[i];

		if (e->revents & POLLNVAL)
			return -EBADF;
		for (int k = 0; k < 3; k++) {
			short want = k == 0 ? POLLIN : k == 1 ? POLLOUT : POLLPRI;

			if ((e->events & want) && (e->revents & ev[k])) {
				sets[k][e->fd / 64] |= 1ull << (e->fd % 64);
				ready++;
			}
		}
	}
	for (int k = 0; k < 3; k++)
		if (c->a[1 + k] && words && px_target_write(s, c, c->a[1 + k], sets[k], words * 8))
			return -EFAULT;
	return ready;
}

static void write_remaining(struct px_sup *s, struct px_call *c, struct pset *ps)
{
	int64_t left = 0, t[2];
	uint64_t now = vg_mono_ms();

	if (!ps->tsp || ps->timeout_ms < 0)
		return;
	if (c->deadline_ms && c->deadline_ms != UINT64_MAX && c->deadline_ms > now)
		left = (int64_t)(c->deadline_ms - now);
	else if (!c->deadline_ms)
		left = ps->timeout_ms;
	t[0] = left / 1000;
	t[1] = (left % 1000) * (ps->tv ? 1000 : 1000000);
	px_target_write(s, c, ps->tsp, t, sizeof(t));
}

int64_t px_op_poll(struct px_sup *s, struct px_call *c, struct px_park *p)
{
	struct pset ps = { 0 };
	bool sel = c->nr == SYS_select || c->nr == SYS_pselect6;
	int64_t r;

	if (!s->nhandles)
		return PX_CONTINUE;
	r = sel ? load_select(s, c, &ps) : load_poll(s, c, &ps);
	if (r)
		goto out;
	r = classify(s, c, &ps);
	if (r)
		goto out_dups;
	if (!ps.nprox) {
		r = PX_CONTINUE;
		goto out_dups;
	}
	r = evaluate(s, &ps);
	if (r)
		goto out_dups;
	r = sel ? answer_select(s, c, &ps) : answer_poll(s, c, &ps);
	/* answer_* wrote revents already; a wait rewrites them when it ends */
	if (r == 0 && ps.timeout_ms != 0 && !c->expired) {
		px_deadline(c, ps.timeout_ms);
		for (unsigned i = 0; i < ps.n; i++) {
			struct pent *e = &ps.e[i];

			if (e->h) {
				px_handle_watch(s, e->h, (uint16_t)e->events);
			} else if (e->dup >= 0 &&
				   !px_park_watch_fd(s, p, e->dup, (uint16_t)e->events)) {
				e->dup = -1; /* the park owns it now */
			}
		}
		r = PX_WAIT;
	} else if (r >= 0) {
		write_remaining(s, c, &ps);
	}
out_dups:
	close_dups(&ps);
out:
	free(ps.e);
	if (r == -ESRCH)
		r = PX_SENT; /* the caller is gone: nobody to answer */
	return r;
}
