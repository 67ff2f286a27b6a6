// SPDX-License-Identifier: MIT
/* Measurement chain over fixed-size event segments (contract in include/vigil/cfa_chain.h). */
#include <sodium.h>
#include <string.h>

#include "vigil/cfa_chain.h"

void vg_cfa_chain_init(struct vg_cfa_chain *c, const uint8_t key[32], const uint8_t build_id[32],
		       uint32_t stream)
{
	crypto_generichash_blake2b_state st;
	static const char tag[] = "vigil-cfa-measure-v1";
	uint8_t le[4] = { (uint8_t)stream, (uint8_t)(stream >> 8), (uint8_t)(stream >> 16),
			  (uint8_t)(stream >> 24) };

	c->index = 0;
	c->n = 0;
	memcpy(c->key, key, 32);
	crypto_generichash_blake2b_init(&st, NULL, 0, 32);
	crypto_generichash_blake2b_update(&st, (const uint8_t *)tag, sizeof(tag) - 1);
	crypto_generichash_blake2b_update(&st, build_id, 32);
	crypto_generichash_blake2b_update(&st, le, 4);
	crypto_generichash_blake2b_final(&st, c->h, 32);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Events are hashed as stored: little-endian u32 on the x86-64 and AArch64 hosts vigil runs on. */
static void segment(struct vg_cfa_chain *c, const uint32_t *ev, uint32_t n)
{
	uint8_t in[3 + 32 + 8], k[32], tag[16], idx[8], cnt[4];
	crypto_generichash_blake2b_state st;

	c->index++;
	put64(idx, c->index);
	memcpy(in, "seg", 3);
	memcpy(in + 3, c->h, 32);
	memcpy(in + 35, idx, 8);
	crypto_generichash_blake2b(k, 32, in, sizeof(in), c->key, 32);
	crypto_onetimeauth_poly1305(tag, (const uint8_t *)ev, (unsigned long long)n * 4, k);
	for (int i = 0; i < 4; i++)
		cnt[i] = (uint8_t)(n >> (8 * i));
	crypto_generichash_blake2b_init(&st, NULL, 0, 32);
	crypto_generichash_blake2b_update(&st, c->h, 32);
	crypto_generichash_blake2b_update(&st, idx, 8);
	crypto_generichash_blake2b_update(&st, cnt, 4);
	crypto_generichash_blake2b_update(&st, tag, 16);
	crypto_generichash_blake2b_final(&st, c->h, 32);
	sodium_memzero(k, sizeof(k));
}

void vg_cfa_chain_add(struct vg_cfa_chain *c, const uint32_t *ev, size_t n)
{
	while (n) {
		if (!c->n && n >= VG_CFA_SEG_EVENTS) {
			segment(c, ev,
				VG_CFA_SEG_EVENTS); /* whole segment straight from the batch */
			ev += VG_CFA_SEG_EVENTS;
			n -= VG_CFA_SEG_EVENTS;
			continue;
		}
		size_t k = VG_CFA_SEG_EVENTS - c->n;

		if (k > n)
			k = n;
		memcpy(c->seg + c->n, ev, k * 4);
		c->n += (uint32_t)k;
		ev += k;
		n -= k;
		if (c->n == VG_CFA_SEG_EVENTS) {
			segment(c, c->seg, c->n);
			c->n = 0;
		}
	}
}

void vg_cfa_chain_flush(struct vg_cfa_chain *c)
{
	if (c->n) {
		segment(c, c->seg, c->n);
		c->n = 0;
	}
}
