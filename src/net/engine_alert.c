// SPDX-License-Identifier: MIT
/*
 * The engine's output: alerts in the one schema (source "switch", DESIGN.md §6) with the
 * flow, the frame and the finding as evidence, and flow records when flows end. Evidence is
 * built with the vg_json writer; a flow's tuple is always written initiator first, so an
 * alert's "flow" reads the way the conversation began whichever packet raised it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "vigil/json.h"

static const char *proto_name(uint8_t p, char *buf, size_t len)
{
	switch (p) {
	case VG_IPPROTO_TCP:
		return "tcp";
	case VG_IPPROTO_UDP:
		return "udp";
	case VG_IPPROTO_ICMP:
		return "icmp";
	case VG_IPPROTO_ICMP6:
		return "icmp6";
	default:
		snprintf(buf, len, "%u", p);
		return buf;
	}
}

static void mac_str(const uint8_t *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* The flow's ends, initiator first. */
static void ends(const struct vg_flow *f, const struct vg_ip **s, uint16_t *sp,
		 const struct vg_ip **d, uint16_t *dp)
{
	*s = f->init_is_a ? &f->key.a : &f->key.b;
	*d = f->init_is_a ? &f->key.b : &f->key.a;
	*sp = f->init_is_a ? f->key.pa : f->key.pb;
	*dp = f->init_is_a ? f->key.pb : f->key.pa;
}

static void flow_json(struct vg_json *j, const struct vg_net_engine *e, const struct vg_flow *f)
{
	const struct vg_ip *s, *d;
	uint16_t sp, dp;
	char a[64], pb[8];

	ends(f, &s, &sp, &d, &dp);
	vg_json_key(j, "flow");
	vg_json_obj_open(j);
	vg_json_kuint(j, "id", f->id);
	vg_json_kstr(j, "proto", proto_name(f->key.proto, pb, sizeof(pb)));
	vg_json_kstr(j, "src_ip", vg_ip_str(s, a, sizeof(a)));
	vg_json_kuint(j, "src_port", sp);
	vg_json_kstr(j, "dst_ip", vg_ip_str(d, a, sizeof(a)));
	vg_json_kuint(j, "dst_port", dp);
	if (f->key.vlan)
		vg_json_kuint(j, "vlan", f->key.vlan);
	vg_json_kstr(j, "app", vg_dpi_name(&e->dpi, f, a, sizeof(a)));
	vg_json_kstr(j, "state", vg_flow_state_name(f->state));
	vg_json_kuint(j, "pkts_toserver", f->pkts[0]);
	vg_json_kuint(j, "pkts_toclient", f->pkts[1]);
	vg_json_obj_close(j);
}

static void frame_json(struct vg_json *j, const struct vg_net_engine *e, const struct vg_pkt *p,
		       int port)
{
	const char *pn = vg_net_port_name(e, port);
	char m[24];

	vg_json_key(j, "frame");
	vg_json_obj_open(j);
	if (pn)
		vg_json_kstr(j, "in_port", pn);
	mac_str(p->src_mac, m, sizeof(m));
	vg_json_kstr(j, "src_mac", m);
	mac_str(p->dst_mac, m, sizeof(m));
	vg_json_kstr(j, "dst_mac", m);
	if (p->vlan)
		vg_json_kuint(j, "vlan", p->vlan);
	vg_json_kuint(j, "len", p->len);
	vg_json_obj_close(j);
}

static void hit_json(struct vg_json *j, const struct vg_net_engine *e, const struct vg_hit *h)
{
	for (int i = 0; i < h->nnum; i++) {
		/* an owner's switch port is named, not numbered */
		if (!strcmp(h->num[i].k, "owner_port_index")) {
			const char *pn = vg_net_port_name(e, (int)h->num[i].v);

			if (pn)
				vg_json_kstr(j, "owner_port", pn);
			continue;
		}
		vg_json_kint(j, h->num[i].k, h->num[i].v);
	}
	for (int i = 0; i < h->nstr; i++)
		vg_json_kstr(j, h->str[i].k, h->str[i].v);
	if (h->list_key && h->nlist) {
		char a[64];

		vg_json_key(j, h->list_key);
		vg_json_arr_open(j);
		for (uint32_t i = 0; i < h->nlist && i < HIT_MAX_LIST; i++) {
			if (h->list_ips)
				vg_json_str(j, vg_ip_str(&h->ips[i], a, sizeof(a)));
			else
				vg_json_uint(j, h->ports[i]);
		}
		vg_json_arr_close(j);
	}
}

static void rule_json(struct vg_json *j, const struct vg_rule *r)
{
	vg_json_key(j, "rule");
	vg_json_obj_open(j);
	vg_json_kuint(j, "sid", r->sid);
	vg_json_kuint(j, "rev", r->rev);
	if (r->gid)
		vg_json_kuint(j, "gid", r->gid);
	vg_json_kstr(j, "action", vg_rule_action_name(r->action));
	vg_json_kstr(j, "msg", r->msg ? r->msg : "");
	if (r->classtype)
		vg_json_kstr(j, "classtype", r->classtype);
	vg_json_kuint(j, "line", r->line);
	vg_json_obj_close(j);
}

static char *evidence(const struct vg_net_engine *e, const struct vg_raise *r,
		      const struct vg_flow *f, const struct vg_pkt *p, int port, bool dropped,
		      bool blocked)
{
	struct vg_json j;

	if (vg_json_init_mem(&j, false))
		return NULL;
	vg_json_obj_open(&j);
	if (f)
		flow_json(&j, e, f);
	frame_json(&j, e, p, port);
	if (r->hit)
		hit_json(&j, e, r->hit);
	else
		rule_json(&j, r->rule);
	vg_json_kstr(&j, "mode", e->o.ips ? "ips" : "ids");
	vg_json_kbool(&j, "dropped", dropped);
	if (blocked)
		vg_json_kuint(&j, "source_blocked_seconds", e->rs->checks.block);
	if (f && f->pcap_path)
		vg_json_kstr(&j, "pcap", f->pcap_path);
	vg_json_obj_close(&j);
	return vg_json_mem_take(&j, NULL);
}

void vg_net_alert(struct vg_net_engine *e, const struct vg_raise *r, const struct vg_flow *f,
		  const struct vg_pkt *p, int port, bool dropped, bool blocked)
{
	char target[160], summary[320], a[64], b[64], pb[8];
	struct vg_alert al = { .source = "switch" };
	char *ev;

	e->st.alerts++;
	if (!e->o.on_alert)
		return;
	if (f) {
		const struct vg_ip *s, *d;
		uint16_t sp, dp;

		ends(f, &s, &sp, &d, &dp);
		snprintf(target, sizeof(target), "%s %s:%u -> %s:%u",
			 proto_name(f->key.proto, pb, sizeof(pb)), vg_ip_str(s, a, sizeof(a)), sp,
			 vg_ip_str(d, b, sizeof(b)), dp);
		al.target_kind = "flow";
	} else if (p->l3 == VG_L3_ARP) {
		vg_ip_str(&p->arp_spa, target, sizeof(target));
		al.target_kind = "host";
	} else if ((p->l3 == VG_L3_IP4 || p->l3 == VG_L3_IP6) && p->l3_len) {
		vg_ip_str(&p->src, target, sizeof(target));
		al.target_kind = "host";
	} else {
		mac_str(p->src_mac, target, sizeof(target));
		al.target_kind = "mac";
	}
	al.target_id = target;
	if (r->hit) {
		al.check = r->hit->check;
		al.severity = r->hit->sev;
		al.summary = r->hit->summary;
		al.attack = r->hit->attack;
	} else {
		al.check = r->rule->check ? r->rule->check : "signature";
		al.severity = vg_rule_severity(r->rule);
		snprintf(summary, sizeof(summary), "%s (sid %u)",
			 r->rule->msg ? r->rule->msg : "rule matched", r->rule->sid);
		al.summary = summary;
		al.attack = r->rule->attack;
	}
	ev = evidence(e, r, f, p, port, dropped, blocked);
	al.evidence = ev;
	al.ts_us = e->now > 0 ? e->now : 0;
	e->o.on_alert(e->o.alert_ctx, &al);
	free(ev);
}

void vg_net_flow_ended(void *ctx, struct vg_flow *f, enum vg_flow_end why)
{
	static const char *const reasons[] = { "closed", "timeout", "evicted", "end" };
	struct vg_net_engine *e = ctx;
	char app[64];

	if (why == VG_FE_EVICTED)
		e->st.flows_evicted++;
	if (e->have_dpi) /* a flow shorter than detection: name it by nDPI's guess */
		vg_dpi_giveup(&e->dpi, f);
	if (e->o.on_flow) {
		struct vg_net_flow_rec rec = {
			.id = f->id,
			.first_us = f->first_us,
			.last_us = f->last_us,
			.proto = f->key.proto,
			.vlan = f->key.vlan,
			.state = vg_flow_state_name(f->state),
			.reason = reasons[why],
			.alerts = f->alerts,
			.dropped = f->dropped,
			.pcap = f->pcap_path,
		};
		const struct vg_ip *s, *d;

		ends(f, &s, &rec.sport, &d, &rec.dport);
		rec.src = *s;
		rec.dst = *d;
		memcpy(rec.pkts, f->pkts, sizeof(rec.pkts));
		memcpy(rec.bytes, f->bytes, sizeof(rec.bytes));
		memcpy(rec.tcp_flags, f->tcp_flags, sizeof(rec.tcp_flags));
		rec.app = vg_dpi_name(&e->dpi, f, app, sizeof(app));
		rec.in_port[0] = vg_net_port_name(e, f->port[0]);
		rec.in_port[1] = vg_net_port_name(e, f->port[1]);
		e->o.on_flow(e->o.flow_ctx, &rec);
	}
	if (e->have_dpi)
		vg_dpi_release(&e->dpi, f);
	if (e->have_cap)
		vg_capture_end(&e->cap, f);
	free(f->pcap_path);
	f->pcap_path = NULL;
}
