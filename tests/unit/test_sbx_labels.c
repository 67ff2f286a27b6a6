// SPDX-License-Identifier: MIT
/*
 * Unit tests for AV label normalisation (tokens, generic words, aliases, the two-engine rule,
 * class from words or from the family) and the score table (defaults, overrides, rejected
 * files).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/sandbox.h"

static void parse(struct sbx_labels *l, const char *json)
{
	struct vg_err err = { 0 };

	assert_int_equal(sbx_labels_parse(l, json, strlen(json), &err), 0);
}

static void test_tokens(void **state)
{
	char tok[8][32];
	unsigned n;

	(void)state;
	n = sbx_label_tokens("HEUR:Backdoor.Linux.Mirai.b", tok, 8);
	assert_int_equal(n, 1);
	assert_string_equal(tok[0], "mirai");
	n = sbx_label_tokens("Trojan.Linux.Bashlite.Gen!3A2F", tok, 8);
	assert_int_equal(n, 1);
	assert_string_equal(tok[0], "gafgyt"); /* alias */
	n = sbx_label_tokens("ELF:Generic-Variant [Trj]", tok, 8);
	assert_int_equal(n, 0);
	n = sbx_label_tokens("Linux/Satori.A!tr", tok, 8);
	assert_int_equal(n, 1);
	assert_string_equal(tok[0], "mirai");
}

static void test_family_and_class(void **state)
{
	struct sbx_labels l;
	struct sbx_scores s;

	(void)state;
	sbx_scores_default(&s);
	/* three engines say mirai (one through an alias), one says backdoor, two say ddos */
	parse(&l, "{\"scans\":{"
		  "\"A\":{\"detected\":true,\"result\":\"Linux.Mirai.B\"},"
		  "\"B\":{\"detected\":true,\"result\":\"DDoS.Linux.Satori.a\"},"
		  "\"C\":{\"detected\":true,\"result\":\"Backdoor.Linux.Mirai.ab\"},"
		  "\"D\":{\"detected\":true,\"result\":\"ELF/DDoS.Gen\"},"
		  "\"E\":{\"detected\":false,\"result\":null}}}");
	assert_true(l.present);
	assert_int_equal(l.engines, 5);
	assert_int_equal(l.detected, 4);
	assert_string_equal(l.family, "mirai");
	assert_int_equal(l.family_votes, 3);
	assert_string_equal(l.cls, "botnet"); /* ddos x2 beats backdoor x1 */
	assert_int_equal(sbx_label_score(&s, &l), 80);

	/* a class named by one engine only is not kept; the family implies one */
	parse(&l, "{\"scans\":{\"A\":{\"detected\":true,\"result\":\"Ransom.Gafgyt\"},"
		  "\"B\":{\"detected\":true,\"result\":\"Linux/Gafgyt.XY\"}}}");
	assert_string_equal(l.family, "gafgyt");
	assert_string_equal(l.cls, "botnet");

	/* ransomware agreed by two engines: the table's top score */
	parse(&l, "{\"scans\":{\"A\":{\"detected\":true,\"result\":\"Ransom.Linux.Erebus\"},"
		  "\"B\":{\"detected\":true,\"result\":\"Trojan-Ransom.Linux.Filecoder\"},"
		  "\"C\":{\"detected\":true,\"result\":\"Trojan.Generic\"}}}");
	assert_string_equal(l.cls, "ransomware");
	assert_int_equal(sbx_label_score(&s, &l), 100);

	/* miners and adware score low */
	parse(&l, "{\"data\":{\"attributes\":{\"last_analysis_results\":{"
		  "\"A\":{\"category\":\"malicious\",\"result\":\"Linux.CoinMiner.X\"},"
		  "\"B\":{\"category\":\"malicious\",\"result\":\"Miner.Linux.Xmrig\"},"
		  "\"C\":{\"category\":\"undetected\",\"result\":null}}}}}");
	assert_string_equal(l.cls, "miner");
	assert_int_equal(l.detected, 2);
	assert_int_equal(sbx_label_score(&s, &l), 30);

	/* one engine alone decides nothing: unknown; none at all: clean */
	parse(&l, "{\"scans\":{\"A\":{\"detected\":true,\"result\":\"Backdoor.Tsunami\"}}}");
	assert_string_equal(l.cls, "unknown");
	assert_string_equal(l.family, "");
	assert_int_equal(sbx_label_score(&s, &l), s.unknown);
	parse(&l, "{\"scans\":{\"A\":{\"detected\":false}}}");
	assert_string_equal(l.cls, "clean");
	assert_int_equal(sbx_label_score(&s, &l), 0);
}

static void test_bad_reports(void **state)
{
	struct sbx_labels l;
	struct vg_err err = { 0 };

	(void)state;
	assert_int_not_equal(sbx_labels_parse(&l, "[]", 2, &err), 0);
	vg_err_clear(&err);
	assert_int_not_equal(sbx_labels_parse(&l, "{\"scans\":3}", 11, &err), 0);
	vg_err_clear(&err);
	/* wrong member types are skipped, not trusted */
	const char *odd = "{\"scans\":{\"A\":7,\"B\":{\"detected\":true,\"result\":5}}}";

	assert_int_equal(sbx_labels_parse(&l, odd, strlen(odd), &err), 0);
	assert_int_equal(l.engines, 2);
	assert_int_equal(l.detected, 0);
}

static void test_score_table(void **state)
{
	struct sbx_scores s;
	struct vg_err err = { 0 };
	const char *ok = "{\"classes\":{\"ransomware\":95,\"wiper\":99},\"unknown\":40,"
			 "\"behaviours\":{\"scan\":1},\"cap\":60}";
	struct sbx_labels l = { .present = true, .detected = 2 };

	(void)state;
	sbx_scores_default(&s);
	assert_int_equal(sbx_scores_parse(&s, ok, strlen(ok), &err), 0);
	strcpy(l.cls, "ransomware");
	assert_int_equal(sbx_label_score(&s, &l), 95);
	strcpy(l.cls, "wiper");
	assert_int_equal(sbx_label_score(&s, &l), 99);
	strcpy(l.cls, "backdoor");
	assert_int_equal(sbx_label_score(&s, &l), 90); /* default kept */
	strcpy(l.cls, "nosuch");
	assert_int_equal(sbx_label_score(&s, &l), 40);
	assert_int_equal(s.weights[SBX_B_SCAN], 1);
	assert_int_equal(s.cap, 60);
	l.present = false;
	assert_int_equal(sbx_label_score(&s, &l), -1);
	assert_int_not_equal(sbx_scores_parse(&s, "{\"behaviours\":{\"nosuch\":1}}", 28, &err), 0);
	vg_err_clear(&err);
	assert_int_not_equal(sbx_scores_parse(&s, "{\"classes\":{\"x\":-1}}", 20, &err), 0);
	vg_err_clear(&err);
	assert_int_not_equal(sbx_scores_parse(&s, "{\"clases\":{}}", 13, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_family_and_class),
		cmocka_unit_test(test_bad_reports),
		cmocka_unit_test(test_score_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
