// SPDX-License-Identifier: MIT
/*
 * Scan detection. A source's connection attempts are counted per (source, protocol,
 * destination port) for horizontal scans (distinct hosts) and per (source, destination) for
 * vertical scans (distinct ports), in fixed windows of the check's seconds. Each window alerts
 * at most once, when the count reaches the check's threshold. ICMP echo requests count as
 * attempts on "port 0", so a ping sweep is a horizontal scan.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "detect.h"

#define S_US 1000000ll

struct hkey {
	struct vg_ip src;
	uint16_t port;
	uint8_t proto, zero;
};
struct vkey {
	struct vg_ip src, dst;
};
struct sval {
	int64_t start;
	uint32_t nsample;
	bool alerted;
	uint64_t bits[SKETCH_BITS / 64];
	union {
		uint16_t ports[HIT_MAX_LIST];
		struct vg_ip ips[HIT_MAX_LIST];
	} sample;
};

void vg_sketch_add(uint64_t *bits, uint64_t h)
{
	uint32_t b = (uint32_t)(h % SKETCH_BITS);

	bits[b / 64] |= 1ull << (b % 64);
}

uint32_t vg_sketch_count(const uint64_t *bits)
{
	uint32_t set = 0;

	for (int i = 0; i < SKETCH_BITS / 64; i++)
		set += (uint32_t)__builtin_popcountll(bits[i]);
	if (set >= SKETCH_BITS)
		return SKETCH_BITS * 8; /* saturated: "very many" */
	/* linear counting: n = -m ln(zero bits / m) */
	return (uint32_t)lround(-(double)SKETCH_BITS *
				log((double)(SKETCH_BITS - set) / SKETCH_BITS));
}

void vg_hit_num(struct vg_hit *h, const char *k, int64_t v)
{
	if (h->nnum < HIT_MAX_NUM) {
		h->num[h->nnum].k = k;
		h->num[h->nnum++].v = v;
	}
}

void vg_hit_str(struct vg_hit *h, const char *k, const char *v)
{
	if (h->nstr < 4) {
		h->str[h->nstr].k = k;
		snprintf(h->str[h->nstr++].v, sizeof(h->str[0].v), "%s", v);
	}
}

int vg_scan_init(struct vg_scan *s, uint32_t entries)
{
	int ret = vg_btab_init(&s->h, entries, sizeof(struct hkey), sizeof(struct sval));

	if (!ret && (ret = vg_btab_init(&s->v, entries, sizeof(struct vkey), sizeof(struct sval))))
		vg_btab_free(&s->h);
	return ret;
}

void vg_scan_free(struct vg_scan *s)
{
	vg_btab_free(&s->h);
	vg_btab_free(&s->v);
}

/* Starts a new window when the last one is over. */
static void window(struct sval *v, uint32_t secs, int64_t now)
{
	if (!v->start || now - v->start > (int64_t)secs * S_US) {
		memset(v, 0, sizeof(*v));
		v->start = now;
	}
}

/* Counts one target; true when this completes the threshold. */
static bool count(struct sval *v, uint64_t h, uint32_t thresh, uint32_t *n)
{
	vg_sketch_add(v->bits, h);
	*n = vg_sketch_count(v->bits);
	if (v->alerted || *n < thresh)
		return false;
	v->alerted = true;
	return true;
}

static const char *proto_name(uint8_t p)
{
	return p == VG_IPPROTO_TCP ? "tcp" : p == VG_IPPROTO_UDP ? "udp" : "icmp";
}

static bool horizontal(struct vg_scan *s, const struct vg_net_checks *c, const struct vg_pkt *p,
		       uint16_t port, int64_t now, struct vg_hit *hit)
{
	struct hkey k = { .src = p->src, .port = port, .proto = p->proto };
	struct sval *v =
		vg_btab_get(&s->h, &k, now, now - (int64_t)c->hscan.seconds * S_US, true, NULL);
	bool dup = false;
	char ip[64];
	uint32_t n;

	window(v, c->hscan.seconds, now);
	for (uint32_t i = 0; i < v->nsample && !dup; i++)
		dup = !memcmp(&v->sample.ips[i], &p->dst, sizeof(p->dst));
	if (!dup && v->nsample < HIT_MAX_LIST)
		v->sample.ips[v->nsample++] = p->dst;
	if (!count(v, vg_net_hash(&p->dst, sizeof(p->dst), s->h.seed), c->hscan.count, &n))
		return false;
	hit->check = "horizontal-scan";
	hit->attack = p->proto == VG_IPPROTO_TCP || p->proto == VG_IPPROTO_UDP ? "T1046" : "T1018";
	hit->sev = VG_SEV_MEDIUM;
	if (port)
		snprintf(hit->summary, sizeof(hit->summary),
			 "%s probed %s port %u on %u hosts within %u s (horizontal scan)",
			 vg_ip_str(&p->src, ip, sizeof(ip)), proto_name(p->proto), port, n,
			 c->hscan.seconds);
	else
		snprintf(hit->summary, sizeof(hit->summary),
			 "%s pinged %u hosts within %u s (ping sweep)",
			 vg_ip_str(&p->src, ip, sizeof(ip)), n, c->hscan.seconds);
	vg_hit_num(hit, "hosts", n);
	vg_hit_num(hit, "port", port);
	vg_hit_num(hit, "seconds", c->hscan.seconds);
	hit->list_key = "sample_hosts";
	hit->list_ips = true;
	hit->nlist = v->nsample;
	memcpy(hit->ips, v->sample.ips, sizeof(hit->ips));
	hit->block = true;
	return true;
}

static bool vertical(struct vg_scan *s, const struct vg_net_checks *c, const struct vg_pkt *p,
		     int64_t now, struct vg_hit *hit)
{
	struct vkey k = { .src = p->src, .dst = p->dst };
	struct sval *v =
		vg_btab_get(&s->v, &k, now, now - (int64_t)c->vscan.seconds * S_US, true, NULL);
	char ip[64], ip2[64];
	bool dup = false;
	uint32_t n;

	window(v, c->vscan.seconds, now);
	for (uint32_t i = 0; i < v->nsample && !dup; i++)
		dup = v->sample.ports[i] == p->dport;
	if (!dup && v->nsample < HIT_MAX_LIST)
		v->sample.ports[v->nsample++] = p->dport;
	if (!count(v, vg_net_hash(&p->dport, sizeof(p->dport), s->v.seed), c->vscan.count, &n))
		return false;
	hit->check = "vertical-scan";
	hit->attack = "T1046";
	hit->sev = VG_SEV_MEDIUM;
	snprintf(hit->summary, sizeof(hit->summary),
		 "%s probed %u %s ports on %s within %u s (port scan)",
		 vg_ip_str(&p->src, ip, sizeof(ip)), n, proto_name(p->proto),
		 vg_ip_str(&p->dst, ip2, sizeof(ip2)), c->vscan.seconds);
	vg_hit_num(hit, "ports", n);
	vg_hit_num(hit, "seconds", c->vscan.seconds);
	hit->list_key = "sample_ports";
	hit->nlist = v->nsample;
	memcpy(hit->ports, v->sample.ports, sizeof(hit->ports));
	hit->block = true;
	return true;
}

int vg_scan_attempt(struct vg_scan *s, const struct vg_net_checks *c, const struct vg_pkt *p,
		    int64_t now, struct vg_hit hits[2])
{
	bool icmp_echo = (p->proto == VG_IPPROTO_ICMP && p->icmp_type == 8) ||
			 (p->proto == VG_IPPROTO_ICMP6 && p->icmp_type == 128);
	bool ports = p->proto == VG_IPPROTO_TCP || p->proto == VG_IPPROTO_UDP;
	int n = 0;

	if (!p->l4 || (!ports && !icmp_echo))
		return 0;
	if (c->vscan.on && ports && vertical(s, c, p, now, &hits[n]))
		n++;
	if (c->hscan.on && horizontal(s, c, p, ports ? p->dport : 0, now, &hits[n]))
		n++;
	return n;
}
