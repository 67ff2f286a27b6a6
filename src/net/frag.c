// SPDX-License-Identifier: MIT
/* Fragment tracking (frag.h): per datagram, its first fragment's ports and the byte ranges
 * seen so far (the first FRAG_RANGES of them; more pieces than that are not checked). */
#include <string.h>

#include "frag.h"

#define FRAG_RANGES 12
#define FRAG_HOLD_US (30 * 1000000ll)

struct fkey {
	struct vg_ip src, dst;
	uint32_t id;
	uint8_t proto, zero[3];
};

struct fval {
	uint16_t sport, dport;
	bool have_ports;
	uint8_t n;
	uint32_t lo[FRAG_RANGES], hi[FRAG_RANGES]; /* [lo, hi) bytes of the datagram's payload */
};

int vg_frag_init(struct vg_frag *f, uint32_t entries)
{
	return vg_btab_init(&f->t, entries, sizeof(struct fkey), sizeof(struct fval));
}

void vg_frag_free(struct vg_frag *f)
{
	vg_btab_free(&f->t);
}

void vg_frag_packet(struct vg_frag *f, struct vg_pkt *p, int64_t now)
{
	struct fkey k = { .src = p->src, .dst = p->dst, .id = p->frag_id, .proto = p->proto };
	struct fval *v = vg_btab_get(&f->t, &k, now, now - FRAG_HOLD_US, true, NULL);
	uint32_t lo = p->frag_off, hi;

	/* the fragment's data starts at l4_off (decode.c sets it for every fragment) */

	if (p->frag_off == 0 && p->l4) {
		v->sport = p->sport;
		v->dport = p->dport;
		v->have_ports = true;
	}
	hi = lo + (p->l3_off + p->l3_len - p->l4_off);
	for (uint8_t i = 0; i < v->n; i++) {
		if (v->lo[i] == lo && v->hi[i] == hi)
			goto ports; /* a duplicate: retransmitted, not overlapping */
		if (lo < v->hi[i] && v->lo[i] < hi)
			p->anomalies |= VG_PA_FRAG_OVERLAP;
	}
	if (v->n < FRAG_RANGES) {
		v->lo[v->n] = lo;
		v->hi[v->n++] = hi;
	}
ports:
	if (p->frag_off && v->have_ports) {
		p->sport = v->sport;
		p->dport = v->dport;
	}
}
