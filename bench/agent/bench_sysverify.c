// SPDX-License-Identifier: MIT
/*
 * The gateway's engine alone (no channel, no crypto): every batch of a recording verified
 * against a model, over and over, as if by DEVICES devices; prints syscalls per CPU second
 * of this thread (the one-core figure) as JSON: the first pass (every syscall kind judged
 * for the first time on each device) and the five passes after it.
 *   bench_sysverify MODEL RECORDING [DEVICES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/clock.h"
#include "vigil/sysverify.h"

int main(int argc, char **argv)
{
	struct vg_sys_model m;
	struct vg_sb_reader r;
	struct vg_err err = { 0 };
	uint8_t **b = NULL;
	size_t *len = NULL, n = 0, blen;
	const uint8_t *p;
	uint64_t events = 0, batches = 0, t0, t1, first_cpu = 0, first_events = 0;
	uint32_t devices = argc > 3 ? (uint32_t)atoi(argv[3]) : 100;
	struct vg_sys_verifier **v;

	if (argc < 3 || vg_sys_model_load(&m, argv[1], &err) || vg_sb_rec_open(&r, argv[2], &err)) {
		fprintf(stderr, "bench_sysverify MODEL RECORDING [DEVICES]: %s\n", err.msg);
		return 2;
	}
	while (vg_sb_rec_next(&r, &p, &blen, &err) > 0) {
		b = realloc(b, (n + 1) * sizeof(*b));
		len = realloc(len, (n + 1) * sizeof(*len));
		b[n] = malloc(blen);
		memcpy(b[n], p, blen);
		len[n++] = blen;
	}
	vg_sb_rec_close(&r);
	v = calloc(devices, sizeof(*v));
	t0 = vg_thread_cpu_ns();
	for (uint32_t d = 0; d < devices; d++)
		if (vg_sys_verifier_new(&v[d], &m, &(struct vg_sys_verify_opts){ 0 }, &err))
			return 2;
	/* round 0 judges every syscall kind once per device (a device's first minutes); the
	 * next rounds are the steady state */
	for (int round = 0; round < 6; round++) {
		if (round == 1) {
			first_cpu = vg_thread_cpu_ns() - t0;
			first_events = events;
			events = batches = 0;
			t0 = vg_thread_cpu_ns();
		}
		for (size_t k = 0; k < n; k++)
			for (uint32_t d = 0; d < devices; d++) {
				struct vg_sys_result res;

				if (vg_sys_verifier_batch(v[d], b[k], len[k], &res, &err))
					return 2;
				events += res.events;
				batches++;
			}
	}
	t1 = vg_thread_cpu_ns();
	printf("{\"devices\":%u,\"batches\":%llu,\"syscalls\":%llu,\"cpu_s\":%.6f,"
	       "\"syscalls_per_cpu_s\":%.0f,\"batches_per_cpu_s\":%.0f,"
	       "\"first_pass_syscalls_per_cpu_s\":%.0f}\n",
	       devices, (unsigned long long)batches, (unsigned long long)events,
	       (double)(t1 - t0) / 1e9, (double)events / ((double)(t1 - t0) / 1e9),
	       (double)batches / ((double)(t1 - t0) / 1e9),
	       (double)first_events / ((double)first_cpu / 1e9));
	return 0;
}
