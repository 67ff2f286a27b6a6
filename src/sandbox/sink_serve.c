// SPDX-License-Identifier: MIT
/*
 * The sink process's event loop, inside the worker's network namespace and without privileges:
 * TCP sessions redirected from every port (original destination through SO_ORIGINAL_DST) are
 * accepted and their first bytes kept; telnet ports get login prompts so brute-forcers send
 * their guesses; DNS queries on any address are answered with the sink address; raw sockets
 * see the ICMP echo requests the kernel answers and UDP to other ports. Between BEGIN and END
 * each event is one JSON line in the run's net.jsonl. Every byte read comes from a hostile
 * sample: sessions, events and kept bytes are bounded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sink_int.h"
#include "vigil/clock.h"

struct session {
	int fd;
	uint32_t dst;
	uint16_t dport;
	int64_t start_ms, last_ms;
	uint64_t bytes;
	unsigned nfirst;
	uint8_t first[SINK_FIRST_BYTES];
	unsigned prompts; /* telnet prompts sent */
};

struct sink {
	const struct sink_fds *f;
	uint32_t addr;
	int log; /* -1 outside BEGIN..END */
	unsigned events, dropped;
	unsigned nsess;
	struct session sess[SINK_MAX_SESSIONS];
};

static bool loopback(uint32_t a_net)
{
	return (ntohl(a_net) >> 24) == 127;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* a full or broken log loses events, never the sink */
		p += w;
		n -= (size_t)w;
	}
}

/* One net.jsonl line. QNAME is already printable and JSON-safe (sink_dns.c). */
static void emit(struct sink *s, int64_t ts, const char *proto, uint32_t dst, unsigned dport,
		 const char *qname, uint64_t bytes, const uint8_t *first, unsigned nfirst)
{
	char line[160 + 256 + 2 * SINK_FIRST_BYTES];
	char a[INET_ADDRSTRLEN];
	int n;

	if (s->log < 0)
		return;
	if (s->events >= SINK_MAX_EVENTS) {
		s->dropped++;
		return;
	}
	s->events++;
	inet_ntop(AF_INET, &dst, a, sizeof(a));
	n = snprintf(line, sizeof(line),
		     "{\"ts_ms\":%lld,\"proto\":\"%s\",\"dst\":\"%s\",\"dport\":%u,\"bytes\":%llu",
		     (long long)ts, proto, a, dport, (unsigned long long)bytes);
	if (qname)
		n += snprintf(line + n, sizeof(line) - (size_t)n, ",\"qname\":\"%.253s\"", qname);
	if (first) {
		static const char hex[] = "0123456789abcdef";

		n += snprintf(line + n, sizeof(line) - (size_t)n, ",\"first_hex\":\"");
		for (unsigned i = 0; i < nfirst && (size_t)n + 8 < sizeof(line); i++) {
			line[n++] = hex[first[i] >> 4];
			line[n++] = hex[first[i] & 15];
		}
		line[n++] = '"';
	}
	line[n++] = '}';
	line[n++] = '\n';
	write_all(s->log, line, (size_t)n);
}

static void sess_close(struct sink *s, unsigned i)
{
	struct session *ss = &s->sess[i];

	emit(s, ss->start_ms, "tcp", ss->dst, ss->dport, NULL, ss->bytes, ss->first, ss->nfirst);
	close(ss->fd);
	s->sess[i] = s->sess[--s->nsess];
}

static bool telnet_port(unsigned p)
{
	return p == 23 || p == 2323;
}

static void send_str(int fd, const char *str)
{
	(void)send(fd, str, strlen(str), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void on_accept(struct sink *s)
{
	for (int k = 0; k < 64; k++) {
		struct sockaddr_in od;
		socklen_t ol = sizeof(od);
		struct session *ss;
		int fd = accept4(s->f->tcp, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &od, &ol) < 0) {
			/* a direct connection to the sink's own port: not redirected */
			od.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			od.sin_port = htons(SINK_TCP_PORT);
		}
		if (s->nsess == SINK_MAX_SESSIONS) {
			unsigned old = 0;

			for (unsigned i = 1; i < s->nsess; i++)
				if (s->sess[i].last_ms < s->sess[old].last_ms)
					old = i;
			sess_close(s, old);
		}
		ss = &s->sess[s->nsess++];
		memset(ss, 0, sizeof(*ss));
		ss->fd = fd;
		ss->dst = od.sin_addr.s_addr;
		ss->dport = ntohs(od.sin_port);
		ss->start_ms = ss->last_ms = vg_wall_ms();
		if (telnet_port(ss->dport)) {
			send_str(fd, "\r\nlogin: ");
			ss->prompts = 1;
		}
	}
}

/* Returns false when the session ended. */
static bool on_data(struct sink *s, struct session *ss)
{
	uint8_t buf[4096];
	ssize_t n = recv(ss->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return false;
	if (n < 0)
		return true;
	ss->bytes += (uint64_t)n;
	ss->last_ms = vg_wall_ms();
	for (ssize_t i = 0; i < n && ss->nfirst < SINK_FIRST_BYTES; i++)
		ss->first[ss->nfirst++] = buf[i];
	/* a prompt per line keeps a brute-forcer going: user, password, user, ... */
	if (telnet_port(ss->dport) && memchr(buf, '\n', (size_t)n) && ss->prompts < 64) {
		send_str(ss->fd,
			 ss->prompts % 2 ? "\r\nPassword: " : "\r\nLogin incorrect\r\nlogin: ");
		ss->prompts++;
	}
	return true;
}

static void on_dns(struct sink *s)
{
	for (int k = 0; k < 64; k++) {
		uint8_t q[512], ans[600];
		char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		char qname[256];
		struct sockaddr_in from;
		struct iovec iov = { q, sizeof(q) };
		struct msghdr m = { .msg_name = &from,
				    .msg_namelen = sizeof(from),
				    .msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf) };
		struct in_pktinfo pi = { 0 };
		ssize_t n = recvmsg(s->f->dns, &m, MSG_DONTWAIT);
		int alen;

		if (n < 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
		alen = sbx_sink_dns_answer(q, (size_t)n, s->addr, ans, sizeof(ans), qname,
					   sizeof(qname));
		if (!loopback(pi.ipi_addr.s_addr) || alen >= 0)
			emit(s, vg_wall_ms(), "dns", pi.ipi_addr.s_addr, 53, qname, (uint64_t)n,
			     NULL, 0);
		if (alen < 0)
			continue;
		/* answer from the address the query was sent to, as a real resolver there would */
		struct in_pktinfo out = { .ipi_spec_dst = pi.ipi_addr };
		struct iovec oiov = { ans, (size_t)alen };
		char ocbuf[CMSG_SPACE(sizeof(out))] = { 0 };
		struct msghdr om = { .msg_name = &from,
				     .msg_namelen = sizeof(from),
				     .msg_iov = &oiov,
				     .msg_iovlen = 1,
				     .msg_control = ocbuf,
				     .msg_controllen = sizeof(ocbuf) };
		struct cmsghdr *oc = CMSG_FIRSTHDR(&om);

		oc->cmsg_level = IPPROTO_IP;
		oc->cmsg_type = IP_PKTINFO;
		oc->cmsg_len = CMSG_LEN(sizeof(out));
		memcpy(CMSG_DATA(oc), &out, sizeof(out));
		(void)sendmsg(s->f->dns, &om, MSG_DONTWAIT);
	}
}

/* Raw ICMP and UDP: the packet with its IP header, as delivered to this namespace. */
static void on_raw(struct sink *s, int fd, bool udp)
{
	for (int k = 0; k < 256; k++) {
		uint8_t p[2048];
		ssize_t n = recv(fd, p, sizeof(p), MSG_DONTWAIT);
		struct iphdr ip;
		size_t hl;

		if (n < 0)
			return;
		if ((size_t)n < sizeof(ip))
			continue;
		memcpy(&ip, p, sizeof(ip));
		hl = (size_t)ip.ihl * 4;
		if (hl < sizeof(ip) || (size_t)n < hl + (udp ? 8 : 1))
			continue;
		if (loopback(ip.daddr))
			continue;
		if (!udp) {
			if (p[hl] == 8) /* echo request; the kernel sends the reply */
				emit(s, vg_wall_ms(), "icmp", ip.daddr, 0, NULL, (uint64_t)n - hl,
				     NULL, 0);
			continue;
		}
		unsigned sport = (unsigned)(p[hl] << 8 | p[hl + 1]);
		unsigned dport = (unsigned)(p[hl + 2] << 8 | p[hl + 3]);
		size_t plen = (size_t)n - hl - 8;

		/* DNS is logged by the resolver, and its answers come from port 53 */
		if (dport == 53 || sport == 53)
			continue;
		emit(s, vg_wall_ms(), "udp", ip.daddr, dport, NULL, plen, p + hl + 8,
		     plen < 64 ? (unsigned)plen : 64);
	}
}

static void end_run(struct sink *s)
{
	while (s->nsess)
		sess_close(s, s->nsess - 1);
	if (s->log >= 0) {
		if (s->dropped) {
			char line[96];
			int n = snprintf(line, sizeof(line),
					 "{\"ts_ms\":%lld,\"proto\":\"dropped\",\"bytes\":%u}\n",
					 (long long)vg_wall_ms(), s->dropped);

			write_all(s->log, line, (size_t)n);
		}
		close(s->log);
	}
	s->log = -1;
}

/* Returns false when the control socket is gone. */
static bool on_ctl(struct sink *s)
{
	char c = 0, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(s->f->ctl, &m, MSG_CMSG_CLOEXEC);
	int fd = -1;

	if (n <= 0)
		return n < 0 && errno == EINTR;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	if (c == SINK_CMD_BEGIN) {
		end_run(s);
		s->log = fd;
		s->events = s->dropped = 0;
		c = SINK_ACK_BEGIN;
	} else {
		if (fd >= 0)
			close(fd);
		end_run(s);
		c = SINK_ACK_END;
	}
	return send(s->f->ctl, &c, 1, MSG_NOSIGNAL) == 1;
}

void sbx_sink_serve(const struct sink_fds *f, uint32_t sink_addr)
{
	struct pollfd pf[5 + SINK_MAX_SESSIONS];
	struct sink *s = calloc(1, sizeof(*s));

	if (!s)
		return;
	s->f = f;
	s->addr = sink_addr;
	s->log = -1;
	for (;;) {
		unsigned np = 5, nsess = s->nsess;
		int64_t t;

		pf[0] = (struct pollfd){ f->ctl, POLLIN, 0 };
		pf[1] = (struct pollfd){ f->tcp, POLLIN, 0 };
		pf[2] = (struct pollfd){ f->dns, POLLIN, 0 };
		pf[3] = (struct pollfd){ f->icmp, POLLIN, 0 };
		pf[4] = (struct pollfd){ f->udp, POLLIN, 0 };
		for (unsigned i = 0; i < nsess; i++)
			pf[np++] = (struct pollfd){ s->sess[i].fd, POLLIN, 0 };
		if (poll(pf, np, 1000) < 0 && errno != EINTR)
			break;
		/* sessions first, downwards: a closed one is replaced by the last, already seen */
		for (unsigned i = nsess; i-- > 0;)
			if (pf[5 + i].revents && !on_data(s, &s->sess[i]))
				sess_close(s, i);
		t = vg_wall_ms();
		for (unsigned i = s->nsess; i-- > 0;)
			if (t - s->sess[i].last_ms > SINK_IDLE_MS)
				sess_close(s, i);
		if (pf[1].revents)
			on_accept(s);
		if (pf[2].revents)
			on_dns(s);
		if (pf[3].revents)
			on_raw(s, f->icmp, false);
		if (pf[4].revents)
			on_raw(s, f->udp, true);
		if (pf[0].revents && !on_ctl(s))
			break;
	}
	end_run(s);
	free(s);
}
