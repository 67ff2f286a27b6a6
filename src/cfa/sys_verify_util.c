// SPDX-License-Identifier: MIT
/* Leaf helpers of the syscall verifier and its judge: the keyed tuple hash, the bounded
 * hash sets, and raising an alert (counted, capped per check). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sys_verify_int.h"

/* A fixed key: tuple keys must be the same in training and at every gateway. */
static const uint8_t tuple_key_k[crypto_shorthash_KEYBYTES] = "vigil-sys-tuple";

uint64_t vg_sys_shash(const void *p, size_t n)
{
	uint8_t h[8];
	uint64_t v = 0;

	crypto_shorthash(h, p, n, tuple_key_k);
	for (int i = 7; i >= 0; i--)
		v = v << 8 | h[i];
	return v ? v : 1; /* 0 marks empty slots */
}

bool vg_sys_set_has(const struct u64set *s, uint64_t k)
{
	if (!s->cap)
		return false;
	for (uint32_t i = (uint32_t)(k * 0x9e3779b97f4a7c15ull >> 32) & (s->cap - 1);;
	     i = (i + 1) & (s->cap - 1)) {
		if (!s->v[i])
			return false;
		if (s->v[i] == k)
			return true;
	}
}

/* Adds K; false when the set is full (SET_MAX) or out of memory. */
bool vg_sys_set_add(struct u64set *s, uint64_t k)
{
	if ((s->n + 1) * 2 > s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 256;
		struct u64set g = { .cap = cap };

		if (cap > 2 * SET_MAX || !(g.v = calloc(cap, sizeof(*g.v))))
			return false;
		for (uint32_t i = 0; i < s->cap; i++)
			if (s->v[i])
				vg_sys_set_add(&g, s->v[i]);
		free(s->v);
		*s = g;
	}
	for (uint32_t i = (uint32_t)(k * 0x9e3779b97f4a7c15ull >> 32) & (s->cap - 1);;
	     i = (i + 1) & (s->cap - 1)) {
		if (s->v[i] == k)
			return true;
		if (!s->v[i]) {
			s->v[i] = k;
			s->n++;
			return true;
		}
	}
}

void vg_sys_raise_alert(struct vg_sys_verifier *v, struct vg_sys_alert *a)
{
	uint32_t max = v->o.max_alerts ? v->o.max_alerts : MAX_ALERTS;

	if (v->res)
		v->res->alerts[a->check]++;
	v->tot.alerts[a->check]++;
	if ((int)a->severity + 1 > v->worst)
		v->worst = (int)a->severity + 1;
	if (a->check == VG_SYS_C_LOST || a->check == VG_SYS_C_UNDEFINED)
		v->incomplete = true;
	if (v->o.alert && v->sent[a->check]++ < max)
		v->o.alert(v->o.ctx, a);
}
