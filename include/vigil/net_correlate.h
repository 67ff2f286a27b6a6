/* SPDX-License-Identifier: MIT */
/*
 * The switch and the IDS together: which guest process owns a flow the switch flagged.
 *
 * vg_guest_socks_read() lists a guest's sockets from its memory (through the vmi API only):
 * every socket file in every process's file table, with its addresses, ports, state and
 * owner, and the guest's own interface addresses. vg_flow_owner() matches a flow against that
 * list: a connected socket with the flow's two ends, else a listener on the guest's end, else
 * (when the flow's address is the guest's but no socket has it) the processes holding raw or
 * packet sockets, which is how a SYN scanner sends without a socket per connection.
 *
 * vg_flow_feed is what `ids watch --switch-alerts PATH` runs: it listens on a Unix socket the
 * switch's alert sink (`--output unix:PATH`) connects to, reads its alert lines (hostile: JSON
 * parsed with jansson, lines and connections bounded), keeps the flagged flows for a few
 * looks, and emits one alert (source "ids", check "flow-owner") per flow it finds the owner
 * of in this guest. Flows that do not involve the guest's addresses are ignored.
 */
#ifndef VIGIL_NET_CORRELATE_H
#define VIGIL_NET_CORRELATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/alert.h"
#include "vigil/err.h"
#include "vigil/linux.h"
#include "vigil/net_pkt.h"

#define VG_GUEST_MAX_ADDRS 32
#define VG_GUEST_MAX_SOCKS 8192

enum vg_gsock_kind { VG_GS_INET, VG_GS_RAW, VG_GS_PACKET };

struct vg_guest_sock {
	uint64_t sk;
	uint8_t kind;  /* enum vg_gsock_kind */
	uint8_t proto; /* IPPROTO_* for inet sockets */
	uint8_t state; /* TCP state (10 listen, 1 established, ...), 7 for unconnected UDP */
	uint16_t type; /* SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_RAW 3 */
	struct vg_ip laddr, raddr;
	uint16_t lport, rport;
	int32_t pid, fd;
	uint32_t uid;
	char comm[17];
};

struct vg_guest_socks {
	struct vg_guest_sock *v;
	size_t n;
	struct vg_ip addrs[VG_GUEST_MAX_ADDRS];
	int naddrs;
	bool truncated; /* more sockets than VG_GUEST_MAX_SOCKS */
};

int vg_guest_socks_read(struct vg_linux *lx, struct vg_guest_socks *out, struct vg_err *err);
void vg_guest_socks_free(struct vg_guest_socks *s);

struct vg_flow_tuple {
	uint8_t proto;
	struct vg_ip src, dst;
	uint16_t sport, dport;
};

enum vg_owner_how { VG_OWN_NONE, VG_OWN_CONNECTED, VG_OWN_LISTENING, VG_OWN_RAW, VG_OWN_FOREIGN };

/* The socket of S that owns flow T (*sock), and how; VG_OWN_FOREIGN when neither end of T is
 * one of the guest's addresses (not this guest's flow). */
enum vg_owner_how vg_flow_owner(const struct vg_guest_socks *s, const struct vg_flow_tuple *t,
				const struct vg_guest_sock **sock);

struct vg_flow_feed;
typedef void (*vg_feed_emit_fn)(void *ctx, const struct vg_alert *a);

/* Listens on PATH (a Unix stream socket, created 0600; a stale socket file is replaced). */
int vg_flow_feed_open(struct vg_flow_feed **out, const char *path, struct vg_err *err);
/* Takes what the switch sent since the last call and tries every pending flow against the
 * guest's sockets now; EMIT gets the flow-owner alerts. 0 or -errno (guest unreadable). */
int vg_flow_feed_poll(struct vg_flow_feed *f, struct vg_linux *lx, vg_feed_emit_fn emit, void *ctx,
		      struct vg_err *err);
/* The halves of a poll, for tests: read what arrived on the socket (drain), or take switch
 * alert lines from TEXT as if they had; match the pending flows against a socket list S (a
 * flow whose owner is not found is retried up to three looks, then reported as ownerless). */
void vg_flow_feed_drain(struct vg_flow_feed *f);
void vg_flow_feed_take(struct vg_flow_feed *f, const char *text, size_t len);
void vg_flow_feed_match(struct vg_flow_feed *f, const struct vg_guest_socks *s,
			vg_feed_emit_fn emit, void *ctx);
/* Flows waiting for their owner. */
int vg_flow_feed_pending(const struct vg_flow_feed *f);
void vg_flow_feed_close(struct vg_flow_feed *f);

#endif
