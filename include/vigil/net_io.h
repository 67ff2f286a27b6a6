/* SPDX-License-Identifier: MIT */
/*
 * The engine's files: captures read with libpcap (pcap and pcapng, Ethernet link type) for
 * `vigil net inspect`, and flow records written as JSON lines.
 */
#ifndef VIGIL_NET_IO_H
#define VIGIL_NET_IO_H

#include <stdint.h>

#include "vigil/err.h"
#include "vigil/json.h"
#include "vigil/net_engine.h"

/* Runs every frame of the capture at PATH through E in order (packet times as the clock).
 * *FRAMES (may be NULL) counts them. A capture that is damaged part-way is an error after the
 * frames before the damage were inspected. */
int vg_net_inspect_pcap(struct vg_net_engine *e, const char *path, uint64_t *frames,
			struct vg_err *err);

/* R as one JSON object (a flow record line; the caller ends the line). */
void vg_net_flow_json(struct vg_json *j, const struct vg_net_flow_rec *r);

#endif
