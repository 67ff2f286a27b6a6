/* SPDX-License-Identifier: MIT */
/*
 * A syscall dispatcher's direct branches, decoded once per distinct function body and
 * remembered in the discovery cache directory (dispatch_memo.c), so a scan of a kernel seen
 * before needs no disassembler.
 */
#ifndef VIGIL_IDS_DISPATCH_MEMO_H
#define VIGIL_IDS_DISPATCH_MEMO_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/linux.h"

/* One direct jmp/jcc/call in the function: where, to where (both relative to its start, so
 * the record holds for any KASLR slide), and its mnemonic. */
struct dm_branch {
	int64_t target;
	uint32_t off;
	uint8_t is_call;
	char mnemonic[19];
};

#define DM_MAX_BRANCHES 16384

/* 0 and a malloc'd array (*n entries, possibly 0) when a record for exactly CODE exists. */
int vg_dispatch_memo_load(const struct vg_linux *lx, const uint8_t *code, size_t size,
			  struct dm_branch **out, size_t *n);
void vg_dispatch_memo_store(const struct vg_linux *lx, const uint8_t *code, size_t size,
			    const struct dm_branch *v, size_t n);

#endif
