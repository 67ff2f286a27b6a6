/* SPDX-License-Identifier: MIT */
/*
 * Application protocol detection with nDPI (Debian's libndpi 4.2). Each flow gets nDPI state
 * for its first packets only: once nDPI names the protocol, or after max_pkts packets (then
 * nDPI's port-based guess is taken), the state goes back to a pool. At most max_live flows
 * hold state at once; flows beyond that are counted and left "Unknown", so a flood of new flows
 * cannot grow memory.
 */
#ifndef VIGIL_NET_DPI_H
#define VIGIL_NET_DPI_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "vigil/err.h"

struct ndpi_detection_module_struct;

struct vg_dpi {
	struct ndpi_detection_module_struct *nd;
	struct ndpi_flow_struct **pool;
	uint32_t npool, pool_cap;
	uint32_t live, max_live;
	uint16_t max_pkts;
	uint64_t skipped; /* flows that found no free state */
};

int vg_dpi_open(struct vg_dpi *d, uint32_t max_live, uint16_t max_pkts, struct vg_err *err);
/* Feeds one packet of F (the IP header at L3, LEN bytes) while detection goes on. */
void vg_dpi_packet(struct vg_dpi *d, struct vg_flow *f, const uint8_t *l3, uint32_t len,
		   int64_t ts_us);
/* Ends detection for F now (the flow ended first): nDPI's guess from ports is taken. */
void vg_dpi_giveup(struct vg_dpi *d, struct vg_flow *f);
/* Returns F's state to the pool (flow end). */
void vg_dpi_release(struct vg_dpi *d, struct vg_flow *f);
/* nDPI's name for F's protocol ("HTTP", "DNS.Google", "Unknown") into BUF. */
const char *vg_dpi_name(const struct vg_dpi *d, const struct vg_flow *f, char *buf, size_t len);
/* nDPI's id for an application protocol as Suricata or nDPI names it ("dns", "ssh",
 * "Telnet"); -1 when nDPI knows no such protocol. */
int vg_dpi_proto_id(const struct vg_dpi *d, const char *name);
/* Whether F's protocol is ID (as master or application). */
static inline bool vg_dpi_is(const struct vg_flow *f, int id)
{
	return id > 0 && (f->app_master == id || f->app_id == id);
}
void vg_dpi_close(struct vg_dpi *d);

#endif
