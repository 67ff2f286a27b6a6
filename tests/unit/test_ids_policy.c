// SPDX-License-Identifier: MIT
/* The IDS policy parser, policy application, and watch's active-finding bookkeeping. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/ids_policy.h"
#include "vigil/ids_watch.h"

static const char good[] = "# a policy\n"
			   "[modules]\n"
			   "allow = dummy, veth   # both ours\n"
			   "[ports]\n"
			   "allow = 22 80,443\n"
			   "[checks]\n"
			   "disable = unknown-module\n"
			   "severity.backdoor-port = critical\n"
			   "[processes]\n"
			   "allow-exe = /tmp/known-tool\n"
			   "new-executables = ignore\n"
			   "[watch]\n"
			   "interval = 1500ms\n"
			   "on-gone = exit\n"
			   "gone-grace = 2s\n"
			   "[listeners]\n"
			   "allow = 8080:/bin/busybox, 9000:/opt/svc/bin/svc\n";

static void parses_every_section(void **state)
{
	struct vg_policy p;
	struct vg_err err = { 0 };

	assert_int_equal(vg_policy_parse(&p, good, strlen(good), &err), 0);
	assert_int_equal(p.nmodules, 2);
	assert_string_equal(p.modules[0], "dummy");
	assert_string_equal(p.modules[1], "veth");
	assert_null(p.modules[2]);
	assert_int_equal(p.nports, 3);
	assert_int_equal(p.ports[2], 443);
	assert_false(vg_policy_check_enabled(&p, "unknown-module"));
	assert_true(vg_policy_check_enabled(&p, "hidden-process"));
	assert_int_equal(p.nsev, 1);
	assert_int_equal(p.sev_override[0].sev, VG_SEV_CRITICAL);
	assert_true(vg_policy_exe_allowed(&p, "/tmp/known-tool"));
	assert_false(p.new_executables);
	assert_int_equal(p.interval_ms, 1500);
	assert_int_equal(p.on_gone, VG_GONE_EXIT);
	assert_int_equal(p.gone_grace_ms, 2000);
	assert_int_equal(p.nlisteners, 2);
	assert_int_equal(p.listeners[1].port, 9000);
	assert_string_equal(p.listeners[1].exe, "/opt/svc/bin/svc");
	vg_policy_free(&p);
}

/* The policy's listeners (port and executable, any argv) and the baseline's (with argv; one
 * held by no process names nothing to accept). */
static void listener_rules_merge_policy_and_baseline(void **state)
{
	struct vg_bl_listen bl[2] = {
		{ .proto = "tcp6",
		  .port = 8080,
		  .exe = "/bin/busybox",
		  .cmdline = "nc -ll -p 8080 -e /bin/cat" },
		{ .proto = "udp", .port = 68 },
	};
	struct vg_baseline b = { .listen = bl, .nlisten = 2 };
	struct vg_listener_rule *r;
	struct vg_ids_opts o = { 0 };
	struct vg_err err = { 0 };
	struct vg_policy p;

	assert_int_equal(vg_policy_parse(&p, good, strlen(good), &err), 0);
	assert_int_equal(vg_policy_listener_opts(&p, &b, &o, &r, &err), 0);
	assert_ptr_equal(o.allowed_listeners, r);
	assert_int_equal(o.nallowed_listeners, 3);
	assert_int_equal(r[0].port, 8080);
	assert_string_equal(r[0].exe, "/bin/busybox");
	assert_null(r[0].cmdline);
	assert_string_equal(r[2].cmdline, "nc -ll -p 8080 -e /bin/cat");
	free(r);
	vg_policy_free(&p);
	vg_policy_init(&p);
	assert_int_equal(vg_policy_listener_opts(&p, NULL, &o, &r, &err), 0);
	assert_null(r);
	assert_null(o.allowed_listeners);
	assert_int_equal(o.nallowed_listeners, 0);
}

static void expect_error(const char *text, const char *needle)
{
	struct vg_policy p;
	struct vg_err err = { 0 };

	assert_int_not_equal(vg_policy_parse(&p, text, strlen(text), &err), 0);
	if (!strstr(err.msg, needle))
		fail_msg("'%s' not in '%s'", needle, err.msg);
	/* a failed parse leaves nothing allowed */
	assert_int_equal(p.nmodules, 0);
	assert_int_equal(p.nports, 0);
}

static void rejects_mistakes_with_line_numbers(void **state)
{
	expect_error("[modules]\nalow = x\n", "line 2: unknown key 'alow'");
	expect_error("allow = x\n", "line 1: 'allow' outside a [section]");
	expect_error("[module]\n", "line 1: unknown section [module]");
	expect_error("[ports]\nallow = 22 70000\n", "line 2: '70000' is not a port");
	expect_error("[ports]\nallow = 22x\n", "'22x' is not a port");
	expect_error("[checks]\ndisable = no-such\n", "unknown check 'no-such'");
	expect_error("[checks]\nseverity.hidden-process = huge\n", "severity is one of");
	expect_error("[watch]\ninterval = soon\n", "takes a duration");
	expect_error("[watch]\non-gone = maybe\n", "on-gone is wait or exit");
	expect_error("[processes]\nallow-exe = tmp/x\n", "not an absolute path");
	expect_error("[modules\n", "section without ']'");
	expect_error("[modules]\nallow\n", "expected 'key = value'");
}

static void bounds_hostile_sizes(void **state)
{
	struct vg_policy p;
	struct vg_err err = { 0 };
	size_t n = 8192;
	char *long_line = malloc(n + 16);

	memset(long_line, 'a', n);
	long_line[n] = 0;
	assert_int_not_equal(vg_policy_parse(&p, long_line, n, &err), 0);
	assert_non_null(strstr(err.msg, "longer than"));
	/* too many values */
	char *many = malloc(300 * 3 + 32);
	size_t k = sprintf(many, "[modules]\nallow =");
	for (int i = 0; i < 300; i++)
		k += sprintf(many + k, " m");
	vg_err_clear(&err);
	assert_int_not_equal(vg_policy_parse(&p, many, k, &err), 0);
	assert_non_null(strstr(err.msg, "too many"));
	/* embedded NUL */
	vg_err_clear(&err);
	assert_int_not_equal(vg_policy_parse(&p, "[ports]\0\n", 9, &err), 0);
	free(long_line);
	free(many);
}

static void rejects_bad_listeners(void **state)
{
	expect_error("[listeners]\nallow = 8080\n", "line 2");
	expect_error("[listeners]\nallow = 8080:bin/nc\n", "PORT:/path");
	expect_error("[listeners]\nallow = 0:/bin/nc\n", "not a port");
	expect_error("[listeners]\nallow = 70000:/bin/nc\n", "not a port");
	expect_error("[listeners]\nallow = +80:/bin/nc\n", "not a port");
	expect_error("[listeners]\ndeny = 80:/bin/nc\n", "unknown key");
}

static void oversized_evidence_is_dropped_whole(void **state)
{
	struct vg_findings f = { 0 };
	struct vg_err err = { 0 };
	char big[2000];
	struct vg_json *j;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	j = vg_finding_begin(&f, "suspicious-process", VG_SEV_HIGH, NULL, "process", "1", &err);
	assert_non_null(j);
	vg_json_kstr(j, "exe", big);
	assert_int_equal(vg_finding_end(&f, &err, "process %d", 1), 0);
	assert_string_equal(f.v[0].evidence, "{\"truncated\":true}");
	assert_string_equal(f.v[0].summary, "process 1");
	/* one finding at a time: a second begin before the end is refused */
	assert_non_null(vg_finding_begin(&f, "x", VG_SEV_LOW, NULL, "process", "2", &err));
	assert_null(vg_finding_begin(&f, "y", VG_SEV_LOW, NULL, "process", "3", &err));
	assert_int_equal(err.code, EBUSY);
	vg_findings_free(&f);
}

static void durations(void **state)
{
	uint32_t ms;

	assert_int_equal(vg_parse_duration("2s", &ms), 0);
	assert_int_equal(ms, 2000);
	assert_int_equal(vg_parse_duration("250ms", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(vg_parse_duration("1m", &ms), 0);
	assert_int_equal(ms, 60000);
	assert_int_equal(vg_parse_duration("3", &ms), 0);
	assert_int_equal(ms, 3000);
	assert_int_not_equal(vg_parse_duration("-1s", &ms), 0);
	assert_int_not_equal(vg_parse_duration("2d", &ms), 0);
	assert_int_not_equal(vg_parse_duration("", &ms), 0);
	assert_int_not_equal(vg_parse_duration("100000m", &ms), 0);
}

/* A finding whose evidence is one member, KEY with the JSON value RAW. */
static void add(struct vg_findings *f, const char *check, const char *id, const char *key,
		const char *raw)
{
	struct vg_err err = { 0 };
	struct vg_json *j = vg_finding_begin(f, check, VG_SEV_MEDIUM, NULL, "process", id, &err);

	assert_non_null(j);
	vg_json_kraw(j, key, raw);
	assert_int_equal(vg_finding_end(f, &err, "s"), 0);
}

static void applies_overrides_and_exemptions(void **state)
{
	struct vg_policy p;
	struct vg_err err = { 0 };
	struct vg_findings f = { 0 };

	assert_int_equal(vg_policy_parse(&p, good, strlen(good), &err), 0);
	add(&f, "backdoor-port", "tcp/2001", "port", "2001");
	add(&f, "unknown-module", "x", "module", "\"x\"");
	add(&f, "suspicious-process", "7", "exe", "\"/tmp/known-tool\"");
	add(&f, "suspicious-process", "8", "exe", "\"/tmp/other\"");
	vg_policy_apply(&p, &f);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.v[0].check, "backdoor-port");
	assert_int_equal(f.v[0].severity, VG_SEV_CRITICAL);
	assert_string_equal(f.v[1].target_id, "8");
	vg_findings_free(&f);
	vg_policy_free(&p);
}

struct events {
	int alerts, resolved;
	char last[160];
};

static void record(void *ctx, const struct vg_finding *f, const char *event)
{
	struct events *e = ctx;

	if (!strcmp(event, "alert"))
		e->alerts++;
	else
		e->resolved++;
	snprintf(e->last, sizeof(e->last), "%s:%s", event, f->target_id);
}

static void watch_needs_two_agreeing_looks(void **state)
{
	struct vg_watch w = { 0 };
	struct vg_findings a = { 0 }, b = { 0 }, none = { 0 };
	struct events e = { 0 };

	add(&a, "hidden-process", "42", "pid", "42");
	/* seen by one look only: a task forking between views, not a finding */
	assert_true(vg_watch_differs(&w, &a));
	assert_int_equal(vg_watch_commit(&w, &a, &none, record, &e), 0);
	assert_int_equal(e.alerts, 0);
	/* both looks agree: alerted once */
	add(&b, "hidden-process", "42", "pid", "42");
	assert_int_equal(vg_watch_commit(&w, &a, &b, record, &e), 0);
	assert_int_equal(e.alerts, 1);
	assert_false(vg_watch_differs(&w, &a));
	assert_int_equal(vg_watch_commit(&w, &a, &a, record, &e), 0);
	assert_int_equal(e.alerts, 1);
	/* gone from one look only: still active */
	assert_int_equal(vg_watch_commit(&w, &none, &a, record, &e), 0);
	assert_int_equal(e.resolved, 0);
	/* gone from both: resolved once */
	assert_int_equal(vg_watch_commit(&w, &none, &none, record, &e), 0);
	assert_int_equal(e.resolved, 1);
	assert_string_equal(e.last, "resolved:42");
	assert_int_equal(vg_watch_commit(&w, &none, &none, record, &e), 0);
	assert_int_equal(e.resolved, 1);
	vg_findings_free(&a);
	vg_findings_free(&b);
	vg_watch_free(&w);
}

static void findings_are_capped(void **state)
{
	struct vg_findings f = { 0 };

	for (int i = 0; i < VG_MAX_FINDINGS + 10; i++)
		add(&f, "hidden-process", "1", "pid", "1");
	assert_int_equal(f.n, VG_MAX_FINDINGS);
	assert_int_equal(f.dropped, 10);
	vg_findings_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_every_section),
		cmocka_unit_test(rejects_mistakes_with_line_numbers),
		cmocka_unit_test(bounds_hostile_sizes),
		cmocka_unit_test(durations),
		cmocka_unit_test(applies_overrides_and_exemptions),
		cmocka_unit_test(watch_needs_two_agreeing_looks),
		cmocka_unit_test(findings_are_capped),
		cmocka_unit_test(oversized_evidence_is_dropped_whole),
		cmocka_unit_test(rejects_bad_listeners),
		cmocka_unit_test(listener_rules_merge_policy_and_baseline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
