// SPDX-License-Identifier: MIT
/*
 * Switch benchmark helper (bench/net/run_bench.py drives it).
 *
 *   bench_switch relay A.sock B.sock
 *       The anchor: a plain Unix-socket relay. It listens on both paths, takes one peer on
 *       each, and copies every frame from A to B with one write per frame, the way QEMU
 *       writes them (a 4-byte big-endian length, then the frame, in one writev).
 *   bench_switch run FRAMES.pcap A.sock B.sock N
 *       Loads N frames from the capture (every frame re-addressed from MAC A to MAC B),
 *       connects a receiver to B (which first sends one frame so a learning switch knows
 *       where B is) and a sender to A, then sends the N frames one writev each, as a QEMU
 *       guest would, and times until the receiver has them all (or nothing came for 2 s).
 *       Prints {"frames":N,"received":R,"seconds":S,"pps":P}.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../bench_util.h"

static const uint8_t mac_a[6] = { 0x52, 0x54, 0, 0xbe, 0, 0xaa };
static const uint8_t mac_b[6] = { 0x52, 0x54, 0, 0xbe, 0, 0xbb };

struct frames {
	uint8_t *data;
	uint32_t *off, *len;
	size_t n;
};

static int listen_on(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1)) {
		perror(path);
		exit(2);
	}
	return fd;
}

static int dial(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	for (int i = 0; i < 200; i++) {
		if (!connect(fd, (struct sockaddr *)&a, sizeof(a)))
			return fd;
		usleep(10000);
	}
	perror(path);
	exit(2);
}

static void send_frame(int fd, const uint8_t *f, uint32_t len)
{
	uint8_t hdr[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			   (uint8_t)len };
	struct iovec iov[2] = { { hdr, 4 }, { (void *)f, len } };
	size_t want = 4 + len;

	/* a partial write on a stream socket: finish it, as QEMU does */
	while (want) {
		ssize_t n = writev(fd, iov, 2);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("writev");
			exit(2);
		}
		want -= (size_t)n;
		for (int i = 0; i < 2 && n; i++) {
			size_t k = (size_t)n < iov[i].iov_len ? (size_t)n : iov[i].iov_len;

			iov[i].iov_base = (uint8_t *)iov[i].iov_base + k;
			iov[i].iov_len -= k;
			n -= (ssize_t)k;
		}
	}
}

static int relay(const char *pa, const char *pb)
{
	int la = listen_on(pa), lb = listen_on(pb);
	int a = accept(la, NULL, NULL), b = accept(lb, NULL, NULL);
	static uint8_t buf[1 << 18];
	size_t have = 0;

	for (;;) {
		ssize_t n = read(a, buf + have, sizeof(buf) - have);
		size_t pos = 0;

		if (n <= 0)
			return 0;
		have += (size_t)n;
		while (have - pos >= 4) {
			uint32_t len = (uint32_t)buf[pos] << 24 | (uint32_t)buf[pos + 1] << 16 |
				       (uint32_t)buf[pos + 2] << 8 | buf[pos + 3];

			if (have - pos - 4 < len)
				break;
			send_frame(b, buf + pos + 4, len);
			pos += 4 + len;
		}
		memmove(buf, buf + pos, have - pos);
		have -= pos;
	}
}

static void load(const char *path, size_t want, struct frames *fr)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(path, eb);
	struct pcap_pkthdr *h;
	const u_char *d;
	size_t used = 0, cap = want * 80;

	if (!pc) {
		fprintf(stderr, "%s\n", eb);
		exit(2);
	}
	fr->data = malloc(cap);
	fr->off = malloc(want * sizeof(uint32_t));
	fr->len = malloc(want * sizeof(uint32_t));
	while (fr->n < want && pcap_next_ex(pc, &h, &d) == 1) {
		if (h->caplen < 14 || used + h->caplen > cap)
			continue;
		memcpy(fr->data + used, d, h->caplen);
		memcpy(fr->data + used, mac_b, 6);
		memcpy(fr->data + used + 6, mac_a, 6);
		fr->off[fr->n] = (uint32_t)used;
		fr->len[fr->n++] = h->caplen;
		used += h->caplen;
	}
	pcap_close(pc);
}

struct rx {
	int fd;
	size_t want, got;
	double last_ms;
};

static void *receiver(void *arg)
{
	struct rx *r = arg;
	static uint8_t buf[1 << 18];
	size_t have = 0;
	struct timeval tv = { .tv_sec = 2 };

	setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (r->got < r->want) {
		ssize_t n = read(r->fd, buf + have, sizeof(buf) - have);
		size_t pos = 0;

		if (n <= 0)
			break; /* 2 s of nothing: the rest was lost */
		r->last_ms = now_ms();
		have += (size_t)n;
		while (have - pos >= 4) {
			uint32_t len = (uint32_t)buf[pos] << 24 | (uint32_t)buf[pos + 1] << 16 |
				       (uint32_t)buf[pos + 2] << 8 | buf[pos + 3];

			if (have - pos - 4 < len)
				break;
			r->got++;
			pos += 4 + len;
		}
		memmove(buf, buf + pos, have - pos);
		have -= pos;
	}
	return NULL;
}

static int run(const char *pcap, const char *pa, const char *pb, size_t n)
{
	struct frames fr = { 0 };
	struct rx r = { 0 };
	uint8_t hello[60] = { 0 };
	pthread_t t;
	double t0;
	int a;

	load(pcap, n, &fr);
	r.fd = dial(pb);
	r.want = fr.n;
	memset(hello, 0xff, 6);
	memcpy(hello + 6, mac_b, 6);
	hello[12] = 0x88; /* a local experimental ethertype: nothing to inspect */
	hello[13] = 0xb5;
	send_frame(r.fd, hello, sizeof(hello));
	a = dial(pa);
	usleep(200000);
	pthread_create(&t, NULL, receiver, &r);
	t0 = now_ms();
	for (size_t i = 0; i < fr.n; i++)
		send_frame(a, fr.data + fr.off[i], fr.len[i]);
	pthread_join(t, NULL);
	printf("{\"frames\":%zu,\"received\":%zu,\"seconds\":%.4f,\"pps\":%.0f}\n", fr.n, r.got,
	       (r.last_ms - t0) / 1000, r.got / ((r.last_ms - t0) / 1000));
	close(a);
	close(r.fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "relay"))
		return relay(argv[2], argv[3]);
	if (argc == 6 && !strcmp(argv[1], "run"))
		return run(argv[2], argv[3], argv[4], strtoul(argv[5], NULL, 10));
	fprintf(stderr, "usage: bench_switch relay A B | run PCAP A B N\n");
	return 2;
}
