// SPDX-License-Identifier: MIT
/* libFuzzer: the CFA trace batch parser feeding the verifier (tiny fixed model). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/cfa_model.h"
#include "vigil/cfa_trace.h"
#include "vigil/cfa_verify.h"

static struct vg_cfa_node nodes[] = {
	{ 0x110, 0, VG_CFA_N_SITE | VG_CFA_N_ENTRY | VG_CFA_N_HEADER, VG_CFA_NONE, 0, 2, 0, 0, -1,
	  0 },
	{ 0x120, 0, VG_CFA_N_SITE | VG_CFA_N_CANRET, 0, 2, 1, 0, 1, -1, 0 },
	{ 0x130, 0, VG_CFA_N_RP, VG_CFA_NONE, 0, 0, 0, 0, -1, 0 },
};
static const uint32_t succ[] = { 1, 0 | VG_CFA_SUCC_BACK, 0 };
static const struct vg_cfa_call calls[] = { { 0, 2 } };
static const uint32_t lists[] = { 0 };
static const char strs[] = "\0main";
static const struct vg_cfa_func funcs[] = {
	{ 0x100, 0x200, 1, VG_CFA_F_INSTR | VG_CFA_F_ENTERABLE, 0, 1, 0, 0 },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vg_cfa_slot slots[4] = {
		{ 0x110, 0 }, { 0x120, 1 }, { VG_CFA_NONE, 0 }, { VG_CFA_NONE, 0 }
	};
	struct vg_cfa_model m = { .kind = 1,
				  .nodes = nodes,
				  .nnodes = 3,
				  .funcs = funcs,
				  .nfuncs = 1,
				  .succ = succ,
				  .nsucc = 3,
				  .calls = calls,
				  .ncalls = 1,
				  .lists = lists,
				  .nlists = 1,
				  .slots = slots,
				  .nslots = 4,
				  .strs = strs,
				  .nstrs = sizeof(strs) };
	struct vg_cfa_verify_opts o = { 0 };
	struct vg_cfa_trace_reader r;
	struct vg_cfa_verifier *v;
	struct vg_cfa_batch b;
	struct vg_err err = { 0 };
	char path[] = "/tmp/fuzz-cfa-trace-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	if (fd < 0)
		return 0;
	f = fdopen(fd, "wb");
	fwrite(data, 1, size, f);
	fclose(f);
	if (vg_cfa_trace_open(&r, path, &err) == 0) {
		if (vg_cfa_verifier_new(&v, &m, &o, &err) == 0) {
			while (vg_cfa_trace_next(&r, &b, &err) > 0)
				vg_cfa_verifier_feed(v, b.stream % VG_CFA_MAX_STREAMS, b.ev, b.n);
			vg_cfa_verifier_finish(v);
			vg_cfa_verifier_free(v);
		}
		vg_cfa_trace_close(&r);
	}
	unlink(path);
	return 0;
}
