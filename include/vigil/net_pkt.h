/* SPDX-License-Identifier: MIT */
/*
 * One Ethernet frame, decoded (the switch's first stage, DESIGN.md §3 "Switch"): Ethernet with
 * up to two VLAN tags, ARP, IPv4 (options skipped), IPv6 with its extension-header chain, IP
 * fragments, TCP, UDP, ICMP and ICMPv6. Frames come from guests and capture files and are
 * hostile: the decoder reads only inside [frame, frame + len), never loops more than a fixed
 * number of times, always returns, and records what was wrong in `anomalies` instead of
 * guessing. Fields past the first anomaly that stopped the decoding are left zero.
 * Addresses are kept as 16 bytes (IPv4 as ::ffff:a.b.c.d) so every later stage handles both
 * families the same way.
 */
#ifndef VIGIL_NET_PKT_H
#define VIGIL_NET_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vg_ip {
	uint8_t b[16];
};

static inline bool vg_ip_is4(const struct vg_ip *a)
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *p = a->b;

	for (int i = 0; i < 12; i++)
		if (p[i] != pfx[i])
			return false;
	return true;
}

/* 0.0.0.0 or :: (a host with no address yet: DHCP, duplicate address detection) */
static inline bool vg_ip_unspecified(const struct vg_ip *a)
{
	for (int i = 0; i < 16; i++)
		if (a->b[i] && !(vg_ip_is4(a) && i >= 10 && i < 12))
			return false;
	return true;
}

/* Multicast or the IPv4 limited broadcast: many hosts send to and receive it. */
static inline bool vg_ip_group(const struct vg_ip *a)
{
	if (vg_ip_is4(a))
		return a->b[12] >= 224;
	return a->b[0] == 0xff;
}

void vg_ip_from4(struct vg_ip *a, const uint8_t v4[4]);
/* Text form ("10.0.0.1", "fe80::1") into BUF (at least 46 bytes). */
const char *vg_ip_str(const struct vg_ip *a, char *buf, size_t len);
/* Parses an IPv4 or IPv6 address; 0 or -EINVAL. */
int vg_ip_parse(const char *s, struct vg_ip *a);

enum vg_l3 { VG_L3_NONE, VG_L3_ARP, VG_L3_IP4, VG_L3_IP6, VG_L3_OTHER };

/* IANA protocol numbers the later stages care about. */
enum { VG_IPPROTO_ICMP = 1, VG_IPPROTO_TCP = 6, VG_IPPROTO_UDP = 17, VG_IPPROTO_ICMP6 = 58 };

enum {
	VG_TCP_FIN = 1,
	VG_TCP_SYN = 2,
	VG_TCP_RST = 4,
	VG_TCP_PSH = 8,
	VG_TCP_ACK = 16,
	VG_TCP_URG = 32,
	VG_TCP_ECE = 64,
	VG_TCP_CWR = 128
};

/* What was wrong with a frame; each bit has a stable name (vg_pkt_anomaly_name). */
enum vg_pkt_anomaly {
	VG_PA_ETH_TRUNC = 1u << 0,	/* shorter than an Ethernet header */
	VG_PA_VLAN_TRUNC = 1u << 1,	/* a VLAN tag cut short */
	VG_PA_VLAN_DEPTH = 1u << 2,	/* more than two VLAN tags */
	VG_PA_ARP_BAD = 1u << 3,	/* truncated, or not Ethernet/IPv4 ARP */
	VG_PA_ARP_SHA = 1u << 4,	/* ARP sender MAC differs from the frame's source MAC */
	VG_PA_IP_TRUNC = 1u << 5,	/* IP header cut short */
	VG_PA_IP_VERSION = 1u << 6,	/* version field does not match the ethertype */
	VG_PA_IP_HLEN = 1u << 7,	/* IPv4 header length below 20 or beyond the packet */
	VG_PA_IP_LEN = 1u << 8,		/* IP length beyond the frame or below the header */
	VG_PA_IP6_EXT = 1u << 9,	/* extension header cut short or chain too long */
	VG_PA_FRAG_TINY = 1u << 10,	/* first fragment too short to hold the L4 header */
	VG_PA_FRAG_OVERSIZE = 1u << 11, /* fragment reaches past 65535 bytes (ping of death) */
	VG_PA_FRAG_OVERLAP =
		1u << 12,	     /* fragment overlaps an earlier one (set by the frag stage) */
	VG_PA_TCP_TRUNC = 1u << 13,  /* TCP header cut short or data offset invalid */
	VG_PA_TCP_FLAGS = 1u << 14,  /* impossible flag combination (SYN+FIN, null, Xmas) */
	VG_PA_UDP_TRUNC = 1u << 15,  /* UDP header cut short or length invalid */
	VG_PA_ICMP_TRUNC = 1u << 16, /* ICMP header cut short */
	VG_PA_LAND = 1u << 17,	     /* source equals destination (address and port) */
	VG_PA_SRC_BAD = 1u << 18,    /* multicast/broadcast/loopback/unspecified source */
	VG_PA_ETH_SRC_MCAST = 1u << 19, /* multicast source MAC */
};
#define VG_PA_COUNT 20

/* Stable id of anomaly bit BIT ("ip-hlen"), NULL for unknown bits. */
const char *vg_pkt_anomaly_name(uint32_t bit);

struct vg_pkt {
	const uint8_t *frame;
	uint32_t len;
	uint8_t dst_mac[6], src_mac[6];
	uint16_t ethertype; /* after the VLAN tags */
	uint16_t vlan;	    /* outermost VLAN id, 0 when untagged */
	uint8_t nvlan;
	uint8_t l3;	 /* enum vg_l3 */
	uint32_t l3_off; /* start of the ARP or IP header */
	uint32_t l3_len; /* the IP datagram's length as sent, bounded by the frame */

	/* ARP (l3 == VG_L3_ARP) */
	uint16_t arp_op;
	uint8_t arp_sha[6], arp_tha[6];
	struct vg_ip arp_spa, arp_tpa;

	/* IP */
	struct vg_ip src, dst;
	uint8_t ttl;
	uint8_t proto; /* L4 protocol after IPv6 extension headers */
	bool frag;     /* part of a fragmented datagram */
	bool more_frags;
	uint16_t frag_off; /* in bytes */
	uint32_t frag_id;

	/* L4: valid when l4 is true (a whole header inside the first fragment or whole packet) */
	bool l4;
	uint32_t l4_off;
	uint16_t sport, dport; /* ICMP: 0 */
	uint8_t tcp_flags;
	uint32_t seq, ack;
	uint8_t icmp_type, icmp_code;
	const uint8_t *payload;
	uint32_t plen;

	uint32_t anomalies; /* enum vg_pkt_anomaly bits */
};

/* Decodes FRAME (LEN bytes) into P. Always returns; P->anomalies says what was wrong. */
void vg_net_decode(const uint8_t *frame, uint32_t len, struct vg_pkt *p);

#endif
