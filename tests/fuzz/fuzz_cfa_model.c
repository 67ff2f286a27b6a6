// SPDX-License-Identifier: MIT
/* libFuzzer: the CFA model loader, then the verifier over whatever model validated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/cfa_model.h"
#include "vigil/cfa_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_cfa_model m;
	struct vg_cfa_verify_opts o = { 0 };
	struct vg_cfa_verifier *v;
	struct vg_err err = { 0 };
	uint8_t *copy = malloc(size + 8); /* aligned copy: the loader expects an mmap-like buffer */

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (vg_cfa_model_from_buf(&m, copy, size, &err) == 0 &&
	    vg_cfa_verifier_new(&v, &m, &o, &err) == 0) {
		uint32_t ev[64];

		/* walk the model's own sites plus junk: exercises calls, returns, loops, resync */
		for (uint32_t i = 0; i < 64; i++)
			ev[i] = m.nnodes ? m.nodes[(i * 7u) % m.nnodes].off : i;
		vg_cfa_verifier_feed(v, 0, ev, 64);
		vg_cfa_verifier_finish(v);
		vg_cfa_verifier_free(v);
	}
	free(copy);
	return 0;
}
