// SPDX-License-Identifier: MIT
/* The flow table of flow.h and the per-flow TCP state machine. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "btab.h"
#include "flow.h"

#define S_US 1000000ll

int vg_flowtab_init(struct vg_flowtab *t, uint32_t max_flows, vg_flow_end_fn on_end, void *ctx)
{
	uint32_t nb = 1;

	memset(t, 0, sizeof(*t));
	while ((uint64_t)nb * FLOW_WAYS < max_flows && nb < (1u << 22))
		nb <<= 1;
	t->nbuckets = nb;
	t->slots = vg_net_table_alloc((size_t)nb * FLOW_WAYS * sizeof(*t->slots));
	t->tags = vg_net_table_alloc((size_t)nb * FLOW_WAYS * sizeof(*t->tags));
	if (!t->slots || !t->tags) {
		vg_flowtab_free(t);
		return -ENOMEM;
	}
	t->seed = vg_net_seed();
	t->on_end = on_end;
	t->ctx = ctx;
	t->next_id = 1;
	return 0;
}

static int cmp_end(const struct vg_ip *a, uint16_t pa, const struct vg_ip *b, uint16_t pb)
{
	int c = memcmp(a->b, b->b, 16);

	return c ? c : (int)pa - (int)pb;
}

void vg_flow_key_of(const struct vg_pkt *p, struct vg_flow_key *k, bool *from_a)
{
	memset(k, 0, sizeof(*k));
	k->proto = p->proto;
	k->vlan = p->vlan;
	*from_a = cmp_end(&p->src, p->sport, &p->dst, p->dport) <= 0;
	if (*from_a) {
		k->a = p->src;
		k->b = p->dst;
		k->pa = p->sport;
		k->pb = p->dport;
	} else {
		k->a = p->dst;
		k->b = p->src;
		k->pa = p->dport;
		k->pb = p->sport;
	}
}

static int64_t timeout_us(const struct vg_flow *f)
{
	if (f->key.proto != 6)
		return (f->key.proto == 1 || f->key.proto == 58 ? 30 : 60) * S_US;
	switch (f->state) {
	case VG_FS_CLOSED:
		return 5 * S_US;
	case VG_FS_SYN_SENT:
	case VG_FS_SYN_RECEIVED:
		return 30 * S_US;
	case VG_FS_CLOSING:
		return 60 * S_US;
	case VG_FS_NEW:
		return 120 * S_US;
	default:
		return 600 * S_US;
	}
}

void vg_flowtab_end(struct vg_flowtab *t, struct vg_flow *f, enum vg_flow_end why)
{
	if (t->on_end)
		t->on_end(t->ctx, f, why);
	t->tags[f - t->slots] = 0;
	memset(f, 0, sizeof(*f));
}

uint64_t vg_flowtab_hash(const struct vg_flowtab *t, const struct vg_flow_key *key)
{
	return vg_net_hash(key, sizeof(*key), t->seed);
}

static inline uint32_t tag_of(uint64_t h)
{
	return (uint32_t)(h >> 32) | 1; /* 0 marks a free slot */
}

void vg_flowtab_prefetch_tags(const struct vg_flowtab *t, uint64_t h)
{
	__builtin_prefetch(t->tags + (size_t)(h & (t->nbuckets - 1)) * FLOW_WAYS);
}

void vg_flowtab_prefetch_slot(const struct vg_flowtab *t, uint64_t h)
{
	size_t base = (size_t)(h & (t->nbuckets - 1)) * FLOW_WAYS;
	uint32_t tag = tag_of(h);

	for (int i = 0; i < FLOW_WAYS; i++)
		if (t->tags[base + i] == tag) {
			__builtin_prefetch(&t->slots[base + i]);
			__builtin_prefetch((const char *)&t->slots[base + i] + 64);
			return;
		}
}

struct vg_flow *vg_flowtab_get(struct vg_flowtab *t, const struct vg_flow_key *key, uint64_t h,
			       int64_t now, bool *created)
{
	uint32_t tag = tag_of(h);
	size_t base = (size_t)(h & (t->nbuckets - 1)) * FLOW_WAYS;
	struct vg_flow *victim = NULL;
	uint32_t *tags = t->tags + base;

	*created = false;
	for (int i = 0; i < FLOW_WAYS; i++) {
		struct vg_flow *f = &t->slots[base + i];

		if (tags[i] == tag && !memcmp(&f->key, key, sizeof(*key)))
			return f;
	}
	for (int i = 0; i < FLOW_WAYS; i++) {
		struct vg_flow *f = &t->slots[base + i];

		if (!tags[i]) {
			victim = f;
			break;
		}
		if (!victim || f->last_us < victim->last_us)
			victim = f;
	}
	if (victim->id)
		vg_flowtab_end(t, victim,
			       now - victim->last_us > timeout_us(victim) ? VG_FE_TIMEOUT
									  : VG_FE_EVICTED);
	victim->key = *key;
	victim->id = t->next_id++;
	victim->first_us = victim->last_us = now;
	victim->port[0] = victim->port[1] = -1;
	victim->pcap = -1;
	t->tags[victim - t->slots] = tag;
	*created = true;
	return victim;
}

void vg_flowtab_sweep(struct vg_flowtab *t, int64_t now)
{
	uint32_t n = t->nbuckets / 16 > 64 ? t->nbuckets / 16 : t->nbuckets;

	for (uint32_t i = 0; i < n; i++) {
		size_t base = (size_t)t->sweep_pos * FLOW_WAYS;

		for (int w = 0; w < FLOW_WAYS; w++) {
			struct vg_flow *f = &t->slots[base + w];

			if (f->id && now - f->last_us > timeout_us(f))
				vg_flowtab_end(t, f,
					       f->state == VG_FS_CLOSED ? VG_FE_CLOSED
									: VG_FE_TIMEOUT);
		}
		t->sweep_pos = (t->sweep_pos + 1) & (t->nbuckets - 1);
	}
}

void vg_flowtab_end_all(struct vg_flowtab *t)
{
	for (size_t i = 0; i < (size_t)t->nbuckets * FLOW_WAYS; i++)
		if (t->slots[i].id)
			vg_flowtab_end(t, &t->slots[i],
				       t->slots[i].state == VG_FS_CLOSED ? VG_FE_CLOSED
									 : VG_FE_END);
}

void vg_flowtab_free(struct vg_flowtab *t)
{
	vg_net_table_free(t->slots, (size_t)t->nbuckets * FLOW_WAYS * sizeof(*t->slots));
	vg_net_table_free(t->tags, (size_t)t->nbuckets * FLOW_WAYS * sizeof(*t->tags));
	memset(t, 0, sizeof(*t));
}

static void track_tcp(struct vg_flow *f, uint8_t fl, int dir)
{
	if (fl & VG_TCP_RST) {
		f->state = VG_FS_CLOSED;
		return;
	}
	if (fl & VG_TCP_FIN) {
		f->fins |= (uint8_t)(1 << dir);
		f->state = f->fins == 3 ? VG_FS_CLOSED : VG_FS_CLOSING;
		return;
	}
	switch (f->state) {
	case VG_FS_NEW:
		if ((fl & (VG_TCP_SYN | VG_TCP_ACK)) == VG_TCP_SYN && dir == 0)
			f->state = VG_FS_SYN_SENT;
		else if ((fl & (VG_TCP_SYN | VG_TCP_ACK)) == (VG_TCP_SYN | VG_TCP_ACK) && dir == 1)
			f->state = VG_FS_SYN_RECEIVED;
		else if (f->pkts[0] && f->pkts[1]) /* picked up mid-stream, both sides talking */
			f->state = VG_FS_ESTABLISHED;
		break;
	case VG_FS_SYN_SENT:
		if ((fl & (VG_TCP_SYN | VG_TCP_ACK)) == (VG_TCP_SYN | VG_TCP_ACK) && dir == 1)
			f->state = VG_FS_SYN_RECEIVED;
		break;
	case VG_FS_SYN_RECEIVED:
		if ((fl & (VG_TCP_SYN | VG_TCP_ACK)) == VG_TCP_ACK && dir == 0)
			f->state = VG_FS_ESTABLISHED;
		break;
	default:
		break;
	}
}

void vg_flow_track(struct vg_flow *f, const struct vg_pkt *p, int dir, uint32_t bytes)
{
	f->pkts[dir]++;
	f->bytes[dir] += bytes;
	if (f->key.proto == VG_IPPROTO_TCP && p->l4) {
		f->tcp_flags[dir] |= p->tcp_flags;
		track_tcp(f, p->tcp_flags, dir);
	} else if (f->key.proto != VG_IPPROTO_TCP && f->pkts[0] && f->pkts[1]) {
		f->state = VG_FS_ESTABLISHED;
	}
}

const char *vg_flow_state_name(uint8_t s)
{
	static const char *const names[] = { "new",	    "syn-sent", "syn-received",
					     "established", "closing",	"closed" };

	return s < 6 ? names[s] : "?";
}
