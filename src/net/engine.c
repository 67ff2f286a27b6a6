// SPDX-License-Identifier: MIT
/*
 * The inspection pipeline (vigil/net_engine.h): decode, fragments, flow, nDPI, behaviour
 * checks, rules, then the verdict. Per frame the work is a decode, one flow lookup and the
 * rules indexed under the frame's ports; the behaviour checks run only at a flow's turning
 * points (its first packet, the first answer, the handshake's end), and nDPI only until it has
 * named the flow's protocol.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "net_int.h"

#define S_US 1000000ll
#define TICK_US 100000
#define QUIET_US (60 * S_US)
/* a flood of forged sources must not become a flood of alerts */
#define QUIET_PER_SEC 20
/* Anomalies that only say a capture was cut short, not that the frame was bad. */
#define TRUNCATION                                                                              \
	(VG_PA_ETH_TRUNC | VG_PA_VLAN_TRUNC | VG_PA_IP_TRUNC | VG_PA_IP_LEN | VG_PA_TCP_TRUNC | \
	 VG_PA_UDP_TRUNC | VG_PA_ICMP_TRUNC | VG_PA_IP6_EXT | VG_PA_ARP_BAD)
/* Anomalies after which nothing above the IP header can be trusted. */
#define UNDECODABLE                                                               \
	(VG_PA_ETH_TRUNC | VG_PA_VLAN_TRUNC | VG_PA_VLAN_DEPTH | VG_PA_IP_TRUNC | \
	 VG_PA_IP_VERSION | VG_PA_IP_HLEN)

static int open_parts(struct vg_net_engine *e, struct vg_err *err)
{
	uint32_t side = e->o.max_flows / 4 < 4096 ? 4096 : e->o.max_flows / 4;

	if (vg_flowtab_init(&e->ft, e->o.max_flows, vg_net_flow_ended, e) ||
	    vg_frag_init(&e->frag, 4096) || vg_scan_init(&e->scan, side) ||
	    vg_brute_init(&e->brute, side) || vg_spoof_init(&e->spoof, side) ||
	    vg_listen_init(&e->listen, side) ||
	    vg_btab_init(&e->block, 4096, sizeof(struct vg_ip), sizeof(int64_t)) ||
	    vg_btab_init(&e->quiet, 4096, sizeof(struct vg_ip) + 8, 8))
		return vg_errf(err, ENOMEM, "out of memory for the inspection tables");
	return 0;
}

int vg_net_engine_open(struct vg_net_engine **out, const struct vg_net_rules *rs,
		       const struct vg_net_engine_opts *opts, struct vg_err *err)
{
	struct vg_net_engine *e = calloc(1, sizeof(*e));
	int ret;

	if (!e)
		return vg_errf(err, ENOMEM, "out of memory for the inspection engine");
	e->rs = rs;
	e->o = *opts;
	if (!e->o.max_flows)
		e->o.max_flows = 65536;
	if (!e->o.dpi_packets)
		e->o.dpi_packets = 16;
	if (!e->o.pcap_max_pkts)
		e->o.pcap_max_pkts = 10000;
	if (!e->o.ring_bytes)
		e->o.ring_bytes = 4u << 20;
	ret = open_parts(e, err);
	if (!ret && !e->o.no_dpi) {
		ret = vg_dpi_open(&e->dpi, e->o.max_flows, (uint16_t)e->o.dpi_packets, err);
		e->have_dpi = !ret;
		e->ssh_id = vg_dpi_proto_id(&e->dpi, "SSH");
		e->telnet_id = vg_dpi_proto_id(&e->dpi, "Telnet");
	}
	if (!ret)
		ret = vg_rule_index_build(&e->ix, rs, e->have_dpi ? &e->dpi : NULL, err);
	if (!ret && e->o.pcap_dir) {
		ret = vg_capture_init(&e->cap, e->o.pcap_dir, e->o.ring_bytes, e->o.pcap_max_pkts,
				      err);
		e->have_cap = !ret;
	}
	if (!ret) {
		struct vg_net_rules *mut = (struct vg_net_rules *)rs;
		struct vg_err herr = { 0 };

		/* HOME_NET bounds guests' source addresses when the operator set it */
		e->have_home = !vg_addrset_parse(mut, "$HOME_NET", &e->home, &herr) && !e->home.any;
	}
	if (!ret && e->ix.unknown_app)
		snprintf(e->warning, sizeof(e->warning),
			 "%u rule(s) name an application protocol nDPI does not know (first at "
			 "line %u); they never match",
			 e->ix.unknown_app, e->ix.unknown_app_line);
	if (ret) {
		vg_net_engine_close(e);
		return ret;
	}
	*out = e;
	return 0;
}

int vg_net_engine_port(struct vg_net_engine *e, int port, const char *name, bool uplink)
{
	if (port < 0 || port >= VG_NET_MAX_PORTS)
		return -EINVAL;
	snprintf(e->ports[port].name, sizeof(e->ports[port].name), "%s", name);
	e->ports[port].uplink = uplink;
	e->ports[port].named = true;
	return 0;
}

const char *vg_net_port_name(const struct vg_net_engine *e, int port)
{
	return port >= 0 && port < VG_NET_MAX_PORTS && e->ports[port].named ? e->ports[port].name
									    : NULL;
}

static bool is_uplink(const struct vg_net_engine *e, int port)
{
	return port >= 0 && port < VG_NET_MAX_PORTS && e->ports[port].uplink;
}

/* Whether a check that fires per frame already alerted about SRC in the last minute, or such
 * checks already raised QUIET_PER_SEC alerts this second. */
static bool quiet(struct vg_net_engine *e, const char *check, const struct vg_ip *src, int64_t now)
{
	struct {
		struct vg_ip ip;
		uint64_t check;
	} k = { .ip = *src, .check = vg_net_hash(check, strlen(check), 0) };
	bool created;

	vg_btab_get(&e->quiet, &k, now, now - QUIET_US, true, &created);
	if (created && (now - e->quiet_since >= S_US || now < e->quiet_since)) {
		e->quiet_since = now;
		e->quiet_n = 0;
	}
	if (created && e->quiet_n++ < QUIET_PER_SEC)
		return false;
	e->st.alerts_suppressed++;
	return true;
}

static bool blocked(struct vg_net_engine *e, const struct vg_ip *src, int64_t now)
{
	int64_t *until;

	if (!e->nblocked)
		return false;
	until = vg_btab_get(&e->block, src, now, INT64_MIN, false, NULL);
	return until && *until > now;
}

static void block(struct vg_net_engine *e, const struct vg_ip *src, int64_t now)
{
	int64_t *until = vg_btab_get(&e->block, src, now, INT64_MIN, true, NULL);

	*until = now + (int64_t)e->rs->checks.block * S_US;
	e->nblocked++;
}

/* A flow's alert for a check or sid only once. */
static bool first_time(struct vg_flow *f, uint32_t id)
{
	for (int i = 0; i < 4; i++) {
		if (f->fired[i] == id)
			return false;
		if (!f->fired[i]) {
			f->fired[i] = id;
			return true;
		}
	}
	return true;
}

static bool drops(const struct vg_raise *r)
{
	if (r->rule)
		return r->rule->action == VG_ACT_DROP || r->rule->action == VG_ACT_REJECT ||
		       vg_rule_severity(r->rule) >= VG_SEV_MEDIUM;
	return r->hit->sev >= VG_SEV_MEDIUM;
}

/* Acts on a packet's findings: flags the flow, starts its capture (true when it did: the
 * capture then holds this frame already), emits the alerts. */
static bool act(struct vg_net_engine *e, struct vg_flow *f, const struct vg_pkt *p, int port,
		struct vg_raise *r, int n, bool *drop)
{
	bool fresh = f && !f->flagged, any = false, blk = false;

	for (int i = 0; i < n; i++) {
		uint32_t id = r[i].rule ? r[i].rule->sid
					: (uint32_t)vg_net_hash(r[i].hit->check,
								strlen(r[i].hit->check), 1);

		if (e->o.ips && drops(&r[i])) {
			*drop = true;
			if (f)
				f->drop = true;
			if (r[i].hit && r[i].hit->block && e->rs->checks.block) {
				block(e, &p->src, e->now);
				blk = true;
			}
		}
		if (r[i].silent || (f && !first_time(f, id))) {
			r[i].silent = true;
			continue;
		}
		any = true;
	}
	if (!any)
		return false;
	if (f) {
		f->flagged = true;
		if (fresh && e->have_cap)
			vg_capture_start(&e->cap, f);
	}
	for (int i = 0; i < n; i++) {
		if (r[i].silent)
			continue;
		if (f)
			f->alerts++;
		vg_net_alert(e, &r[i], f, p, port, *drop, blk);
	}
	return fresh && e->have_cap;
}

static void anomalies(struct vg_net_engine *e, const struct vg_pkt *p, int port, bool *drop,
		      struct vg_hit *h)
{
	struct vg_ip who;
	char names[200] = "", kind[32];
	struct vg_raise r = { .hit = h };

	e->st.decode_anomalies++;
	if (e->o.ips)
		*drop = true;
	if (!e->rs->checks.malformed.on)
		return;
	/* frames without an IP source are tracked by their source MAC; each kind of damage is
	 * reported once a minute per source */
	memset(&who, 0, sizeof(who));
	if ((p->l3 == VG_L3_IP4 || p->l3 == VG_L3_IP6) && p->l3_len)
		who = p->src;
	else
		memcpy(who.b, p->src_mac, 6);
	snprintf(kind, sizeof(kind), "malformed:%x", p->anomalies);
	if (quiet(e, kind, &who, e->now))
		return;
	for (uint32_t b = 0; b < VG_PA_COUNT; b++)
		if (p->anomalies & (1u << b)) {
			size_t l = strlen(names);

			snprintf(names + l, sizeof(names) - l, "%s%s", l ? "," : "",
				 vg_pkt_anomaly_name(1u << b));
		}
	h->check = "malformed-frame";
	h->sev = VG_SEV_LOW;
	h->attack = p->anomalies & (VG_PA_FRAG_OVERLAP | VG_PA_FRAG_TINY) ? "T1599" : NULL;
	snprintf(h->summary, sizeof(h->summary), "malformed or evasive frame: %s", names);
	vg_hit_str(h, "anomalies", names);
	vg_net_alert(e, &r, NULL, p, port, *drop, false);
}

static void arp(struct vg_net_engine *e, const struct vg_pkt *p, int port, bool *drop)
{
	struct vg_hit h = { 0 };
	struct vg_raise r = { .hit = &h };

	if (!vg_spoof_arp(&e->spoof, &e->rs->checks, p, port, e->now, &h))
		return;
	if (e->o.ips)
		*drop = true;
	if (!quiet(e, h.check, &p->arp_spa, e->now))
		vg_net_alert(e, &r, NULL, p, port, *drop, false);
}

/* A frame decoded ahead of its inspection, with its flow key and hash (a batch decodes every
 * frame first so the flow table's cache misses overlap). */
struct pre {
	struct vg_pkt p;
	struct vg_flow_key k;
	uint64_t h;
	bool from_a, ip;
};

static void pre_decode(struct vg_net_engine *e, const uint8_t *frame, uint32_t len,
		       uint32_t wire_len, struct pre *x)
{
	vg_net_decode(frame, len, &x->p);
	if (len < wire_len)
		x->p.anomalies &= ~(uint32_t)TRUNCATION;
	x->ip = (x->p.l3 == VG_L3_IP4 || x->p.l3 == VG_L3_IP6) && x->p.l3_len &&
		!(x->p.anomalies & UNDECODABLE);
	if (!x->ip)
		return;
	vg_flow_key_of(&x->p, &x->k, &x->from_a);
	x->h = vg_flowtab_hash(&e->ft, &x->k);
}

static struct vg_flow *flow_of(struct vg_net_engine *e, struct pre *x, int64_t ts, int *dir,
			       bool *created)
{
	const struct vg_pkt *p = &x->p;
	struct vg_flow *f;
	bool syn = p->proto == VG_IPPROTO_TCP && p->l4 &&
		   (p->tcp_flags & (VG_TCP_SYN | VG_TCP_ACK)) == VG_TCP_SYN;

	if (p->frag && p->frag_off) { /* a later fragment took its first's ports: a new key */
		vg_flow_key_of(p, &x->k, &x->from_a);
		x->h = vg_flowtab_hash(&e->ft, &x->k);
	}
	f = vg_flowtab_get(&e->ft, &x->k, x->h, ts, created);
	if (!*created && syn && f->state == VG_FS_CLOSED) {
		/* the same ports again after a close: a new connection */
		vg_flowtab_end(&e->ft, f, VG_FE_CLOSED);
		f = vg_flowtab_get(&e->ft, &x->k, x->h, ts, created);
	}
	if (*created) {
		bool synack =
			p->proto == VG_IPPROTO_TCP && p->l4 &&
			(p->tcp_flags & (VG_TCP_SYN | VG_TCP_ACK)) == (VG_TCP_SYN | VG_TCP_ACK);

		f->init_is_a = synack ? !x->from_a : x->from_a;
		e->st.flows++;
	}
	*dir = x->from_a == f->init_is_a ? 0 : 1;
	return f;
}

static uint16_t server_port(const struct vg_flow *f)
{
	return f->init_is_a ? f->key.pb : f->key.pa;
}

/* The behaviour checks at this packet's turning points; returns the number of hits. */
static int behaviour(struct vg_net_engine *e, struct vg_flow *f, const struct vg_pkt *p, int dir,
		     bool created, int port, struct vg_hit *h)
{
	const struct vg_net_checks *c = &e->rs->checks;
	int64_t now = e->now;
	int n = 0;

	if (created && dir == 0) {
		if (!(p->proto == VG_IPPROTO_TCP && (p->tcp_flags & VG_TCP_ACK)))
			n += vg_scan_attempt(&e->scan, c, p, now, &h[n]);
		if (vg_spoof_ip(&e->spoof, c, p, port, is_uplink(e, port),
				e->have_home ? &e->home : NULL, now, &h[n]) &&
		    !quiet(e, h[n].check, &p->src, now))
			n++;
		else
			memset(&h[n], 0, sizeof(h[n]));
	}
	/* hosts without an address yet and group traffic share flows legitimately */
	if (port >= 0 && f->port[dir] >= 0 && f->port[dir] != port && c->ip_spoof.on &&
	    !is_uplink(e, port) && !vg_ip_unspecified(&p->src) && !vg_ip_group(&p->dst) &&
	    !quiet(e, "ip-spoof", &p->src, now)) {
		h[n].check = "ip-spoof";
		h[n].attack = "T1036";
		h[n].sev = VG_SEV_HIGH;
		snprintf(h[n].summary, sizeof(h[n].summary),
			 "a packet of an existing flow arrives from another switch port than its "
			 "sender's (injection)");
		vg_hit_str(&h[n], "reason", "flow-port-mismatch");
		n++;
	}
	if (f->port[dir] < 0)
		f->port[dir] = (int8_t)port;
	if (dir == 1 && !f->answer_checked && p->l4 &&
	    (p->proto == VG_IPPROTO_TCP
		     ? (p->tcp_flags & (VG_TCP_SYN | VG_TCP_ACK)) == (VG_TCP_SYN | VG_TCP_ACK)
		     : p->proto == VG_IPPROTO_UDP)) {
		f->answer_checked = true;
		n += vg_listen_answer(&e->listen, c, &p->src, p->sport, p->proto, &p->dst, now,
				      &h[n]);
	}
	if (c->brute.on && !f->login_counted && f->state == VG_FS_ESTABLISHED &&
	    f->key.proto == VG_IPPROTO_TCP &&
	    (vg_portset_has(&c->brute.ports, server_port(f)) ||
	     (f->dpi_done && (vg_dpi_is(f, e->ssh_id) || vg_dpi_is(f, e->telnet_id))))) {
		const struct vg_ip *cl = f->init_is_a ? &f->key.a : &f->key.b;
		const struct vg_ip *sv = f->init_is_a ? &f->key.b : &f->key.a;

		f->login_counted = true;
		n += vg_brute_session(&e->brute, c, cl, sv, server_port(f), now, &h[n]);
	}
	return n;
}

static enum vg_net_verdict finish(struct vg_net_engine *e, struct vg_flow *f, bool drop)
{
	if (!drop)
		return VG_NET_PASS;
	e->st.dropped++;
	if (f)
		f->dropped++;
	return VG_NET_DROP;
}

/* Everything after decoding, for one frame. */
static enum vg_net_verdict inspect(struct vg_net_engine *e, const uint8_t *frame, uint32_t len,
				   uint32_t wire_len, int64_t ts, int port, struct pre *x)
{
	struct vg_hit hits[6];
	struct vg_raise r[6 + VG_MATCH_MAX];
	struct vg_match m[VG_MATCH_MAX];
	struct vg_match_ctx mc;
	struct vg_pkt *pp = &x->p;
	struct vg_flow *f;
	bool created, drop = false, pass, started = false;
	int dir, nh, nm, n = 0;

	e->st.frames++;
	e->st.bytes += wire_len;
	e->now = ts;
	if (ts - e->last_tick >= TICK_US || ts < e->last_tick)
		vg_net_engine_tick(e, ts);
	if (!e->listen.start_us)
		e->listen.start_us = ts;
	if (pp->frag && x->ip)
		vg_frag_packet(&e->frag, pp, ts);
	if (pp->anomalies) {
		memset(hits, 0, sizeof(hits[0]));
		anomalies(e, pp, port, &drop, &hits[0]);
	}
	if (pp->l3 == VG_L3_ARP)
		arp(e, pp, port, &drop);
	if (!x->ip) {
		if (e->have_cap)
			vg_capture_remember(&e->cap, 0, frame, len, wire_len, ts);
		return finish(e, NULL, drop);
	}
	f = flow_of(e, x, ts, &dir, &created);
	f->last_us = ts;
	vg_flow_track(f, pp, dir, wire_len);
	if (e->have_cap)
		vg_capture_remember(&e->cap, f->id, frame, len, wire_len, ts);
	if (e->o.ips && blocked(e, &pp->src, ts))
		drop = f->drop = true;
	if (e->have_dpi && !f->dpi_done)
		vg_dpi_packet(&e->dpi, f, frame + pp->l3_off, pp->l3_len, ts);
	memset(hits, 0, sizeof(hits));
	nh = behaviour(e, f, pp, dir, created, port, hits);
	for (int i = 0; i < nh; i++)
		r[n++] = (struct vg_raise){ .hit = &hits[i] };
	mc = (struct vg_match_ctx){ .p = pp, .f = f, .dir = dir };
	nm = vg_rule_match(&e->ix, &mc, ts, m, &pass, &e->st.rule_evals);
	for (int i = 0; i < nm; i++)
		r[n++] = (struct vg_raise){ .rule = &e->rs->v[m[i].rule], .silent = m[i].silent };
	if (n)
		started = act(e, f, pp, port, r, n, &drop);
	if (f->drop && e->o.ips)
		drop = true;
	if (f->pcap_path && e->have_cap && !started)
		vg_capture_frame(&e->cap, f, frame, len, wire_len, ts);
	return finish(e, f, drop);
}

enum vg_net_verdict vg_net_engine_frame(struct vg_net_engine *e, const uint8_t *frame, uint32_t len,
					uint32_t wire_len, int64_t ts, int port)
{
	struct pre x;

	pre_decode(e, frame, len, wire_len, &x);
	return inspect(e, frame, len, wire_len, ts, port, &x);
}

void vg_net_engine_batch(struct vg_net_engine *e, const struct vg_net_frame *fr, int n,
			 uint8_t *verdicts)
{
	struct pre x[VG_NET_BATCH];

	if (n > VG_NET_BATCH)
		n = VG_NET_BATCH;
	for (int i = 0; i < n; i++) {
		pre_decode(e, fr[i].data, fr[i].len, fr[i].wire_len, &x[i]);
		if (x[i].ip)
			vg_flowtab_prefetch_tags(&e->ft, x[i].h);
	}
	for (int i = 0; i < n; i++)
		if (x[i].ip)
			vg_flowtab_prefetch_slot(&e->ft, x[i].h);
	for (int i = 0; i < n; i++)
		verdicts[i] = (uint8_t)inspect(e, fr[i].data, fr[i].len, fr[i].wire_len,
					       fr[i].ts_us, fr[i].port, &x[i]);
}

void vg_net_engine_tick(struct vg_net_engine *e, int64_t now)
{
	if ((now - e->last_flush >= S_US || now < e->last_flush) && e->have_cap) {
		vg_capture_flush(&e->cap);
		e->last_flush = now;
	}
	e->last_tick = now;
	vg_flowtab_sweep(&e->ft, now);
	if (e->have_cap && e->cap.warning[0] && !e->warning[0])
		snprintf(e->warning, sizeof(e->warning), "%s", e->cap.warning);
}

void vg_net_engine_finish(struct vg_net_engine *e)
{
	vg_flowtab_end_all(&e->ft);
	if (e->have_cap)
		vg_capture_flush(&e->cap);
}

const struct vg_net_stats *vg_net_engine_stats(const struct vg_net_engine *e)
{
	struct vg_net_stats *s = (struct vg_net_stats *)&e->st;

	s->dpi_skipped = e->dpi.skipped;
	s->pcap_errors = e->cap.errors;
	return &e->st;
}

const char *vg_net_engine_warning(const struct vg_net_engine *e)
{
	return e->warning;
}

void vg_net_engine_close(struct vg_net_engine *e)
{
	if (!e)
		return;
	if (e->ft.slots) {
		e->o.on_flow = NULL; /* closing without finish: no records */
		vg_flowtab_end_all(&e->ft);
	}
	vg_flowtab_free(&e->ft);
	vg_rule_index_free(&e->ix);
	if (e->have_dpi)
		vg_dpi_close(&e->dpi);
	vg_frag_free(&e->frag);
	vg_scan_free(&e->scan);
	vg_brute_free(&e->brute);
	vg_spoof_free(&e->spoof);
	vg_listen_free(&e->listen);
	vg_btab_free(&e->block);
	vg_btab_free(&e->quiet);
	if (e->have_cap)
		vg_capture_free(&e->cap);
	vg_addrset_free(&e->home);
	free(e);
}
