// SPDX-License-Identifier: MIT
/* Rule index and per-packet evaluation (match.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"

#define S_US 1000000ll
/* A rule naming more ports than this is tried for every packet rather than indexed. */
#define INDEX_MAX_PORTS 1024

enum { C_TCP, C_UDP, C_ICMP, C_OTHER };

struct tkey {
	uint32_t rule;
	uint32_t zero;
	struct vg_ip addr;
};
struct tval {
	int64_t start;
	uint32_t count;
};

static uint32_t port_count(const struct vg_portset *s)
{
	uint32_t n = 0;

	if (s->any)
		return 65536;
	for (uint32_t i = 0; i < s->n; i++)
		n += s->v[i].hi - s->v[i].lo + 1u;
	return n;
}

static bool narrow(const struct vg_portset *s)
{
	return !s->any && port_count(s) <= INDEX_MAX_PORTS;
}

static void ports_each(const struct vg_portset *s, uint32_t *start, uint32_t *list, uint32_t rule,
		       bool fill)
{
	for (uint32_t i = 0; i < s->n; i++)
		for (uint32_t p = s->v[i].lo; p <= s->v[i].hi; p++) {
			if (fill)
				list[start[p]++] = rule;
			else
				start[p + 1]++;
		}
}

/* A rule with an empty address or port set can never match (e.g. "-> $BLOCKLIST" while the
 * blocklist is empty): it is left out of the index instead of being tried on every packet. */
static bool can_match(const struct vg_rule *r)
{
	return (r->src.any || r->src.n) && (r->dst.any || r->dst.n) && (r->sp.any || r->sp.n) &&
	       (r->dp.any || r->dp.n);
}

static bool in_class(const struct vg_rule *r, int cls)
{
	switch (r->proto) {
	case VG_RP_TCP:
		return cls == C_TCP;
	case VG_RP_UDP:
		return cls == C_UDP;
	case VG_RP_ICMP:
		return cls == C_ICMP;
	default:
		return !r->app || cls == C_TCP || cls == C_UDP;
	}
}

/* Where rule R goes in a port-bearing class: 'd' (by dport), 's' (by sport) or 'g'. */
static void placement(const struct vg_rule *r, const struct vg_portset **dset,
		      const struct vg_portset **sset)
{
	*dset = *sset = NULL;
	if (narrow(&r->dp)) {
		*dset = &r->dp;
		if (r->bidir)
			*sset = &r->dp;
	} else if (narrow(&r->sp)) {
		*sset = &r->sp;
		if (r->bidir)
			*dset = &r->sp;
	}
}

static int build_class(struct vg_rule_index *ix, int cls, struct vg_err *err)
{
	struct vg_rule_class *c = &ix->cls[cls];
	const struct vg_net_rules *rs = ix->rs;
	bool ports = cls == C_TCP || cls == C_UDP;
	uint32_t nd = 0, ns = 0;

	c->generic = calloc(rs->n ? rs->n : 1, sizeof(uint32_t));
	if (!c->generic)
		return vg_errf(err, ENOMEM, "out of memory indexing rules");
	if (ports) {
		c->dstart = calloc(65537, sizeof(uint32_t));
		c->sstart = calloc(65537, sizeof(uint32_t));
		if (!c->dstart || !c->sstart)
			return vg_errf(err, ENOMEM, "out of memory indexing rules");
	}
	/* port-bearing classes take two passes: count per port, then fill */
	for (int pass = ports ? 0 : 1; pass < 2; pass++) {
		for (uint32_t i = 0; i < rs->n; i++) {
			const struct vg_rule *r = &rs->v[i];
			const struct vg_portset *d, *s;

			if (!in_class(r, cls) || !can_match(r))
				continue;
			placement(r, &d, &s);
			if (!ports || (!d && !s)) {
				if (pass)
					c->generic[c->ngeneric++] = i;
				continue;
			}
			if (d)
				ports_each(d, c->dstart, c->dlist, i, pass);
			if (s)
				ports_each(s, c->sstart, c->slist, i, pass);
		}
		if (pass)
			break;
		for (uint32_t p = 0; p < 65536; p++) {
			c->dstart[p + 1] += c->dstart[p];
			c->sstart[p + 1] += c->sstart[p];
		}
		nd = c->dstart[65536];
		ns = c->sstart[65536];
		c->dlist = malloc((nd ? nd : 1) * sizeof(uint32_t));
		c->slist = malloc((ns ? ns : 1) * sizeof(uint32_t));
		if (!c->dlist || !c->slist)
			return vg_errf(err, ENOMEM, "out of memory indexing rules");
	}
	if (ports) {
		/* the fill pass advanced each start to the next port's: shift back */
		memmove(c->dstart + 1, c->dstart, 65536 * sizeof(uint32_t));
		memmove(c->sstart + 1, c->sstart, 65536 * sizeof(uint32_t));
		c->dstart[0] = c->sstart[0] = 0;
	}
	return 0;
}

int vg_rule_index_build(struct vg_rule_index *ix, const struct vg_net_rules *rs,
			const struct vg_dpi *dpi, struct vg_err *err)
{
	int ret = 0;

	memset(ix, 0, sizeof(*ix));
	ix->rs = rs;
	ix->app = calloc(rs->n ? rs->n : 1, sizeof(*ix->app));
	ix->seen = calloc(rs->n ? rs->n : 1, sizeof(*ix->seen));
	if (!ix->app || !ix->seen ||
	    vg_btab_init(&ix->thresh, 16384, sizeof(struct tkey), sizeof(struct tval))) {
		vg_rule_index_free(ix);
		return vg_errf(err, ENOMEM, "out of memory indexing rules");
	}
	for (uint32_t i = 0; i < rs->n; i++) {
		if (!rs->v[i].app)
			continue;
		ix->app[i] = dpi ? vg_dpi_proto_id(dpi, rs->v[i].app) : -1;
		if (ix->app[i] < 0 && !ix->unknown_app++)
			ix->unknown_app_line = rs->v[i].line;
	}
	for (int c = 0; c < 4 && !ret; c++)
		ret = build_class(ix, c, err);
	if (ret)
		vg_rule_index_free(ix);
	return ret;
}

void vg_rule_index_free(struct vg_rule_index *ix)
{
	for (int c = 0; c < 4; c++) {
		free(ix->cls[c].generic);
		free(ix->cls[c].dstart);
		free(ix->cls[c].dlist);
		free(ix->cls[c].sstart);
		free(ix->cls[c].slist);
	}
	free(ix->app);
	free(ix->seen);
	vg_btab_free(&ix->thresh);
	memset(ix, 0, sizeof(*ix));
}

static bool cmp_ok(const struct vg_rule_cmp *c, uint32_t v)
{
	switch (c->op) {
	case VG_CMP_EQ:
		return v == c->a;
	case VG_CMP_NE:
		return v != c->a;
	case VG_CMP_LT:
		return v < c->a;
	case VG_CMP_GT:
		return v > c->a;
	case VG_CMP_RANGE:
		return v > c->a && v < c->b;
	default:
		return true;
	}
}

static bool ends_ok(const struct vg_rule *r, const struct vg_pkt *p, bool ports, bool rev)
{
	const struct vg_ip *s = rev ? &p->dst : &p->src, *d = rev ? &p->src : &p->dst;
	uint16_t sp = rev ? p->dport : p->sport, dp = rev ? p->sport : p->dport;

	if (ports && (!vg_portset_has(&r->sp, sp) || !vg_portset_has(&r->dp, dp)))
		return false;
	return vg_addrset_has(&r->src, s) && vg_addrset_has(&r->dst, d);
}

static bool flags_ok(const struct vg_rule *r, uint8_t fl)
{
	fl &= (uint8_t)~r->flags_ignore;
	switch (r->flags_mode) {
	case '+':
		return (fl & r->flags_want) == r->flags_want;
	case '*':
		return fl & r->flags_want;
	case '!':
		return !(fl & r->flags_want);
	default:
		return fl == r->flags_want;
	}
}

static bool rule_ok(const struct vg_rule_index *ix, uint32_t i, const struct vg_match_ctx *m)
{
	const struct vg_rule *r = &ix->rs->v[i];
	const struct vg_pkt *p = m->p;
	bool ports = p->proto == VG_IPPROTO_TCP || p->proto == VG_IPPROTO_UDP;
	bool icmp = p->proto == VG_IPPROTO_ICMP || p->proto == VG_IPPROTO_ICMP6;

	if (!ends_ok(r, p, ports, false) && !(r->bidir && ends_ok(r, p, ports, true)))
		return false;
	if (ix->app[i]) {
		bool is;

		if (ix->app[i] < 0 || !m->f ||
		    (!m->f->dpi_done && !m->f->app_master && !m->f->app_id))
			return false;
		is = vg_dpi_is(m->f, ix->app[i]);
		if (is == r->app_negated)
			return false;
	}
	if (r->flow) {
		bool est = m->f && m->f->state == VG_FS_ESTABLISHED;

		if (!m->f || ((r->flow & VG_FLOW_TO_SERVER) && m->dir != 0) ||
		    ((r->flow & VG_FLOW_TO_CLIENT) && m->dir != 1) ||
		    ((r->flow & VG_FLOW_ESTABLISHED) && !est) ||
		    ((r->flow & VG_FLOW_NOT_ESTABLISHED) && est))
			return false;
	}
	if (r->flags_mode && (p->proto != VG_IPPROTO_TCP || !p->l4 || !flags_ok(r, p->tcp_flags)))
		return false;
	if (r->itype.op && (!icmp || !p->l4 || !cmp_ok(&r->itype, p->icmp_type)))
		return false;
	if (r->icode.op && (!icmp || !p->l4 || !cmp_ok(&r->icode, p->icmp_code)))
		return false;
	if (r->dsize.op && !cmp_ok(&r->dsize, p->plen))
		return false;
	if (r->ncontent && (!p->plen || !vg_rule_content_match(r, p->payload, p->plen)))
		return false;
	return true;
}

/* Applies R's threshold: -1 no match yet, 0 a silent match, 1 an alerting match. */
static int threshold(struct vg_rule_index *ix, uint32_t i, const struct vg_pkt *p, int64_t now)
{
	const struct vg_rule *r = &ix->rs->v[i];
	struct tkey k = { .rule = i };
	struct tval *v;
	int64_t win = (int64_t)r->th_seconds * S_US;

	if (r->th_type == VG_TH_NONE)
		return 1;
	if (r->th_track == VG_TRACK_SRC)
		k.addr = p->src;
	else if (r->th_track == VG_TRACK_DST)
		k.addr = p->dst;
	v = vg_btab_get(&ix->thresh, &k, now, now - win, true, NULL);
	if (!v->start || now - v->start > win) {
		v->start = now;
		v->count = 0;
	}
	v->count++;
	switch (r->th_type) {
	case VG_TH_LIMIT:
		return v->count <= r->th_count ? 1 : 0;
	case VG_TH_THRESHOLD:
		if (v->count < r->th_count)
			return -1;
		if (v->count == r->th_count) {
			v->start = 0; /* every count-th match alerts: start counting again */
			return 1;
		}
		return -1;
	case VG_TH_BOTH:
		return v->count < r->th_count ? -1 : v->count == r->th_count ? 1 : 0;
	default: /* detection_filter: every match beyond count */
		return v->count > r->th_count ? 1 : -1;
	}
}

static void try_rule(struct vg_rule_index *ix, uint32_t i, const struct vg_match_ctx *m,
		     int64_t now, struct vg_match *out, int *n, bool *pass, uint64_t *evals)
{
	int t;

	if (ix->seen[i] == ix->epoch)
		return;
	ix->seen[i] = ix->epoch;
	(*evals)++;
	if (!rule_ok(ix, i, m))
		return;
	t = threshold(ix, i, m->p, now);
	if (t < 0)
		return;
	if (ix->rs->v[i].action == VG_ACT_PASS) {
		*pass = true;
		return;
	}
	if (*n < VG_MATCH_MAX) {
		out[*n].rule = i;
		out[(*n)++].silent = t == 0;
	}
}

int vg_rule_match(struct vg_rule_index *ix, const struct vg_match_ctx *m, int64_t now,
		  struct vg_match *out, bool *pass, uint64_t *evals)
{
	const struct vg_pkt *p = m->p;
	int cls = p->proto == VG_IPPROTO_TCP					? C_TCP
		  : p->proto == VG_IPPROTO_UDP					? C_UDP
		  : p->proto == VG_IPPROTO_ICMP || p->proto == VG_IPPROTO_ICMP6 ? C_ICMP
										: C_OTHER;
	const struct vg_rule_class *c = &ix->cls[cls];
	int n = 0;

	*pass = false;
	if (!ix->rs->n)
		return 0;
	if (++ix->epoch == 0) { /* wrapped: forget every mark */
		memset(ix->seen, 0, ix->rs->n * sizeof(*ix->seen));
		ix->epoch = 1;
	}
	for (uint32_t k = 0; k < c->ngeneric; k++)
		try_rule(ix, c->generic[k], m, now, out, &n, pass, evals);
	if (c->dstart) {
		for (uint32_t k = c->dstart[p->dport]; k < c->dstart[p->dport + 1]; k++)
			try_rule(ix, c->dlist[k], m, now, out, &n, pass, evals);
		for (uint32_t k = c->sstart[p->sport]; k < c->sstart[p->sport + 1]; k++)
			try_rule(ix, c->slist[k], m, now, out, &n, pass, evals);
	}
	return *pass ? 0 : n;
}
