/* SPDX-License-Identifier: MIT */
/*
 * Frame builders for the net unit tests: Ethernet + IPv4/IPv6 + TCP/UDP/ICMP and ARP, written
 * byte by byte the way a guest's kernel sends them. A host's MAC is 52:54:00:00:00:NN with NN
 * the last byte of its address, so tests can forge either independently.
 */
#ifndef VIGIL_TEST_NET_FRAMES_H
#define VIGIL_TEST_NET_FRAMES_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

struct tf {
	uint8_t b[2048];
	uint32_t n;
};

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static inline void mac_of(uint8_t *m, uint8_t last)
{
	static const uint8_t base[6] = { 0x52, 0x54, 0, 0, 0, 0 };

	memcpy(m, base, 6);
	m[5] = last;
}

static inline uint32_t tf_eth(struct tf *f, uint8_t dst_last, uint8_t src_last, uint16_t type)
{
	mac_of(f->b, dst_last);
	mac_of(f->b + 6, src_last);
	put16(f->b + 12, type);
	return 14;
}

/* IPv4 header at OFF with total length TOTAL; returns its length (20). */
static inline uint32_t tf_ip4(struct tf *f, uint32_t off, const char *src, const char *dst,
			      uint8_t proto, uint16_t total, uint16_t id, uint16_t frag)
{
	uint8_t *h = f->b + off;

	memset(h, 0, 20);
	h[0] = 0x45;
	put16(h + 2, total);
	put16(h + 4, id);
	put16(h + 6, frag);
	h[8] = 64;
	h[9] = proto;
	inet_pton(AF_INET, src, h + 12);
	inet_pton(AF_INET, dst, h + 16);
	return 20;
}

static inline uint8_t last_byte4(const char *ip)
{
	uint8_t a[4];

	inet_pton(AF_INET, ip, a);
	return a[3];
}

static inline uint32_t tf_tcp(struct tf *f, const char *src, const char *dst, uint16_t sp,
			      uint16_t dp, uint8_t flags, const char *payload)
{
	uint32_t plen = payload ? (uint32_t)strlen(payload) : 0;
	uint32_t off = tf_eth(f, last_byte4(dst), last_byte4(src), 0x0800);
	uint8_t *t;

	off += tf_ip4(f, off, src, dst, 6, (uint16_t)(40 + plen), 1, 0x4000);
	t = f->b + off;
	memset(t, 0, 20);
	put16(t, sp);
	put16(t + 2, dp);
	put32(t + 4, 1000);
	put32(t + 8, flags & 0x10 ? 2000 : 0);
	t[12] = 5 << 4;
	t[13] = flags;
	put16(t + 14, 65535);
	memcpy(t + 20, payload ? payload : "", plen);
	f->n = off + 20 + plen;
	if (f->n < 60) { /* Ethernet pads to the minimum frame */
		memset(f->b + f->n, 0, 60 - f->n);
		f->n = 60;
	}
	return f->n;
}

static inline uint32_t tf_udp(struct tf *f, const char *src, const char *dst, uint16_t sp,
			      uint16_t dp, const uint8_t *payload, uint32_t plen)
{
	uint32_t off = tf_eth(f, last_byte4(dst), last_byte4(src), 0x0800);
	uint8_t *u;

	off += tf_ip4(f, off, src, dst, 17, (uint16_t)(28 + plen), 2, 0);
	u = f->b + off;
	put16(u, sp);
	put16(u + 2, dp);
	put16(u + 4, (uint16_t)(8 + plen));
	put16(u + 6, 0);
	memcpy(u + 8, payload, plen);
	f->n = off + 8 + plen;
	if (f->n < 60) {
		memset(f->b + f->n, 0, 60 - f->n);
		f->n = 60;
	}
	return f->n;
}

static inline uint32_t tf_icmp_echo(struct tf *f, const char *src, const char *dst)
{
	uint32_t off = tf_eth(f, last_byte4(dst), last_byte4(src), 0x0800);
	uint8_t *c;

	off += tf_ip4(f, off, src, dst, 1, 28, 3, 0);
	c = f->b + off;
	memset(c, 0, 8);
	c[0] = 8;
	f->n = off + 8;
	memset(f->b + f->n, 0, 60 - f->n);
	f->n = 60;
	return f->n;
}

/* ARP OP (1 request, 2 reply) sent from MAC ..:FROM claiming SPA is at ..:SHA. */
static inline uint32_t tf_arp(struct tf *f, uint16_t op, uint8_t from, uint8_t sha, const char *spa,
			      const char *tpa)
{
	uint32_t off = tf_eth(f, 0xff, from, 0x0806);
	uint8_t *a = f->b + off;

	memset(f->b, 0xff, 6);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	mac_of(a + 8, sha);
	inet_pton(AF_INET, spa, a + 14);
	memset(a + 18, 0, 6);
	inet_pton(AF_INET, tpa, a + 24);
	f->n = 60;
	memset(f->b + off + 28, 0, f->n - off - 28);
	return f->n;
}

#endif
