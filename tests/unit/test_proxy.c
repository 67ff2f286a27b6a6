// SPDX-License-Identifier: MIT
/*
 * The proxy with a real kernel: this test program re-runs itself under vg_proxy_run as the
 * service (--svc MODE) and drives a loopback connection through it: socket, bind, listen,
 * getsockname, a blocking connect and accept, data both ways, poll with and without a wait.
 * In data mode every socket must be a placeholder (>= VG_PROXY_FD_BASE, not a socket); in fd
 * mode a real socket. Also: exit statuses pass through, a missing program is a clear error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/proxy.h"

static char *self;

/* The service: returns 0 when everything behaved, else the number of the failed step. */
static int service(bool data)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	struct pollfd pf;
	struct stat st;
	char buf[8] = { 0 };
	int l, c, s;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || fstat(l, &st))
		return 1;
	if (data != (l >= VG_PROXY_FD_BASE && !S_ISSOCK(st.st_mode)))
		return 2;
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4))
		return 3;
	if (getsockname(l, (struct sockaddr *)&a, &alen) || !a.sin_port)
		return 4;
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)))
		return 5;
	s = accept(l, NULL, NULL);
	if (s < 0 || (data && s < VG_PROXY_FD_BASE))
		return 6;
	pf = (struct pollfd){ .fd = s, .events = POLLIN };
	if (poll(&pf, 1, 0) != 0)
		return 7;
	if (write(c, "ping", 4) != 4 || read(s, buf, 4) != 4 || memcmp(buf, "ping", 4))
		return 8;
	pf = (struct pollfd){ .fd = c, .events = POLLIN };
	if (send(s, "pong", 4, 0) != 4 || poll(&pf, 1, 5000) != 1 || !(pf.revents & POLLIN))
		return 9;
	if (recv(c, buf, sizeof(buf), 0) != 4 || memcmp(buf, "pong", 4))
		return 10;
	close(s);
	if (read(c, buf, sizeof(buf)) != 0) /* the peer's close reaches us as EOF */
		return 11;
	close(c);
	close(l);
	return 0;
}

static int run(enum vg_proxy_mode mode, char **argv, struct vg_proxy_stats *st, int *status,
	       struct vg_err *err)
{
	struct vg_proxy_opts o = { .mode = mode, .argv = argv, .sync_wakeup = true };

	return vg_proxy_run(&o, status, st, err);
}

static void loopback(enum vg_proxy_mode mode)
{
	char *argv[] = { self, "--svc", mode == VG_PROXY_DATA ? "data" : "fd", NULL };
	struct vg_proxy_stats st;
	struct vg_err err = { 0 };
	int status = -1;

	assert_int_equal(run(mode, argv, &st, &status, &err), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(st.sockets, mode == VG_PROXY_DATA ? 3 : 2);
	if (mode == VG_PROXY_DATA)
		assert_true(st.bytes_in >= 8 && st.bytes_out >= 8);
}

static void test_data_mode(void **state)
{
	loopback(VG_PROXY_DATA);
}

static void test_fd_mode(void **state)
{
	loopback(VG_PROXY_FD);
}

static void test_status_and_errors(void **state)
{
	char *exit7[] = { "sh", "-c", "exit 7", NULL };
	char *missing[] = { "/nonexistent/vigil-test-program", NULL };
	struct vg_proxy_stats st;
	struct vg_err err = { 0 };
	int status = -1;

	assert_int_equal(run(VG_PROXY_DATA, exit7, &st, &status, &err), 0);
	assert_int_equal(WEXITSTATUS(status), 7);
	assert_int_equal(run(VG_PROXY_FD, missing, &st, &status, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "starting the program"));
}

static void test_probe(void **state)
{
	struct vg_proxy_probe p;
	struct vg_err err = { 0 };

	assert_int_equal(vg_proxy_probe(&p, &err), 0);
	assert_true(p.unotify && p.addfd);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_data_mode),
		cmocka_unit_test(test_fd_mode),
		cmocka_unit_test(test_status_and_errors),
	};

	if (argc == 3 && !strcmp(argv[1], "--svc"))
		return service(!strcmp(argv[2], "data"));
	self = argv[0];
	if (geteuid() != 0) {
		printf("test_proxy: skipped (needs root for seccomp notification)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
