// SPDX-License-Identifier: MIT
/* Which of a guest's sockets owns a flow (vg_flow_owner in vigil/net_correlate.h). */
#include <string.h>

#include "vigil/net_correlate.h"

#define TCP_LISTEN 10
#define UDP_UNCONNECTED 7

static bool ip_eq(const struct vg_ip *a, const struct vg_ip *b)
{
	return !memcmp(a->b, b->b, 16);
}

static bool ours(const struct vg_guest_socks *s, const struct vg_ip *a)
{
	for (int i = 0; i < s->naddrs; i++)
		if (ip_eq(&s->addrs[i], a))
			return true;
	return false;
}

static bool proto_fits(const struct vg_guest_sock *g, uint8_t proto)
{
	if (g->kind != VG_GS_INET)
		return false;
	if (g->proto)
		return g->proto == proto;
	/* a kernel without sk_protocol in BTF: the socket type says it */
	return (proto == VG_IPPROTO_TCP && g->type == 1) ||
	       (proto == VG_IPPROTO_UDP && g->type == 2);
}

/* The socket's local end is (A, AP) and its remote end (B, BP). */
static bool connected_as(const struct vg_guest_sock *g, const struct vg_ip *a, uint16_t ap,
			 const struct vg_ip *b, uint16_t bp)
{
	return g->lport == ap && g->rport == bp && ip_eq(&g->laddr, a) && ip_eq(&g->raddr, b);
}

static bool listens_on(const struct vg_guest_sock *g, const struct vg_ip *a, uint16_t port)
{
	bool waiting =
		g->proto == VG_IPPROTO_UDP || g->type == 2 ? g->rport == 0 : g->state == TCP_LISTEN;

	return waiting && g->lport == port && (vg_ip_unspecified(&g->laddr) || ip_eq(&g->laddr, a));
}

enum vg_owner_how vg_flow_owner(const struct vg_guest_socks *s, const struct vg_flow_tuple *t,
				const struct vg_guest_sock **sock)
{
	bool src_ours = ours(s, &t->src), dst_ours = ours(s, &t->dst);
	bool ports = t->proto == VG_IPPROTO_TCP || t->proto == VG_IPPROTO_UDP;

	*sock = NULL;
	for (size_t i = 0; ports && i < s->n; i++) {
		const struct vg_guest_sock *g = &s->v[i];

		if (proto_fits(g, t->proto) &&
		    (connected_as(g, &t->src, t->sport, &t->dst, t->dport) ||
		     connected_as(g, &t->dst, t->dport, &t->src, t->sport))) {
			*sock = g;
			return VG_OWN_CONNECTED;
		}
	}
	if (!src_ours && !dst_ours)
		return VG_OWN_FOREIGN;
	for (size_t i = 0; ports && i < s->n; i++) {
		const struct vg_guest_sock *g = &s->v[i];

		if (proto_fits(g, t->proto) && ((dst_ours && listens_on(g, &t->dst, t->dport)) ||
						(src_ours && listens_on(g, &t->src, t->sport)))) {
			*sock = g;
			return VG_OWN_LISTENING;
		}
	}
	/* the guest sent it, yet no socket has its ends: crafted by a raw or packet socket */
	for (size_t i = 0; src_ours && i < s->n; i++)
		if (s->v[i].kind == VG_GS_RAW || s->v[i].kind == VG_GS_PACKET) {
			*sock = &s->v[i];
			return VG_OWN_RAW;
		}
	return VG_OWN_NONE;
}
