/* SPDX-License-Identifier: MIT */
/*
 * The CFA measurement chain (construction in include/vigil/cfa_verify.h and docs/cfa.md):
 * segments of VG_CFA_SEG_EVENTS events, each MACed with Poly1305 under a key derived from the
 * previous chain value, linked with BLAKE2b-256. Pure computation.
 */
#ifndef VIGIL_CFA_CHAIN_H
#define VIGIL_CFA_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#define VG_CFA_SEG_EVENTS 4096u

struct vg_cfa_chain {
	uint8_t h[32];
	uint8_t key[32];
	uint64_t index; /* segments hashed */
	uint32_t n;	/* events buffered in seg */
	uint32_t seg[VG_CFA_SEG_EVENTS];
};

void vg_cfa_chain_init(struct vg_cfa_chain *c, const uint8_t key[32], const uint8_t build_id[32],
		       uint32_t stream);
void vg_cfa_chain_add(struct vg_cfa_chain *c, const uint32_t *ev, size_t n);
/* Hashes the buffered partial segment, if any. */
void vg_cfa_chain_flush(struct vg_cfa_chain *c);

#endif
