/* SPDX-License-Identifier: MIT */
/*
 * A bounded table: fixed buckets of BTAB_WAYS slots, each slot a key and a value of fixed
 * sizes. Lookups touch one bucket; inserting into a full bucket replaces its least recently
 * used slot. Memory never grows after init, so a flood of new keys (sources, fragments,
 * services) evicts old state instead of exhausting memory. The hash is seeded at random so a
 * sender cannot aim its keys at one bucket.
 */
#ifndef VIGIL_NET_BTAB_H
#define VIGIL_NET_BTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BTAB_WAYS 4

struct vg_btab {
	uint8_t *mem;
	uint32_t nbuckets; /* a power of two */
	uint32_t key_len, val_len, slot;
	uint64_t seed;
};

/* A fast seeded hash for table keys (not cryptographic: the seed is the defence). */
static inline uint64_t vg_net_hash(const void *p, size_t n, uint64_t seed)
{
	const uint8_t *b = p;
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ull);

	while (n >= 8) {
		uint64_t w;

		__builtin_memcpy(&w, b, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
		b += 8;
		n -= 8;
	}
	if (n) {
		uint64_t w = 0;

		__builtin_memcpy(&w, b, n);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

/* A random seed from the kernel (getrandom), for tables and flow hashing. */
uint64_t vg_net_seed(void);

/* Zeroed memory for a large table, backed by transparent huge pages where the kernel allows:
 * lookups land on random pages, and with 4 KiB pages each costs a TLB miss (and, the first
 * time, a page fault). NULL when out of memory. */
void *vg_net_table_alloc(size_t bytes);
void vg_net_table_free(void *p, size_t bytes);

/* ENTRIES is rounded up to a power of two times BTAB_WAYS. 0 or -ENOMEM. */
int vg_btab_init(struct vg_btab *t, uint32_t entries, uint32_t key_len, uint32_t val_len);
/* The value for KEY (KEY_LEN bytes), marked used at NOW. With CREATE, a missing key gets a
 * zeroed value (*created = true), evicting the bucket's least recently used slot when full;
 * without it, NULL. Entries unused since before STALE (<= NOW) count as missing. */
void *vg_btab_get(struct vg_btab *t, const void *key, int64_t now, int64_t stale, bool create,
		  bool *created);
void vg_btab_free(struct vg_btab *t);

#endif
