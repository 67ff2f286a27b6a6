// SPDX-License-Identifier: MIT
/*
 * Simulated devices for `vigil cfa serve`, speaking the real protocol: each device has its
 * own static key (derived from its number, so the registry can be written beforehand),
 * connects over the secure channel, says hello and sends the batches of a real agent
 * recording under its own device id, boot and sequence numbers.
 *
 *   sys_loadgen registry --devices N --model MODEL -o FILE   registry for `cfa serve`
 *   sys_loadgen run --gateway H:P --gateway-pub PUB --devices N --recording REC
 *                   [--batches B] [--attacks]                 JSON summary on stdout
 * --attacks: device 0 also sends a batch under device 1's name (forged), one of its
 * accepted batches again (replayed), a frame of garbage on its channel (tampered), and an
 * unregistered key tries to connect (refused).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sodium.h>

#include "vigil/clock.h"
#include "vigil/json.h"
#include "vigil/sysbatch.h"
#include "vigil/wire.h"

struct dev {
	struct vg_wire *w;
	struct vg_wire_keypair kp;
	char id[VG_SB_DEVICE_MAX];
	uint64_t boot, sent, acked;
	uint64_t verdicts[4];
};

struct rec {
	uint8_t **b;
	size_t *len, n;
	uint64_t events;
};

static void keypair(uint32_t i, struct vg_wire_keypair *kp)
{
	uint8_t seed[crypto_kx_SEEDBYTES], in[16];

	memcpy(in, "vigil-loadgen", 13);
	in[13] = (uint8_t)i;
	in[14] = (uint8_t)(i >> 8);
	in[15] = (uint8_t)(i >> 16);
	crypto_generichash(seed, sizeof(seed), in, sizeof(in), NULL, 0);
	crypto_kx_seed_keypair(kp->pk, kp->sk, seed);
}

static int write_registry(uint32_t n, const char *model, const char *out)
{
	FILE *f = fopen(out, "w");

	if (!f) {
		perror(out);
		return 2;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct vg_wire_keypair kp;
		char b64[VG_WIRE_KEY_B64_LEN];

		keypair(i, &kp);
		vg_wire_key_encode(kp.pk, b64);
		fprintf(f, "sim-%05u %s %s\n", i, b64, model);
	}
	return fclose(f) ? 2 : 0;
}

static int load_recording(const char *path, struct rec *r)
{
	struct vg_sb_reader rd;
	struct vg_err err = { 0 };
	const uint8_t *b;
	size_t len;
	int rc;

	memset(r, 0, sizeof(*r));
	if (vg_sb_rec_open(&rd, path, &err)) {
		fprintf(stderr, "loadgen: %s\n", err.msg);
		return -1;
	}
	while ((rc = vg_sb_rec_next(&rd, &b, &len, &err)) > 0) {
		r->b = realloc(r->b, (r->n + 1) * sizeof(*r->b));
		r->len = realloc(r->len, (r->n + 1) * sizeof(*r->len));
		if (!r->b || !r->len || !(r->b[r->n] = malloc(len)))
			return -1;
		memcpy(r->b[r->n], b, len);
		r->len[r->n++] = len;
	}
	vg_sb_rec_close(&rd);
	if (rc < 0 || !r->n) {
		fprintf(stderr, "loadgen: %s: %s\n", path, rc < 0 ? err.msg : "no batches");
		return -1;
	}
	return 0;
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Batch K of the recording as device D's batch SEQ (header rewritten; FINAL cleared). */
static void restamp(uint8_t *b, const struct dev *d, const char *as, uint64_t seq)
{
	b[6] = b[7] = 0;
	le64(b + 8, d->boot);
	le64(b + 16, seq);
	memset(b + 32, 0, VG_SB_DEVICE_MAX);
	memcpy(b + 32, as, strnlen(as, VG_SB_DEVICE_MAX - 1));
}

static int connect_dev(struct dev *d, const char *host, const char *port, const uint8_t *gpk)
{
	struct vg_wire_opts wo = { .proto = VG_SB_PROTO, .timeout_ms = 10000 };
	struct vg_sb_hello h = { .boot = d->boot };
	uint8_t hello[VG_SB_HELLO_LEN];
	struct vg_err err = { 0 };
	const uint8_t *m;
	size_t len;
	uint64_t next;
	bool known;
	int fd = vg_wire_dial(host, port, 10000, &err);

	if (fd < 0 || vg_wire_client(&d->w, fd, &d->kp, gpk, &wo, &err)) {
		fprintf(stderr, "loadgen: %s: %s\n", d->id, err.msg);
		d->w = NULL;
		return -1;
	}
	snprintf(h.device, sizeof(h.device), "%s", d->id);
	vg_sb_hello_pack(hello, &h);
	if (vg_wire_send(d->w, hello, sizeof(hello), &err) ||
	    vg_wire_recv(d->w, &m, &len, -1, &err) || vg_sb_reply_unpack(m, len, &known, &next)) {
		fprintf(stderr, "loadgen: %s: hello: %s\n", d->id, err.msg);
		vg_wire_close(d->w);
		d->w = NULL;
		return -1;
	}
	return 0;
}

static int send_batch(struct dev *d, const struct rec *r, size_t k, const char *as, uint64_t seq,
		      uint8_t *tmp)
{
	struct vg_err err = { 0 };

	memcpy(tmp, r->b[k], r->len[k]);
	restamp(tmp, d, as, seq);
	if (vg_wire_send(d->w, tmp, r->len[k], &err)) {
		fprintf(stderr, "loadgen: %s: %s\n", d->id, err.msg);
		return -1;
	}
	return 0;
}

static void drain_acks(struct dev *d, int timeout_ms)
{
	struct vg_err err = { 0 };
	const uint8_t *m;
	size_t len;
	uint64_t seq;
	uint32_t verdict;

	while (d->w && d->acked < d->sent) {
		int rc = vg_wire_recv(d->w, &m, &len, timeout_ms, &err);

		if (rc == -EAGAIN || rc == -ETIMEDOUT)
			return;
		if (rc || vg_sb_ack_unpack(m, len, &seq, &verdict))
			return;
		d->acked++;
		if (verdict < 4)
			d->verdicts[verdict]++;
	}
}

/* The attacks of --attacks; counts what the gateway should have rejected. */
static int attacks(struct dev *devs, uint32_t n, const struct rec *r, uint8_t *tmp,
		   const char *host, const char *port, const uint8_t *gpk, uint64_t *refused)
{
	struct dev *d = &devs[0], stranger = { 0 };
	struct vg_err err = { 0 };

	if (n < 2 || !d->w)
		return -1;
	/* forged: device 0's key, device 1's name */
	if (send_batch(d, r, 0, devs[1].id, d->sent, tmp))
		return -1;
	/* replayed: batch 0 again */
	if (send_batch(d, r, 0, d->id, 0, tmp))
		return -1;
	/* a key the gateway does not know */
	keypair(0xfffff, &stranger.kp);
	snprintf(stranger.id, sizeof(stranger.id), "stranger");
	if (connect_dev(&stranger, host, port, gpk))
		(*refused)++;
	else
		vg_wire_close(stranger.w);
	/* tampered: bytes on the channel that are no authenticated frame */
	{
		uint8_t junk[64] = { 0, 0, 0, 40 };

		randombytes_buf(junk + 4, sizeof(junk) - 4);
		if (write(vg_wire_fd(d->w), junk, 44) != 44)
			return -1;
	}
	(void)err;
	return 0;
}

static void summary(uint32_t n, const struct dev *devs, const struct rec *r, uint64_t batches,
		    double hs_ms, double send_ms, uint64_t refused)
{
	uint64_t sent = 0, acked = 0, v[4] = { 0 }, connected = 0;
	struct vg_json j;

	for (uint32_t i = 0; i < n; i++) {
		sent += devs[i].sent;
		acked += devs[i].acked;
		connected += devs[i].w != NULL || devs[i].sent;
		for (int k = 0; k < 4; k++)
			v[k] += devs[i].verdicts[k];
	}
	vg_json_init(&j, stdout, false);
	vg_json_obj_open(&j);
	vg_json_kuint(&j, "devices", n);
	vg_json_kuint(&j, "connected", connected);
	vg_json_kuint(&j, "batches_per_device", batches);
	vg_json_kuint(&j, "batches_sent", sent);
	vg_json_kuint(&j, "acked", acked);
	vg_json_kuint(&j, "recording_batches", r->n);
	vg_json_key(&j, "verdicts");
	vg_json_obj_open(&j);
	vg_json_kuint(&j, "clean", v[0]);
	vg_json_kuint(&j, "anomaly", v[1]);
	vg_json_kuint(&j, "violation", v[2]);
	vg_json_kuint(&j, "incomplete", v[3]);
	vg_json_obj_close(&j);
	vg_json_kuint(&j, "refused", refused);
	vg_json_kdouble(&j, "handshake_ms", hs_ms);
	vg_json_kdouble(&j, "send_ms", send_ms);
	vg_json_obj_close(&j);
	vg_json_end(&j);
}

static int run(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "gateway", required_argument, NULL, 'g' },
		{ "gateway-pub", required_argument, NULL, 'P' },
		{ "devices", required_argument, NULL, 'n' },
		{ "recording", required_argument, NULL, 'r' },
		{ "batches", required_argument, NULL, 'b' },
		{ "attacks", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	const char *gw = NULL, *pub = NULL, *recpath = NULL;
	char host[256], port[16];
	uint8_t gpk[32], *tmp;
	uint32_t n = 0;
	uint64_t batches = 0, refused = 0;
	bool do_attacks = false;
	struct vg_err err = { 0 };
	struct rec r;
	struct dev *devs;
	struct rlimit rl;
	double t0, t1, t2;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'g':
			gw = optarg;
			break;
		case 'P':
			pub = optarg;
			break;
		case 'n':
			n = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			recpath = optarg;
			break;
		case 'b':
			batches = strtoull(optarg, NULL, 10);
			break;
		case 'a':
			do_attacks = true;
			break;
		default:
			return 2;
		}
	}
	if (!gw || !pub || !n || !recpath ||
	    vg_wire_split_hostport(gw, host, sizeof(host), port, sizeof(port)) ||
	    vg_wire_key_read_public(pub, gpk, &err) || load_recording(recpath, &r)) {
		fprintf(stderr,
			"loadgen: run --gateway H:P --gateway-pub PUB --devices N "
			"--recording REC [--batches B] [--attacks] %s\n",
			err.msg);
		return 2;
	}
	if (!batches)
		batches = r.n;
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	devs = calloc(n, sizeof(*devs));
	tmp = malloc(VG_SB_MAX_BATCH);
	if (!devs || !tmp)
		return 2;
	t0 = vg_mono_msf();
	for (uint32_t i = 0; i < n; i++) {
		keypair(i, &devs[i].kp);
		snprintf(devs[i].id, sizeof(devs[i].id), "sim-%05u", i);
		randombytes_buf(&devs[i].boot, sizeof(devs[i].boot));
		connect_dev(&devs[i], host, port, gpk);
	}
	t1 = vg_mono_msf();
	/* round robin: every device's batch k before anyone's batch k+1 */
	for (uint64_t k = 0; k < batches; k++)
		for (uint32_t i = 0; i < n; i++) {
			struct dev *d = &devs[i];

			if (!d->w)
				continue;
			if (send_batch(d, &r, k % r.n, d->id, k, tmp)) {
				vg_wire_close(d->w);
				d->w = NULL;
				continue;
			}
			d->sent++;
			drain_acks(d, 0);
		}
	for (uint32_t i = 0; i < n; i++)
		drain_acks(&devs[i], 10000);
	t2 = vg_mono_msf();
	if (do_attacks && attacks(devs, n, &r, tmp, host, port, gpk, &refused))
		fprintf(stderr, "loadgen: the attacks could not all be sent\n");
	summary(n, devs, &r, batches, t1 - t0, t2 - t1, refused);
	for (uint32_t i = 0; i < n; i++)
		if (devs[i].w)
			vg_wire_close(devs[i].w);
	return 0;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 2;
	if (argc > 1 && !strcmp(argv[1], "registry")) {
		static const struct option lo[] = {
			{ "devices", required_argument, NULL, 'n' },
			{ "model", required_argument, NULL, 'm' },
			{ NULL, 0, NULL, 0 },
		};
		const char *model = NULL, *out = NULL;
		uint32_t n = 0;
		int c;

		optind = 2;
		while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1)
			if (c == 'n')
				n = (uint32_t)strtoul(optarg, NULL, 10);
			else if (c == 'm')
				model = optarg;
			else if (c == 'o')
				out = optarg;
			else
				return 2;
		if (!n || !model || !out) {
			fprintf(stderr, "loadgen: registry --devices N --model MODEL -o FILE\n");
			return 2;
		}
		return write_registry(n, model, out);
	}
	if (argc > 1 && !strcmp(argv[1], "run")) {
		optind = 2;
		return run(argc, argv);
	}
	fprintf(stderr, "usage: sys_loadgen registry|run ...\n");
	return 2;
}
