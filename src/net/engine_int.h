/* SPDX-License-Identifier: MIT */
/* The engine's state (internal to src/net): engine.c runs the pipeline, engine_alert.c turns
 * its findings into alerts and flow records. */
#ifndef VIGIL_NET_ENGINE_INT_H
#define VIGIL_NET_ENGINE_INT_H

#include "capture.h"
#include "detect.h"
#include "dpi.h"
#include "flow.h"
#include "frag.h"
#include "match.h"
#include "vigil/net_engine.h"

struct vg_net_port {
	char name[32];
	bool uplink, named;
};

struct vg_net_engine {
	const struct vg_net_rules *rs;
	struct vg_net_engine_opts o;
	struct vg_flowtab ft;
	struct vg_dpi dpi;
	bool have_dpi;
	int ssh_id, telnet_id;
	struct vg_rule_index ix;
	struct vg_frag frag;
	struct vg_scan scan;
	struct vg_brute brute;
	struct vg_spoof spoof;
	struct vg_listen listen;
	struct vg_btab block; /* IPS: source address -> blocked until */
	uint64_t nblocked;    /* blocks ever made: no lookups while none */
	struct vg_btab quiet; /* (check, source) -> last alert, for checks that fire per frame */
	int64_t quiet_since;  /* ... and at most QUIET_PER_SEC of them a second overall */
	uint32_t quiet_n;
	struct vg_capture cap;
	bool have_cap;
	struct vg_addrset home;
	bool have_home;
	struct vg_net_port ports[VG_NET_MAX_PORTS];
	struct vg_net_stats st;
	int64_t now; /* the current frame's time */
	int64_t last_tick, last_flush;
	char warning[256];
};

/* One finding about the current packet: a behaviour hit or a rule match. */
struct vg_raise {
	const struct vg_hit *hit; /* or */
	const struct vg_rule *rule;
	bool silent; /* a rule match a threshold keeps quiet */
};

/* Emits the alert for R about packet P of flow F (NULL for ARP) from PORT. */
void vg_net_alert(struct vg_net_engine *e, const struct vg_raise *r, const struct vg_flow *f,
		  const struct vg_pkt *p, int port, bool dropped, bool blocked);
/* The flow table's end callback: flow record, nDPI and capture release. */
void vg_net_flow_ended(void *ctx, struct vg_flow *f, enum vg_flow_end why);
/* Port name for evidence, NULL when unnamed or -1. */
const char *vg_net_port_name(const struct vg_net_engine *e, int port);

#endif
