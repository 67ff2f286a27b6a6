// SPDX-License-Identifier: MIT
/*
 * The service's seccomp filter (libseccomp) and the probe of what the kernel offers. Only
 * calls the proxy may have to act on reach the supervisor: socket() for the Internet families
 * in both modes; in data mode also every call whose descriptor argument is in the placeholder
 * range, and the waits (poll, select, epoll_wait) whose sets cannot be read by a filter.
 * Foreign-architecture system calls kill the service (libseccomp's default for a bad arch), so
 * the 32-bit entry points cannot go around the proxy.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "px.h"

#define BASE VG_PROXY_FD_BASE

static const char *const fd_calls[] = {
	"connect",     "bind",	      "listen",	    "accept",	  "accept4",  "sendto",
	"recvfrom",    "sendmsg",     "recvmsg",    "sendmmsg",	  "recvmmsg", "shutdown",
	"getsockname", "getpeername", "getsockopt", "setsockopt", "read",     "write",
	"readv",       "writev",      "dup",	    "dup2",	  "dup3",     "ioctl",
};

static const char *const wait_calls[] = { "poll", "ppoll", "epoll_wait", "epoll_pwait",
					  "epoll_pwait2" };

static int add(scmp_filter_ctx ctx, const char *name, unsigned n, const struct scmp_arg_cmp *a)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return 0; /* not on this architecture */
	return seccomp_rule_add_array(ctx, SCMP_ACT_NOTIFY, nr, n, a);
}

static int rules(scmp_filter_ctx ctx, enum vg_proxy_mode mode)
{
	struct scmp_arg_cmp a[2];
	int ret;

	a[0] = SCMP_A0(SCMP_CMP_EQ, AF_INET);
	ret = add(ctx, "socket", 1, a);
	a[0] = SCMP_A0(SCMP_CMP_EQ, AF_INET6);
	ret = ret ? ret : add(ctx, "socket", 1, a);
	if (ret || mode == VG_PROXY_FD)
		return ret;
	a[0] = SCMP_A0(SCMP_CMP_GE, BASE);
	for (size_t i = 0; i < sizeof(fd_calls) / sizeof(fd_calls[0]) && !ret; i++)
		ret = add(ctx, fd_calls[i], 1, a);
	for (size_t i = 0; i < sizeof(wait_calls) / sizeof(wait_calls[0]) && !ret; i++)
		ret = add(ctx, wait_calls[i], 0, NULL);
	a[1] = SCMP_A1(SCMP_CMP_EQ, F_DUPFD);
	ret = ret ? ret : add(ctx, "fcntl", 2, a);
	a[1] = SCMP_A1(SCMP_CMP_EQ, F_DUPFD_CLOEXEC);
	ret = ret ? ret : add(ctx, "fcntl", 2, a);
	a[1] = SCMP_A1(SCMP_CMP_EQ, F_GETFL);
	ret = ret ? ret : add(ctx, "fcntl", 2, a);
	/* select's sets can only hold a placeholder when nfds reaches past the base */
	a[0] = SCMP_A0(SCMP_CMP_GT, BASE);
	ret = ret ? ret : add(ctx, "select", 1, a);
	ret = ret ? ret : add(ctx, "pselect6", 1, a);
	a[0] = SCMP_A2(SCMP_CMP_GE, BASE);
	ret = ret ? ret : add(ctx, "epoll_ctl", 1, a);
	return ret;
}

int px_filter_load(enum vg_proxy_mode mode, int *listener, struct vg_err *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int ret;

	if (!ctx)
		return vg_errf(err, ENOMEM, "seccomp_init failed");
	ret = rules(ctx, mode);
	if (ret) {
		vg_errf(err, -ret, "building the proxy's seccomp filter: %s", strerror(-ret));
		goto out;
	}
	ret = seccomp_load(ctx);
	if (ret) {
		vg_errf(err, -ret, "loading the seccomp filter: %s", strerror(-ret));
		goto out;
	}
	*listener = seccomp_notify_fd(ctx);
	if (*listener < 0) {
		ret = vg_errf(err, EOPNOTSUPP,
			      "the kernel gave no seccomp notification descriptor");
		goto out;
	}
	/* seccomp_release closes nothing of the listener's: it is ours to keep */
	*listener = fcntl(*listener, F_DUPFD_CLOEXEC, 0);
	if (*listener < 0)
		ret = vg_errf(err, errno, "keeping the listener: %s", strerror(errno));
out:
	seccomp_release(ctx);
	return ret;
}

/* A child with a socket() filter answers for the kernel: it makes one call that the parent
 * receives, tries ADDFD and the wake-up flag on, and answers. */
int vg_proxy_probe(struct vg_proxy_probe *p, struct vg_err *err)
{
	int sp[2], lfd = -1, st, ret = 0;
	struct px_hdr m;
	pid_t pid;

	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
		return vg_errf(err, errno, "probe: socketpair: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		close(sp[0]);
		close(sp[1]);
		return vg_errf(err, errno, "probe: fork: %s", strerror(errno));
	}
	if (pid == 0) {
		struct vg_err e = { 0 };
		struct px_hdr h = { 0 };
		int l = -1;

		close(sp[0]);
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (px_filter_load(VG_PROXY_FD, &l, &e))
			_exit(1);
		if (px_hdr_write(sp[1], &h, l))
			_exit(1);
		close(l);
		socket(AF_INET, SOCK_STREAM, 0);
		_exit(0);
	}
	close(sp[1]);
	if (px_hdr_read(sp[0], &m, &lfd) || lfd < 0) {
		ret = vg_errf(err, EOPNOTSUPP,
			      "probe: seccomp user notification is not available here");
		goto out;
	}
	p->unotify = true;
	{
		struct seccomp_notif *req;
		struct seccomp_notif_resp *resp;
		struct seccomp_notif_addfd a = { .srcfd = 0, .flags = 0 };

		if (seccomp_notify_alloc(&req, &resp) == 0) {
			if (seccomp_notify_receive(lfd, req) == 0) {
				a.id = req->id;
				a.flags = SECCOMP_ADDFD_FLAG_SEND;
				p->addfd = ioctl(lfd, SECCOMP_IOCTL_NOTIF_ADDFD, &a) >= 0;
				if (!p->addfd) {
					resp->id = req->id;
					resp->error = -ENOSYS;
					seccomp_notify_respond(lfd, resp);
				}
			}
			seccomp_notify_free(req, resp);
		}
	}
	p->sync_wakeup = ioctl(lfd, PX_IOCTL_SET_FLAGS, PX_SYNC_WAKE_UP) == 0;
out:
	if (lfd >= 0)
		close(lfd);
	close(sp[0]);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return ret;
}
