// SPDX-License-Identifier: MIT
/*
 * Unit tests for the campaign store and its reports: runs keyed by (sha256, env), claims,
 * resumption (a run left 'running' by a killed campaign returns to pending; a finished one is
 * never redone), the CSV's columns and quoting, the per-sample JSON and the PNG chart, and
 * the alert a high-scoring run raises.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/sandbox.h"

static char dir[64];

static void result(struct sbx_result *res, const char *status, const char *net)
{
	struct sbx_analyse_opts o = { "s", NULL };

	memset(res, 0, sizeof(*res));
	res->ran = true;
	res->attempts = 1;
	res->wall_ms = 1234;
	sbx_parse_status(&res->r.st, status, strlen(status));
	sbx_parse_net(&res->r.net, net, strlen(net));
	sbx_derive(&res->r, &o);
	sbx_outcome_from_status(&res->r.st, 10, &res->o);
}

static int count_rows(void *ctx, const struct sbx_row *r)
{
	(*(int *)ctx)++;
	return 0;
}

static void test_store_resume_and_reports(void **state)
{
	char db[128], path[256], line[1024];
	struct sbx_store *st;
	struct sbx_sample s = { 0 };
	struct sbx_ident id;
	struct sbx_claim c;
	struct sbx_counts n;
	struct sbx_result res;
	struct vg_err err = { 0 };
	unsigned nfiles;
	int rows = 0;
	FILE *f;
	json_t *doc;

	(void)state;
	snprintf(db, sizeof(db), "%s/r.db", dir);
	assert_int_equal(sbx_store_open(&st, db, true, &err), 0);
	sbx_identify_buf(&id, "#!/bin/sh\necho hi\n", 18);
	memset(s.sha256, 'a', 64);
	s.path = "/samples/with,comma \"quoted\"";
	s.id = &id;
	s.label_score = -1;
	assert_int_equal(sbx_store_put_sample(st, &s, &err), 0);
	assert_int_equal(sbx_store_add_run(st, s.sha256, "container", 10, &err), 0);
	assert_int_equal(sbx_store_add_run(st, s.sha256, "minimal", 10, &err), 0);
	assert_int_equal(sbx_store_add_run(st, s.sha256, "container", 10, &err), 0);
	assert_int_equal(sbx_store_counts(st, &n, &err), 0);
	assert_int_equal(n.total, 2);
	assert_int_equal(n.pending, 2);

	/* first claim prefers minimal; finish it */
	assert_int_equal(sbx_store_claim(st, 0, "minimal", NULL, &c, &err), 1);
	assert_string_equal(c.env, "minimal");
	assert_string_equal(c.path, s.path);
	result(&res, "{\"started\":true,\"signal\":11,\"duration_ms\":7}",
	       "{\"proto\":\"dns\",\"qname\":\"c2.example\"}\n");
	assert_int_equal(sbx_store_finish(st, &c, &res, NULL, &err), 0);

	/* second claim is left running, as a killed campaign leaves it */
	{
		const char *skip[] = { "container", NULL };

		assert_int_equal(sbx_store_claim(st, 1, NULL, skip, &c, &err), 0);
	}
	assert_int_equal(sbx_store_claim(st, 1, NULL, NULL, &c, &err), 1);
	assert_string_equal(c.env, "container");
	assert_int_equal(sbx_store_claim(st, 2, NULL, NULL, &c, &err), 0);
	assert_int_equal(sbx_store_reset_running(st, &err), 1);
	assert_int_equal(sbx_store_counts(st, &n, &err), 0);
	assert_int_equal(n.done, 1);
	assert_int_equal(n.pending, 1);
	assert_int_equal(sbx_store_claim(st, 3, NULL, NULL, &c, &err), 1);
	assert_string_equal(c.env, "container");
	result(&res, "{\"started\":true,\"exit_code\":0,\"duration_ms\":9}", "");
	assert_int_equal(sbx_store_finish(st, &c, &res, NULL, &err), 0);
	assert_int_equal(sbx_store_claim(st, 3, NULL, NULL, &c, &err), 0);
	assert_int_equal(sbx_store_each(st, 0, true, count_rows, &rows, &err), 0);
	assert_int_equal(rows, 2);
	rows = 0;
	assert_int_equal(sbx_store_each(st, 1, false, count_rows, &rows, &err), 0);
	assert_int_equal(rows, 1); /* only what finished after seq 1 */

	snprintf(path, sizeof(path), "%s/out.csv", dir);
	assert_int_equal(sbx_report_csv(st, path, &err), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, SBX_CSV_HEADER "\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(strstr(line, ",container,executable,0,ran: exited with status 0,-,,0,,"
				     "none,9\n"));
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(strstr(line,
			       ",minimal,not executable,signal 11,"
			       "crashed: killed by signal 11 (SIGSEGV),-,,5,dns-lookup,none,7"));
	assert_null(fgets(line, sizeof(line), f));
	fclose(f);

	snprintf(path, sizeof(path), "%s/json", dir);
	assert_int_equal(sbx_report_json_dir(st, path, &nfiles, &err), 0);
	assert_int_equal(nfiles, 1);
	snprintf(path, sizeof(path), "%s/json/%s.json", dir, s.sha256);
	doc = json_load_file(path, 0, NULL);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "path")), s.path);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(doc, "runs"), "minimal"), "verdict")),
		"crashed");
	assert_int_equal(
		json_integer_value(json_object_get(
			json_object_get(json_object_get(doc, "runs"), "container"), "wall_ms")),
		1234);
	json_decref(doc);
	unlink(path);
	snprintf(path, sizeof(path), "%s/json", dir);
	rmdir(path);

	snprintf(path, sizeof(path), "%s/chart.png", dir);
	assert_int_equal(sbx_report_chart(st, path, &err), 0);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(line, 1, 8, f), 8);
	assert_memory_equal(line, "\x89PNG\r\n\x1a\n", 8);
	fclose(f);
	sbx_store_close(st);
	/* reopening keeps everything */
	assert_int_equal(sbx_store_open(&st, db, false, &err), 0);
	assert_int_equal(sbx_store_counts(st, &n, &err), 0);
	assert_int_equal(n.done, 2);
	sbx_store_close(st);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test-sbx-store-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return sbx_rmtree(dir);
}

static void test_run_alert(void **state)
{
	struct sbx_row r = {
		.sha256 = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12",
		.path = "/s/enc",
		.env = "container",
		.verdict = "ran",
		.cls = "ransomware",
		.behaviours = "scan;encrypt;nonsense",
		.service_impact = "none",
		.label_score = -1,
		.behaviour_score = 45
	};
	struct sbx_alert_text t;
	struct vg_alert a;
	json_t *ev;

	assert_int_equal(sbx_run_alert(&r, 50, &a, &t), 0);
	assert_null(t.evidence);
	r.label_score = 100;
	assert_int_equal(sbx_run_alert(&r, 50, &a, &t), 1);
	assert_string_equal(a.source, "sandbox");
	assert_string_equal(a.check, "sandbox-threat-score");
	assert_string_equal(a.target_kind, "sample");
	assert_string_equal(a.target_id, r.sha256);
	assert_int_equal(a.severity, VG_SEV_CRITICAL);
	assert_string_equal(a.attack, "T1046,T1486"); /* unknown ids are skipped */
	ev = json_loads(a.evidence, 0, NULL);
	assert_non_null(ev);
	assert_int_equal(json_integer_value(json_object_get(ev, "label_score")), 100);
	assert_string_equal(json_string_value(json_object_get(ev, "class")), "ransomware");
	json_decref(ev);
	free(t.evidence);
	r.label_score = 61;
	assert_int_equal(sbx_run_alert(&r, 50, &a, &t), 1);
	assert_int_equal(a.severity, VG_SEV_HIGH);
	free(t.evidence);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_resume_and_reports),
		cmocka_unit_test(test_run_alert),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
