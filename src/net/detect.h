/* SPDX-License-Identifier: MIT */
/*
 * vigil's behaviour checks (the "check" lines of a rule file): scans, brute force, ARP and IP
 * spoofing, new listeners. Each keeps its state in bounded tables (btab.h) and reports a hit
 * as plain values; the engine turns a hit into an alert with the flow's evidence. Distinct
 * targets are counted with a 2048-bit linear-counting sketch per tracked source: exact for
 * small counts, within a few percent up to a few thousand, and a fixed 256 bytes however many
 * targets a scan touches.
 */
#ifndef VIGIL_NET_DETECT_H
#define VIGIL_NET_DETECT_H

#include <stdbool.h>
#include <stdint.h>

#include "btab.h"
#include "vigil/alert.h"
#include "vigil/net_pkt.h"
#include "vigil/net_rules.h"

#define HIT_MAX_NUM 4
#define HIT_MAX_LIST 8

struct vg_hit {
	const char *check, *attack;
	enum vg_severity sev;
	char summary[256];
	struct {
		const char *k;
		int64_t v;
	} num[HIT_MAX_NUM];
	int nnum;
	struct {
		const char *k;
		char v[48];
	} str[4];
	int nstr;
	const char *list_key; /* sample targets: ports, or addresses when list_ips */
	bool list_ips;
	uint32_t nlist;
	uint16_t ports[HIT_MAX_LIST];
	struct vg_ip ips[HIT_MAX_LIST];
	bool block; /* IPS: block the packet's source address */
};

void vg_hit_num(struct vg_hit *h, const char *k, int64_t v);
void vg_hit_str(struct vg_hit *h, const char *k, const char *v);

/* Horizontal (one port, many hosts) and vertical (one host, many ports) scans. */
struct vg_scan {
	struct vg_btab h, v;
};
int vg_scan_init(struct vg_scan *s, uint32_t entries);
/* A connection attempt began (a new flow's first packet from its initiator); fills up to two
 * hits (vertical, horizontal) and returns how many. */
int vg_scan_attempt(struct vg_scan *s, const struct vg_net_checks *c, const struct vg_pkt *p,
		    int64_t now_us, struct vg_hit hits[2]);
void vg_scan_free(struct vg_scan *s);

/* Telnet/SSH brute force and credential spraying: login sessions per source. */
struct vg_brute {
	struct vg_btab t;
};
int vg_brute_init(struct vg_brute *b, uint32_t entries);
/* A login session was established from SRC to DST:PORT (APP: nDPI's name or NULL). */
bool vg_brute_session(struct vg_brute *b, const struct vg_net_checks *c, const struct vg_ip *src,
		      const struct vg_ip *dst, uint16_t port, int64_t now_us, struct vg_hit *hit);
void vg_brute_free(struct vg_brute *b);

/* Address ownership: which MAC (and switch port) an IP address belongs to. */
struct vg_spoof {
	struct vg_btab bind;
};
int vg_spoof_init(struct vg_spoof *s, uint32_t entries);
/* An ARP frame from switch port PORT (-1 offline). */
bool vg_spoof_arp(struct vg_spoof *s, const struct vg_net_checks *c, const struct vg_pkt *p,
		  int port, int64_t now_us, struct vg_hit *hit);
/* The first packet of a new flow from PORT; HOME limits where guests' sources may lie (NULL:
 * anywhere); UPLINK ports carry routed traffic and are not checked. */
bool vg_spoof_ip(struct vg_spoof *s, const struct vg_net_checks *c, const struct vg_pkt *p,
		 int port, bool uplink, const struct vg_addrset *home, int64_t now_us,
		 struct vg_hit *hit);
void vg_spoof_free(struct vg_spoof *s);

/* Services that answer: learned for a while, then a new one alerts. */
struct vg_listen {
	struct vg_btab t;
	int64_t start_us; /* first packet: the learning period runs from here */
};
int vg_listen_init(struct vg_listen *l, uint32_t entries);
/* HOST answered on PORT (PROTO) to CLIENT. */
bool vg_listen_answer(struct vg_listen *l, const struct vg_net_checks *c, const struct vg_ip *host,
		      uint16_t port, uint8_t proto, const struct vg_ip *client, int64_t now_us,
		      struct vg_hit *hit);
void vg_listen_free(struct vg_listen *l);

/* Sketch helpers shared by scan and brute. */
#define SKETCH_BITS 2048
void vg_sketch_add(uint64_t *bits, uint64_t h);
uint32_t vg_sketch_count(const uint64_t *bits);

#endif
