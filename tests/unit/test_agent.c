// SPDX-License-Identifier: MIT
/*
 * The device agent's user-space pipeline without a kernel: loop folding must reproduce every
 * token stream exactly through the batch encoder and the gateway's decoder (random streams,
 * kernel-folded repeats, every period), interning must be stable, the map must survive
 * deletions in probe chains, the core must put every definition a batch uses in that batch,
 * and the decoder must refuse malformed batches.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/agent_int.h"
#include "vigil/sysbatch.h"

#define MAXEV 20000
#define MAXX 200000 /* expanded events one test may hold */

struct expand {
	uint32_t ev[MAXX];
	uint64_t items[MAXX]; /* the record's items, to replay groups */
	size_t nitems;
	size_t n, rec_start;
	uint32_t tid;
	int events_records;
	uint32_t module_ids[64], ntoken_defs, nmodule_defs;
};

static int x_events(void *ctx, uint32_t tid)
{
	struct expand *x = ctx;

	x->tid = tid;
	x->rec_start = x->n;
	x->nitems = 0;
	x->events_records++;
	return 0;
}

static int x_event(void *ctx, uint32_t t)
{
	struct expand *x = ctx;

	if (x->n >= MAXX || x->nitems >= MAXX)
		return -E2BIG;
	x->ev[x->n++] = t;
	x->items[x->nitems++] = VG_SB_ITEM_TOKEN(t);
	return 0;
}

static int expand_repeat(struct expand *x, uint32_t period, uint64_t count)
{
	for (uint64_t c = 0; c < count; c++)
		for (uint32_t i = 0; i < period; i++) {
			if (x->n >= MAXX)
				return -E2BIG;
			x->ev[x->n] = x->ev[x->n - period];
			x->n++;
		}
	return 0;
}

static int x_repeat(void *ctx, uint32_t period, uint64_t count)
{
	struct expand *x = ctx;

	if (x->nitems >= MAXX)
		return -E2BIG;
	x->items[x->nitems++] = VG_SB_ITEM_REPEAT(period, count);
	return expand_repeat(x, period, count);
}

/* the naive reading of a group: its items again, COUNT times */
static int x_group(void *ctx, uint32_t k, uint64_t count)
{
	struct expand *x = ctx;
	size_t start = x->nitems - k;
	int r = 0;

	for (uint64_t c = 0; c < count && !r; c++)
		for (size_t i = start; i < start + k && !r; i++) {
			uint64_t v = x->items[i];

			if (VG_SB_ITEM_KIND(v) == 0) {
				if (x->n >= MAXX)
					return -E2BIG;
				x->ev[x->n++] = (uint32_t)(v >> 1);
			} else {
				r = expand_repeat(x, VG_SB_ITEM_LEN(v), VG_SB_ITEM_COUNT(v));
			}
		}
	if (x->nitems < MAXX)
		x->items[x->nitems++] = VG_SB_ITEM_GROUP(k, count);
	return r;
}

static int x_token(void *ctx, const struct vg_sb_token *t)
{
	(void)t;
	((struct expand *)ctx)->ntoken_defs++;
	return 0;
}

static int x_module(void *ctx, const struct vg_sb_module *m)
{
	struct expand *x = ctx;

	if (x->nmodule_defs < 64)
		x->module_ids[x->nmodule_defs] = m->id;
	x->nmodule_defs++;
	return 0;
}

static const struct vg_sb_visitor xv = {
	.events = x_events,
	.event = x_event,
	.repeat = x_repeat,
	.group = x_group,
	.token = x_token,
	.module = x_module,
};

/* Encodes TH's items as one batch and decodes it back into X. */
static void roundtrip(struct ag_thread *th, struct expand *x)
{
	struct vg_sb_enc e = { 0 };
	struct vg_err err = { 0 };

	assert_int_equal(vg_ag_reduce_finish(th), 0);
	vg_sb_enc_begin(&e, "dev", 1, 0, 0, 0);
	vg_sb_enc_events(&e, th->tid, th->nitems);
	for (uint32_t k = 0; k < th->nitems; k++)
		vg_sb_enc_item(&e, th->items[k]);
	assert_int_equal(vg_sb_enc_status(&e), 0);
	memset(x, 0, sizeof(*x));
	assert_int_equal(vg_sb_parse(e.buf, e.len, &xv, x, &err), 0);
	vg_sb_enc_free(&e);
}

static void test_folding_reproduces_random_streams(void **state)
{
	static struct expand x;
	static uint32_t in[MAXEV];

	(void)state;
	srand(1234);
	for (int round = 0; round < 300; round++) {
		struct ag_thread th = { .tid = 7, .last = AG_NONE };
		size_t n = 0;

		/* stretches of loops of random period and random noise */
		while (n < MAXEV - 200) {
			uint32_t period = 1 + (uint32_t)rand() % 10, reps = (uint32_t)rand() % 20;
			uint32_t base = (uint32_t)rand() % 6;

			if (rand() % 3 == 0) {
				in[n++] = (uint32_t)rand() % 8;
				continue;
			}
			for (uint32_t r = 0; r < reps && n < MAXEV - 20; r++)
				for (uint32_t i = 0; i < period; i++)
					in[n++] = (base + i * 7) % 13;
			if (rand() % 50 == 0)
				break;
		}
		for (size_t i = 0; i < n; i++)
			assert_int_equal(vg_ag_reduce_event(&th, in[i]), 0);
		roundtrip(&th, &x);
		assert_int_equal(x.n, n);
		assert_memory_equal(x.ev, in, n * sizeof(uint32_t));
		assert_int_equal(th.events, n);
		free(th.items);
	}
}

static void test_folding_kernel_repeats_and_compression(void **state)
{
	static struct expand x;
	struct ag_thread th = { .tid = 1, .last = AG_NONE };
	size_t n = 0;
	uint32_t want[64];

	(void)state;
	/* A, then the kernel says A happened 100000 more times, then B C B C ... */
	assert_int_equal(vg_ag_reduce_event(&th, 5), 0);
	assert_int_equal(vg_ag_reduce_repeat(&th, 100000), 0);
	for (int i = 0; i < 5000; i++) {
		assert_int_equal(vg_ag_reduce_event(&th, 8), 0);
		assert_int_equal(vg_ag_reduce_event(&th, 9), 0);
	}
	assert_int_equal(th.events, 1 + 100000 + 10000);
	/* a loop of any length costs a handful of items */
	assert_true(th.nitems <= 6);
	roundtrip(&th, &x);
	assert_int_equal(x.n, 110001);
	for (size_t i = 0; i <= 100000; i++)
		assert_int_equal(x.ev[i], 5);
	for (size_t i = 100001; i < x.n; i++)
		assert_int_equal(x.ev[i], (i - 100001) % 2 ? 9 : 8);
	/* a repeat at the start of a batch names its token again (the kernel folds across) */
	vg_ag_reduce_reset(&th);
	assert_int_equal(th.last, 9);
	assert_int_equal(vg_ag_reduce_repeat(&th, 3), 0);
	roundtrip(&th, &x);
	for (int i = 0; i < 3; i++)
		want[n++] = 9;
	assert_int_equal(x.n, n);
	assert_memory_equal(x.ev, want, n * sizeof(uint32_t));
	/* after a gap nothing is folded onto the unknown previous syscall */
	th.last = AG_NONE;
	assert_int_equal(vg_ag_reduce_repeat(&th, 3), -EINVAL);
	free(th.items);
}

static void test_folding_loops_around_loops(void **state)
{
	static struct expand x;
	static uint32_t in[MAXEV];
	struct ag_thread th = { .tid = 2, .last = AG_NONE };
	size_t n = 0;

	(void)state;
	/* a service: 6 syscalls per request, a sleep every 64 requests, 50 times */
	for (int g = 0; g < 50; g++) {
		for (int r = 0; r < 64; r++)
			for (uint32_t s = 0; s < 6; s++)
				in[n++] = 10 + s;
		in[n++] = 99;
	}
	for (size_t i = 0; i < n; i++)
		assert_int_equal(vg_ag_reduce_event(&th, in[i]), 0);
	roundtrip(&th, &x);
	assert_int_equal(x.n, n);
	assert_memory_equal(x.ev, in, n * sizeof(uint32_t));
	/* 19250 syscalls in a dozen items, not 8 per sleep */
	assert_true(th.nitems <= 24);
	free(th.items);
}

static void test_tokens_intern(void **state)
{
	struct ag_tokens t;
	struct vg_sb_token a = { .nr = 1, .argkey = 5, .ip = { .kind = 1, .module = 2, .off = 9 } };
	bool is_new;
	uint32_t id0, id1;

	(void)state;
	assert_int_equal(vg_ag_tokens_init(&t), 0);
	id0 = vg_ag_tokens_intern(&t, &a, &is_new);
	assert_true(is_new);
	a.id = 77; /* ignored */
	assert_int_equal(vg_ag_tokens_intern(&t, &a, &is_new), id0);
	assert_false(is_new);
	a.cand[0] = (struct vg_sb_loc){ .kind = 1, .word = 3, .module = 1, .off = 0x40 };
	a.ncand = 1;
	id1 = vg_ag_tokens_intern(&t, &a, &is_new);
	assert_true(is_new && id1 != id0);
	/* many more: the table grows and every id stays what it was */
	static uint32_t ids[50000];

	for (uint32_t i = 0; i < 50000; i++) {
		a.ip.off = 1000 + i;
		ids[i] = vg_ag_tokens_intern(&t, &a, &is_new);
		assert_true(is_new);
	}
	for (uint32_t i = 0; i < 50000; i++) {
		a.ip.off = 1000 + i;
		assert_int_equal(vg_ag_tokens_intern(&t, &a, &is_new), ids[i]);
		assert_false(is_new);
	}
	a.ip.off = 9;
	a.ncand = 0;
	memset(a.cand, 0, sizeof(a.cand));
	assert_int_equal(vg_ag_tokens_intern(&t, &a, &is_new), id0);
	vg_ag_tokens_free(&t);
}

static void test_map_deletes_keep_chains(void **state)
{
	struct ag_map m = { 0 };

	(void)state;
	for (uint64_t k = 1; k <= 5000; k++)
		assert_int_equal(vg_ag_map_put(&m, k * 1024, (uint32_t)k), 0);
	for (uint64_t k = 1; k <= 5000; k += 2)
		vg_ag_map_del(&m, k * 1024);
	for (uint64_t k = 1; k <= 5000; k++)
		assert_int_equal(vg_ag_map_get(&m, k * 1024), k % 2 ? AG_NONE : (uint32_t)k);
	assert_int_equal(m.n, 2500);
	vg_ag_map_free(&m);
}

static void test_control_messages(void **state)
{
	uint8_t hb[VG_SB_HELLO_LEN], rb[VG_SB_REPLY_LEN], ab[VG_SB_ACK_LEN];
	struct vg_sb_hello h = { .boot = 0x1122334455667788ull, .next_seq = 42 }, g;
	uint64_t seq, next;
	uint32_t verdict;
	bool known;

	(void)state;
	snprintf(h.device, sizeof(h.device), "sensor-7");
	vg_sb_hello_pack(hb, &h);
	assert_int_equal(vg_sb_hello_unpack(hb, sizeof(hb), &g), 0);
	assert_int_equal(g.boot, h.boot);
	assert_int_equal(g.next_seq, 42);
	assert_string_equal(g.device, "sensor-7");
	assert_int_equal(vg_sb_hello_unpack(hb, sizeof(hb) - 1, &g), -EBADMSG);
	memset(hb + 24, 'x', VG_SB_DEVICE_MAX); /* an unterminated device id */
	assert_int_equal(vg_sb_hello_unpack(hb, sizeof(hb), &g), -EBADMSG);
	vg_sb_reply_pack(rb, true, 9);
	assert_int_equal(vg_sb_reply_unpack(rb, sizeof(rb), &known, &next), 0);
	assert_true(known);
	assert_int_equal(next, 9);
	vg_sb_ack_pack(ab, 5, 2);
	assert_int_equal(vg_sb_ack_unpack(ab, sizeof(ab), &seq, &verdict), 0);
	assert_int_equal(seq, 5);
	assert_int_equal(verdict, 2);
	assert_int_equal(vg_sb_ack_unpack(rb, sizeof(rb), &seq, &verdict), -EBADMSG);
}

static void expect_bad(const uint8_t *body, size_t n)
{
	struct vg_sb_enc e = { 0 };
	struct vg_err err = { 0 };
	struct expand *x = calloc(1, sizeof(*x));

	vg_sb_enc_begin(&e, "dev", 1, 0, 0, 0);
	vg_sb_enc_raw(&e, body, n);
	assert_int_equal(vg_sb_parse(e.buf, e.len, &xv, x, &err), -EBADMSG);
	assert_true(err.code == EBADMSG && strstr(err.msg, "batch"));
	vg_sb_enc_free(&e);
	free(x);
}

static void test_decoder_refuses_malformed(void **state)
{
	(void)state;
	/* unknown tag */
	expect_bad((const uint8_t[]){ 0x7f }, 1);
	/* a varint that never ends */
	expect_bad((const uint8_t[]){ VG_SB_T_EXIT, 0xff, 0xff, 0xff }, 4);
	/* eleven-byte varint */
	expect_bad((const uint8_t[]){ VG_SB_T_EXIT, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				      0xff, 0xff, 0x01 },
		   12);
	/* a repeat before any event */
	expect_bad((const uint8_t[]){ VG_SB_T_EVENTS, 1, 1, (uint8_t)VG_SB_ITEM_REPEAT(1, 1) }, 4);
	/* a repeat whose period reaches beyond the record's events */
	expect_bad((const uint8_t[]){ VG_SB_T_EVENTS, 1, 2, 2, (uint8_t)VG_SB_ITEM_REPEAT(3, 1) },
		   5);
	/* a group of more items than the record has */
	expect_bad((const uint8_t[]){ VG_SB_T_EVENTS, 1, 2, 2, (uint8_t)VG_SB_ITEM_GROUP(2, 1) },
		   5);
	/* a group whose repeat reaches before the group (copies would expand differently) */
	expect_bad((const uint8_t[]){ VG_SB_T_EVENTS, 1, 4, 2, 4, (uint8_t)VG_SB_ITEM_REPEAT(2, 1),
				      (uint8_t)VG_SB_ITEM_GROUP(1, 1) },
		   7);
	/* a group containing a group */
	expect_bad((const uint8_t[]){ VG_SB_T_EVENTS, 1, 3, 2, (uint8_t)VG_SB_ITEM_GROUP(1, 1),
				      (uint8_t)VG_SB_ITEM_GROUP(2, 1) },
		   6);
	/* more items than bytes */
	expect_bad((const uint8_t[]){ VG_SB_T_EVENTS, 1, 100, 2 }, 4);
	/* a module name longer than the rest */
	expect_bad((const uint8_t[]){ VG_SB_T_MODULE, 0, 1, 0, 50, 'a' }, 6);
	/* a module identity longer than 32 bytes */
	expect_bad((const uint8_t[]){ VG_SB_T_MODULE, 0, 1, 40 }, 4);
	/* a call-site word beyond the window */
	expect_bad((const uint8_t[]){ VG_SB_T_TOKEN, 0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 40, 0, 0 }, 14);
}

static void test_core_batches_define_what_they_use(void **state)
{
	char path[] = "/tmp/vigil-agent-test-XXXXXX";
	struct vg_agent_opts o = { .device = "unit", .min_interval_ms = 10 };
	struct vg_agent_stats st = { 0 };
	struct vg_err err = { 0 };
	struct ag_core c;
	struct sm_sys r = { .type = SM_SYS, .tgid = 100, .tid = 100, .nr = 39 };
	struct sm_repeat rep = { .type = SM_REPEAT, .tgid = 100, .tid = 100, .count = 10 };
	struct vg_sb_reader rd;
	const uint8_t *b;
	size_t len;
	int fd = mkstemp(path), batches = 0;
	static struct expand x;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	o.record = path;
	assert_int_equal(vg_ag_core_init(&c, &o, &st, &err), 0);
	/* code in an unresolvable file (dev 0): the module has no identity but is defined */
	r.ip = (struct sm_loc){ .kind = SM_K_ANON, .off = 0x7f0000001000 };
	r.cand[0] = (struct sm_loc){ .kind = SM_K_ANON, .off = 0x7f0000002000 };
	for (int round = 0; round < 3; round++) {
		assert_int_equal(vg_ag_core_record(&c, &r, SM_SYS_HDR_LEN), 0);
		assert_int_equal(vg_ag_core_record(&c, &rep, sizeof(rep)), 0);
		r.nr = 39 + (uint32_t)round;
		assert_int_equal(vg_ag_core_record(&c, &r, SM_SYS_HDR_LEN), 0);
		assert_int_equal(vg_ag_core_flush(&c, true, round == 2, &err), 0);
	}
	assert_int_equal(st.batches, 3);
	assert_int_equal(st.tokens, 3);
	vg_ag_core_free(&c);
	/* every batch of the recording decodes; tokens are defined where first used */
	assert_int_equal(vg_sb_rec_open(&rd, path, &err), 0);
	memset(&x, 0, sizeof(x));
	while (vg_sb_rec_next(&rd, &b, &len, &err) > 0) {
		struct vg_sb_hdr h;

		assert_int_equal(vg_sb_parse_hdr(b, len, &h, &err), 0);
		assert_int_equal(h.seq, (uint64_t)batches);
		assert_string_equal(h.device, "unit");
		assert_int_equal(vg_sb_parse(b, len, &xv, &x, &err), 0);
		batches++;
	}
	vg_sb_rec_close(&rd);
	assert_int_equal(batches, 3);
	/* 3 x (A, 10 repeats, B): 36 syscalls; a recording-only agent defines each token once */
	assert_int_equal(x.n, 36);
	assert_int_equal(x.ntoken_defs, 3);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_folding_reproduces_random_streams),
		cmocka_unit_test(test_folding_kernel_repeats_and_compression),
		cmocka_unit_test(test_folding_loops_around_loops),
		cmocka_unit_test(test_tokens_intern),
		cmocka_unit_test(test_map_deletes_keep_chains),
		cmocka_unit_test(test_control_messages),
		cmocka_unit_test(test_decoder_refuses_malformed),
		cmocka_unit_test(test_core_batches_define_what_they_use),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
