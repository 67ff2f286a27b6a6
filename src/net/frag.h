/* SPDX-License-Identifier: MIT */
/*
 * IP fragments (v4 and v6). Datagrams are not reassembled: each fragment is inspected as it
 * comes. What tracking adds is (1) later fragments inherit the ports of their first fragment,
 * so they join its flow (an IPS drop covers the whole datagram) and (2) a fragment that
 * overlaps an earlier one of the same datagram is flagged (Teardrop, overlap evasions).
 * Datagrams are keyed by (source, destination, id, protocol) in a bounded table and forgotten
 * 30 s after their last fragment.
 */
#ifndef VIGIL_NET_FRAG_H
#define VIGIL_NET_FRAG_H

#include "btab.h"
#include "vigil/net_pkt.h"

struct vg_frag {
	struct vg_btab t;
};

int vg_frag_init(struct vg_frag *f, uint32_t entries);
/* P is a fragment: may set VG_PA_FRAG_OVERLAP and, for a later fragment, sport/dport. */
void vg_frag_packet(struct vg_frag *f, struct vg_pkt *p, int64_t now_us);
void vg_frag_free(struct vg_frag *f);

#endif
