// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the switch's frame decoder and the engine behind it. The input is a
 * sequence of frames, each prefixed by a 2-byte length; each frame is decoded (the asserts
 * check that everything the decoder points at lies inside the frame) and then inspected by
 * one engine that lives across inputs with the default rules, every check on and IPS mode, so
 * flows, fragments, nDPI, the checks and the rules all see hostile sequences.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/net_engine.h"

static struct vg_net_rules rs;
static struct vg_net_engine *eng;
static int64_t clock_us = 1700000000000000ll;

static void no_alert(void *ctx, const struct vg_alert *a)
{
	if (!a->check || !a->summary || !a->target_id)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct vg_err err = { 0 };
	struct vg_net_engine_opts o = { .ips = true, .max_flows = 256, .on_alert = no_alert };

	if (vg_net_rules_init(&rs, &err) || vg_net_rules_load(&rs, VG_FUZZ_DEFAULT_RULES, &err) ||
	    vg_net_rules_set_var(&rs, "DNS_SERVERS=10.0.0.53", false, &err) ||
	    vg_net_engine_open(&eng, &rs, &o, &err))
		abort();
	return 0;
}

static void check(const uint8_t *f, uint32_t n)
{
	struct vg_pkt p;

	vg_net_decode(f, n, &p);
	if (p.l3_off > n || p.l3_len > n - (p.l3_off < n ? p.l3_off : n))
		abort();
	if (p.payload && (p.payload < f || p.payload + p.plen > f + n))
		abort();
	if (p.l4 && p.l4_off > n)
		abort();
	for (uint32_t b = 0; b < 32; b++)
		if ((p.anomalies & (1u << b)) && !vg_pkt_anomaly_name(1u << b))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 0;

	while (size - pos >= 2) {
		uint32_t n = (uint32_t)data[pos] << 8 | data[pos + 1];
		uint8_t *copy;

		pos += 2;
		if (n > size - pos)
			n = (uint32_t)(size - pos);
		/* an exact-size copy, so ASan sees any read past the frame */
		copy = malloc(n ? n : 1);
		memcpy(copy, data + pos, n);
		check(copy, n);
		clock_us += 1000 + (n & 0xffff) * 97;
		vg_net_engine_frame(eng, copy, n, n, clock_us, (int)(n % 3) - 1);
		free(copy);
		pos += n;
	}
	return 0;
}
