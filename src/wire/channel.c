// SPDX-License-Identifier: MIT
/*
 * Sessions: the handshake, then one secretstream per direction (see wire.h for the protocol).
 * The socket is switched to non-blocking and every wait is a poll with a deadline, so a silent
 * or slow peer costs at most the timeout and an event loop can drive a session with
 * vg_wire_recv(..., 0).
 *
 * Frame on the socket: a 4-byte big-endian length L, then L bytes of secretstream output.
 * The length is the message's additional data, so changing it fails authentication too.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "vigil/clock.h"
#include "vigil/wire.h"

#define HELLO_LEN 72
#define SS_HDR crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_AB crypto_secretstream_xchacha20poly1305_ABYTES
#define TH_LEN 32
#define CONFIRM_LEN (4 + TH_LEN)
#define DEFAULT_TIMEOUT_MS 10000
#define KDF_CTX "vgwire01"

enum { ST_OK = 0, ST_REFUSED = 1, ST_VERSION = 2 };

struct vg_wire {
	int fd;
	int timeout_ms;
	int dead; /* positive errno once the session cannot go on */
	crypto_secretstream_xchacha20poly1305_state tx, rx;
	uint8_t peer[VG_WIRE_KEY_LEN];
	uint8_t *in; /* bytes read from the socket and not yet consumed */
	size_t inlen, incap;
	uint8_t *msg; /* the last message received, decrypted */
	size_t msgcap;
	uint8_t *out; /* one frame being sent */
	size_t outcap;
	struct vg_wire_stats st;
};

static int remaining(uint64_t deadline)
{
	uint64_t now = vg_mono_ms();

	return now >= deadline ? 0 : (int)(deadline - now);
}

static int wait_fd(int fd, short ev, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = ev };

	for (;;) {
		int r = poll(&p, 1, remaining(deadline));

		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int write_all(struct vg_wire *w, const void *buf, size_t len, uint64_t deadline)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(w->fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			w->st.bytes_sent += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int r = wait_fd(w->fd, POLLOUT, deadline);

			if (r)
				return r;
			continue;
		}
		return n < 0 && errno != EPIPE ? -errno : -ECONNRESET;
	}
	return 0;
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
	uint8_t *p;
	size_t n = *cap ? *cap : 4096;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

/* Reads until NEED bytes are buffered; -EAGAIN at the deadline when DEADLINE is "now". */
static int fill(struct vg_wire *w, size_t need, uint64_t deadline, bool poll_only)
{
	int r = grow(&w->in, &w->incap, need);

	if (r)
		return r;
	while (w->inlen < need) {
		ssize_t n = recv(w->fd, w->in + w->inlen, w->incap - w->inlen, 0);

		if (n > 0) {
			w->inlen += (size_t)n;
			w->st.bytes_recv += (uint64_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if (poll_only)
			return -EAGAIN;
		r = wait_fd(w->fd, POLLIN, deadline);
		if (r)
			return r;
	}
	return 0;
}

static void consume(struct vg_wire *w, size_t n)
{
	memmove(w->in, w->in + n, w->inlen - n);
	w->inlen -= n;
}

static int io_err(struct vg_err *err, int r, const char *what)
{
	if (r == -ETIMEDOUT)
		return vg_errf(err, ETIMEDOUT, "%s: the peer did not answer in time", what);
	if (r == -ECONNRESET)
		return vg_errf(err, ECONNRESET, "%s: the peer closed the connection", what);
	return vg_errf(err, -r, "%s: %s", what, strerror(-r));
}

static void hello(uint8_t out[HELLO_LEN], char side, uint8_t status, const uint8_t *spk,
		  const uint8_t *epk)
{
	memcpy(out, "VGW", 3);
	out[3] = (uint8_t)side;
	out[4] = 1; /* version */
	out[5] = status;
	out[6] = out[7] = 0;
	if (spk)
		memcpy(out + 8, spk, 32);
	else
		memset(out + 8, 0, 32);
	if (epk)
		memcpy(out + 40, epk, 32);
	else
		memset(out + 40, 0, 32);
}

static void transcript(uint8_t th[TH_LEN], const char *proto, const uint8_t *ch, const uint8_t *sh)
{
	crypto_generichash_state h;

	crypto_generichash_init(&h, NULL, 0, TH_LEN);
	crypto_generichash_update(&h, (const uint8_t *)"vigil-wire/1", 13);
	crypto_generichash_update(&h, (const uint8_t *)proto, strlen(proto) + 1);
	crypto_generichash_update(&h, ch, HELLO_LEN);
	crypto_generichash_update(&h, sh, HELLO_LEN);
	crypto_generichash_final(&h, th, TH_LEN);
}

/*
 * The four X25519 results, in one order both sides agree on: ss (statics), ee (ephemerals),
 * ce (client ephemeral x server static), cs (client static x server ephemeral). Each side
 * holds one secret of every pair. A low-order public key (all-zero result) is refused.
 */
static int derive(struct vg_wire *w, bool client, const uint8_t *my_s, const uint8_t *my_e,
		  const uint8_t *peer_s, const uint8_t *peer_e, const uint8_t th[TH_LEN],
		  uint8_t k_c2s[32], uint8_t k_s2c[32])
{
	uint8_t dh[4][32], master[32];
	int bad = 0;

	bad |= crypto_scalarmult(dh[0], my_s, peer_s);
	bad |= crypto_scalarmult(dh[1], my_e, peer_e);
	if (client) {
		bad |= crypto_scalarmult(dh[2], my_e, peer_s);
		bad |= crypto_scalarmult(dh[3], my_s, peer_e);
	} else {
		bad |= crypto_scalarmult(dh[2], my_s, peer_e);
		bad |= crypto_scalarmult(dh[3], my_e, peer_s);
	}
	if (!bad)
		crypto_generichash(master, sizeof(master), &dh[0][0], sizeof(dh), th, TH_LEN);
	sodium_memzero(dh, sizeof(dh));
	(void)w;
	if (bad)
		return -EPROTO;
	crypto_kdf_derive_from_key(k_c2s, 32, 1, KDF_CTX, master);
	crypto_kdf_derive_from_key(k_s2c, 32, 2, KDF_CTX, master);
	sodium_memzero(master, sizeof(master));
	return 0;
}

/* Sets up both streams: ours pushes with TXK, the peer's header arrives for RXK. */
static int streams(struct vg_wire *w, const uint8_t txk[32], const uint8_t rxk[32],
		   uint64_t deadline, struct vg_err *err)
{
	uint8_t hdr[SS_HDR];
	int r;

	crypto_secretstream_xchacha20poly1305_init_push(&w->tx, hdr, txk);
	r = write_all(w, hdr, sizeof(hdr), deadline);
	if (!r)
		r = fill(w, SS_HDR, deadline, false);
	if (r)
		return io_err(err, r, "handshake");
	if (crypto_secretstream_xchacha20poly1305_init_pull(&w->rx, w->in, rxk))
		return vg_errf(err, EPROTO, "handshake: bad stream header");
	consume(w, SS_HDR);
	return 0;
}

static int confirm(struct vg_wire *w, bool client, const uint8_t th[TH_LEN], struct vg_err *err)
{
	uint8_t mine[CONFIRM_LEN], theirs[CONFIRM_LEN];
	const uint8_t *m;
	size_t len;
	int r;

	memcpy(mine, client ? "VGWC" : "VGWS", 4);
	memcpy(mine + 4, th, TH_LEN);
	memcpy(theirs, client ? "VGWS" : "VGWC", 4);
	memcpy(theirs + 4, th, TH_LEN);
	if (client && (r = vg_wire_send(w, mine, sizeof(mine), err)))
		return r;
	r = vg_wire_recv(w, &m, &len, -1, err);
	if (r == -EBADMSG) {
		vg_err_clear(err);
		return vg_errf(err, EPERM,
			       "handshake: the peer does not hold the key it claims (key "
			       "confirmation failed)");
	}
	if (r)
		return r;
	if (len != sizeof(theirs) || sodium_memcmp(m, theirs, sizeof(theirs)))
		return vg_errf(err, EPROTO, "handshake: bad key confirmation");
	if (!client && (r = vg_wire_send(w, mine, sizeof(mine), err)))
		return r;
	return 0;
}

static int start(struct vg_wire **out, int fd, const struct vg_wire_opts *o, struct vg_err *err)
{
	struct vg_wire *w;
	int fl;

	*out = NULL;
	if (sodium_init() < 0) {
		close(fd);
		return vg_errf(err, EIO, "libsodium could not be initialised");
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		close(fd);
		return vg_errf(err, ENOMEM, "out of memory");
	}
	w->fd = fd;
	w->timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int e = errno;

		w->dead = e;
		vg_wire_close(w);
		return vg_errf(err, e, "socket: %s", strerror(e));
	}
	*out = w;
	return 0;
}

static const char *proto_of(const struct vg_wire_opts *o)
{
	return o && o->proto ? o->proto : "";
}

/* The end of both handshakes: key confirmation when all went well, then the secrets wiped;
 * a failed session is closed without a word (its stream never started). */
static int complete(struct vg_wire *w, bool client, int r, const uint8_t th[TH_LEN],
		    struct vg_wire_keypair *eph, uint8_t kc[32], uint8_t ks[32],
		    struct vg_wire **out, struct vg_err *err)
{
	if (!r)
		r = confirm(w, client, th, err);
	sodium_memzero(eph, sizeof(*eph));
	sodium_memzero(kc, 32);
	sodium_memzero(ks, 32);
	if (r) {
		w->dead = -r;
		vg_wire_close(w);
		return r;
	}
	*out = w;
	return 0;
}

int vg_wire_client(struct vg_wire **out, int fd, const struct vg_wire_keypair *self,
		   const uint8_t server_pk[VG_WIRE_KEY_LEN], const struct vg_wire_opts *o,
		   struct vg_err *err)
{
	uint8_t ch[HELLO_LEN], sh[HELLO_LEN], th[TH_LEN], kc[32], ks[32];
	struct vg_wire_keypair eph;
	struct vg_wire *w;
	uint64_t deadline;
	int r = start(&w, fd, o, err);

	if (r)
		return r;
	deadline = vg_mono_ms() + (uint64_t)w->timeout_ms;
	crypto_kx_keypair(eph.pk, eph.sk);
	hello(ch, 'c', ST_OK, self->pk, eph.pk);
	r = write_all(w, ch, sizeof(ch), deadline);
	if (!r)
		r = fill(w, HELLO_LEN, deadline, false);
	if (r) {
		r = io_err(err, r, "handshake");
		goto fail;
	}
	memcpy(sh, w->in, HELLO_LEN);
	consume(w, HELLO_LEN);
	if (memcmp(sh, "VGWs", 4) || sh[4] != 1) {
		r = vg_errf(err, EPROTO, "handshake: the peer does not speak vigil's protocol");
		goto fail;
	}
	if (sh[5] == ST_REFUSED) {
		r = vg_errf(err, EACCES, "the server refused this client's key");
		goto fail;
	}
	if (sh[5] != ST_OK) {
		r = vg_errf(err, EPROTO, "handshake: the server refused the protocol version");
		goto fail;
	}
	if (sodium_memcmp(sh + 8, server_pk, 32)) {
		r = vg_errf(err, EPERM, "the server's key is not the one this client trusts");
		goto fail;
	}
	memcpy(w->peer, server_pk, 32);
	transcript(th, proto_of(o), ch, sh);
	if (derive(w, true, self->sk, eph.sk, sh + 8, sh + 40, th, kc, ks)) {
		r = vg_errf(err, EPROTO, "handshake: the server sent an invalid key");
		goto fail;
	}
	r = streams(w, kc, ks, deadline, err);
fail:
	return complete(w, true, r, th, &eph, kc, ks, out, err);
}

int vg_wire_server(struct vg_wire **out, int fd, const struct vg_wire_keypair *self,
		   vg_wire_authorize_fn authorize, void *ctx, const struct vg_wire_opts *o,
		   struct vg_err *err)
{
	uint8_t ch[HELLO_LEN], sh[HELLO_LEN], th[TH_LEN], kc[32], ks[32];
	struct vg_wire_keypair eph;
	struct vg_wire *w;
	uint64_t deadline;
	int r = start(&w, fd, o, err);

	if (r)
		return r;
	deadline = vg_mono_ms() + (uint64_t)w->timeout_ms;
	crypto_kx_keypair(eph.pk, eph.sk);
	r = fill(w, HELLO_LEN, deadline, false);
	if (r) {
		r = io_err(err, r, "handshake");
		goto fail;
	}
	memcpy(ch, w->in, HELLO_LEN);
	consume(w, HELLO_LEN);
	if (memcmp(ch, "VGWc", 4)) {
		r = vg_errf(err, EPROTO, "handshake: the peer does not speak vigil's protocol");
		goto fail;
	}
	if (ch[4] != 1) {
		hello(sh, 's', ST_VERSION, NULL, NULL);
		write_all(w, sh, sizeof(sh), deadline);
		r = vg_errf(err, EPROTO, "handshake: unknown protocol version %u", ch[4]);
		goto fail;
	}
	memcpy(w->peer, ch + 8, 32);
	if (authorize && (r = authorize(ctx, w->peer)) != 0) {
		char b64[VG_WIRE_KEY_B64_LEN];

		hello(sh, 's', ST_REFUSED, NULL, NULL);
		write_all(w, sh, sizeof(sh), deadline);
		vg_wire_key_encode(w->peer, b64);
		r = vg_errf(err, EACCES, "refused client key %s", b64);
		goto fail;
	}
	hello(sh, 's', ST_OK, self->pk, eph.pk);
	r = write_all(w, sh, sizeof(sh), deadline);
	if (r) {
		r = io_err(err, r, "handshake");
		goto fail;
	}
	transcript(th, proto_of(o), ch, sh);
	if (derive(w, false, self->sk, eph.sk, ch + 8, ch + 40, th, kc, ks)) {
		r = vg_errf(err, EPROTO, "handshake: the client sent an invalid key");
		goto fail;
	}
	r = streams(w, ks, kc, deadline, err);
fail:
	return complete(w, false, r, th, &eph, kc, ks, out, err);
}

static int send_tagged(struct vg_wire *w, const void *msg, size_t len, uint8_t tag,
		       uint64_t deadline, struct vg_err *err)
{
	uint32_t clen = (uint32_t)(len + SS_AB);
	int r;

	if (w->dead)
		return vg_errf(err, w->dead, "the session has ended");
	if (len > VG_WIRE_MAX_MSG)
		return vg_errf(err, EMSGSIZE, "message of %zu bytes is over the %u-byte limit", len,
			       VG_WIRE_MAX_MSG);
	if (grow(&w->out, &w->outcap, 4 + (size_t)clen))
		return vg_errf(err, ENOMEM, "out of memory");
	w->out[0] = (uint8_t)(clen >> 24);
	w->out[1] = (uint8_t)(clen >> 16);
	w->out[2] = (uint8_t)(clen >> 8);
	w->out[3] = (uint8_t)clen;
	crypto_secretstream_xchacha20poly1305_push(&w->tx, w->out + 4, NULL, msg, len, w->out, 4,
						   tag);
	r = write_all(w, w->out, 4 + (size_t)clen, deadline);
	if (r) {
		/* a frame cut in the middle cannot be resumed: the stream is out of step */
		w->dead = -r;
		return io_err(err, r, "sending");
	}
	w->st.msgs_sent++;
	return 0;
}

int vg_wire_send(struct vg_wire *w, const void *msg, size_t len, struct vg_err *err)
{
	return send_tagged(w, msg, len, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
			   vg_mono_ms() + (uint64_t)w->timeout_ms, err);
}

int vg_wire_recv(struct vg_wire *w, const uint8_t **msg, size_t *len, int timeout_ms,
		 struct vg_err *err)
{
	uint64_t deadline;
	unsigned long long mlen = 0;
	uint32_t clen;
	uint8_t tag = 0;
	int r;

	if (w->dead)
		return vg_errf(err, w->dead, "the session has ended");
	deadline = vg_mono_ms() + (uint64_t)(timeout_ms < 0 ? w->timeout_ms : timeout_ms);
	r = fill(w, 4, deadline, timeout_ms == 0);
	if (r == -EAGAIN)
		return r;
	if (r)
		goto io;
	clen = (uint32_t)w->in[0] << 24 | (uint32_t)w->in[1] << 16 | (uint32_t)w->in[2] << 8 |
	       w->in[3];
	if (clen < SS_AB || clen > VG_WIRE_MAX_MSG + SS_AB) {
		w->dead = EBADMSG;
		return vg_errf(err, EBADMSG, "received a frame of impossible length %u", clen);
	}
	r = fill(w, 4 + (size_t)clen, deadline, timeout_ms == 0);
	if (r == -EAGAIN)
		return r;
	if (r)
		goto io;
	if (grow(&w->msg, &w->msgcap, clen))
		return vg_errf(err, ENOMEM, "out of memory");
	if (crypto_secretstream_xchacha20poly1305_pull(&w->rx, w->msg, &mlen, &tag, w->in + 4, clen,
						       w->in, 4)) {
		w->dead = EBADMSG;
		return vg_errf(err, EBADMSG,
			       "a message failed authentication (tampered, replayed, reordered "
			       "or injected); the session is closed");
	}
	consume(w, 4 + (size_t)clen);
	if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
		w->dead = ECONNRESET;
		return vg_errf(err, ECONNRESET, "the peer ended the session");
	}
	w->st.msgs_recv++;
	*msg = w->msg;
	*len = (size_t)mlen;
	return 0;
io:
	if (r != -ETIMEDOUT)
		w->dead = -r;
	return io_err(err, r, "receiving");
}

void vg_wire_close(struct vg_wire *w)
{
	if (!w)
		return;
	if (!w->dead)
		send_tagged(w, "", 0, crypto_secretstream_xchacha20poly1305_TAG_FINAL,
			    vg_mono_ms() + 100, NULL);
	if (w->fd >= 0)
		close(w->fd);
	sodium_memzero(&w->tx, sizeof(w->tx));
	sodium_memzero(&w->rx, sizeof(w->rx));
	if (w->msg)
		sodium_memzero(w->msg, w->msgcap);
	free(w->in);
	free(w->msg);
	free(w->out);
	free(w);
}

int vg_wire_fd(const struct vg_wire *w)
{
	return w->fd;
}

const uint8_t *vg_wire_peer_key(const struct vg_wire *w)
{
	return w->peer;
}

void vg_wire_stats(const struct vg_wire *w, struct vg_wire_stats *st)
{
	*st = w->st;
}
