/* SPDX-License-Identifier: MIT */
/*
 * The virtual switch (`vigil net switch`): a learning L2 switch QEMU guests plug into without
 * root or a tap, each port named for its guest:
 *   stream  a Unix stream socket the switch listens on; QEMU connects with
 *           -netdev stream,id=n0,server=off,addr.type=unix,addr.path=PATH (frames carry a
 *           4-byte big-endian length, as QEMU writes them)
 *   dgram   a Unix datagram socket; QEMU sends one frame per datagram with
 *           -netdev dgram,id=n0,local.type=unix,local.path=QEMU_SIDE,remote.type=unix,
 *           remote.path=PATH and receives at its own path
 *   tap     an uplink: a tap interface on the host, or created inside a network namespace
 *           (ip netns) so a namespace's programs reach the guests (needs CAP_NET_ADMIN)
 * Every frame goes through the inspection engine when one is given; a DROP verdict stops it.
 * One thread, one epoll loop: a port is read at most a fixed amount per round, a full
 * receiver loses frames (counted) instead of stalling the switch, a port whose peer sends a
 * malformed length is disconnected and listens again, and a peer that goes away frees its
 * port for the next one. A stream port takes one peer at a time: a second connection is
 * refused, so no one can take over a running guest's port.
 */
#ifndef VIGIL_NET_SWITCH_H
#define VIGIL_NET_SWITCH_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "vigil/err.h"
#include "vigil/net_engine.h"

enum vg_port_kind { VG_PORT_STREAM, VG_PORT_DGRAM, VG_PORT_TAP };

struct vg_port_spec {
	char name[32];
	enum vg_port_kind kind;
	char path[108];	 /* socket path, or tap interface name */
	char netns[128]; /* tap: the network namespace (a name under /run/netns or a path) */
	bool uplink;
};

/* "NAME=PATH" (stream), "NAME=stream:PATH", "NAME=dgram:PATH"; uplinks: "tap:IFNAME",
 * "netns:NS[:IFNAME]" (IFNAME defaults to vigil0). */
int vg_port_spec_parse(const char *text, bool uplink, struct vg_port_spec *out, struct vg_err *err);

struct vg_port_stats {
	uint64_t rx, tx, rx_bytes, tx_bytes;
	uint64_t dropped; /* the engine's verdict */
	uint64_t tx_lost; /* the receiver was not reading: its queue was full */
	uint64_t bad;	  /* runt frames, bad lengths */
	uint32_t connects;
	bool connected;
};

struct vg_switch;

struct vg_switch_opts {
	const struct vg_port_spec *ports;
	int nports;		      /* at most VG_NET_MAX_PORTS */
	struct vg_net_engine *engine; /* NULL: a plain switch */
	uint32_t fdb_age_s;	      /* 0: 300 */
	/* port events ("web: connected") and problems, one line each; NULL: silent */
	void (*note)(void *ctx, const char *msg);
	void *note_ctx;
};

/* Opens every port (sockets are created 0660 after removing a stale socket file). */
int vg_switch_open(struct vg_switch **out, const struct vg_switch_opts *o, struct vg_err *err);
/* Runs until *STOP becomes nonzero (a signal handler sets it); 0, or -errno when epoll fails. */
int vg_switch_run(struct vg_switch *s, volatile sig_atomic_t *stop, struct vg_err *err);
const struct vg_port_stats *vg_switch_port_stats(const struct vg_switch *s, int port);
/* Closes the ports and removes their socket files. */
void vg_switch_close(struct vg_switch *s);

#endif
