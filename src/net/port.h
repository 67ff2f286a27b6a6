/* SPDX-License-Identifier: MIT */
/*
 * One switch port's I/O (internal to the switch): opening the socket or tap, reading frames
 * (QEMU's stream framing, one datagram per frame, one read per tap frame) and queueing frames
 * out. Output to a stream port is buffered and written once per loop round, so frames that
 * arrived together leave together; a queue that cannot take a frame loses it (counted), which
 * is how a guest that stops reading is kept from stalling the others.
 */
#ifndef VIGIL_NET_PORT_H
#define VIGIL_NET_PORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "vigil/err.h"
#include "vigil/net_engine.h"
#include "vigil/net_switch.h"

/* QEMU's NET_BUFSIZE: no frame it sends is longer. */
#define PORT_MAX_FRAME (4096 + 65536)
#define PORT_IN_BYTES (256u << 10)
#define PORT_OUT_BYTES (1u << 20)

struct vg_port {
	struct vg_port_spec spec;
	int lfd; /* stream: the listening socket */
	int fd;	 /* stream: the connection; dgram: the socket; tap: the device; -1 none */
	struct sockaddr_un peer; /* dgram: where frames go (learned from the first sender) */
	socklen_t peerlen;
	uint8_t *in;
	uint32_t inlen;
	uint8_t *out;
	uint32_t outlen, outoff;
	bool out_armed; /* waiting for EPOLLOUT */
	struct vg_port_stats st;
};

/* A batch of frames read together from port PORT (at most VG_NET_BATCH; data and len set). */
typedef void (*vg_frames_fn)(void *ctx, int port, struct vg_net_frame *frames, int n);

int vg_port_open(struct vg_port *p, const struct vg_port_spec *spec, struct vg_err *err);
/* Stream ports: takes a waiting connection; -EBUSY when the port already has its peer (the
 * newcomer is closed). */
int vg_port_accept(struct vg_port *p);
/* Reads what is waiting (a bounded amount) and calls FN per frame. 0, 1 when a datagram port
 * learned its peer, -EPIPE when the peer went away, -EPROTO when it broke the framing (both
 * mean disconnect). */
int vg_port_read(struct vg_port *p, int idx, vg_frames_fn fn, void *ctx);
/* Queues or sends one frame; false when it was lost. */
bool vg_port_send(struct vg_port *p, const uint8_t *frame, uint32_t len);
/* Writes queued output; 1 when some stays queued (wait for EPOLLOUT), 0 when all went,
 * -EPIPE when the peer is gone. */
int vg_port_flush(struct vg_port *p);
bool vg_port_has_peer(const struct vg_port *p);
/* Drops the peer (a stream port listens again). */
void vg_port_disconnect(struct vg_port *p);
void vg_port_close(struct vg_port *p);

#endif
