// SPDX-License-Identifier: MIT
/*
 * Secure channel throughput against its anchor, printed as one JSON object:
 *   secretstream_mb_s  libsodium's crypto_secretstream_xchacha20poly1305 alone, in memory:
 *                      every message pushed and pulled back in one thread (the work both ends
 *                      of a channel do, with no I/O)
 *   channel_mb_s       vg_wire over a TCP connection on loopback, a sender and a receiver
 *                      thread, the same message size (framing, the socket, both ends)
 *   ratio              secretstream_mb_s / channel_mb_s (target: at most 2)
 * Usage: bench_wire [MESSAGE_BYTES [TOTAL_MIB]]; defaults 262144 (the broker's largest reply)
 * and 128. Each figure is the median of 5 runs.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "bench_util.h"
#include "vigil/wire.h"

#define RUNS 5

static size_t msg_len = 256 << 10;
static size_t total = 128u << 20;
static struct vg_wire_keypair skp, ckp;

static int authorize(void *ctx, const uint8_t pk[32])
{
	(void)ctx;
	return memcmp(pk, ckp.pk, 32) ? -1 : 0;
}

static double secretstream_run(void)
{
	crypto_secretstream_xchacha20poly1305_state tx, rx;
	uint8_t key[32], hdr[crypto_secretstream_xchacha20poly1305_HEADERBYTES], tag;
	uint8_t *m = malloc(msg_len), *c = malloc(msg_len + 17), *p = malloc(msg_len);
	unsigned long long clen, plen;
	double t;

	randombytes_buf(m, msg_len);
	crypto_secretstream_xchacha20poly1305_keygen(key);
	crypto_secretstream_xchacha20poly1305_init_push(&tx, hdr, key);
	crypto_secretstream_xchacha20poly1305_init_pull(&rx, hdr, key);
	t = now_ms();
	for (size_t done = 0; done < total; done += msg_len) {
		crypto_secretstream_xchacha20poly1305_push(&tx, c, &clen, m, msg_len, NULL, 0, 0);
		if (crypto_secretstream_xchacha20poly1305_pull(&rx, p, &plen, &tag, c, clen, NULL,
							       0))
			abort();
	}
	t = now_ms() - t;
	free(m);
	free(c);
	free(p);
	return (double)total / (1 << 20) / (t / 1000);
}

struct peer {
	int fd;
	struct vg_wire *w;
};

static void *server_main(void *arg)
{
	struct peer *s = arg;
	struct vg_wire_opts o = { .proto = "bench", .timeout_ms = 30000 };
	struct vg_err err = { 0 };
	const uint8_t *m;
	size_t len, got = 0;

	if (vg_wire_server(&s->w, s->fd, &skp, authorize, NULL, &o, &err))
		abort();
	while (got < total) {
		if (vg_wire_recv(s->w, &m, &len, -1, &err))
			abort();
		got += len;
	}
	/* one byte back: the sender's clock stops when everything has arrived */
	if (vg_wire_send(s->w, "", 0, &err))
		abort();
	return NULL;
}

static double channel_run(void)
{
	struct vg_wire_opts o = { .proto = "bench", .timeout_ms = 30000 };
	struct vg_err err = { 0 };
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	struct peer s = { 0 };
	struct vg_wire *c;
	pthread_t th;
	uint8_t *m = malloc(msg_len);
	const uint8_t *r;
	size_t rlen;
	double t;
	int lfd = vg_wire_listen("127.0.0.1", "0", &err), cfd;
	char port[16];

	if (lfd < 0)
		abort();
	getsockname(lfd, (struct sockaddr *)&a, &al);
	snprintf(port, sizeof(port), "%d", ntohs(a.sin_port));
	cfd = vg_wire_dial("127.0.0.1", port, 5000, &err);
	s.fd = accept(lfd, NULL, NULL);
	close(lfd);
	pthread_create(&th, NULL, server_main, &s);
	if (cfd < 0 || vg_wire_client(&c, cfd, &ckp, skp.pk, &o, &err))
		abort();
	randombytes_buf(m, msg_len);
	t = now_ms();
	for (size_t done = 0; done < total; done += msg_len)
		if (vg_wire_send(c, m, msg_len, &err))
			abort();
	if (vg_wire_recv(c, &r, &rlen, -1, &err))
		abort();
	t = now_ms() - t;
	pthread_join(th, NULL);
	vg_wire_close(c);
	vg_wire_close(s.w);
	free(m);
	return (double)total / (1 << 20) / (t / 1000);
}

int main(int argc, char **argv)
{
	double ss[RUNS], ch[RUNS], mss, mch;

	if (argc > 1)
		msg_len = strtoul(argv[1], NULL, 0);
	if (argc > 2)
		total = strtoul(argv[2], NULL, 0) << 20;
	if (sodium_init() < 0 || !msg_len || msg_len > VG_WIRE_MAX_MSG || total < msg_len)
		return 2;
	total -= total % msg_len;
	vg_wire_keypair_new(&skp);
	vg_wire_keypair_new(&ckp);
	/* interleaved, so a busy moment of the host weighs on both alike */
	for (int i = 0; i < RUNS; i++) {
		ss[i] = secretstream_run();
		ch[i] = channel_run();
	}
	mss = median(ss, RUNS);
	mch = median(ch, RUNS);
	printf("{\"message_bytes\":%zu,\"total_mib\":%zu,\"secretstream_mb_s\":%.1f,"
	       "\"channel_mb_s\":%.1f,\"ratio\":%.3f}\n",
	       msg_len, total >> 20, mss, mch, mss / mch);
	return 0;
}
