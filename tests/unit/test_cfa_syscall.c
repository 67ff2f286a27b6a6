// SPDX-License-Identifier: MIT
/*
 * The syscall model and the gateway's engine without a device: the model of this very test
 * program (built from its ELF and libc with capstone and .eh_frame), its file format under
 * truncation and corruption, and batches made by hand against it: a legitimate syscall is
 * clean; injected code, a gadget, a wrong number and a forged call site are caught; training
 * refines; the session layer catches forged, replayed and missing batches; reports verify.
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
#include <sodium.h>

#include "vigil/agent.h"
#include "vigil/cfa_report.h"
#include "vigil/sysstream.h"

static struct vg_sys_model model;
static uint32_t libc_mod = VG_SYS_NONE;
static const struct vg_sys_insn *sys_insn;
static uint32_t site_mod = VG_SYS_NONE;
static const struct vg_sys_site *sys_site;

static int setup(void **state)
{
	struct vg_err err = { 0 };

	(void)state;
	if (sodium_init() < 0 || vg_sys_model_build(&model, "/proc/self/exe", NULL, &err)) {
		fprintf(stderr, "model: %s\n", err.msg);
		return -1;
	}
	for (uint32_t m = 0; m < model.nmods; m++)
		if (strstr(vg_sys_str(&model, model.mods[m].name), "libc.so"))
			libc_mod = m;
	if (libc_mod == VG_SYS_NONE)
		return -1;
	/* a syscall wrapper some call site calls directly (write, read, close, ...) */
	for (uint32_t i = 0; i < model.mods[libc_mod].ninsn && !sys_site; i++) {
		const struct vg_sys_insn *in = &model.insns[model.mods[libc_mod].insn + i];

		if (in->nr == VG_SYS_ANY_NR || in->depth != 0)
			continue;
		for (uint32_t m = 0; m < model.nmods && !sys_site; m++)
			for (uint32_t k = 0; k < model.mods[m].nsite && !sys_site; k++) {
				const struct vg_sys_site *st = &model.sites[model.mods[m].site + k];

				for (uint32_t l = 0; l < st->nlist; l++)
					if (!(st->flags & VG_SYS_S_INDIRECT) &&
					    model.lists[st->list + l] == in->func) {
						sys_insn = in;
						sys_site = st;
						site_mod = m;
					}
			}
	}
	return sys_insn && sys_site ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	vg_sys_model_free(&model);
	return 0;
}

static void test_model_of_this_program(void **state)
{
	uint32_t known = 0, depth = 0;

	(void)state;
	assert_true(model.nmods >= 3); /* this test, ld.so, libc and more */
	assert_true(model.mods[0].flags & VG_SYS_MOD_MAIN);
	assert_true(model.mods[libc_mod].ninsn > 100);
	for (uint32_t i = 0; i < model.ninsns; i++) {
		known += model.insns[i].nr != VG_SYS_ANY_NR;
		depth += model.insns[i].depth >= 0;
	}
	/* most syscall numbers are immediates, most frames are known from .eh_frame */
	assert_true(known * 10 > model.ninsns * 8);
	assert_true(depth * 10 > model.ninsns * 8);
	assert_non_null(vg_sys_find_insn(&model, libc_mod, sys_insn->off));
	assert_null(vg_sys_find_insn(&model, libc_mod, sys_insn->off + 1));
}

static void test_model_file_survives_damage(void **state)
{
	struct vg_sys_model m;
	struct vg_err err = { 0 };
	void *buf;
	size_t len;
	uint8_t *copy;

	(void)state;
	assert_int_equal(vg_sys_model_serialize(&model, &buf, &len, &err), 0);
	assert_int_equal(vg_sys_model_from_buf(&m, buf, len, &err), 0);
	assert_int_equal(m.ninsns, model.ninsns);
	copy = malloc(len);
	/* truncations: every one refused */
	for (size_t cut = 0; cut < len; cut += len / 97 + 1)
		assert_int_equal(vg_sys_model_from_buf(&m, buf, cut, &err), -EINVAL);
	/* flipped bytes: loaded only when still consistent, never out of bounds */
	srand(7);
	for (int i = 0; i < 2000; i++) {
		memcpy(copy, buf, len);
		copy[(size_t)rand() % len] ^= (uint8_t)(1 + rand() % 255);
		if (!vg_sys_model_from_buf(&m, copy, len, &err))
			for (uint32_t k = 0; k < m.nmods; k++)
				(void)vg_sys_find_insn(&m, k, (uint64_t)rand());
	}
	free(copy);
	free(buf);
}

/* ---- hand-made batches ---- */

struct seen {
	int n;
	enum vg_sys_check checks[64];
};

static void collect(void *ctx, const struct vg_sys_alert *a)
{
	struct seen *s = ctx;

	if (s->n < 64)
		s->checks[s->n++] = a->check;
}

static bool has(const struct seen *s, enum vg_sys_check c)
{
	for (int i = 0; i < s->n; i++)
		if (s->checks[i] == c)
			return true;
	return false;
}

static void module_def(struct vg_sb_enc *e, uint32_t id, uint32_t mm)
{
	struct vg_sb_module d = { .id = id,
				  .idkind = model.mods[mm].idkind,
				  .idlen = model.mods[mm].idlen,
				  .name = vg_sys_str(&model, model.mods[mm].name) };

	memcpy(d.ident, model.mods[mm].id, 32);
	d.namelen = strlen(d.name);
	vg_sb_enc_module(e, &d);
}

/* The chosen syscall's token, as the device would define it: ip in libc (module 0), call
 * site in module 1 at word 0. */
static struct vg_sb_token sys_token(void)
{
	struct vg_sb_token t = { .id = 0, .nr = sys_insn->nr, .ncand = 1 };

	t.ip = (struct vg_sb_loc){ .kind = VG_SB_K_FILE, .module = 0, .off = sys_insn->off };
	t.cand[0] = (struct vg_sb_loc){ .kind = VG_SB_K_FILE, .module = 1, .off = sys_site->off };
	return t;
}

static void batch(struct vg_sb_enc *e, uint64_t seq, const struct vg_sb_token *t, int events)
{
	vg_sb_enc_begin(e, "unit", 99, seq, 0, 0);
	module_def(e, 0, libc_mod);
	module_def(e, 1, site_mod);
	vg_sb_enc_token(e, t);
	vg_sb_enc_events(e, 5, events ? 2 : 0);
	if (events) {
		vg_sb_enc_item(e, VG_SB_ITEM_TOKEN(t->id));
		vg_sb_enc_item(e, VG_SB_ITEM_REPEAT(1, (uint64_t)events - 1));
	}
}

static enum vg_sys_verdict judge(const struct vg_sys_model *m, struct vg_sb_token t, struct seen *s)
{
	struct vg_sys_verify_opts o = { .alert = collect, .ctx = s };
	struct vg_sys_verifier *v;
	struct vg_sys_result res;
	struct vg_err err = { 0 };
	struct vg_sb_enc e = { 0 };

	memset(s, 0, sizeof(*s));
	assert_int_equal(vg_sys_verifier_new(&v, m, &o, &err), 0);
	batch(&e, 0, &t, 1000);
	assert_int_equal(vg_sys_verifier_batch(v, e.buf, e.len, &res, &err), 0);
	assert_int_equal(res.events, 1000);
	vg_sys_verifier_free(v);
	vg_sb_enc_free(&e);
	return res.verdict;
}

static void test_engine_judges_syscalls(void **state)
{
	struct vg_sb_token t = sys_token();
	struct seen s;

	(void)state;
	assert_int_equal(judge(&model, t, &s), VG_SYS_V_CLEAN);
	assert_int_equal(s.n, 0);
	/* shellcode: the syscall instruction in anonymous memory */
	t.ip.kind = VG_SB_K_ANON;
	assert_int_equal(judge(&model, t, &s), VG_SYS_V_VIOLATION);
	assert_true(has(&s, VG_SYS_C_INJECTED));
	/* a gadget: no syscall instruction ends there */
	t = sys_token();
	t.ip.off += 3;
	assert_int_equal(judge(&model, t, &s), VG_SYS_V_VIOLATION);
	assert_true(has(&s, VG_SYS_C_BADINSN));
	/* the instruction loads its number by immediate: anything else is wrong */
	t = sys_token();
	t.nr = sys_insn->nr + 1;
	judge(&model, t, &s);
	assert_true(has(&s, VG_SYS_C_WRONGNR));
	/* a return address that is not after a call (ROP) */
	t = sys_token();
	t.cand[0].off += 1;
	judge(&model, t, &s);
	assert_true(has(&s, VG_SYS_C_CALLSITE));
	/* no word where the frame keeps its return address */
	t = sys_token();
	t.cand[0].word = 2;
	judge(&model, t, &s);
	assert_true(has(&s, VG_SYS_C_CALLSITE));
	/* ... unless the device said it could not look that word up */
	t.unres = 1;
	assert_int_equal(judge(&model, t, &s), VG_SYS_V_CLEAN);
}

static void test_training_refines(void **state)
{
	struct vg_sys_verify_opts o = { .train = true };
	struct vg_sys_verifier *v;
	struct vg_sys_result res;
	struct vg_err err = { 0 };
	struct vg_sb_enc e = { 0 };
	struct vg_sys_model m = model;
	struct vg_sb_token t = sys_token(), u;
	struct seen s;
	void *owned = NULL;

	(void)state;
	assert_int_equal(vg_sys_verifier_new(&v, &model, &o, &err), 0);
	batch(&e, 0, &t, 10);
	assert_int_equal(vg_sys_verifier_batch(v, e.buf, e.len, &res, &err), 0);
	assert_int_equal(vg_sys_verifier_train_into(v, &m, &owned, &err), 0);
	vg_sys_verifier_free(v);
	vg_sb_enc_free(&e);
	assert_true(m.flags & VG_SYS_M_TRAINED);
	assert_int_equal(judge(&m, t, &s), VG_SYS_V_CLEAN);
	/* statically fine, never trained: another argument kind */
	u = t;
	u.argkey = 6;
	assert_int_equal(judge(&m, u, &s), VG_SYS_V_ANOMALY);
	assert_true(has(&s, VG_SYS_C_UNSEEN));
	free(owned);
}

static void test_stream_session_checks_and_report(void **state)
{
	struct vg_sys_stream_opts so = { .device = "unit", .program = "test", .model = &model };
	struct vg_sys_stream s;
	enum vg_sys_batch_status st;
	struct vg_sys_result res;
	struct vg_err err = { 0 };
	struct vg_sb_enc e = { 0 };
	struct vg_sb_token t = sys_token();
	uint8_t pk[32], sk[64];
	char *rep;
	size_t len;

	(void)state;
	assert_int_equal(vg_sys_stream_init(&s, &so, &err), 0);
	batch(&e, 0, &t, 5);
	assert_int_equal(vg_sys_stream_batch(&s, e.buf, e.len, &st, &res, &err), 0);
	assert_int_equal(st, VG_SYS_B_ACCEPTED);
	assert_int_equal(res.verdict, VG_SYS_V_CLEAN);
	/* the same batch again: replayed */
	assert_int_equal(vg_sys_stream_batch(&s, e.buf, e.len, &st, &res, &err), 0);
	assert_int_equal(st, VG_SYS_B_REPLAYED);
	/* seq 1 skipped: accepted, incomplete, counted missing */
	batch(&e, 2, &t, 5);
	assert_int_equal(vg_sys_stream_batch(&s, e.buf, e.len, &st, &res, &err), 0);
	assert_int_equal(st, VG_SYS_B_ACCEPTED);
	assert_int_equal(res.verdict, VG_SYS_V_INCOMPLETE);
	assert_int_equal(s.missing, 1);
	/* another device's name: forged */
	batch(&e, 3, &t, 5);
	memcpy(e.buf + 32, "other", 6);
	assert_int_equal(vg_sys_stream_batch(&s, e.buf, e.len, &st, &res, &err), 0);
	assert_int_equal(st, VG_SYS_B_FORGED);
	/* garbage after a good header: malformed, rejected */
	batch(&e, 3, &t, 5);
	e.buf[e.len - 1] = 0x7f;
	e.buf[e.len - 2] = 0x7f;
	assert_int_equal(vg_sys_stream_batch(&s, e.buf, e.len, &st, &res, &err), 0);
	assert_int_equal(st, VG_SYS_B_MALFORMED);
	assert_int_equal(s.session_alerts[VG_SYS_S_REPLAYED], 1);
	assert_int_equal(s.session_alerts[VG_SYS_S_MISSING], 1);
	assert_int_equal(s.session_alerts[VG_SYS_S_FORGED], 1);
	assert_int_equal(s.session_alerts[VG_SYS_S_MALFORMED], 1);
	/* a signed report that check-report accepts, and that fails once changed */
	crypto_sign_keypair(pk, sk);
	assert_int_equal(vg_sys_stream_report(&s, 0, sk, &rep, &len, &err), 0);
	assert_int_equal(vg_cfa_report_check(rep, len, pk, &err), 0);
	assert_non_null(strstr(rep, "\"verdict\":\"incomplete\""));
	rep[20] ^= 1;
	assert_int_equal(vg_cfa_report_check(rep, len, pk, &err), -EBADMSG);
	free(rep);
	vg_sys_stream_free(&s);
	vg_sb_enc_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_of_this_program),
		cmocka_unit_test(test_model_file_survives_damage),
		cmocka_unit_test(test_engine_judges_syscalls),
		cmocka_unit_test(test_training_refines),
		cmocka_unit_test(test_stream_session_checks_and_report),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
