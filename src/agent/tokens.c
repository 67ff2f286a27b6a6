// SPDX-License-Identifier: MIT
/*
 * Token interning: each distinct syscall (number, argkey, path hash, issuing code, call-site
 * candidates) gets a small id, defined once to the gateway and then sent as that id. The table
 * is keyed with SipHash under a per-run random key, because the traced program chooses some
 * of the contents (addresses of injected code, paths) and must not be able to make every
 * lookup collide.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent_int.h"

int vg_ag_tokens_init(struct ag_tokens *t)
{
	memset(t, 0, sizeof(*t));
	if (sodium_init() < 0)
		return -EIO;
	randombytes_buf(t->key, sizeof(t->key));
	return 0;
}

static void canon(struct vg_sb_token *c, const struct vg_sb_token *in)
{
	memset(c, 0, sizeof(*c));
	c->nr = in->nr;
	c->argkey = in->argkey;
	c->pathhash = in->pathhash;
	c->unres = in->unres;
	c->ip.kind = in->ip.kind;
	c->ip.module = in->ip.module;
	c->ip.off = in->ip.off;
	c->ncand = in->ncand > VG_SB_MAX_CAND ? VG_SB_MAX_CAND : in->ncand;
	for (uint8_t i = 0; i < c->ncand; i++) {
		c->cand[i].kind = in->cand[i].kind;
		c->cand[i].word = in->cand[i].word;
		c->cand[i].module = in->cand[i].module;
		c->cand[i].off = in->cand[i].off;
	}
}

static uint8_t *put(uint8_t *p, const void *v, size_t n)
{
	memcpy(p, v, n);
	return p + n;
}

/* Hashes only the fields in use (a token is mostly empty candidate slots). */
static uint32_t hash(const struct ag_tokens *t, const struct vg_sb_token *c)
{
	uint8_t buf[128], *p = buf, h[crypto_shorthash_BYTES];
	uint32_t v;

	p = put(p, &c->nr, 4);
	p = put(p, &c->argkey, 4);
	p = put(p, &c->pathhash, 4);
	p = put(p, &c->unres, 4);
	p = put(p, &c->ip.off, 8);
	p = put(p, &c->ip.module, 4);
	*p++ = c->ip.kind;
	*p++ = c->ncand;
	for (uint8_t i = 0; i < c->ncand; i++) {
		p = put(p, &c->cand[i].off, 8);
		p = put(p, &c->cand[i].module, 4);
		*p++ = c->cand[i].kind;
		*p++ = c->cand[i].word;
	}
	crypto_shorthash(h, buf, (unsigned long long)(p - buf), t->key);
	memcpy(&v, h, sizeof(v));
	return v;
}

static int rehash(struct ag_tokens *t)
{
	uint32_t n = t->nslots ? t->nslots * 2 : 1024, *s = malloc(n * sizeof(*s));

	if (!s)
		return -ENOMEM;
	memset(s, 0xff, n * sizeof(*s));
	for (uint32_t i = 0; i < t->n; i++) {
		uint32_t k = hash(t, &t->v[i].t) & (n - 1);

		while (s[k] != AG_NONE)
			k = (k + 1) & (n - 1);
		s[k] = i;
	}
	free(t->slots);
	t->slots = s;
	t->nslots = n;
	return 0;
}

uint32_t vg_ag_tokens_intern(struct ag_tokens *t, const struct vg_sb_token *tok, bool *is_new)
{
	struct vg_sb_token c;
	uint32_t k;

	*is_new = false;
	if ((t->n + 1) * 2 > t->nslots && rehash(t))
		return AG_NONE;
	canon(&c, tok);
	k = hash(t, &c) & (t->nslots - 1);
	for (; t->slots[k] != AG_NONE; k = (k + 1) & (t->nslots - 1))
		if (!memcmp(&t->v[t->slots[k]].t, &c, sizeof(c)))
			return t->slots[k];
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 1024;
		void *p = realloc(t->v, cap * sizeof(*t->v));

		if (!p)
			return AG_NONE;
		t->v = p;
		t->cap = cap;
	}
	t->v[t->n].t = c;
	t->v[t->n].sent_seq = t->v[t->n].used_seq = UINT64_MAX;
	t->slots[k] = t->n;
	*is_new = true;
	return t->n++;
}

void vg_ag_tokens_free(struct ag_tokens *t)
{
	free(t->v);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}
