// SPDX-License-Identifier: MIT
/*
 * Starting the two other parties. The service is started in its domain (the network, mount
 * and pid namespaces of a domain process, or a network namespace) under the filter, and the
 * filter's listener comes back to us before it runs a single instruction of the program. A
 * relay that adopts orphans (PR_SET_CHILD_SUBREAPER) reaps every process of the service's
 * tree, so the listener reports the end only when the whole tree is gone. The executor is
 * started in its own network namespace with nothing of ours but its channel.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "px.h"

enum { STAGE_NS = 1, STAGE_FILTER, STAGE_EXEC };

static const char *const stage_what[] = {
	[STAGE_NS] = "joining the service's domain",
	[STAGE_FILTER] = "installing the seccomp filter",
	[STAGE_EXEC] = "starting the program",
};

static void report(int sp, int stage, int e)
{
	struct px_hdr h = { .ret = -e, .a = { stage } };

	px_hdr_write(sp, &h, -1);
	_exit(127);
}

static void exit_like(int st)
{
	if (WIFSIGNALED(st)) {
		sigset_t all;

		signal(WTERMSIG(st), SIG_DFL);
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		raise(WTERMSIG(st));
		_exit(128 + WTERMSIG(st));
	}
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 127);
}

static int setns_path(const char *path, int type)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = setns(fd, type) ? -errno : 0;
	close(fd);
	return ret;
}

static int join(const struct vg_proxy_opts *o)
{
	static const char *const names[] = { "net", "pid", "mnt" };
	static const int types[] = { CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWNS };
	int fds[3] = { -1, -1, -1 }, ret = 0;

	if (o->domain_pid <= 0)
		return o->netns ? setns_path(o->netns, CLONE_NEWNET) : 0;
	/* all opened first: after joining the mount namespace /proc may be another one */
	for (int i = 0; i < 3 && !ret; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)o->domain_pid, names[i]);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			ret = -errno;
	}
	for (int i = 0; i < 3 && !ret; i++)
		if (setns(fds[i], types[i]))
			ret = -errno;
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return ret;
}

static void service(const struct vg_proxy_opts *o, int sp)
{
	struct vg_err e = { 0 };
	struct px_hdr h = { 0 };
	int l = -1;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		report(sp, STAGE_FILTER, errno);
	if (px_filter_load(o->mode, &l, &e))
		report(sp, STAGE_FILTER, e.code ? e.code : EINVAL);
	if (px_hdr_write(sp, &h, l) || px_hdr_read(sp, &h, NULL))
		_exit(127);
	close(l);
	execvp(o->argv[0], o->argv);
	report(sp, STAGE_EXEC, errno);
}

/* The relay in the service's pid namespace: parent of the service, reaper of its orphans. */
static void relay(const struct vg_proxy_opts *o, int sp)
{
	pid_t svc;
	int st = 0, w;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	svc = fork();
	if (svc < 0)
		report(sp, STAGE_EXEC, errno);
	if (svc == 0)
		service(o, sp);
	close(sp);
	while ((w = waitpid(-1, &st, 0)) != -1 || errno == EINTR)
		if (w == svc)
			exit_like(st);
	_exit(127);
}

static void outer(const struct vg_proxy_opts *o, int sp)
{
	pid_t g;
	int st, ret;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* nothing of the supervisor's (the executor's channel above all) may enter the domain */
	if (sp != 3 && dup3(sp, 3, O_CLOEXEC) < 0)
		_exit(127);
	sp = 3;
	close_range(4, ~0u, 0);
	ret = join(o);
	if (ret)
		report(sp, STAGE_NS, -ret);
	/* after setns(CLONE_NEWPID) only children enter the namespace */
	g = fork();
	if (g < 0)
		report(sp, STAGE_NS, errno);
	if (g == 0)
		relay(o, sp);
	close(sp);
	while (waitpid(g, &st, 0) < 0)
		if (errno != EINTR)
			_exit(127);
	exit_like(st);
}

int px_spawn_service(const struct vg_proxy_opts *o, int *listener, pid_t *pid, struct vg_err *err)
{
	struct px_hdr h;
	int sp[2], lfd = -1, ret;

	*listener = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
		return vg_errf(err, errno, "proxy: socketpair: %s", strerror(errno));
	*pid = fork();
	if (*pid < 0) {
		ret = vg_errf(err, errno, "proxy: fork: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return ret;
	}
	if (*pid == 0) {
		close(sp[0]);
		outer(o, sp[1]);
	}
	close(sp[1]);
	ret = px_hdr_read(sp[0], &h, &lfd);
	if (!ret && h.ret < 0)
		ret = (int)h.ret;
	if (!ret && lfd < 0)
		ret = -EPROTO;
	if (!ret) {
		struct px_hdr ack = { 0 };

		/* EOF: the program replaced the child (the channel was close-on-exec) */
		ret = px_hdr_write(sp[0], &ack, -1);
		if (!ret && px_hdr_read(sp[0], &h, NULL) == 0)
			ret = h.ret < 0 ? (int)h.ret : -EPROTO;
	}
	close(sp[0]);
	if (ret) {
		int stage = h.a[0] > 0 && h.a[0] <= STAGE_EXEC ? (int)h.a[0] : STAGE_EXEC;

		if (lfd >= 0)
			close(lfd);
		return vg_errf(err, -ret, "%s%s%s: %s", stage_what[stage],
			       stage == STAGE_EXEC ? " " : "",
			       stage == STAGE_EXEC ? o->argv[0] : "", strerror(-ret));
	}
	*listener = lfd;
	return 0;
}

static void executor(struct px_sup *s, int sp)
{
	struct vg_err e = { 0 };
	struct px_hdr h = { 0 };
	int null;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (s->exec_netns)
		h.ret = setns_path(s->exec_netns, CLONE_NEWNET);
	if (dup2(sp, 3) < 0)
		_exit(127);
	/* none of the supervisor's copies of the service's files may outlive it here */
	close_range(4, ~0u, 0);
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		if (null > 3)
			close(null);
	}
	if (px_hdr_write(3, &h, -1) || h.ret)
		_exit(127);
	_exit(px_executor_loop(3, s->ch.shm, &e) ? 1 : 0);
}

int px_spawn_executor(struct px_sup *s, struct vg_err *err)
{
	int sp[2], big = 4 << 20, ret;
	struct px_hdr h;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
		return vg_errf(err, errno, "proxy: socketpair: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		setsockopt(sp[i], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		setsockopt(sp[i], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	}
	pid = fork();
	if (pid < 0) {
		ret = vg_errf(err, errno, "proxy: fork: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return ret;
	}
	if (pid == 0)
		executor(s, sp[1]);
	close(sp[1]);
	ret = px_hdr_read(sp[0], &h, NULL);
	if (ret || h.ret) {
		ret = ret ? ret : (int)h.ret;
		close(sp[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return vg_errf(err, -ret, "starting the executor%s%s: %s",
			       s->exec_netns ? " in " : "", s->exec_netns ? s->exec_netns : "",
			       strerror(-ret));
	}
	s->ch.fd = sp[0];
	s->xpid = pid;
	return 0;
}
