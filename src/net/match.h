/* SPDX-License-Identifier: MIT */
/*
 * Rule evaluation. Rules are indexed by transport and port when they name a few ports (the
 * common case: "-> any 23"), so a packet is tried only against the rules for its ports plus
 * those that name none; everything else about a rule is checked per candidate, cheapest first
 * (header, flow, flags, sizes) and content last. Thresholds are kept per (rule, tracked
 * address) in a bounded table.
 *
 * Semantics, where they differ from Suricata's: rules see single packets, not reassembled
 * streams (content split across segments or fragments is not matched); a rule alerts once per
 * flow (later matches still count as matches, for IPS drops); a matching pass rule silences the
 * other rules for that packet only.
 */
#ifndef VIGIL_NET_MATCH_H
#define VIGIL_NET_MATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "btab.h"
#include "dpi.h"
#include "flow.h"
#include "vigil/net_rules.h"

struct vg_match_ctx {
	const struct vg_pkt *p;
	const struct vg_flow *f; /* NULL for frames without a flow (ARP) */
	int dir;		 /* 0: from the flow's initiator (to_server) */
};

struct vg_match {
	uint32_t rule; /* index in the rule set */
	bool silent;   /* matched, but a threshold keeps it from alerting */
};

struct vg_rule_class {
	uint32_t *generic, ngeneric;
	uint32_t *dstart, *dlist; /* by destination port: CSR, 65537 offsets */
	uint32_t *sstart, *slist; /* by source port */
};

struct vg_rule_index {
	const struct vg_net_rules *rs;
	int32_t *app; /* per rule: nDPI id, 0 none, -1 unknown to nDPI (never matches) */
	struct vg_rule_class cls[4]; /* tcp, udp, icmp, other */
	uint32_t *seen, epoch;
	struct vg_btab thresh;
	uint32_t unknown_app, unknown_app_line;
};

#define VG_MATCH_MAX 16

int vg_rule_index_build(struct vg_rule_index *ix, const struct vg_net_rules *rs,
			const struct vg_dpi *dpi, struct vg_err *err);
/* Matches for the packet in M at NOW (at most VG_MATCH_MAX); *pass when a pass rule matched. */
int vg_rule_match(struct vg_rule_index *ix, const struct vg_match_ctx *m, int64_t now_us,
		  struct vg_match *out, bool *pass, uint64_t *evals);
void vg_rule_index_free(struct vg_rule_index *ix);

/* The content conditions of R against payload D (N bytes); exported for the unit tests. */
bool vg_rule_content_match(const struct vg_rule *r, const uint8_t *d, uint32_t n);

#endif
