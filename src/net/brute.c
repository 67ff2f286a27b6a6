// SPDX-License-Identifier: MIT
/*
 * Brute force and credential spraying. A login session is a TCP connection to one of the
 * check's ports (or one nDPI names SSH or Telnet) that completed its handshake: every password
 * guess needs one, while a scan's probes do not get that far. Sessions per source are counted
 * in fixed windows with the distinct hosts they went to, so the alert tells a single target
 * being hammered from Mirai-style spraying across many hosts.
 */
#include <stdio.h>
#include <string.h>

#include "detect.h"

#define S_US 1000000ll

struct bval {
	int64_t start;
	uint32_t sessions, nsample;
	bool alerted;
	uint16_t port;
	uint64_t bits[SKETCH_BITS / 64];
	struct vg_ip sample[HIT_MAX_LIST];
};

int vg_brute_init(struct vg_brute *b, uint32_t entries)
{
	return vg_btab_init(&b->t, entries, sizeof(struct vg_ip), sizeof(struct bval));
}

void vg_brute_free(struct vg_brute *b)
{
	vg_btab_free(&b->t);
}

bool vg_brute_session(struct vg_brute *b, const struct vg_net_checks *c, const struct vg_ip *src,
		      const struct vg_ip *dst, uint16_t port, int64_t now, struct vg_hit *hit)
{
	int64_t win = (int64_t)c->brute.seconds * S_US;
	struct bval *v = vg_btab_get(&b->t, src, now, now - win, true, NULL);
	char ip[64], ip2[64];
	uint32_t hosts;
	bool dup = false;

	if (!v->start || now - v->start > win) {
		memset(v, 0, sizeof(*v));
		v->start = now;
	}
	v->sessions++;
	v->port = port;
	vg_sketch_add(v->bits, vg_net_hash(dst, sizeof(*dst), b->t.seed));
	for (uint32_t i = 0; i < v->nsample && !dup; i++)
		dup = !memcmp(&v->sample[i], dst, sizeof(*dst));
	if (!dup && v->nsample < HIT_MAX_LIST)
		v->sample[v->nsample++] = *dst;
	if (v->alerted || v->sessions < c->brute.attempts)
		return false;
	v->alerted = true;
	hosts = vg_sketch_count(v->bits);
	hit->check = "brute-force";
	hit->attack = hosts > 1 ? "T1110.003" : "T1110.001";
	hit->sev = VG_SEV_HIGH;
	if (hosts > 1)
		snprintf(hit->summary, sizeof(hit->summary),
			 "%s opened %u login sessions (port %u) on %u hosts within %u s "
			 "(credential spraying)",
			 vg_ip_str(src, ip, sizeof(ip)), v->sessions, port, hosts,
			 c->brute.seconds);
	else
		snprintf(hit->summary, sizeof(hit->summary),
			 "%s opened %u login sessions to %s port %u within %u s (brute force)",
			 vg_ip_str(src, ip, sizeof(ip)), v->sessions,
			 vg_ip_str(dst, ip2, sizeof(ip2)), port, c->brute.seconds);
	vg_hit_num(hit, "sessions", v->sessions);
	vg_hit_num(hit, "hosts", hosts);
	vg_hit_num(hit, "port", port);
	vg_hit_num(hit, "seconds", c->brute.seconds);
	hit->list_key = "sample_hosts";
	hit->list_ips = true;
	hit->nlist = v->nsample;
	memcpy(hit->ips, v->sample, sizeof(hit->ips));
	hit->block = true;
	return true;
}
