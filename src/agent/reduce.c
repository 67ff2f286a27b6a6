// SPDX-License-Identifier: MIT
/*
 * Loop folding of one thread's token stream. When a token equals the one PERIOD places back
 * (PERIOD <= 8), a repetition starts; once PERIOD tokens have matched, the batch gets "the
 * last PERIOD events repeat once more", merged into the previous such item, so a loop of any
 * length costs one item per batch. A repetition that breaks before completing falls back to
 * plain events. At the end of a batch, repeating runs of items (a folded loop and the syscall
 * that interrupts it, over and over) are folded once more. The expanded stream is exactly the
 * input (the decoder reverses it), so the gateway verifies every syscall: a repeated sequence
 * is checked once and counted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"

static uint32_t back(const struct ag_thread *th, uint32_t q)
{
	return th->hist[(th->nhist - q) % AG_HIST];
}

static void push(struct ag_thread *th, uint32_t t)
{
	th->hist[th->nhist % AG_HIST] = t;
	th->nhist++;
}

static int item(struct ag_thread *th, uint64_t v)
{
	if (th->nitems == th->capitems) {
		uint32_t cap = th->capitems ? th->capitems * 2 : 64;
		uint64_t *p = realloc(th->items, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		th->items = p;
		th->capitems = cap;
	}
	th->items[th->nitems++] = v;
	return 0;
}

static bool last_is_rep(const struct ag_thread *th, uint32_t period)
{
	uint64_t v;

	if (!th->nitems)
		return false;
	v = th->items[th->nitems - 1];
	return VG_SB_ITEM_KIND(v) == 1 && VG_SB_ITEM_LEN(v) == period;
}

static int rep(struct ag_thread *th, uint32_t period, uint64_t count)
{
	if (last_is_rep(th, period)) {
		th->items[th->nitems - 1] += VG_SB_ITEM_REPEAT(1, count) & ~0x1full;
		return 0;
	}
	return item(th, VG_SB_ITEM_REPEAT(period, count));
}

/* The tokens of a broken repetition were only remembered: they become plain events. */
static int flush_pending(struct ag_thread *th)
{
	int r = 0;

	for (uint32_t q = th->matched; q > 0 && !r; q--)
		r = item(th, VG_SB_ITEM_TOKEN(back(th, q)));
	th->period = th->matched = 0;
	return r;
}

int vg_ag_reduce_event(struct ag_thread *th, uint32_t t)
{
	uint32_t avail = th->nhist < AG_HIST ? th->nhist : AG_HIST, q;
	int r;

	th->events++;
	th->last = t;
	if (th->period) {
		if (t == back(th, th->period)) {
			push(th, t);
			if (++th->matched < th->period)
				return 0;
			th->matched = 0;
			return rep(th, th->period, 1);
		}
		if ((r = flush_pending(th)))
			return r;
	}
	for (q = 1; q <= VG_SB_MAX_PERIOD && q <= avail; q++)
		if (back(th, q) == t)
			break;
	if (q <= VG_SB_MAX_PERIOD && q <= avail) {
		th->period = q;
		push(th, t);
		if (q > 1) {
			th->matched = 1;
			return 0;
		}
		return rep(th, 1, 1);
	}
	push(th, t);
	return item(th, VG_SB_ITEM_TOKEN(t));
}

int vg_ag_reduce_repeat(struct ag_thread *th, uint64_t count)
{
	int r;

	if (th->last == AG_NONE)
		return -EINVAL;
	/* at most two steps reach a period-1 repetition of the last token */
	while (count && !(th->period == 1 && last_is_rep(th, 1))) {
		if ((r = vg_ag_reduce_event(th, th->last)))
			return r;
		count--;
	}
	if (!count)
		return 0;
	th->events += count;
	for (uint64_t i = 0; i < count && i < AG_HIST; i++)
		push(th, th->last);
	return rep(th, 1, count);
}

/* Events the item at I adds, and whether each repeat in ITEMS[lo, hi) stays inside it. */
static bool self_contained(const uint64_t *items, uint32_t lo, uint32_t hi)
{
	uint64_t events = 0;

	for (uint32_t i = lo; i < hi; i++) {
		uint64_t v = items[i];

		if (VG_SB_ITEM_KIND(v) == 3)
			return false;
		if (VG_SB_ITEM_KIND(v) == 1) {
			if (VG_SB_ITEM_LEN(v) > events)
				return false;
			events += VG_SB_ITEM_LEN(v) * VG_SB_ITEM_COUNT(v);
		} else {
			events++;
		}
	}
	return true;
}

/*
 * Loops around loops: a run of up to 8 items that repeats (the inner loop folded, then a
 * syscall that breaks it, again and again) becomes "the last k items repeat n more times".
 * Only self-contained runs are grouped, so every copy expands to the same syscalls and the
 * gateway checks one.
 */
static void group_items(struct ag_thread *th)
{
	uint64_t *it = th->items;
	uint32_t w = 0;

	for (uint32_t i = 0; i < th->nitems; i++) {
		it[w++] = it[i];
		for (bool again = true; again;) {
			again = false;
			for (uint32_t k = 1; k <= VG_SB_MAX_PERIOD && !again; k++) {
				uint64_t g;

				/* one more copy after a group of the same k items */
				if (w >= 2 * k + 1 && VG_SB_ITEM_KIND(g = it[w - k - 1]) == 3 &&
				    VG_SB_ITEM_LEN(g) == k &&
				    !memcmp(it + w - k, it + w - 2 * k - 1, k * sizeof(*it))) {
					it[w - k - 1] += VG_SB_ITEM_GROUP(1, 1) & ~0x1full;
					w -= k;
					again = true;
				} else if (w >= 2 * k && self_contained(it, w - 2 * k, w) &&
					   !memcmp(it + w - k, it + w - 2 * k, k * sizeof(*it))) {
					it[w - k] = VG_SB_ITEM_GROUP(k, 1);
					w -= k - 1;
					again = true;
				}
			}
		}
	}
	th->nitems = w;
}

int vg_ag_reduce_finish(struct ag_thread *th)
{
	int r = flush_pending(th);

	if (!r)
		group_items(th);
	return r;
}

void vg_ag_reduce_reset(struct ag_thread *th)
{
	th->nitems = 0;
	th->nhist = 0;
	th->period = th->matched = 0;
	th->events = 0;
	/* last stays: the kernel may fold the next syscalls into the previous batch's last one */
}
