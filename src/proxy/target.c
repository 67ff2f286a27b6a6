// SPDX-License-Identifier: MIT
/*
 * Reaching into the service: its memory (process_vm_readv/writev, never a raw pointer), its
 * descriptors (pidfd_getfd) and the answers to its calls. A thread id in a notification may be
 * reused once that thread dies, so a pidfd is trusted only after the notification that named
 * it was re-validated (SECCOMP_IOCTL_NOTIF_ID_VALID): a pidfd pins one task, so a cached one
 * either still names that task or fails with ESRCH.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "px.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

bool px_target_valid(struct px_sup *s, const struct px_call *c)
{
	return seccomp_notify_id_valid(s->nfd, c->id) == 0;
}

static int open_pidfd(struct px_sup *s, const struct px_call *c)
{
	int fd = pidfd_open(c->pid, PIDFD_THREAD);

	if (fd < 0)
		return -errno;
	/* the thread may have died and its id been reused between the notification and now */
	if (!px_target_valid(s, c)) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

int px_target_pidfd(struct px_sup *s, const struct px_call *c)
{
	struct px_pidfd *slot;
	int fd;

	for (unsigned i = 0; i < 32; i++)
		if (s->pidfds[i].tid == c->pid && s->pidfds[i].fd >= 0)
			return s->pidfds[i].fd;
	fd = open_pidfd(s, c);
	if (fd < 0)
		return fd;
	slot = &s->pidfds[s->pidfd_next++ % 32];
	if (slot->tid && slot->fd >= 0)
		close(slot->fd);
	slot->tid = c->pid;
	slot->fd = fd;
	return fd;
}

static void drop_pidfd(struct px_sup *s, pid_t tid)
{
	for (unsigned i = 0; i < 32; i++)
		if (s->pidfds[i].tid == tid && s->pidfds[i].fd >= 0) {
			close(s->pidfds[i].fd);
			s->pidfds[i].fd = -1;
			s->pidfds[i].tid = 0;
		}
}

void px_target_forget(struct px_sup *s)
{
	for (unsigned i = 0; i < 32; i++)
		if (s->pidfds[i].tid && s->pidfds[i].fd >= 0) {
			close(s->pidfds[i].fd);
			s->pidfds[i].fd = -1;
			s->pidfds[i].tid = 0;
		}
}

int px_target_getfd(struct px_sup *s, const struct px_call *c, int fd)
{
	for (int tries = 0; tries < 2; tries++) {
		int pfd = px_target_pidfd(s, c), dup;

		if (pfd < 0)
			return pfd;
		dup = pidfd_getfd(pfd, fd, 0);
		if (dup >= 0) {
			fcntl(dup, F_SETFD, FD_CLOEXEC);
			return dup;
		}
		if (errno != ESRCH)
			return -errno;
		/* a cached pidfd of a thread that died; its id now names another one */
		drop_pidfd(s, c->pid);
	}
	return -ESRCH;
}

int px_target_freefd(struct px_sup *s, const struct px_call *c, int min)
{
	if (min < VG_PROXY_FD_BASE)
		min = VG_PROXY_FD_BASE;
	for (int fd = min; fd < VG_PROXY_FD_BASE + 4096; fd++) {
		int dup = px_target_getfd(s, c, fd);

		if (dup == -EBADF)
			return fd;
		if (dup < 0)
			return dup;
		close(dup);
	}
	return -EMFILE;
}

int px_target_readv(struct px_sup *s, const struct px_call *c, const struct iovec *riov, unsigned n,
		    void *buf, size_t len)
{
	struct iovec l = { .iov_base = buf, .iov_len = len };
	ssize_t got;

	if (len == 0)
		return 0;
	got = process_vm_readv(c->pid, &l, 1, riov, n, 0);
	if (got < 0)
		return errno == ESRCH ? -ESRCH : -EFAULT;
	if ((size_t)got != len)
		return -EFAULT;
	/* the bytes came from the thread that made the call, not from a reused id */
	return px_target_valid(s, c) ? 0 : -ESRCH;
}

int px_target_read(struct px_sup *s, const struct px_call *c, uint64_t addr, void *buf, size_t len)
{
	struct iovec r = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };

	return px_target_readv(s, c, &r, 1, buf, len);
}

int64_t px_target_writev(struct px_sup *s, const struct px_call *c, const struct iovec *riov,
			 unsigned n, const void *buf, size_t len)
{
	struct iovec l = { .iov_base = (void *)buf, .iov_len = len };
	ssize_t put;

	if (len == 0)
		return 0;
	if (!px_target_valid(s, c))
		return -ESRCH;
	put = process_vm_writev(c->pid, &l, 1, riov, n, 0);
	if (put < 0)
		return errno == ESRCH ? -ESRCH : -EFAULT;
	return put;
}

int px_target_write(struct px_sup *s, const struct px_call *c, uint64_t addr, const void *buf,
		    size_t len)
{
	struct iovec r = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	int64_t put = px_target_writev(s, c, &r, 1, buf, len);

	if (put < 0)
		return (int)put;
	return (size_t)put == len ? 0 : -EFAULT;
}

int px_respond(struct px_sup *s, const struct px_call *c, int64_t val)
{
	struct seccomp_notif_resp *r = s->resp;

	memset(r, 0, sizeof(*r));
	r->id = c->id;
	if (val < 0) {
		r->error = (int32_t)val;
		s->st->refused += val == -EFAULT || val == -EINVAL || val == -EMSGSIZE;
	} else {
		r->val = val;
	}
	s->st->emulated++;
	return seccomp_notify_respond(s->nfd, r) ? -ENOENT : 0;
}

int px_continue(struct px_sup *s, const struct px_call *c)
{
	struct seccomp_notif_resp *r = s->resp;

	memset(r, 0, sizeof(*r));
	r->id = c->id;
	r->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	s->st->continued++;
	return seccomp_notify_respond(s->nfd, r) ? -ENOENT : 0;
}

int px_addfd_send(struct px_sup *s, const struct px_call *c, int fd, int newfd, bool cloexec)
{
	struct seccomp_notif_addfd a = {
		.id = c->id,
		.flags = SECCOMP_ADDFD_FLAG_SEND | (newfd >= 0 ? SECCOMP_ADDFD_FLAG_SETFD : 0),
		.srcfd = (uint32_t)fd,
		.newfd = newfd >= 0 ? (uint32_t)newfd : 0,
		.newfd_flags = cloexec ? O_CLOEXEC : 0,
	};
	int ret = ioctl(s->nfd, SECCOMP_IOCTL_NOTIF_ADDFD, &a);

	if (ret < 0)
		return -errno;
	s->st->emulated++;
	return ret;
}
