/* SPDX-License-Identifier: MIT */
/*
 * The secure channel every vigil link uses (broker <-> IDS, device agent -> gateway): mutual
 * authentication with static X25519 keys, forward secrecy from per-session ephemeral keys, and
 * libsodium's secretstream (XChaCha20-Poly1305) for every message, so a tampered, replayed,
 * reordered, dropped or truncated message is detected and ends the session. Nothing here is
 * hand-made crypto: key pairs are crypto_kx's, the four X25519 results are crypto_scalarmult's,
 * keys are derived with crypto_generichash/crypto_kdf, messages go through secretstream.
 *
 * Handshake (one round trip, both hellos in clear):
 *   client -> server  "VGWc" v1 | client static pk | client ephemeral pk
 *   server -> client  "VGWs" v1 status | server static pk | server ephemeral pk
 *   both: master = BLAKE2b(key = H(label, proto, both hellos), ss || ee || es || se)
 *         one secretstream per direction, keys from master; each side proves it holds the
 *         keys with a first encrypted message bound to the transcript. The server checks the
 *         client's before it answers; the client checks the server's in its first receive,
 *         so its first message travels with its confirmation (a round trip less).
 * The server decides from the client's static key whether to serve it (authorize callback);
 * a refused client is told so in the clear and the connection is closed. The client pins the
 * server's static key. Without both static secret keys nobody can compute ss/es/se, so a
 * network attacker can neither read, alter, replay nor inject; a recorded session cannot be
 * replayed because the peer's ephemeral key differs each time. See docs/wire.md.
 */
#ifndef VIGIL_WIRE_H
#define VIGIL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/err.h"

#define VG_WIRE_KEY_LEN 32
/* Base64 of a key (44 characters) plus the terminating NUL. */
#define VG_WIRE_KEY_B64_LEN 45
/* The largest message one vg_wire_send carries; bigger payloads are split by the caller. */
#define VG_WIRE_MAX_MSG (16u << 20)

struct vg_wire_keypair {
	uint8_t pk[VG_WIRE_KEY_LEN];
	uint8_t sk[VG_WIRE_KEY_LEN];
};

/* ---- keys (keys.c) ---- */

void vg_wire_keypair_new(struct vg_wire_keypair *kp);
/* Writes KP's secret key, base64 and a newline, to a new file PATH created 0600 with O_EXCL:
 * -EEXIST when PATH exists (a key is never overwritten in place). */
int vg_wire_key_write_secret(const char *path, const struct vg_wire_keypair *kp,
			     struct vg_err *err);
/* Reads a secret key file and derives its public key. *LOOSE is set when the file can be read
 * by group or others (the caller warns, as wireguard does). */
int vg_wire_key_read_secret(const char *path, struct vg_wire_keypair *kp, bool *loose,
			    struct vg_err *err);
/* A public key given as base64 text or as a file holding it. */
int vg_wire_key_read_public(const char *text_or_path, uint8_t pk[VG_WIRE_KEY_LEN],
			    struct vg_err *err);
void vg_wire_key_encode(const uint8_t key[VG_WIRE_KEY_LEN], char out[VG_WIRE_KEY_B64_LEN]);
/* -EINVAL unless TEXT (surrounding whitespace allowed) is exactly one base64 key. */
int vg_wire_key_decode(const char *text, uint8_t key[VG_WIRE_KEY_LEN]);

/* ---- sessions (channel.c) ---- */

struct vg_wire;

/* Server side: 0 to serve the client with this static key, negative errno to refuse. */
typedef int (*vg_wire_authorize_fn)(void *ctx, const uint8_t client_pk[VG_WIRE_KEY_LEN]);

struct vg_wire_opts {
	const char *proto; /* application protocol label, bound into the keys ("vigil-broker/1") */
	int timeout_ms;	   /* handshake deadline and default send/receive wait; 0 = 10 s */
};

/* Runs the handshake on a connected stream socket FD (which the session then owns, even on
 * failure). -EACCES when the server refused our key, -EPERM when the server is not the pinned
 * one, -EPROTO for anything malformed, -ETIMEDOUT, -ECONNRESET. A client's first
 * vg_wire_recv can also fail with -EPERM: the server's key confirmation is checked there. */
int vg_wire_client(struct vg_wire **out, int fd, const struct vg_wire_keypair *self,
		   const uint8_t server_pk[VG_WIRE_KEY_LEN], const struct vg_wire_opts *o,
		   struct vg_err *err);
int vg_wire_server(struct vg_wire **out, int fd, const struct vg_wire_keypair *self,
		   vg_wire_authorize_fn authorize, void *ctx, const struct vg_wire_opts *o,
		   struct vg_err *err);

/* Sends one message (at most VG_WIRE_MAX_MSG bytes) whole, waiting up to the session's
 * timeout for the socket. */
int vg_wire_send(struct vg_wire *w, const void *msg, size_t len, struct vg_err *err);
/* Receives one message into a buffer the session owns (valid until the next receive).
 * TIMEOUT_MS < 0 uses the session's; 0 does not wait: -EAGAIN until a whole message has
 * arrived (partial frames are kept), so an event loop can call it when the fd is readable.
 * -EBADMSG when a message fails authentication (tampered, replayed, reordered, injected):
 * the session is then dead and every later call fails the same way. -ECONNRESET when the
 * peer closed. */
int vg_wire_recv(struct vg_wire *w, const uint8_t **msg, size_t *len, int timeout_ms,
		 struct vg_err *err);
/* Ends the stream with a final message the peer can tell from a cut connection, then closes. */
void vg_wire_close(struct vg_wire *w);

int vg_wire_fd(const struct vg_wire *w);
const uint8_t *vg_wire_peer_key(const struct vg_wire *w);
struct vg_wire_stats {
	uint64_t msgs_sent, msgs_recv, bytes_sent, bytes_recv; /* bytes on the socket */
};
void vg_wire_stats(const struct vg_wire *w, struct vg_wire_stats *st);

/* ---- sockets (net.c) ---- */

/* TCP connect to HOST:PORT (names or literal addresses, v4 or v6) within TIMEOUT_MS; an fd. */
int vg_wire_dial(const char *host, const char *port, int timeout_ms, struct vg_err *err);
/* A listening TCP socket on HOST:PORT (HOST NULL or "" = all addresses); an fd. */
int vg_wire_listen(const char *host, const char *port, struct vg_err *err);
/* Splits "HOST:PORT" or "[V6]:PORT" into its parts; -EINVAL when malformed. */
int vg_wire_split_hostport(const char *s, char *host, size_t hlen, char *port, size_t plen);

#endif
