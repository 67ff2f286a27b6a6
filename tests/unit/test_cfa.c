// SPDX-License-Identifier: MIT
/*
 * Unit tests for the CFA core on a hand-built model: model validation (every truncation and
 * byte flip is rejected or loads safely), the verifier's verdicts (valid run, CFG violation,
 * unknown event, runtime gap, shadow stack returns), measurement-chain determinism under any
 * batching, signed reports (any changed byte breaks the signature), verification sessions
 * (alerts in the one schema, verdicts, checkpoint reports), and key files (never written into
 * a file others can read).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/cfa_model.h"
#include "vigil/cfa_report.h"
#include "vigil/cfa_run.h"
#include "vigil/cfa_verify.h"
#include "vigil/rt.h"

/* main: 0x110 -> 0x120 (calls f, returns to rp 0x130) -> 0x140 (returns); f: 0x210 (returns) */
static void make_model(struct vg_cfa_model *out)
{
	static struct vg_cfa_node nodes[] = {
		{ 0x110, 0, VG_CFA_N_SITE | VG_CFA_N_ENTRY, VG_CFA_NONE, 0, 1, 0, 0, -1, 0 },
		{ 0x120, 0, VG_CFA_N_SITE, VG_CFA_NONE, 1, 0, 0, 1, -1, 0 },
		{ 0x130, 0, VG_CFA_N_RP, VG_CFA_NONE, 1, 1, 1, 0, -1, 0 },
		{ 0x140, 0, VG_CFA_N_SITE | VG_CFA_N_CANRET, VG_CFA_NONE, 2, 0, 1, 0, -1, 0 },
		{ 0x210, 1, VG_CFA_N_SITE | VG_CFA_N_ENTRY | VG_CFA_N_CANRET, VG_CFA_NONE, 2, 0, 1,
		  0, -1, 0 },
	};
	static const uint32_t succ[] = { 1, 3 };
	static const struct vg_cfa_call calls[] = { { 1, 2 } };
	static const uint32_t lists[] = { 0, 4, 1 };
	static const char strs[] = "\0main\0f";
	static struct vg_cfa_func funcs[] = {
		{ 0x100, 0x200, 1, VG_CFA_F_INSTR | VG_CFA_F_ENTERABLE | VG_CFA_F_ADDR_TAKEN, 0, 1,
		  2, 1 },
		{ 0x200, 0x300, 6, VG_CFA_F_INSTR, 1, 1, 0, 0 },
	};
	static struct vg_cfa_slot slots[16];
	struct vg_cfa_model m = { 0 };
	struct vg_err err = { 0 };
	void *buf;
	size_t len;

	memset(slots, 0xff, sizeof(slots));
	for (uint32_t i = 0; i < 5; i++) {
		if (!(nodes[i].flags & VG_CFA_N_SITE))
			continue;
		uint32_t j = (nodes[i].off * 0x9e3779b1u) & 15;

		while (slots[j].key != VG_CFA_NONE)
			j = (j + 1) & 15;
		slots[j].key = nodes[i].off;
		slots[j].node = i;
	}
	m.kind = VG_RT_KIND_PC;
	m.build_id_len = 4;
	memcpy(m.build_id, "\1\2\3\4", 4);
	m.nodes = nodes, m.nnodes = 5;
	m.funcs = funcs, m.nfuncs = 2;
	m.succ = succ, m.nsucc = 2;
	m.calls = calls, m.ncalls = 1;
	m.lists = lists, m.nlists = 3;
	m.slots = slots, m.nslots = 16;
	m.strs = strs, m.nstrs = sizeof(strs);
	assert_int_equal(vg_cfa_model_serialize(&m, &buf, &len, &err), 0);
	assert_int_equal(vg_cfa_model_from_buf(out, buf, len, &err), 0);
	out->map = buf;
	out->maplen = len;
}

struct seen {
	int n[VG_CFA_A_KINDS];
	struct vg_cfa_alert last;
};

static void collect(void *ctx, const struct vg_cfa_alert *a)
{
	struct seen *s = ctx;

	s->n[a->kind]++;
	s->last = *a;
}

static void run(const struct vg_cfa_model *m, const uint32_t *ev, size_t n, struct seen *s,
		struct vg_cfa_stream_result *r)
{
	struct vg_cfa_verify_opts o = { .alert = collect, .ctx = s };
	struct vg_cfa_verifier *v;
	struct vg_err err = { 0 };

	memset(s, 0, sizeof(*s));
	assert_int_equal(vg_cfa_verifier_new(&v, m, &o, &err), 0);
	assert_int_equal(vg_cfa_verifier_feed(v, 0, ev, n), 0);
	vg_cfa_verifier_finish(v);
	if (r)
		vg_cfa_verifier_result(v, 0, r);
	assert_int_equal(vg_cfa_verifier_feed(v, VG_CFA_MAX_STREAMS, ev, n), -EINVAL);
	vg_cfa_verifier_free(v);
}

static int total(const struct seen *s)
{
	int t = 0;

	for (int k = 0; k < VG_CFA_A_KINDS; k++)
		t += s->n[k];
	return t;
}

static void test_valid_run_is_clean(void **state)
{
	struct vg_cfa_model m;
	struct seen s;
	/* main, call f, return to main, main returns; then main again (entered from outside) */
	const uint32_t ev[] = { 0x110, 0x120, 0x210, 0x140, 0x110, 0x120, 0x210, 0x140 };

	make_model(&m);
	run(&m, ev, 8, &s, NULL);
	assert_int_equal(total(&s), 0);
	vg_cfa_model_free(&m);
}

static void test_violations(void **state)
{
	struct vg_cfa_model m;
	struct seen s;
	const uint32_t skip[] = { 0x110, 0x140 };		  /* 0x120 skipped: no such edge */
	const uint32_t hijack[] = { 0x110, 0x120, 0x210, 0x210 }; /* f "returns" into f */
	const uint32_t unknown[] = { 0x110, 0x999 };
	const uint32_t gap[] = { 0x110, VG_RT_GAP, 0x140 };
	const uint32_t not_enterable[] = { 0x210 };

	make_model(&m);
	run(&m, skip, 2, &s, NULL);
	assert_int_equal(s.n[VG_CFA_A_CFG], 1);
	assert_int_equal(s.last.from_ev, 0x110);
	assert_int_equal(s.last.to_ev, 0x140);
	assert_int_equal(s.last.nlast, 1);
	run(&m, hijack, 4, &s, NULL);
	assert_int_equal(s.n[VG_CFA_A_CFG], 1);
	assert_int_equal(s.last.to_func, 1);
	run(&m, unknown, 2, &s, NULL);
	assert_int_equal(s.n[VG_CFA_A_UNKNOWN_EVENT], 1);
	run(&m, gap, 3, &s, NULL);
	assert_int_equal(s.n[VG_CFA_A_LOST], 1);
	assert_int_equal(s.n[VG_CFA_A_CFG], 0); /* resynchronised after the gap */
	run(&m, not_enterable, 1, &s, NULL);
	assert_int_equal(s.n[VG_CFA_A_CFG], 1);
	vg_cfa_model_free(&m);
}

static void test_chain_independent_of_batching(void **state)
{
	uint8_t key[32] = { 7 }, id[32] = { 1 };
	struct vg_cfa_chain *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	uint32_t *ev = malloc(10000 * 4);

	for (uint32_t i = 0; i < 10000; i++)
		ev[i] = i * 2654435761u;
	vg_cfa_chain_init(a, key, id, 0);
	vg_cfa_chain_add(a, ev, 10000);
	vg_cfa_chain_flush(a);
	vg_cfa_chain_init(b, key, id, 0);
	for (size_t off = 0, step = 1; off < 10000; off += step, step = step * 3 % 997 + 1)
		vg_cfa_chain_add(b, ev + off, off + step > 10000 ? 10000 - off : step);
	vg_cfa_chain_flush(b);
	assert_memory_equal(a->h, b->h, 32);
	assert_int_equal(a->index, 3);
	ev[5000] ^= 1;
	vg_cfa_chain_init(b, key, id, 0);
	vg_cfa_chain_add(b, ev, 10000);
	vg_cfa_chain_flush(b);
	assert_memory_not_equal(a->h, b->h, 32);
	ev[5000] ^= 1;
	key[0] ^= 1;
	vg_cfa_chain_init(b, key, id, 0);
	vg_cfa_chain_add(b, ev, 10000);
	vg_cfa_chain_flush(b);
	assert_memory_not_equal(a->h, b->h, 32);
	free(a), free(b), free(ev);
}

static void test_model_rejects_damage(void **state)
{
	struct vg_cfa_model m, t;
	struct vg_err err;
	uint8_t *copy;

	make_model(&m);
	copy = malloc(m.maplen);
	for (size_t len = 0; len < m.maplen; len++) {
		memcpy(copy, m.map, len);
		vg_err_clear(&err);
		/* a shorter blob can only validate if the cut falls in trailing padding */
		if (!vg_cfa_model_from_buf(&t, copy, len, &err))
			assert_true(len + 8 > m.maplen);
	}
	for (size_t i = 0; i < m.maplen; i++)
		for (int bit = 0; bit < 8; bit += 3) {
			memcpy(copy, m.map, m.maplen);
			copy[i] ^= (uint8_t)(1u << bit);
			vg_err_clear(&err);
			if (vg_cfa_model_from_buf(&t, copy, m.maplen, &err) == 0) {
				/* still structurally valid: the verifier must run on it safely */
				struct seen s;
				const uint32_t ev[] = { 0x110, 0x120, 0x210, 0x140, 0x999, 0x210 };

				run(&t, ev, 6, &s, NULL);
			}
		}
	free(copy);
	vg_cfa_model_free(&m);
}

static void test_report_signature(void **state)
{
	struct vg_cfa_model m;
	uint8_t pk[32], sk[64];
	struct vg_cfa_report_stream rs = { 0 };
	struct vg_err err = { 0 };
	char *text;
	size_t len;

	make_model(&m);
	crypto_sign_keypair(pk, sk);
	rs.r.events = 4;
	struct vg_cfa_report_in in = {
		"prog", "2026-01-01T00:00:00.000000Z", &m, "clean", 1, &rs, 1, NULL, 0
	};

	assert_int_equal(vg_cfa_report_build(&in, sk, &text, &len, &err), 0);
	assert_int_equal(vg_cfa_report_check(text, len, pk, &err), 0);
	for (size_t i = 0; i < len; i++) {
		text[i] ^= 0x20;
		vg_err_clear(&err);
		assert_int_not_equal(vg_cfa_report_check(text, len, pk, &err), 0);
		text[i] ^= 0x20;
	}
	assert_int_not_equal(vg_cfa_report_check(text, len - 1, pk, &err), 0);
	free(text);
	vg_cfa_model_free(&m);
}

struct got_alerts {
	int n;
	char check[64], severity[16], attack[16], target[64];
	json_t *evidence; /* of the first alert */
};

static void keep_alert(void *ctx, const struct vg_alert *a)
{
	struct got_alerts *g = ctx;

	if (g->n++)
		return;
	snprintf(g->check, sizeof(g->check), "%s", a->check);
	snprintf(g->severity, sizeof(g->severity), "%s", vg_severity_name(a->severity));
	snprintf(g->attack, sizeof(g->attack), "%s", a->attack ? a->attack : "");
	snprintf(g->target, sizeof(g->target), "%s:%s", a->target_kind, a->target_id);
	g->evidence = json_loads(a->evidence, 0, NULL);
}

static void test_session_alerts_and_verdict(void **state)
{
	const uint32_t skip[] = { 0x110, 0x140 }; /* 0x120 skipped: no such edge */
	const uint32_t clean[] = { 0x110, 0x120, 0x210, 0x140 };
	uint64_t counts[VG_CFA_A_KINDS] = { 0 };
	struct got_alerts g = { 0 };
	struct vg_cfa_session *s;
	struct vg_cfa_outcome out;
	struct vg_cfa_model m;
	struct vg_err err = { 0 };
	struct vg_cfa_session_opts o = {
		.program = "prog", .target_kind = "trace", .alert = keep_alert, .ctx = &g
	};

	make_model(&m);
	o.model = &m;
	assert_int_equal(vg_cfa_session_new(&s, &o, &err), 0);
	vg_cfa_session_target(s, "t.tr");
	assert_int_equal(vg_cfa_session_feed(s, 0, 0, 0, skip, 2, &err), 0);
	assert_int_equal(vg_cfa_session_feed(s, 1, 0, 0, clean, 4, &err), 0);
	assert_int_equal(vg_cfa_session_feed(s, VG_CFA_MAX_STREAMS, 0, 0, clean, 4, &err), -EINVAL);
	assert_int_equal(vg_cfa_session_finish(s, &out, &err), 0);
	assert_int_equal(out.verdict, VG_CFA_VIOLATION);
	assert_int_equal(out.nstreams, 2);
	assert_int_equal(out.alerts[VG_CFA_A_CFG], 1);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.check, "cfa.cfg-violation");
	assert_string_equal(g.severity, "high");
	assert_string_equal(g.attack, "T1203");
	assert_string_equal(g.target, "trace:t.tr");
	assert_non_null(g.evidence);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(g.evidence, "to"), "event")),
		"0x140");
	assert_int_equal(json_array_size(json_object_get(g.evidence, "last_events")), 1);
	json_decref(g.evidence);
	vg_cfa_session_free(s);

	/* a signed report needs the key; checkpoints need the report */
	o.report = "r";
	assert_int_equal(vg_cfa_session_new(&s, &o, &err), -EINVAL);
	vg_cfa_model_free(&m);

	assert_int_equal(vg_cfa_verdict_of(counts), VG_CFA_CLEAN);
	counts[VG_CFA_A_LOST] = 1;
	assert_int_equal(vg_cfa_verdict_of(counts), VG_CFA_INCOMPLETE);
	counts[VG_CFA_A_LOOP] = 1;
	assert_int_equal(vg_cfa_verdict_of(counts), VG_CFA_ANOMALY);
	counts[VG_CFA_A_STACK] = 1;
	assert_int_equal(vg_cfa_verdict_of(counts), VG_CFA_VIOLATION);
	assert_string_equal(vg_cfa_verdict_name(VG_CFA_ANOMALY), "anomaly");
}

static void test_session_checkpoint_reports(void **state)
{
	char dir[] = "/tmp/vigil-test-cfa-XXXXXX", rep[128], path[160];
	uint32_t ev[64];
	uint8_t pk[32], sk[64];
	struct vg_cfa_session *s;
	struct vg_cfa_outcome out;
	struct vg_cfa_model m;
	struct vg_err err = { 0 };
	char *text;
	size_t len;

	for (int i = 0; i < 64; i += 4) {
		ev[i] = 0x110;
		ev[i + 1] = 0x120;
		ev[i + 2] = 0x210;
		ev[i + 3] = 0x140;
	}
	assert_non_null(mkdtemp(dir));
	snprintf(rep, sizeof(rep), "%s/report", dir);
	crypto_sign_keypair(pk, sk);
	make_model(&m);
	struct vg_cfa_session_opts o = { .model = &m,
					 .sk = sk,
					 .report = rep,
					 .checkpoint = 16,
					 .program = "prog",
					 .target_kind = "trace" };

	assert_int_equal(vg_cfa_session_new(&s, &o, &err), 0);
	for (int i = 0; i < 64; i += 8)
		assert_int_equal(vg_cfa_session_feed(s, 0, (uint64_t)i, 0, ev + i, 8, &err), 0);
	assert_int_equal(vg_cfa_session_finish(s, &out, &err), 0);
	assert_int_equal(out.verdict, VG_CFA_CLEAN);
	vg_cfa_session_free(s);
	for (int k = 0; k <= 4; k++) {
		if (k)
			snprintf(path, sizeof(path), "%s.%d", rep, k);
		else
			snprintf(path, sizeof(path), "%s", rep);
		assert_int_equal(vg_cfa_report_check_file(path, pk, &text, &len, &err), 0);
		free(text);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s.5", rep);
	assert_int_not_equal(access(path, F_OK), 0); /* 64 events: four checkpoints of 16 */
	rmdir(dir);
	vg_cfa_model_free(&m);
}

static void test_keygen_never_loosens(void **state)
{
	char dir[] = "/tmp/vigil-test-cfa-XXXXXX", key[128], pub[136], old[200];
	uint8_t sk[64], sk2[64], pk[32];
	struct vg_err err = { 0 };
	struct stat st;
	unsigned old_mode;
	bool loose = true;
	mode_t um = umask(0); /* the key file must be 0600 whatever the umask */
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(key, sizeof(key), "%s/key", dir);
	snprintf(pub, sizeof(pub), "%s/key.pub", dir);
	assert_int_equal(vg_cfa_keygen(key, false, &old_mode, &err), 0);
	assert_int_equal(old_mode, 0);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(pub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(vg_cfa_key_read_secret(key, sk, &loose, &err), 0);
	assert_false(loose);
	assert_int_equal(vg_cfa_key_read_public(pub, pk, &err), 0);
	assert_memory_equal(sk + 32, pk, 32); /* Ed25519: the public key ends the secret one */

	/* an existing, world-readable file: refused and left alone, then replaced with --force */
	f = fopen(key, "w");
	fputs("old\n", f);
	fclose(f);
	chmod(key, 0644);
	vg_err_clear(&err);
	assert_int_equal(vg_cfa_keygen(key, false, &old_mode, &err), -EEXIST);
	assert_int_equal(old_mode, 0644);
	f = fopen(key, "r");
	assert_non_null(fgets(old, sizeof(old), f));
	fclose(f);
	assert_string_equal(old, "old\n");
	assert_int_equal(vg_cfa_keygen(key, true, &old_mode, &err), 0);
	assert_int_equal(old_mode, 0644);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(vg_cfa_key_read_secret(key, sk2, &loose, &err), 0);
	assert_memory_not_equal(sk, sk2, 64);
	chmod(key, 0640);
	assert_int_equal(vg_cfa_key_read_secret(key, sk2, &loose, &err), 0);
	assert_true(loose);
	umask(um);
	unlink(key);
	unlink(pub);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_run_is_clean),
		cmocka_unit_test(test_violations),
		cmocka_unit_test(test_chain_independent_of_batching),
		cmocka_unit_test(test_model_rejects_damage),
		cmocka_unit_test(test_report_signature),
		cmocka_unit_test(test_session_alerts_and_verdict),
		cmocka_unit_test(test_session_checkpoint_reports),
		cmocka_unit_test(test_keygen_never_loosens),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
