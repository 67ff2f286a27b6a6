/* SPDX-License-Identifier: MIT */
/*
 * The flow table: one entry per conversation (both directions share it), in buckets of
 * FLOW_WAYS slots with a 32-bit tag per slot so a lookup compares one cache line of tags
 * before any key. The table never grows: a new flow in a full bucket evicts the bucket's
 * least recently seen flow, and flows idle past their protocol's timeout are ended by an
 * incremental sweep. Ended flows are handed to the caller's callback before their slot is
 * reused (flow records, nDPI state release).
 */
#ifndef VIGIL_NET_FLOW_H
#define VIGIL_NET_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/net_pkt.h"

#define FLOW_WAYS 8

struct ndpi_flow_struct;

/* Canonical key: the (address, port) pair that sorts first is A, so both directions of a
 * conversation find the same entry. */
struct vg_flow_key {
	struct vg_ip a, b;
	uint16_t pa, pb;
	uint16_t vlan;
	uint8_t proto;
	uint8_t zero;
};

enum vg_flow_state {
	VG_FS_NEW,	    /* TCP seen mid-stream, or non-TCP with one direction so far */
	VG_FS_SYN_SENT,	    /* the initiator's SYN */
	VG_FS_SYN_RECEIVED, /* the responder answered with SYN-ACK */
	VG_FS_ESTABLISHED,  /* handshake done, or both directions seen */
	VG_FS_CLOSING,	    /* one FIN */
	VG_FS_CLOSED,	    /* FIN both ways or RST */
};

struct vg_flow {
	struct vg_flow_key key;
	uint64_t id; /* 0: free slot */
	int64_t first_us, last_us;
	uint64_t pkts[2], bytes[2]; /* [0] from the initiator */
	uint64_t dropped;
	struct ndpi_flow_struct *dpi;
	uint16_t app_master, app_id;
	uint16_t dpi_pkts;
	bool dpi_done;
	bool init_is_a; /* the initiator is key.a */
	uint8_t state;	/* enum vg_flow_state */
	uint8_t tcp_flags[2];
	uint8_t fins;	/* bit d: a FIN from direction d */
	int8_t port[2]; /* switch port each direction came from, -1 unknown */
	bool flagged, drop;
	bool login_counted, answer_checked, scan_counted;
	uint16_t alerts;
	uint32_t fired[4]; /* sids (or check ids' hashes) that already alerted on this flow */
	int32_t pcap;	   /* capture slot, -1 none */
	uint32_t pcap_pkts;
	char *pcap_path;
};

enum vg_flow_end { VG_FE_CLOSED, VG_FE_TIMEOUT, VG_FE_EVICTED, VG_FE_END };

typedef void (*vg_flow_end_fn)(void *ctx, struct vg_flow *f, enum vg_flow_end why);

struct vg_flowtab {
	struct vg_flow *slots;
	uint32_t *tags;
	uint32_t nbuckets; /* a power of two */
	uint64_t seed;
	uint64_t next_id;
	uint32_t sweep_pos;
	vg_flow_end_fn on_end;
	void *ctx;
};

int vg_flowtab_init(struct vg_flowtab *t, uint32_t max_flows, vg_flow_end_fn on_end, void *ctx);
/* Fills KEY from a packet; *from_a tells whether the packet travels from key.a. */
void vg_flow_key_of(const struct vg_pkt *p, struct vg_flow_key *key, bool *from_a);
/* KEY's hash in this table (seeded). */
uint64_t vg_flowtab_hash(const struct vg_flowtab *t, const struct vg_flow_key *key);
/* A batch of lookups: first start loading every bucket's tags, then every matching slot, so
 * the cache misses of a batch overlap instead of coming one after another. */
void vg_flowtab_prefetch_tags(const struct vg_flowtab *t, uint64_t hash);
void vg_flowtab_prefetch_slot(const struct vg_flowtab *t, uint64_t hash);
/* The flow for KEY (HASH from vg_flowtab_hash), created (zeroed but for key, id and times)
 * when missing; *created says. */
struct vg_flow *vg_flowtab_get(struct vg_flowtab *t, const struct vg_flow_key *key, uint64_t hash,
			       int64_t now, bool *created);
/* Ends flow F now (callback, then the slot is free). */
void vg_flowtab_end(struct vg_flowtab *t, struct vg_flow *f, enum vg_flow_end why);
/* Ends flows idle past their timeout in about 1/16 of the table (call every ~100 ms). */
void vg_flowtab_sweep(struct vg_flowtab *t, int64_t now);
/* Ends every flow. */
void vg_flowtab_end_all(struct vg_flowtab *t);
void vg_flowtab_free(struct vg_flowtab *t);

/* Updates F's TCP state and counters for a packet in direction DIR (0 from the initiator). */
void vg_flow_track(struct vg_flow *f, const struct vg_pkt *p, int dir, uint32_t bytes);
const char *vg_flow_state_name(uint8_t s);

#endif
