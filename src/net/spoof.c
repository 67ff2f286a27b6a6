// SPDX-License-Identifier: MIT
/*
 * ARP and IP source spoofing. The first host seen using an address (in an ARP claim or as a
 * packet's source) owns it for the check's hold time, renewed while it keeps using it: its
 * MAC, and on the switch the port it is plugged into. Another MAC claiming the address in ARP
 * is ARP spoofing (cache poisoning, T1557.002); another port (or, offline, another MAC)
 * sending from it is IP spoofing. A port cannot be forged from inside a guest, so on the
 * switch a guest that also forges its MAC is still caught. Sources that can never be genuine
 * (multicast, loopback, outside HOME_NET) are spoofed by definition.
 */
#include <stdio.h>
#include <string.h>

#include "detect.h"

#define S_US 1000000ll

struct bind {
	uint8_t mac[6];
	int8_t port;
};

int vg_spoof_init(struct vg_spoof *s, uint32_t entries)
{
	return vg_btab_init(&s->bind, entries, sizeof(struct vg_ip), sizeof(struct bind));
}

void vg_spoof_free(struct vg_spoof *s)
{
	vg_btab_free(&s->bind);
}

static void mac_str(const uint8_t *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void owner_hit(struct vg_hit *hit, const struct bind *b, const uint8_t *mac)
{
	char m[24];

	mac_str(b->mac, m, sizeof(m));
	vg_hit_str(hit, "owner_mac", m);
	if (b->port >= 0)
		vg_hit_num(hit, "owner_port_index", b->port);
	mac_str(mac, m, sizeof(m));
	vg_hit_str(hit, "claimed_by_mac", m);
}

bool vg_spoof_arp(struct vg_spoof *s, const struct vg_net_checks *c, const struct vg_pkt *p,
		  int port, int64_t now, struct vg_hit *hit)
{
	static const uint8_t zero[4];
	struct bind *b;
	bool created;
	char ip[64], m[24];

	if (!c->arp_spoof.on || p->anomalies & VG_PA_ARP_BAD)
		return false;
	hit->check = "arp-spoof";
	hit->attack = "T1557.002";
	hit->sev = VG_SEV_HIGH;
	if (p->anomalies & VG_PA_ARP_SHA) {
		mac_str(p->arp_sha, m, sizeof(m));
		snprintf(hit->summary, sizeof(hit->summary),
			 "ARP %s names sender MAC %s for %s, not the frame's own source MAC",
			 p->arp_op == 2 ? "reply" : "request", m,
			 vg_ip_str(&p->arp_spa, ip, sizeof(ip)));
		vg_hit_str(hit, "reason", "sender-mismatch");
		vg_hit_str(hit, "ip", ip);
		return true;
	}
	if (!memcmp(p->arp_spa.b + 12, zero, 4)) /* an address probe claims nothing */
		return false;
	b = vg_btab_get(&s->bind, &p->arp_spa, now, now - (int64_t)c->arp_spoof.hold * S_US, true,
			&created);
	if (created || !memcmp(b->mac, p->arp_sha, 6)) {
		if (created) {
			memcpy(b->mac, p->arp_sha, 6);
			b->port = (int8_t)port;
		}
		return false;
	}
	mac_str(p->arp_sha, m, sizeof(m));
	snprintf(hit->summary, sizeof(hit->summary),
		 "ARP %s claims %s is at %s, but that address belongs to another host",
		 p->arp_op == 2 ? "reply" : "request", vg_ip_str(&p->arp_spa, ip, sizeof(ip)), m);
	vg_hit_str(hit, "reason", "binding-conflict");
	vg_hit_str(hit, "ip", ip);
	owner_hit(hit, b, p->arp_sha);
	return true;
}

/* fe80::/10 and 169.254/16 belong to every link, whatever HOME_NET says */
static bool link_local(const struct vg_ip *a)
{
	if (vg_ip_is4(a))
		return a->b[12] == 169 && a->b[13] == 254;
	return a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80;
}

bool vg_spoof_ip(struct vg_spoof *s, const struct vg_net_checks *c, const struct vg_pkt *p,
		 int port, bool uplink, const struct vg_addrset *home, int64_t now,
		 struct vg_hit *hit)
{
	struct bind *b;
	bool created, other;
	char ip[64];

	if (!c->ip_spoof.on || uplink)
		return false;
	hit->check = "ip-spoof";
	hit->attack = "T1036";
	hit->sev = VG_SEV_HIGH;
	vg_ip_str(&p->src, ip, sizeof(ip));
	vg_hit_str(hit, "ip", ip);
	if (p->anomalies & (VG_PA_SRC_BAD | VG_PA_LAND)) {
		snprintf(hit->summary, sizeof(hit->summary),
			 "a packet claims source %s, which no host can have", ip);
		vg_hit_str(hit, "reason", p->anomalies & VG_PA_LAND ? "land" : "martian");
		return true;
	}
	if (vg_ip_unspecified(&p->src)) /* DHCP and duplicate address detection: no owner */
		return false;
	if (home && !link_local(&p->src) && !vg_addrset_has(home, &p->src)) {
		snprintf(hit->summary, sizeof(hit->summary),
			 "a guest sends from %s, outside HOME_NET", ip);
		vg_hit_str(hit, "reason", "outside-home-net");
		return true;
	}
	b = vg_btab_get(&s->bind, &p->src, now, now - (int64_t)c->arp_spoof.hold * S_US, true,
			&created);
	if (created) {
		memcpy(b->mac, p->src_mac, 6);
		b->port = (int8_t)port;
		return false;
	}
	other = port >= 0 && b->port >= 0 ? b->port != port : memcmp(b->mac, p->src_mac, 6) != 0;
	if (!other) {
		if (b->port < 0)
			b->port = (int8_t)port;
		return false;
	}
	snprintf(hit->summary, sizeof(hit->summary),
		 "packets from %s come from another %s than the host that owns it", ip,
		 port >= 0 ? "switch port" : "MAC");
	vg_hit_str(hit, "reason", "binding-conflict");
	owner_hit(hit, b, p->src_mac);
	return true;
}
