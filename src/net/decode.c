// SPDX-License-Identifier: MIT
/*
 * Frame decoder: Ethernet, VLAN, ARP, IPv4, IPv6 (+ extension headers), fragments, TCP, UDP,
 * ICMP(v6). Every read is checked against the end of the frame (or of the IP datagram); the
 * only loops are the VLAN tags (at most two) and the IPv6 header chain (at most
 * MAX_EXT_HEADERS), so a frame costs a bounded, small amount of work whatever it holds.
 */
#include <string.h>

#include "vigil/net_pkt.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define ETH_P_QINQ1 0x9100
#define MAX_VLAN 2
#define MAX_EXT_HEADERS 8

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const char *const anomaly_names[VG_PA_COUNT] = {
	"eth-truncated",       "vlan-truncated", "vlan-depth",	      "arp-malformed",
	"arp-sender-mismatch", "ip-truncated",	 "ip-version",	      "ip-header-length",
	"ip-length",	       "ip6-ext-header", "frag-tiny",	      "frag-oversize",
	"frag-overlap",	       "tcp-truncated",	 "tcp-flags",	      "udp-truncated",
	"icmp-truncated",      "land",		 "ip-source-invalid", "eth-source-multicast",
};

const char *vg_pkt_anomaly_name(uint32_t bit)
{
	for (int i = 0; i < VG_PA_COUNT; i++)
		if (bit == 1u << i)
			return anomaly_names[i];
	return NULL;
}

static void decode_arp(const uint8_t *f, uint32_t off, uint32_t len, struct vg_pkt *p)
{
	const uint8_t *a = f + off;

	p->l3 = VG_L3_ARP;
	p->l3_off = off;
	if (len - off < 28 || be16(a) != 1 || be16(a + 2) != ETH_P_IP || a[4] != 6 || a[5] != 4) {
		p->anomalies |= VG_PA_ARP_BAD;
		return;
	}
	p->l3_len = 28;
	p->arp_op = be16(a + 6);
	memcpy(p->arp_sha, a + 8, 6);
	vg_ip_from4(&p->arp_spa, a + 14);
	memcpy(p->arp_tha, a + 18, 6);
	vg_ip_from4(&p->arp_tpa, a + 24);
	if (memcmp(p->arp_sha, p->src_mac, 6))
		p->anomalies |= VG_PA_ARP_SHA;
}

static bool tcp_flags_impossible(uint8_t fl)
{
	if ((fl & (VG_TCP_SYN | VG_TCP_FIN)) == (VG_TCP_SYN | VG_TCP_FIN) ||
	    (fl & (VG_TCP_SYN | VG_TCP_RST)) == (VG_TCP_SYN | VG_TCP_RST))
		return true;
	if (!(fl & (VG_TCP_SYN | VG_TCP_ACK | VG_TCP_RST | VG_TCP_FIN | VG_TCP_PSH | VG_TCP_URG)))
		return true; /* null scan */
	/* Xmas: FIN, PSH and URG without ACK */
	return (fl & (VG_TCP_FIN | VG_TCP_PSH | VG_TCP_URG | VG_TCP_ACK)) ==
	       (VG_TCP_FIN | VG_TCP_PSH | VG_TCP_URG);
}

/* The transport header at OFF, inside a datagram ending at END. Only called for the first (or
 * only) fragment: later fragments carry no header. */
static void decode_l4(const uint8_t *f, uint32_t off, uint32_t end, struct vg_pkt *p)
{
	const uint8_t *h = f + off;
	uint32_t room = end > off ? end - off : 0;
	uint32_t trunc = 0, hl;

	p->l4_off = off;
	switch (p->proto) {
	case VG_IPPROTO_TCP:
		if (room < 20 || (hl = (h[12] >> 4) * 4u) < 20 || hl > room) {
			trunc = VG_PA_TCP_TRUNC;
			break;
		}
		p->sport = be16(h);
		p->dport = be16(h + 2);
		p->seq = be32(h + 4);
		p->ack = be32(h + 8);
		p->tcp_flags = h[13];
		if (tcp_flags_impossible(p->tcp_flags))
			p->anomalies |= VG_PA_TCP_FLAGS;
		p->payload = h + hl;
		p->plen = room - hl;
		p->l4 = true;
		break;
	case VG_IPPROTO_UDP:
		if (room < 8) {
			trunc = VG_PA_UDP_TRUNC;
			break;
		}
		p->sport = be16(h);
		p->dport = be16(h + 2);
		hl = be16(h + 4);
		p->payload = h + 8;
		p->plen = room - 8;
		if (!p->frag) {
			if (hl < 8 || hl > room)
				p->anomalies |= VG_PA_UDP_TRUNC;
			else
				p->plen = hl - 8;
		}
		p->l4 = true;
		break;
	case VG_IPPROTO_ICMP:
	case VG_IPPROTO_ICMP6:
		if (room < 4) {
			trunc = VG_PA_ICMP_TRUNC;
			break;
		}
		p->icmp_type = h[0];
		p->icmp_code = h[1];
		hl = room >= 8 ? 8 : 4;
		p->payload = h + hl;
		p->plen = room - hl;
		p->l4 = true;
		break;
	default:
		p->payload = h;
		p->plen = room;
		return;
	}
	/* a header split across fragments is an evasion (RFC 1858), not a short packet */
	if (trunc)
		p->anomalies |= p->frag ? VG_PA_FRAG_TINY : trunc;
}

/* A later fragment carries data only: no transport header to decode. */
static void frag_data(const uint8_t *f, uint32_t off, uint32_t end, struct vg_pkt *p)
{
	p->l4_off = off;
	p->payload = f + off;
	p->plen = end - off;
}

static bool ip4_src_bad(const uint8_t *s, const struct vg_pkt *p)
{
	if (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0)
		return p->proto != VG_IPPROTO_UDP; /* DHCP asks from 0.0.0.0 (checked below) */
	return s[0] >= 224 || s[0] == 127;
}

static void decode_ip4(const uint8_t *f, uint32_t off, uint32_t len, struct vg_pkt *p)
{
	const uint8_t *h = f + off;
	uint32_t room = len - off, hl, tl;
	uint16_t fo;

	p->l3 = VG_L3_IP4;
	p->l3_off = off;
	if (room < 20) {
		p->anomalies |= VG_PA_IP_TRUNC;
		return;
	}
	if (h[0] >> 4 != 4) {
		p->anomalies |= VG_PA_IP_VERSION;
		return;
	}
	hl = (h[0] & 15) * 4u;
	tl = be16(h + 2);
	if (hl < 20 || hl > room) {
		p->anomalies |= VG_PA_IP_HLEN;
		return;
	}
	if (tl < hl) {
		p->anomalies |= VG_PA_IP_LEN;
		return;
	}
	if (tl > room) {
		p->anomalies |= VG_PA_IP_LEN;
		tl = room;
	}
	p->l3_len = tl; /* Ethernet pads short frames: the IP length says where data ends */
	p->ttl = h[8];
	p->proto = h[9];
	vg_ip_from4(&p->src, h + 12);
	vg_ip_from4(&p->dst, h + 16);
	fo = be16(h + 6);
	p->frag_id = be16(h + 4);
	p->more_frags = fo & 0x2000;
	p->frag_off = (uint16_t)((fo & 0x1fff) * 8);
	p->frag = p->more_frags || p->frag_off;
	if (p->frag && (uint32_t)p->frag_off + (tl - hl) > 65535)
		p->anomalies |= VG_PA_FRAG_OVERSIZE;
	if (ip4_src_bad(h + 12, p))
		p->anomalies |= VG_PA_SRC_BAD;
	if (!p->frag_off)
		decode_l4(f, off + hl, off + tl, p);
	else
		frag_data(f, off + hl, off + tl, p);
	if (p->l4 && p->proto == VG_IPPROTO_UDP && !memcmp(h + 12, "\0\0\0\0", 4) &&
	    !(p->sport == 68 && p->dport == 67))
		p->anomalies |= VG_PA_SRC_BAD;
}

static bool ip6_ext(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60 || nh == 135 || nh == 139 ||
	       nh == 140;
}

static void decode_ip6(const uint8_t *f, uint32_t off, uint32_t len, struct vg_pkt *p)
{
	const uint8_t *h = f + off;
	uint32_t room = len - off, end, pos;
	uint8_t nh;
	int n = 0;

	p->l3 = VG_L3_IP6;
	p->l3_off = off;
	if (room < 40) {
		p->anomalies |= VG_PA_IP_TRUNC;
		return;
	}
	if (h[0] >> 4 != 6) {
		p->anomalies |= VG_PA_IP_VERSION;
		return;
	}
	end = 40u + be16(h + 4);
	if (end > room) {
		p->anomalies |= VG_PA_IP_LEN;
		end = room;
	}
	p->l3_len = end;
	end += off;
	p->ttl = h[7];
	memcpy(p->src.b, h + 8, 16);
	memcpy(p->dst.b, h + 24, 16);
	nh = h[6];
	pos = off + 40;
	while (ip6_ext(nh)) {
		const uint8_t *e = f + pos;
		uint32_t el;

		if (++n > MAX_EXT_HEADERS || end - pos < 8) {
			p->anomalies |= VG_PA_IP6_EXT;
			p->proto = nh;
			return;
		}
		if (nh == 44) {
			uint16_t fo = be16(e + 2);

			p->frag = true;
			p->frag_off = fo & 0xfff8;
			p->more_frags = fo & 1;
			p->frag_id = be32(e + 4);
			el = 8;
			if ((uint32_t)p->frag_off + (end - pos - 8) > 65535)
				p->anomalies |= VG_PA_FRAG_OVERSIZE;
		} else {
			el = nh == 51 ? (e[1] + 2u) * 4 : (e[1] + 1u) * 8;
		}
		if (el > end - pos) {
			p->anomalies |= VG_PA_IP6_EXT;
			p->proto = nh;
			return;
		}
		nh = e[0];
		pos += el;
		if (p->frag_off) /* later fragments: what follows is data, not headers */
			break;
	}
	p->proto = nh;
	if (h[8] == 0xff || (!memcmp(p->src.b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16)))
		p->anomalies |= VG_PA_SRC_BAD;
	if (!p->frag_off)
		decode_l4(f, pos, end, p);
	else
		frag_data(f, pos, end, p);
}

static void check_land(struct vg_pkt *p)
{
	if (memcmp(p->src.b, p->dst.b, 16))
		return;
	if (!p->l4 || p->sport == p->dport) {
		static const struct vg_ip zero6;

		/* the IPv6 unspecified address talks to itself in duplicate address detection */
		if (memcmp(p->src.b, zero6.b, 16))
			p->anomalies |= VG_PA_LAND;
	}
}

void vg_net_decode(const uint8_t *f, uint32_t len, struct vg_pkt *p)
{
	uint32_t off = ETH_HLEN;
	uint16_t type;

	memset(p, 0, sizeof(*p));
	p->frame = f;
	p->len = len;
	if (len < ETH_HLEN) {
		p->anomalies = VG_PA_ETH_TRUNC;
		return;
	}
	memcpy(p->dst_mac, f, 6);
	memcpy(p->src_mac, f + 6, 6);
	if (f[6] & 1)
		p->anomalies |= VG_PA_ETH_SRC_MCAST;
	type = be16(f + 12);
	while (type == ETH_P_8021Q || type == ETH_P_8021AD || type == ETH_P_QINQ1) {
		if (p->nvlan == MAX_VLAN) {
			p->anomalies |= VG_PA_VLAN_DEPTH;
			p->ethertype = type;
			p->l3 = VG_L3_OTHER;
			return;
		}
		if (len - off < 4) {
			p->anomalies |= VG_PA_VLAN_TRUNC;
			return;
		}
		if (!p->nvlan)
			p->vlan = be16(f + off) & 0xfff;
		p->nvlan++;
		type = be16(f + off + 2);
		off += 4;
	}
	p->ethertype = type;
	switch (type) {
	case ETH_P_ARP:
		decode_arp(f, off, len, p);
		return;
	case ETH_P_IP:
		decode_ip4(f, off, len, p);
		break;
	case ETH_P_IPV6:
		decode_ip6(f, off, len, p);
		break;
	default:
		p->l3 = VG_L3_OTHER;
		p->l3_off = off;
		return;
	}
	check_land(p);
}
