// SPDX-License-Identifier: MIT
/* TCP sockets for the channel: dialling with a deadline, listening, HOST:PORT parsing. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "vigil/wire.h"

int vg_wire_split_hostport(const char *s, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon, *h = s;
	size_t n;

	if (!s || !*s)
		return -EINVAL;
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		n = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			return -EINVAL;
		n = (size_t)(colon - s);
	}
	if (!n || n >= hlen || !colon[1] || strlen(colon + 1) >= plen)
		return -EINVAL;
	for (const char *p = colon + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	snprintf(port, plen, "%s", colon + 1);
	return 0;
}

static void nodelay(int fd)
{
	int one = 1;

	/* requests and answers are small and latency-bound: no Nagle delay */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int connect_one(const struct addrinfo *ai, int timeout_ms, int *err_out)
{
	struct pollfd p;
	socklen_t sl = sizeof(int);
	int fd, fl, soerr = 0;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		*err_out = errno;
		return -1;
	}
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		*err_out = errno;
		close(fd);
		return -1;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&p, 1, timeout_ms) <= 0) {
		*err_out = ETIMEDOUT;
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
		*err_out = soerr ? soerr : errno;
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fl);
	nodelay(fd);
	return fd;
}

int vg_wire_dial(const char *host, const char *port, int timeout_ms, struct vg_err *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	int r, fd = -1, e = EHOSTUNREACH;

	r = getaddrinfo(host, port, &hints, &res);
	if (r)
		return vg_errf(err, EHOSTUNREACH, "%s:%s: %s", host, port, gai_strerror(r));
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
		fd = connect_one(ai, timeout_ms > 0 ? timeout_ms : 10000, &e);
	freeaddrinfo(res);
	if (fd < 0)
		return vg_errf(err, e, "connecting to %s:%s: %s", host, port, strerror(e));
	return fd;
}

int vg_wire_listen(const char *host, const char *port, struct vg_err *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res = NULL;
	int r, fd = -1, e = EADDRNOTAVAIL, one = 1;

	r = getaddrinfo(host && *host ? host : NULL, port, &hints, &res);
	if (r)
		return vg_errf(err, EADDRNOTAVAIL, "%s:%s: %s", host ? host : "*", port,
			       gai_strerror(r));
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
			e = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		return vg_errf(err, e, "listening on %s:%s: %s", host && *host ? host : "*", port,
			       strerror(e));
	return fd;
}
