/* SPDX-License-Identifier: MIT */
/*
 * The inspection engine: every frame goes through decode -> fragment tracking -> flow table ->
 * nDPI -> behaviour checks -> rules, and comes back as PASS or DROP. The switch calls it for
 * each frame it forwards; `vigil net inspect` for each frame of a capture, so both raise the
 * same alerts. Alerts are vg_alert (source "switch") handed to a callback; finished flows
 * become flow records; a flagged flow's frames (the ones still in a recent-frames ring, and
 * every later one up to a cap) go to a pcap file of its own. In IPS mode a flagged flow's
 * frames are dropped, and a source caught scanning or brute-forcing is blocked for the
 * rules' ips-block time.
 *
 * Memory is bounded by the options: a flow table of max_flows entries (a full bucket evicts
 * its least recently seen flow, which is reported as a flow record with reason "evicted"),
 * fixed-size tables for every check, a fixed ring. One engine is one thread's: no locking.
 */
#ifndef VIGIL_NET_ENGINE_H
#define VIGIL_NET_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/alert.h"
#include "vigil/err.h"
#include "vigil/net_pkt.h"
#include "vigil/net_rules.h"

enum vg_net_verdict { VG_NET_PASS, VG_NET_DROP };

/* A finished flow (initiator -> responder). */
struct vg_net_flow_rec {
	uint64_t id;
	int64_t first_us, last_us;
	uint8_t proto;
	struct vg_ip src, dst; /* initiator, responder */
	uint16_t sport, dport;
	uint16_t vlan;
	uint64_t pkts[2], bytes[2]; /* [0] initiator to responder, [1] back */
	uint8_t tcp_flags[2];
	const char *state;  /* "new", "syn-sent", "syn-received", "established", "closed", ... */
	const char *reason; /* "closed", "timeout", "evicted", "end" */
	const char *app;    /* nDPI's name ("HTTP", "DNS.Google", "Unknown") */
	const char *in_port[2]; /* switch ports each side sent from, NULL offline */
	uint32_t alerts;
	uint64_t dropped;
	const char *pcap; /* the flow's capture, NULL when it was not flagged */
};

typedef void (*vg_net_alert_fn)(void *ctx, const struct vg_alert *a);
typedef void (*vg_net_flow_fn)(void *ctx, const struct vg_net_flow_rec *r);

struct vg_net_engine_opts {
	bool ips;		/* drop flagged flows and blocked sources */
	bool no_dpi;		/* leave nDPI out (application protocol stays "Unknown") */
	uint32_t max_flows;	/* 0: 65536 */
	uint32_t dpi_packets;	/* packets per flow nDPI sees before it gives up; 0: 16 */
	const char *pcap_dir;	/* flagged flows' captures go here; NULL: none */
	uint32_t pcap_max_pkts; /* per flagged flow; 0: 10000 */
	uint32_t ring_bytes;	/* recent frames kept for the captures; 0: 4 MiB */
	vg_net_alert_fn on_alert;
	void *alert_ctx;
	vg_net_flow_fn on_flow; /* NULL: no flow records */
	void *flow_ctx;
};

struct vg_net_stats {
	uint64_t frames, bytes, dropped, alerts, flows, flows_evicted;
	uint64_t decode_anomalies, dpi_flows, dpi_skipped, rule_evals;
	uint64_t pcap_errors, alerts_suppressed;
};

struct vg_net_engine;

/* RULES must outlive the engine. */
int vg_net_engine_open(struct vg_net_engine **out, const struct vg_net_rules *rules,
		       const struct vg_net_engine_opts *opts, struct vg_err *err);
/* Names switch port PORT (0..VG_NET_MAX_PORTS-1) for evidence and flow records; UPLINK marks
 * the port routed traffic comes through (no source-address checks there). */
int vg_net_engine_port(struct vg_net_engine *e, int port, const char *name, bool uplink);
#define VG_NET_MAX_PORTS 64

/* Inspects one frame of LEN bytes captured (WIRE_LEN on the wire: more when a capture cut it
 * short) at TS_US (wall clock, microseconds) from switch port PORT (-1: none, offline). */
enum vg_net_verdict vg_net_engine_frame(struct vg_net_engine *e, const uint8_t *frame, uint32_t len,
					uint32_t wire_len, int64_t ts_us, int port);
struct vg_net_frame {
	const uint8_t *data;
	uint32_t len, wire_len;
	int64_t ts_us;
	int port;
};
#define VG_NET_BATCH 32

/* Inspects N (at most VG_NET_BATCH) frames in order, exactly as N calls of
 * vg_net_engine_frame would, with one verdict each in VERDICTS; faster, because the frames
 * are decoded first and their flow-table lookups fetched from memory together. */
void vg_net_engine_batch(struct vg_net_engine *e, const struct vg_net_frame *frames, int n,
			 uint8_t *verdicts);
/* Expires idle flows and flushes captures; call about once a second with the current time
 * (packet time offline). */
void vg_net_engine_tick(struct vg_net_engine *e, int64_t now_us);
/* Ends every flow (flow records with reason "end") and closes captures. */
void vg_net_engine_finish(struct vg_net_engine *e);
const struct vg_net_stats *vg_net_engine_stats(const struct vg_net_engine *e);
/* The first capture-writing failure, "" when none (the engine goes on without that pcap). */
const char *vg_net_engine_warning(const struct vg_net_engine *e);
void vg_net_engine_close(struct vg_net_engine *e);

#endif
