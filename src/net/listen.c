// SPDX-License-Identifier: MIT
/*
 * New listeners answering. For the check's learning time after the first packet, every
 * service that answers (a TCP SYN-ACK, a UDP reply from the port the client addressed) is
 * learned; afterwards a service never seen before that answers is reported once: a bindshell
 * or backdoor that an intruder opened, the network's view of what `ids` finds in guest memory.
 */
#include <stdio.h>
#include <string.h>

#include "detect.h"

#define S_US 1000000ll

struct lkey {
	struct vg_ip host;
	uint16_t port;
	uint8_t proto, zero;
};

int vg_listen_init(struct vg_listen *l, uint32_t entries)
{
	l->start_us = 0;
	return vg_btab_init(&l->t, entries, sizeof(struct lkey), 8);
}

void vg_listen_free(struct vg_listen *l)
{
	vg_btab_free(&l->t);
}

bool vg_listen_answer(struct vg_listen *l, const struct vg_net_checks *c, const struct vg_ip *host,
		      uint16_t port, uint8_t proto, const struct vg_ip *client, int64_t now,
		      struct vg_hit *hit)
{
	struct lkey k = { .host = *host, .port = port, .proto = proto };
	bool created;
	char ip[64], cl[64];

	if (!c->listener.on || vg_portset_has(&c->listener.allow, port))
		return false;
	/* known services stay known for a day without traffic */
	vg_btab_get(&l->t, &k, now, now - 86400 * S_US, true, &created);
	if (!created || now - l->start_us < (int64_t)c->listener.learn * S_US)
		return false;
	hit->check = "new-listener";
	hit->attack = "T1571";
	hit->sev = VG_SEV_HIGH;
	snprintf(hit->summary, sizeof(hit->summary),
		 "%s answers on %s port %u, a service not seen before (to %s)",
		 vg_ip_str(host, ip, sizeof(ip)), proto == VG_IPPROTO_TCP ? "tcp" : "udp", port,
		 vg_ip_str(client, cl, sizeof(cl)));
	vg_hit_str(hit, "host", ip);
	vg_hit_num(hit, "port", port);
	vg_hit_str(hit, "client", cl);
	return true;
}
