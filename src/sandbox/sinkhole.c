// SPDX-License-Identifier: MIT
/*
 * The sinkhole (env.h): one network namespace per worker, owned by a sink process that vigil
 * forks. The namespace has no uplink: only lo, holding SBX_SINK_ADDR/16, a "local 0.0.0.0/0"
 * route so every IPv4 address is this namespace's own, and nftables rules redirecting TCP to
 * any port and address outside 127.0.0.0/8 to the sink's listener (127.0.0.0/8 stays direct so
 * services inside the environment remain reachable). The namespace lives exactly as long as
 * the sink process: it is named by /proc/PID/ns/net, so a crashed vigil leaves nothing behind
 * (the sink dies with its parent through PR_SET_PDEATHSIG) and parallel campaigns cannot
 * collide on a name. After setting up, the sink drops to nobody without capabilities before
 * it reads a byte of the sample's traffic.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "env.h"
#include "sink_int.h"

#define SINK_READY_MS 15000 /* namespace set-up (ip, nft) on a loaded machine */
#define SINK_ACK_MS 5000

struct sbx_sink {
	pid_t pid;
	int ctl;
	char netns[48];
};

/* ---- in the sink process ---- */

static void fail(int ctl, const char *what, int e)
{
	char msg[200];
	int n = snprintf(msg, sizeof(msg), "x%s: %s", what, strerror(e));

	(void)send(ctl, msg, (size_t)n, MSG_NOSIGNAL);
	_exit(1);
}

static int run(char *const argv[])
{
	int st;
	pid_t p = fork();

	if (p < 0)
		return -errno;
	if (p == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(p, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

static int put(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		r = -EIO;
	close(fd);
	return r;
}

static void setup_net(int ctl)
{
	static const char rules[] =
		"add table ip vigil_sink; "
		"add chain ip vigil_sink out { type nat hook output priority -100; }; "
		"add rule ip vigil_sink out ip daddr 127.0.0.0/8 return; "
		"add rule ip vigil_sink out meta l4proto tcp redirect to :65001; "
		/* a guest's link (system environment) enters through prerouting */
		"add chain ip vigil_sink pre { type nat hook prerouting priority -100; }; "
		"add rule ip vigil_sink pre ip daddr 127.0.0.0/8 return; "
		"add rule ip vigil_sink pre meta l4proto tcp redirect to :65001";
	char *lo_up[] = { "ip", "link", "set", "lo", "up", NULL };
	char *addr[] = { "ip", "addr", "add", SBX_SINK_ADDR "/16", "dev", "lo", NULL };
	char *local[] = { "ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo", NULL };
	char *nft[] = { "nft", (char *)rules, NULL };
	int r;

	_Static_assert(SINK_TCP_PORT == 65001, "the nft rules name the sink port");
	if (unshare(CLONE_NEWNET) < 0)
		fail(ctl, "unshare(CLONE_NEWNET)", errno);
	if ((r = run(lo_up)) || (r = run(addr)) || (r = run(local)))
		fail(ctl, "ip (iproute2) configuring the namespace", -r);
	if ((r = run(nft)))
		fail(ctl, "nft adding the redirect rules (is nftables installed?)", -r);
	/* services and samples run without privileges in this namespace yet bind 23 and 80,
	 * and may ping (ICMP datagram sockets); neither reaches beyond the namespace */
	if ((r = put("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0")) ||
	    (r = put("/proc/sys/net/ipv4/ping_group_range", "0 2147483647")))
		fail(ctl, "namespace sysctls", -r);
}

static int sock(int ctl, int type, int proto, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, big = 1 << 20;
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);

	if (fd < 0)
		fail(ctl, "sink socket", errno);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (type == SOCK_RAW)
		return fd;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (type == SOCK_DGRAM)
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		fail(ctl, "sink bind", errno);
	if (type == SOCK_STREAM && listen(fd, 1024) < 0)
		fail(ctl, "sink listen", errno);
	return fd;
}

static void drop_privileges(int ctl, pid_t parent)
{
	if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
	    setresuid(65534, 65534, 65534) < 0)
		fail(ctl, "dropping to nobody", errno);
	/* a credential change clears the parent-death signal */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(ctl, "prctl", errno);
	if (getppid() != parent)
		_exit(0);
}

static void sink_main(int ctl, pid_t parent)
{
	struct sink_fds f = { .ctl = ctl };
	char ok = SINK_ACK_READY;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(0);
	/* nothing of vigil's but the control socket; ip and nft talk to /dev/null */
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 ||
	    dup2(ctl, 3) < 0)
		_exit(1);
	f.ctl = ctl = 3;
	close_range(4, ~0u, 0);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_NAME, "vigil-sink");
	setup_net(ctl);
	f.tcp = sock(ctl, SOCK_STREAM, 0, SINK_TCP_PORT);
	f.dns = sock(ctl, SOCK_DGRAM, 0, 53);
	f.icmp = sock(ctl, SOCK_RAW, IPPROTO_ICMP, 0);
	f.udp = sock(ctl, SOCK_RAW, IPPROTO_UDP, 0);
	drop_privileges(ctl, parent);
	if (send(ctl, &ok, 1, MSG_NOSIGNAL) != 1)
		_exit(0);
	struct in_addr sa;
	inet_pton(AF_INET, SBX_SINK_ADDR, &sa);
	sbx_sink_serve(&f, sa.s_addr);
	_exit(0);
}

/* ---- in vigil ---- */

static int wait_ack(struct sbx_sink *s, char want, int ms, struct vg_err *err)
{
	struct pollfd p = { s->ctl, POLLIN, 0 };
	char msg[256];
	ssize_t n;
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return vg_errf(err, ETIMEDOUT, "sinkhole: no answer from the sink process");
	n = recv(s->ctl, msg, sizeof(msg) - 1, 0);
	if (n <= 0)
		return vg_errf(err, EPIPE, "sinkhole: the sink process is gone");
	msg[n] = '\0';
	if (msg[0] == 'x')
		return vg_errf(err, EIO, "sinkhole: %s", msg + 1);
	if (msg[0] != want)
		return vg_errf(err, EPROTO, "sinkhole: unexpected answer from the sink process");
	return 0;
}

int sbx_sink_open(struct sbx_sink **out, int worker, struct vg_err *err)
{
	struct sbx_sink *s;
	pid_t parent = getpid();
	int sv[2], r;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return vg_errf(err, ENOMEM, "sinkhole: out of memory");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = vg_errf(err, errno, "sinkhole: socketpair: %m");
		free(s);
		return r;
	}
	s->pid = fork();
	if (s->pid < 0) {
		r = vg_errf(err, errno, "sinkhole: fork: %m");
		close(sv[0]);
		close(sv[1]);
		free(s);
		return r;
	}
	if (s->pid == 0)
		sink_main(sv[1], parent);
	close(sv[1]);
	s->ctl = sv[0];
	snprintf(s->netns, sizeof(s->netns), "/proc/%d/ns/net", (int)s->pid);
	r = wait_ack(s, SINK_ACK_READY, SINK_READY_MS, err);
	if (r < 0) {
		vg_err_prefix(err, "worker %d", worker);
		sbx_sink_close(s);
		return r;
	}
	*out = s;
	return 0;
}

const char *sbx_sink_netns(const struct sbx_sink *s)
{
	return s->netns;
}

int sbx_sink_begin(struct sbx_sink *s, const char *log_path, struct vg_err *err)
{
	char c = SINK_CMD_BEGIN, cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	int fd, r;

	fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return vg_errf(err, errno, "%s: %m", log_path);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
	r = sendmsg(s->ctl, &m, MSG_NOSIGNAL) == 1 ? 0 : -EPIPE;
	close(fd);
	if (r < 0)
		return vg_errf(err, EPIPE, "sinkhole: the sink process is gone");
	return wait_ack(s, SINK_ACK_BEGIN, SINK_ACK_MS, err);
}

int sbx_sink_end(struct sbx_sink *s)
{
	struct vg_err e = { 0 };
	char c = SINK_CMD_END;

	if (send(s->ctl, &c, 1, MSG_NOSIGNAL) != 1)
		return -EPIPE;
	return wait_ack(s, SINK_ACK_END, SINK_ACK_MS, &e);
}

void sbx_sink_close(struct sbx_sink *s)
{
	if (!s)
		return;
	if (s->ctl >= 0)
		close(s->ctl);
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	free(s);
}
