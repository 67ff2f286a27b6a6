// SPDX-License-Identifier: MIT
/*
 * Content matching: each content in order, with offset/depth (from the start of the payload)
 * or distance/within (from the end of the previous match). When a later content fails, the
 * earlier one is retried at its next occurrence, as Suricata does, within a fixed budget of
 * tries so a hostile payload full of near-matches costs bounded time.
 */
#include <ctype.h>
#include <string.h>

#include "match.h"

#define TRY_BUDGET 256

static bool eq_nocase(const uint8_t *a, const uint8_t *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (tolower(a[i]) != tolower(b[i]))
			return false;
	return true;
}

/* First occurrence of C in D[from, limit) (the match must end by LIMIT), or -1. */
static int64_t find(const struct vg_rule_content *c, const uint8_t *d, uint32_t from,
		    uint32_t limit)
{
	if (limit < c->len || from > limit - c->len)
		return -1;
	if (!c->nocase) {
		const uint8_t *hit = memmem(d + from, limit - from, c->bytes, c->len);

		return hit ? hit - d : -1;
	}
	for (uint32_t i = from; i + c->len <= limit; i++)
		if (tolower(d[i]) == tolower(c->bytes[0]) && eq_nocase(d + i, c->bytes, c->len))
			return i;
	return -1;
}

/* The window [from, limit) content I may occupy, given where the previous one ended. */
static bool window(const struct vg_rule_content *c, uint32_t prev_end, uint32_t n, uint32_t *from,
		   uint32_t *limit)
{
	uint64_t lo, hi = n;

	if (c->relative) {
		lo = (uint64_t)prev_end + (c->distance > 0 ? (uint32_t)c->distance : 0);
		if (c->within >= 0)
			hi = lo + (uint32_t)c->within;
	} else {
		lo = c->offset > 0 ? (uint32_t)c->offset : 0;
		if (c->depth >= 0)
			hi = lo + (uint32_t)c->depth;
	}
	if (hi > n)
		hi = n;
	if (lo > hi)
		return false;
	*from = (uint32_t)lo;
	*limit = (uint32_t)hi;
	return true;
}

static bool match_from(const struct vg_rule *r, int i, const uint8_t *d, uint32_t n,
		       uint32_t prev_end, int *budget)
{
	const struct vg_rule_content *c;
	uint32_t from, limit;
	int64_t at;

	if (i == r->ncontent)
		return true;
	c = &r->content[i];
	if (!window(c, prev_end, n, &from, &limit))
		return c->negated && match_from(r, i + 1, d, n, prev_end, budget);
	if (c->negated)
		return find(c, d, from, limit) < 0 && match_from(r, i + 1, d, n, prev_end, budget);
	while ((at = find(c, d, from, limit)) >= 0) {
		if (--*budget < 0)
			return false;
		if (match_from(r, i + 1, d, n, (uint32_t)at + c->len, budget))
			return true;
		from = (uint32_t)at + 1;
	}
	return false;
}

bool vg_rule_content_match(const struct vg_rule *r, const uint8_t *d, uint32_t n)
{
	int budget = TRY_BUDGET;

	return match_from(r, 0, d, n, 0, &budget);
}
