// SPDX-License-Identifier: MIT
/* ag_map: u64 -> u32 open addressing with linear probing, grown at half load. */
#include <errno.h>
#include <stdlib.h>

#include "agent_int.h"

static uint32_t slot_of(uint64_t key, uint32_t cap)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return (uint32_t)key & (cap - 1);
}

uint32_t vg_ag_map_get(const struct ag_map *m, uint64_t key)
{
	if (!m->cap)
		return AG_NONE;
	for (uint32_t i = slot_of(key, m->cap), n = 0; n < m->cap;
	     n++, i = (i + 1) & (m->cap - 1)) {
		if (m->vals[i] == AG_NONE)
			return AG_NONE;
		if (m->keys[i] == key)
			return m->vals[i];
	}
	return AG_NONE;
}

static int grow(struct ag_map *m)
{
	struct ag_map g = { .cap = m->cap ? m->cap * 2 : 64 };

	g.keys = malloc(g.cap * sizeof(*g.keys));
	g.vals = malloc(g.cap * sizeof(*g.vals));
	if (!g.keys || !g.vals) {
		free(g.keys);
		free(g.vals);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < g.cap; i++)
		g.vals[i] = AG_NONE;
	for (uint32_t i = 0; i < m->cap; i++)
		if (m->vals[i] != AG_NONE)
			vg_ag_map_put(&g, m->keys[i], m->vals[i]);
	free(m->keys);
	free(m->vals);
	*m = g;
	return 0;
}

int vg_ag_map_put(struct ag_map *m, uint64_t key, uint32_t val)
{
	if ((m->n + 1) * 2 > m->cap && grow(m))
		return -ENOMEM;
	for (uint32_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->vals[i] == AG_NONE) {
			m->keys[i] = key;
			m->vals[i] = val;
			m->n++;
			return 0;
		}
		if (m->keys[i] == key) {
			m->vals[i] = val;
			return 0;
		}
	}
}

void vg_ag_map_del(struct ag_map *m, uint64_t key)
{
	uint32_t i, j, mask = m->cap - 1;

	if (!m->cap)
		return;
	for (i = slot_of(key, m->cap);; i = (i + 1) & mask) {
		if (m->vals[i] == AG_NONE)
			return;
		if (m->keys[i] == key)
			break;
	}
	m->vals[i] = AG_NONE;
	m->n--;
	/* shift later members of the chain back so lookups still find them */
	for (j = (i + 1) & mask; m->vals[j] != AG_NONE; j = (j + 1) & mask) {
		uint32_t home = slot_of(m->keys[j], m->cap);

		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			m->vals[j] = AG_NONE;
			i = j;
		}
	}
}

void vg_ag_map_free(struct ag_map *m)
{
	free(m->keys);
	free(m->vals);
	*m = (struct ag_map){ 0 };
}
