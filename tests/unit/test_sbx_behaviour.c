// SPDX-License-Identifier: MIT
/*
 * Unit tests for the sandbox analysis on hand-made artifacts: each behaviour rule fires on the
 * artifacts of the behaviour it names and not on a quiet run; the verdicts; the behaviour score
 * (weighted sum, capped); and the parsers' bounds on hostile input (long lines, garbage, many
 * events).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/sandbox.h"

static bool has(const struct sbx_report *r, enum sbx_bhv b)
{
	return r->bhv & (1u << b);
}

static void derive(struct sbx_report *r, const char *status, const char *sc, const char *net,
		   const char *files, const char *svc, const char *sample)
{
	struct sbx_analyse_opts o = { sample, NULL };

	memset(r, 0, sizeof(*r));
	sbx_parse_status(&r->st, status, strlen(status));
	sbx_parse_syscalls(&r->sc, sc, strlen(sc), sample);
	sbx_parse_net(&r->net, net, strlen(net));
	sbx_parse_files(&r->files, files, strlen(files), sample);
	sbx_parse_services(&r->svc, svc, strlen(svc));
	sbx_derive(r, &o);
}

static const char ok_status[] = "{\"started\":true,\"exec_error\":null,\"exit_code\":0,"
				"\"signal\":null,\"timed_out\":false,\"duration_ms\":42,"
				"\"children_killed\":0}";
static const char svc_up[] = "{\"http\":{\"before\":true,\"after\":true},"
			     "\"telnet\":{\"before\":true,\"after\":true}}";

static void test_quiet_run(void **state)
{
	struct sbx_report r;
	struct sbx_outcome o;

	(void)state;
	derive(&r, ok_status,
	       "100 execve(\"/tmp/sample\", [\"/tmp/sample\"], 0x7e8) = 0\n"
	       "100 brk(NULL) = 0x8f000\n100 exit_group(0)\n",
	       "", "", svc_up, "quiet");
	assert_int_equal(r.bhv, 0);
	assert_int_equal(r.behaviour_score, 0);
	assert_int_equal(r.sc.total, 3);
	assert_true(r.sc.launched); /* the tracer's exec of the sample is not the sample's */
	sbx_outcome_from_status(&r.st, 10, &o);
	assert_true(o.executable);
	assert_int_equal(o.v, SBX_V_RAN);
	assert_string_equal(o.exit_str, "0");
}

static void test_scanner_and_brute_force(void **state)
{
	char net[64 * 1024];
	size_t at = 0;
	struct sbx_report r;

	(void)state;
	/* 20 hosts on 23 and 2323, no bytes: a scan, not a login attempt */
	for (int i = 0; i < 20; i++)
		at += (size_t)snprintf(net + at, sizeof(net) - at,
				       "{\"ts_ms\":%d,\"proto\":\"tcp\",\"dst\":\"10.66.%d.%d\","
				       "\"dport\":%d,\"bytes\":0,\"first_hex\":\"\"}\n",
				       i, i / 10, i + 2, i % 2 ? 23 : 2323);
	derive(&r, ok_status, "", net, "", svc_up, "scanner");
	assert_true(has(&r, SBX_B_SCAN));
	assert_false(has(&r, SBX_B_BRUTE));
	assert_int_equal(r.net.distinct_dsts, 20);
	assert_int_equal(r.net.login_port_sessions, 20);
	assert_int_equal(r.behaviour_score, sbx_bhv_table[SBX_B_SCAN].weight);
	/* telnet negotiation then "root\r\n": a login attempt; SSH banner on 22 too */
	at += (size_t)snprintf(net + at, sizeof(net) - at,
			       "{\"proto\":\"tcp\",\"dst\":\"10.66.3.4\",\"dport\":23,"
			       "\"first_hex\":\"fffb01fffd03726f6f740d0a\"}\n"
			       "{\"proto\":\"tcp\",\"dst\":\"10.66.3.5\",\"dport\":22,"
			       "\"first_hex\":\"5353482d322e302d\"}\n");
	derive(&r, ok_status, "", net, "", svc_up, "scanner");
	assert_true(has(&r, SBX_B_BRUTE));
	assert_int_equal(r.net.brute_sessions, 2);
}

static void test_cnc_and_dns(void **state)
{
	const char *net = "{\"proto\":\"dns\",\"qname\":\"cnc.example.net\",\"dst\":\"10.66.0.1\","
			  "\"dport\":53}\n"
			  "{\"proto\":\"tcp\",\"dst\":\"10.66.0.1\",\"dport\":6667,"
			  "\"first_hex\":\"4e49434b\"}\n";
	struct sbx_report r;

	(void)state;
	derive(&r, ok_status, "", net, "", svc_up, "cnc");
	assert_true(has(&r, SBX_B_DNS));
	assert_true(has(&r, SBX_B_CNC));
	assert_string_equal(r.net.qnames[0], "cnc.example.net");
	/* the same connection without a lookup before it is not C&C */
	derive(&r, ok_status, "", strchr(net, '\n') + 1, "", svc_up, "cnc");
	assert_false(has(&r, SBX_B_CNC));
}

static void test_flood(void **state)
{
	char net[64 * 1024];
	size_t at = 0;
	struct sbx_report r;

	(void)state;
	for (int i = 0; i < 250; i++)
		at += (size_t)snprintf(net + at, sizeof(net) - at,
				       "{\"proto\":\"udp\",\"dst\":\"10.66.9.9\",\"dport\":80}\n");
	derive(&r, ok_status, "", net, "", svc_up, "f");
	assert_true(has(&r, SBX_B_FLOOD));
	assert_false(has(&r, SBX_B_SCAN));
	/* the sinkhole's own cap: what it did not log still counts */
	derive(&r, ok_status, "",
	       "{\"proto\":\"udp\",\"dst\":\"10.66.9.9\",\"dport\":80}\n"
	       "{\"proto\":\"dropped\",\"bytes\":90000}\n",
	       "", svc_up, "f");
	assert_true(has(&r, SBX_B_FLOOD));
	assert_int_equal(r.net.dropped, 90000);
	assert_int_equal(r.net.events, 1);
}

static void test_processes(void **state)
{
	/* qemu-user -strace's shapes: prctl(15, ptr), kill(pid, SIG), a clone whose child pid is
	 * then seen; the kill of the own child is not "other" */
	const char *sc =
		"200 prctl(15,459476,0,0,0,557244) = 0\n"
		"200 clone(CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|0x11,child_stack=0x0) = "
		"201\n"
		"201 execve(\"/bin/sh\",{\"sh\",NULL})\n"
		"200 kill(201,SIGTERM) = 0\n"
		"200 kill(77,SIGKILL) = 0\n"
		"200 kill(78,0) = 0\n"
		"200 unlink(\"./dropper\") = 0\n"
		"[pid 202] prctl(PR_SET_NAME, \"sshd\") = 0\n"
		"202 kill(94, SIGKILL) = 0\n"; /* strace spacing */
	struct sbx_report r;

	(void)state;
	derive(&r, ok_status, sc, "", "", svc_up, "/samples/dropper");
	assert_true(has(&r, SBX_B_RENAME));
	assert_true(has(&r, SBX_B_FORK));
	assert_true(has(&r, SBX_B_EXEC));
	assert_true(has(&r, SBX_B_KILL));
	assert_true(has(&r, SBX_B_SELF_DELETE));
	assert_int_equal(r.sc.kills, 3);
	assert_int_equal(r.sc.kills_other, 2);
	assert_string_equal(r.sc.new_name, "sshd");
	assert_string_equal(r.sc.self_unlinked, "./dropper");
	/* unlinking another file is not self-deletion */
	derive(&r, ok_status, "9 unlink(\"/tmp/other\") = 0\n", "", "", svc_up, "dropper");
	assert_false(has(&r, SBX_B_SELF_DELETE));
}

static void test_files(void **state)
{
	const char *files = "created\t/etc/init.d/S99bot\t120\t4.2\n"
			    "modified\t/run/data/a.txt\t4096\t7.95\n"
			    "created\t/run/data/b.txt.locked\t4096\t7.96\n"
			    "deleted\t/run/data/b.txt\t0\t0\n"
			    "deleted\t/tmp/sample\t0\t0\n"
			    "garbage line\n"
			    "modified\trelative\t1\t1\n";
	struct sbx_report r;

	(void)state;
	derive(&r, ok_status, "", "", files, svc_up, "x");
	assert_true(has(&r, SBX_B_PERSIST));
	assert_true(has(&r, SBX_B_ENCRYPT));
	assert_true(has(&r, SBX_B_SELF_DELETE)); /* "sample" is the system agent's name */
	assert_true(has(&r, SBX_B_DESTROY));
	assert_int_equal(r.files.encrypted, 2);
	assert_int_equal(r.files.bad, 2);
	assert_string_equal(r.files.persist_paths[0], "/etc/init.d/S99bot");
	/* a low-entropy rewrite is not encryption */
	derive(&r, ok_status, "", "", "modified\t/run/data/a.txt\t4096\t4.5\n", svc_up, "x");
	assert_false(has(&r, SBX_B_ENCRYPT));
}

static void test_services_and_verdicts(void **state)
{
	const char *down = "{\"http\":{\"before\":true,\"after\":false},"
			   "\"telnet\":{\"before\":true,\"after\":false}}";
	struct sbx_report r;
	struct sbx_outcome o;
	char buf[128];

	(void)state;
	derive(&r, "{\"started\":true,\"signal\":11,\"duration_ms\":5}", "", "", "", down, "k");
	assert_true(has(&r, SBX_B_SERVICE_STOP));
	sbx_service_impact(&r.svc, buf, sizeof(buf));
	assert_string_equal(buf, "http down; telnet down");
	sbx_outcome_from_status(&r.st, 10, &o);
	assert_false(o.executable);
	assert_int_equal(o.v, SBX_V_CRASHED);
	assert_string_equal(o.exit_str, "signal 11");
	assert_non_null(strstr(o.reason, "SIGSEGV"));

	derive(&r, "{\"started\":true,\"timed_out\":true,\"exit_code\":null}",
	       "5 clock_gettime(1,0x4) = 0\n", "", "", svc_up, "loop");
	sbx_outcome_from_status(&r.st, 10, &o);
	assert_true(o.executable);
	assert_string_equal(o.exit_str, "124 (timeout)");
	assert_true(has(&r, SBX_B_RESOURCE)); /* spinning until the deadline */

	derive(&r, "{\"started\":false,\"exec_error\":\"ENOEXEC\"}", "", "", "", svc_up, "x");
	sbx_outcome_from_status(&r.st, 10, &o);
	assert_int_equal(o.v, SBX_V_LOAD_FAILED);
	assert_false(o.executable);
	derive(&r, "{\"started\":true,\"exit_code\":3}", "", "", "", svc_up, "x");
	sbx_outcome_from_status(&r.st, 10, &o);
	assert_int_equal(o.v, SBX_V_RAN);
	assert_false(o.executable);
	derive(&r, "not json", "", "", "", "", "x");
	sbx_outcome_from_status(&r.st, 10, &o);
	assert_int_equal(o.v, SBX_V_ENV_ERROR);
}

static void test_score_is_capped_sum(void **state)
{
	struct sbx_report r;
	struct sbx_scores s;
	struct sbx_analyse_opts o = { "x", &s };
	int sum = 0;

	(void)state;
	sbx_scores_default(&s);
	memset(&r, 0, sizeof(r));
	r.sc.listens = 1;
	r.sc.escapes = 1;
	r.files.encrypted = 1;
	sbx_derive(&r, &o);
	sum = s.weights[SBX_B_LISTEN] + s.weights[SBX_B_ESCAPE] + s.weights[SBX_B_ENCRYPT];
	assert_int_equal(r.behaviour_score, sum);
	s.cap = 40;
	sbx_derive(&r, &o);
	assert_int_equal(r.behaviour_score, 40);
}

static void test_hostile_bounds(void **state)
{
	size_t n = 8u << 20;
	char *big = malloc(n + 1);
	struct sbx_report r;

	(void)state;
	assert_non_null(big);
	/* one 8 MiB line, no newline; then garbage shaped like each format */
	memset(big, 'A', n);
	big[n] = '\0';
	derive(&r, big, big, big, big, big, "x");
	assert_int_equal(r.bhv, 0);
	assert_int_equal(r.sc.ignored, 1);
	for (size_t i = 0; i < n; i++)
		big[i] = (i % 7 == 6) ? '\n' : "1 (\t{\"=)"[i % 8];
	derive(&r, big, big, big, big, big, "x");
	/* many distinct destinations saturate the set instead of growing without bound */
	{
		size_t at = 0;

		for (unsigned i = 0; at + 200 < n && i < 40000; i++)
			at += (size_t)snprintf(big + at, n - at,
					       "{\"proto\":\"udp\",\"dst\":\"10.%u.%u.%u\","
					       "\"dport\":%u}\n",
					       i >> 16, (i >> 8) & 255, i & 255, i % 65536);
		sbx_parse_net(&r.net, big, at);
		assert_true(r.net.distinct_dsts <= 8192);
		assert_int_equal(r.net.udp, 40000);
	}
	free(big);
}

static void test_analyse_dir(void **state)
{
	char dir[] = "/tmp/test-sbx-XXXXXX", path[256];
	struct sbx_report r;
	struct vg_err err = { 0 };
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/status.json", dir);
	f = fopen(path, "w");
	fputs(ok_status, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/syscalls.log", dir);
	f = fopen(path, "w");
	fputs("300 listen(3,1) = 0\n", f);
	fclose(f);
	/* a symlink planted by the sample is not read */
	snprintf(path, sizeof(path), "%s/net.jsonl", dir);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(sbx_analyse(&r, dir, NULL, &err), 0);
	unlink(path);
	assert_true(has(&r, SBX_B_LISTEN));
	assert_string_equal(r.missing, "net.jsonl files.tsv services.json");
	snprintf(path, sizeof(path), "%s/status.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/syscalls.log", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quiet_run),
		cmocka_unit_test(test_scanner_and_brute_force),
		cmocka_unit_test(test_cnc_and_dns),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_processes),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_services_and_verdicts),
		cmocka_unit_test(test_score_is_capped_sum),
		cmocka_unit_test(test_hostile_bounds),
		cmocka_unit_test(test_analyse_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
