// SPDX-License-Identifier: MIT
/* libFuzzer: the syscall model loader, then lookups and a batch verified over whatever
 * model validated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sys_fuzz_common.h"
#include "vigil/sysverify.h"

static uint8_t *batch;
static size_t batch_len;

/* A batch naming the small model's module, its syscalls and call sites. */
static void make_batch(void)
{
	struct vg_sb_module md = {
		.id = 0, .idkind = VG_SB_ID_BUILD, .idlen = 20, .name = "/bin/prog", .namelen = 9
	};
	struct vg_sb_enc e = { 0 };

	memcpy(md.ident, fuzz_ident, sizeof(fuzz_ident));
	vg_sb_enc_begin(&e, "fuzz", 1, 0, 0, 0);
	vg_sb_enc_module(&e, &md);
	for (uint32_t i = 0; i < 4; i++) {
		struct vg_sb_token t = { .id = i, .nr = i ? 1 : 39, .ncand = 2 };

		t.ip = (struct vg_sb_loc){ .kind = VG_SB_K_FILE, .off = 0x1007 + 0x49 * i };
		t.cand[0] = (struct vg_sb_loc){ .kind = VG_SB_K_FILE,
						.word = (uint8_t)(i * 2),
						.off = 0x2010 };
		t.cand[1] = (struct vg_sb_loc){ .kind = VG_SB_K_FILE, .word = 3, .off = 0x2020 };
		vg_sb_enc_token(&e, &t);
	}
	vg_sb_enc_events(&e, 1, 9);
	for (uint32_t i = 0; i < 4; i++)
		vg_sb_enc_item(&e, VG_SB_ITEM_TOKEN(i));
	vg_sb_enc_item(&e, VG_SB_ITEM_REPEAT(3, 100));
	vg_sb_enc_item(&e, VG_SB_ITEM_REPEAT(1, 7));
	vg_sb_enc_item(&e, VG_SB_ITEM_TOKEN(1));
	vg_sb_enc_item(&e, VG_SB_ITEM_TOKEN(2));
	vg_sb_enc_item(&e, VG_SB_ITEM_GROUP(2, 9));
	batch = e.buf;
	batch_len = e.len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_sys_model m;
	struct vg_sys_verify_opts o = { 0 };
	struct vg_sys_verifier *v;
	struct vg_sys_result res;
	struct vg_err err = { 0 };
	uint8_t *copy = malloc(size + 8); /* aligned, as an mmap'd file is */

	if (!batch)
		make_batch();
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (vg_sys_model_from_buf(&m, copy, size, &err) == 0) {
		for (uint32_t k = 0; k < m.nmods && k < 8; k++) {
			vg_sys_find_insn(&m, k, 0x1007);
			vg_sys_find_site(&m, k, 0x2010);
			vg_sys_str(&m, m.mods[k].name);
		}
		if (vg_sys_verifier_new(&v, &m, &o, &err) == 0) {
			vg_sys_verifier_batch(v, batch, batch_len, &res, &err);
			vg_sys_verifier_free(v);
		}
	}
	free(copy);
	return 0;
}
