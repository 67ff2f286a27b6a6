/* SPDX-License-Identifier: MIT */
/*
 * Captures of flagged flows. Every frame is copied into a ring of recent frames (fixed slots,
 * frames longer than a slot are cut, as a snap length would); when a flow is flagged, its
 * frames still in the ring start its pcap (the packets that led to the alert) and every later
 * frame is appended, up to a per-flow cap. Files are written with libpcap; at most
 * CAP_OPEN files stay open, and a flow whose file was closed to make room reopens it for
 * appending. Failures are kept as one message, never fatal: losing a capture must not stop
 * the switch.
 */
#ifndef VIGIL_NET_CAPTURE_H
#define VIGIL_NET_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "flow.h"
#include "vigil/err.h"

#define CAP_SLOT_BYTES 2048
#define CAP_OPEN 32

struct pcap;
struct pcap_dumper;

struct vg_ring_slot {
	uint64_t flow_id;
	int64_t ts_us;
	uint32_t caplen, wire_len;
	uint8_t data[CAP_SLOT_BYTES];
};

struct vg_capture {
	char *dir;
	char run[32]; /* this run's start time, so a second run does not overwrite the first */
	struct vg_ring_slot *ring;
	uint32_t nslots, head;
	uint32_t max_pkts;
	struct pcap *dead;
	struct {
		struct pcap_dumper *d;
		uint64_t flow_id;
		uint64_t last_use;
	} open[CAP_OPEN];
	uint64_t uses;
	uint64_t errors;
	char warning[256];
};

int vg_capture_init(struct vg_capture *c, const char *dir, uint32_t ring_bytes, uint32_t max_pkts,
		    struct vg_err *err);
/* Remembers a frame of flow FLOW_ID (0: no flow) in the ring. */
void vg_capture_remember(struct vg_capture *c, uint64_t flow_id, const uint8_t *frame, uint32_t len,
			 uint32_t wire_len, int64_t ts_us);
/* Flow F was flagged: opens its pcap with its frames from the ring (F->pcap_path set). */
void vg_capture_start(struct vg_capture *c, struct vg_flow *f);
/* Appends a frame of flagged flow F (after vg_capture_remember). */
void vg_capture_frame(struct vg_capture *c, struct vg_flow *f, const uint8_t *frame, uint32_t len,
		      uint32_t wire_len, int64_t ts_us);
/* F ended: its file is closed (the path stays in F for the flow record until it is freed). */
void vg_capture_end(struct vg_capture *c, struct vg_flow *f);
void vg_capture_flush(struct vg_capture *c);
void vg_capture_free(struct vg_capture *c);

#endif
