// SPDX-License-Identifier: MIT
/*
 * Verifier and measurement-chain throughput on one core, over a real recorded trace.
 * Usage: bench_verify MODEL TRACE  ->  one JSON line with events/s of each and their ratios to
 * the targets (verifier 50 M/s, chain 200 M/s) and to ScaRR's reported ~2 M/s.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/cfa_chain.h"
#include "vigil/cfa_model.h"
#include "vigil/cfa_trace.h"
#include "vigil/cfa_verify.h"

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void count(void *ctx, const struct vg_cfa_alert *a)
{
	(*(uint64_t *)ctx)++;
}

int main(int argc, char **argv)
{
	struct vg_cfa_model m;
	struct vg_cfa_trace_reader r;
	struct vg_cfa_batch b;
	struct vg_err err = { 0 };
	uint32_t *ev = NULL;
	size_t n = 0, cap = 0;
	uint64_t alerts = 0;

	if (argc != 3 || sodium_init() < 0) {
		fprintf(stderr, "usage: bench_verify MODEL TRACE\n");
		return 2;
	}
	if (vg_cfa_model_load(&m, argv[1], &err) || vg_cfa_trace_open(&r, argv[2], &err)) {
		fprintf(stderr, "bench_verify: %s\n", err.msg);
		return 2;
	}
	while (vg_cfa_trace_next(&r, &b, &err) > 0) {
		if (b.stream)
			continue;
		if (n + b.n > cap) {
			cap = (n + b.n) * 2;
			ev = realloc(ev, cap * 4);
			if (!ev)
				return 2;
		}
		memcpy(ev + n, b.ev, (size_t)b.n * 4);
		n += b.n;
	}
	vg_cfa_trace_close(&r);
	double best_v = 0, best_c = 0;

	for (int rep = 0; rep < 3; rep++) {
		struct vg_cfa_verify_opts o = { .alert = count, .ctx = &alerts };
		struct vg_cfa_verifier *v;

		if (vg_cfa_verifier_new(&v, &m, &o, &err))
			return 2;
		double t0 = now();

		for (size_t off = 0; off < n; off += 65536)
			vg_cfa_verifier_feed(v, 0, ev + off, n - off < 65536 ? n - off : 65536);
		vg_cfa_verifier_finish(v);
		double dt = now() - t0;

		vg_cfa_verifier_free(v);
		if (n / dt > best_v)
			best_v = (double)n / dt;
	}
	static struct vg_cfa_chain c;
	uint8_t key[32] = { 1 };

	for (int rep = 0; rep < 3; rep++) {
		double t0 = now();

		vg_cfa_chain_init(&c, key, m.build_id, 0);
		vg_cfa_chain_add(&c, ev, n);
		vg_cfa_chain_flush(&c);
		double dt = now() - t0;

		if (n / dt > best_c)
			best_c = (double)n / dt;
	}
	printf("{\"events\":%zu,\"alerts\":%llu,\"verifier_events_per_s\":%.0f,"
	       "\"verifier_ratio_to_target_50M\":%.2f,\"verifier_ratio_to_scarr_2M\":%.1f,"
	       "\"chain_addresses_per_s\":%.0f,\"chain_ratio_to_target_200M\":%.2f}\n",
	       n, (unsigned long long)alerts / 3, best_v, best_v / 50e6, best_v / 2e6, best_c,
	       best_c / 200e6);
	free(ev);
	vg_cfa_model_free(&m);
	return 0;
}
