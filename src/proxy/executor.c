// SPDX-License-Identifier: MIT
/*
 * The executor: lives in the network namespace the service's traffic is meant to exist in and
 * makes its sockets there. Each SOCKET request is answered with the new socket's descriptor
 * and the executor keeps no copy: the supervisor owns every socket, so an executor that dies
 * takes no connection with it and a new one only has to make the next sockets. Requests are
 * checked like any other input: only the Internet families, only the type bits socket()
 * knows.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "px.h"

#define TYPE_BITS (0xf | SOCK_NONBLOCK | SOCK_CLOEXEC)

static int64_t make_socket(const struct px_hdr *m, int *fd)
{
	int domain = (int)m->a[0], type = (int)m->a[1];

	if (m->op != PX_SOCKET)
		return -EOPNOTSUPP;
	if (domain != AF_INET && domain != AF_INET6)
		return -EAFNOSUPPORT;
	if (type & ~TYPE_BITS)
		return -EINVAL;
	*fd = socket(domain, type, (int)m->a[2]);
	return *fd < 0 ? -errno : 0;
}

int vg_px_executor_loop(int chan, struct vg_err *err)
{
	for (;;) {
		struct px_hdr m;
		int fd = -1, ret = vg_px_hdr_read(chan, &m, NULL);

		if (ret == -EPIPE)
			return 0; /* the supervisor closed the channel: our work is over */
		if (ret)
			return vg_errf(err, -ret, "executor: channel: %s", strerror(-ret));
		m.ret = make_socket(&m, &fd);
		m.flags = PX_F_REPLY;
		ret = vg_px_hdr_write(chan, &m, fd);
		if (fd >= 0)
			close(fd);
		if (ret == -EPIPE)
			return 0;
		if (ret)
			return vg_errf(err, -ret, "executor: channel: %s", strerror(-ret));
	}
}
