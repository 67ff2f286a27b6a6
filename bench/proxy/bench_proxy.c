// SPDX-License-Identifier: MIT
/*
 * The proxy benchmark's parts (driven by run_bench.py, which runs the client under
 * `vigil proxy run` for the proxied figures):
 *   bench_proxy anchors N            unix-socket and user-notification round trips (median us)
 *   bench_proxy server PORT          on 127.0.0.1: 'e' echoes 64-byte messages, 's' + 8-byte
 *                                    count sends that many bytes
 *   bench_proxy rtt PORT N           64-byte request/response round trip, median us
 *   bench_proxy tput PORT BYTES      receive BYTES in 64 KiB reads, MB/s
 * Each prints one JSON object.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../bench_util.h"

#define MSG 64

static int full(ssize_t (*op)(int, void *, size_t), int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = op(fd, (char *)buf + got, n - got);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static ssize_t rd(int fd, void *b, size_t n)
{
	return read(fd, b, n);
}

static ssize_t wr(int fd, void *b, size_t n)
{
	return write(fd, b, n);
}

static double unix_rtt(int n)
{
	char buf[MSG] = { 0 };
	double *v = calloc(n, sizeof(double)), med;
	int sp[2];
	pid_t pid;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	pid = fork();
	if (pid == 0) {
		close(sp[0]);
		while (full(rd, sp[1], buf, MSG) == 0 && full(wr, sp[1], buf, MSG) == 0)
			;
		_exit(0);
	}
	close(sp[1]);
	for (int i = 0; i < n; i++) {
		double t = now_ms();

		full(wr, sp[0], buf, MSG);
		full(rd, sp[0], buf, MSG);
		v[i] = (now_ms() - t) * 1000;
	}
	close(sp[0]);
	waitpid(pid, NULL, 0);
	med = median(v, n);
	free(v);
	return med;
}

/* A child whose getppid() is a user notification; we answer each at once. */
static double unotify_rtt(int n, bool sync_wakeup)
{
	double *v = calloc(n, sizeof(double)), med;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	int sp[2], lfd = -1, tp[2];
	char c = 0;
	pid_t pid;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	pipe(tp);
	pid = fork();
	if (pid == 0) {
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
		char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
		struct iovec iov = { .iov_base = &c, .iov_len = 1 };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		int l;

		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(getppid), 0);
		seccomp_load(ctx);
		l = seccomp_notify_fd(ctx);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &l, sizeof(int));
		sendmsg(sp[1], &mh, 0);
		for (int i = 0; i < n; i++) {
			double t = now_ms();

			syscall(SYS_getppid);
			v[i] = (now_ms() - t) * 1000;
		}
		write(tp[1], v, n * sizeof(double));
		_exit(0);
	}
	{
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { .iov_base = &c, .iov_len = 1 };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };

		recvmsg(sp[0], &mh, 0);
		memcpy(&lfd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	}
	if (sync_wakeup)
		ioctl(lfd, SECCOMP_IOW(4, __u64), 1ul);
	seccomp_notify_alloc(&req, &resp);
	for (int i = 0; i < n; i++) {
		memset(req, 0, sizeof(*req));
		if (seccomp_notify_receive(lfd, req))
			break;
		memset(resp, 0, sizeof(*resp));
		resp->id = req->id;
		resp->val = 1;
		seccomp_notify_respond(lfd, resp);
	}
	full(rd, tp[0], v, n * sizeof(double));
	waitpid(pid, NULL, 0);
	seccomp_notify_free(req, resp);
	med = median(v, n);
	free(v);
	return med;
}

static int connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("connect");
		exit(2);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void serve(int c)
{
	char buf[1 << 16] = { 0 }, op;
	uint64_t left;

	if (full(rd, c, &op, 1))
		return;
	if (op == 'e') {
		while (full(rd, c, buf, MSG) == 0 && full(wr, c, buf, MSG) == 0)
			;
		return;
	}
	if (full(rd, c, &left, sizeof(left)))
		return;
	while (left) {
		size_t n = left < sizeof(buf) ? left : sizeof(buf);
		ssize_t w = write(c, buf, n);

		if (w <= 0)
			return;
		left -= (uint64_t)w;
	}
}

static int server(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 16)) {
		perror("bind");
		return 2;
	}
	signal(SIGCHLD, SIG_IGN);
	printf("{\"listening\":%d}\n", port);
	fflush(stdout);
	for (;;) {
		int c = accept(s, NULL, NULL);

		if (c < 0)
			continue;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (fork() == 0) {
			serve(c);
			_exit(0);
		}
		close(c);
	}
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "anchors")) {
		int n = atoi(argv[2]);

		printf("{\"unix_rtt_us\":%.2f,\"unotify_rtt_us\":%.2f,\"unotify_sync_rtt_us\":%.2f}"
		       "\n",
		       unix_rtt(n), unotify_rtt(n, false), unotify_rtt(n, true));
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "server"))
		return server(atoi(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "rtt")) {
		int n = atoi(argv[3]), fd = connect_to(atoi(argv[2]));
		double *v = calloc(n, sizeof(double));
		char buf[MSG] = { 0 };

		full(wr, fd, "e", 1);
		for (int i = 0; i < n; i++) {
			double t = now_ms();

			if (full(wr, fd, buf, MSG) || full(rd, fd, buf, MSG))
				return 2;
			v[i] = (now_ms() - t) * 1000;
		}
		printf("{\"rtt_us\":%.2f}\n", median(v, n));
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "tput")) {
		uint64_t want = strtoull(argv[3], NULL, 10), got = 0;
		int fd = connect_to(atoi(argv[2]));
		static char buf[1 << 16];
		double t;

		full(wr, fd, "s", 1);
		full(wr, fd, &want, sizeof(want));
		t = now_ms();
		while (got < want) {
			ssize_t r = read(fd, buf, sizeof(buf));

			if (r <= 0)
				return 2;
			got += (uint64_t)r;
		}
		t = now_ms() - t;
		printf("{\"mb_per_s\":%.1f,\"ms\":%.1f}\n", got / 1e6 / (t / 1e3), t);
		return 0;
	}
	fprintf(stderr, "usage: bench_proxy anchors N | server PORT | rtt PORT N | tput PORT B\n");
	return 2;
}
