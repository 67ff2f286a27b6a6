// SPDX-License-Identifier: MIT
/*
 * backdoor-port over synthetic snapshots: what a listener runs for each connection (its argv,
 * its children, the process at the other end of its stdio pipe), the listeners an operator or a
 * baseline accepts, and the argv reading itself (src/ids/listen_cmd.c); and a baseline keeping
 * who held each listener across save and load.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ids/checks_int.h"
#include "vigil/ids_baseline.h"

static void exec_of(const char *comm, const char *cmdline, bool found, bool shell, const char *prog)
{
	struct vg_listen_exec x;

	vg_ids_listen_exec(comm, cmdline, &x);
	if (x.found != found || x.shell != shell || strcmp(x.prog, prog))
		fail_msg("%s: found %d shell %d prog '%s', want %d %d '%s'", cmdline, x.found,
			 x.shell, x.prog, found, shell, prog);
}

static void reads_exec_targets_from_argv(void **state)
{
	/* busybox nc: -e PROG [ARGS] must be last */
	exec_of("nc", "nc -ll -p 8080 -e /bin/cat", true, false, "/bin/cat");
	exec_of("nc", "nc -ll -p 2001 -e /bin/sh", true, true, "/bin/sh");
	exec_of("nc", "nc -ll -p 2001 -e /bin/busybox sh", true, true, "/bin/busybox");
	/* the applet run through busybox itself keeps comm "busybox" */
	exec_of("busybox", "busybox nc -ll -p 2001 -e /bin/sh", true, true, "/bin/sh");
	exec_of("busybox", "busybox httpd -f -p 80", false, false, "");
	exec_of("nc", "nc -ll -p 2001 -e /usr/bin/env TERM=x bash -i", true, true, "/usr/bin/env");
	/* traditional nc: options after -e, bundled and attached forms */
	exec_of("nc.traditional", "nc -e /bin/sh -lvnp 4444", true, true, "/bin/sh");
	exec_of("nc", "nc -lvp 4444 -e/bin/bash", true, true, "/bin/bash");
	exec_of("nc", "nc -l -p 9 -c cat", true, false, "cat");
	exec_of("nc", "nc -l -p 9 -c cat;sh", true, true, "cat;sh");
	exec_of("nc", "nc -l -p 9 -e /usr/bin/python3", true, true, "/usr/bin/python3");
	/* a second exec option naming a shell is enough */
	exec_of("nc", "nc -l -p 1 -w -e/bin/cat -e /bin/sh", true, true, "/bin/cat");
	/* wrappers that start a shell when given no command */
	exec_of("nc", "nc -ll -p 9 -e /bin/su", true, true, "/bin/su");
	exec_of("nc", "nc -ll -p 9 -e /usr/sbin/chroot /jail", true, true, "/usr/sbin/chroot");
	exec_of("nc", "nc -ll -p 9 -e /usr/sbin/chroot /jail /bin/cat", true, false,
		"/usr/sbin/chroot");
	/* ncat */
	exec_of("ncat", "ncat -lk 8080 --sh-exec cat", true, false, "cat");
	exec_of("ncat", "ncat -lk 8080 --exec=/bin/bash", true, true, "/bin/bash");
	exec_of("ncat", "ncat -lk 8080 --lua-exec /srv/echo.lua", true, false, "/srv/echo.lua");
	/* socat: EXEC and SYSTEM addresses, in either position, options after a comma */
	exec_of("socat", "socat TCP-LISTEN:8080,fork EXEC:/bin/cat", true, false, "/bin/cat");
	exec_of("socat", "socat TCP-LISTEN:2001,fork exec:bash -li,pty,stderr", true, true, "bash");
	exec_of("socat", "socat SYSTEM:date;sh TCP-LISTEN:2001", true, true, "date;sh");
	exec_of("socat", "socat TCP-LISTEN:8080 TCP:10.0.0.1:80", false, false, "");
	/* no exec option, or not a netcat at all */
	exec_of("nc", "nc -l -p 2003", false, false, "");
	exec_of("nc", "", false, false, "");
	exec_of("httpd", "httpd -e /bin/sh", false, false, "");
}

static void knows_netcats(void **state)
{
	static const char *const yes[][2] = {
		{ "nc", "nc -l -p 1" },
		{ "ncat", "ncat -l 1" },
		{ "netcat", "" },
		{ "nc.openbsd", "nc.openbsd -l 1" },
		{ "socat", "socat - -" },
		{ "busybox", "busybox nc -l -p 1" },
		{ "toybox", "toybox netcat -l" },
		{ "nc", NULL },
	};
	static const char *const no[][2] = {
		{ "httpd", "httpd -f" }, { "busybox", "busybox httpd -f" },
		{ "ncx", "ncx" },	 { "busybox", "busybox" },
		{ "sh", "sh -c nc" },
	};
	struct vg_listen_exec x;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		vg_ids_listen_exec(yes[i][0], yes[i][1], &x);
		if (!x.netcat)
			fail_msg("%s: not seen as a netcat", yes[i][0]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		vg_ids_listen_exec(no[i][0], no[i][1], &x);
		if (x.netcat || x.found)
			fail_msg("%s (%s) seen as a netcat", no[i][0], no[i][1]);
	}
}

static void hostile_argv_is_bounded(void **state)
{
	size_t n = VG_CMDLINE_MAX * 4;
	char *s = malloc(n);
	struct vg_listen_exec x;

	assert_non_null(s);
	/* every word an exec option: each is read, none is a shell; the reading stops */
	for (size_t i = 0; i + 3 < n; i += 3)
		memcpy(s + i, "-e ", 3);
	s[n - 1 - (n - 1) % 3] = 0;
	vg_ids_listen_exec("nc", s, &x);
	assert_true(x.found);
	assert_false(x.shell);
	memset(s, '-', n - 1);
	s[n - 1] = 0;
	vg_ids_listen_exec("socat", s, &x);
	assert_false(x.found);
	assert_false(vg_ids_stdin_shell("sh", s));
	free(s);
}

static void tells_shells_reading_stdin(void **state)
{
	assert_true(vg_ids_stdin_shell("sh", "/bin/sh"));
	assert_true(vg_ids_stdin_shell("sh", "sh -i"));
	assert_true(vg_ids_stdin_shell("sh", "-sh"));
	assert_true(vg_ids_stdin_shell("sh", "sh -c sh -i"));
	assert_true(vg_ids_stdin_shell("bash", "env FOO=1 bash"));
	assert_true(vg_ids_stdin_shell("python3", "python3 -c import pty"));
	assert_true(vg_ids_stdin_shell("sh", "")); /* argv unknown: by name */
	assert_false(vg_ids_stdin_shell("svc", "/bin/sh /tmp/svc"));
	assert_false(vg_ids_stdin_shell("sh", "sh -c cat"));
	assert_false(vg_ids_stdin_shell("python3", "python3 /opt/a.py"));
	assert_false(vg_ids_stdin_shell("cat", "/bin/cat"));
	assert_false(vg_ids_stdin_shell("nc", "nc -ll -p 2001 -e /bin/sh"));
	assert_false(vg_ids_stdin_shell("cat", ""));
}

/* The guest: init, the netcats below, and what hangs off them. */
static struct vg_task tasks[] = {
	{ .pid = 1, .tgid = 1, .comm = "init", .exe = "/bin/busybox", .cmdline = "/bin/sh /init" },
	{ .pid = 10,
	  .tgid = 10,
	  .ppid = 1,
	  .comm = "nc",
	  .exe = "/bin/busybox",
	  .cmdline = "nc -ll -p 8080 -e /bin/cat" },
	{ .pid = 11,
	  .tgid = 11,
	  .ppid = 1,
	  .comm = "nc",
	  .exe = "/bin/busybox",
	  .cmdline = "nc -ll -p 2001 -e /bin/sh" },
	{ .pid = 12,
	  .tgid = 12,
	  .ppid = 1,
	  .comm = "nc",
	  .exe = "/bin/busybox",
	  .cmdline = "nc -ll -p 2004 -e /tmp/svc" },
	{ .pid = 13,
	  .tgid = 13,
	  .ppid = 12,
	  .comm = "sh",
	  .exe = "/bin/busybox",
	  .cmdline = "/bin/sh -i" },
	{ .pid = 14,
	  .tgid = 14,
	  .ppid = 1,
	  .comm = "nc",
	  .exe = "/bin/busybox",
	  .cmdline = "nc -l -p 2002" },
	{ .pid = 15,
	  .tgid = 15,
	  .ppid = 1,
	  .comm = "sh",
	  .exe = "/bin/busybox",
	  .cmdline = "sh -i" },
	{ .pid = 16,
	  .tgid = 16,
	  .ppid = 1,
	  .comm = "nc",
	  .exe = "/bin/busybox",
	  .cmdline = "nc -l -p 2003" },
	{ .pid = 17,
	  .tgid = 17,
	  .ppid = 1,
	  .comm = "vigil-worker",
	  .exe = "/bin/vigil-worker",
	  .cmdline = "vigil-worker --listen 4242" },
	{ .pid = 18,
	  .tgid = 18,
	  .ppid = 1,
	  .comm = "epmd",
	  .exe = "/usr/bin/epmd",
	  .cmdline = "epmd -daemon" },
};

static struct vg_listen listeners[] = {
	{ .proto = "tcp6",
	  .port = 8080,
	  .addr = "::",
	  .owner_pid = 10,
	  .owner_comm = "nc",
	  .owner = &tasks[1] },
	{ .proto = "tcp6",
	  .port = 2001,
	  .addr = "::",
	  .owner_pid = 11,
	  .owner_comm = "nc",
	  .owner = &tasks[2] },
	{ .proto = "tcp6",
	  .port = 2004,
	  .addr = "::",
	  .owner_pid = 12,
	  .owner_comm = "nc",
	  .owner = &tasks[3] },
	{ .proto = "tcp6",
	  .port = 2002,
	  .addr = "::",
	  .owner_pid = 14,
	  .owner_comm = "nc",
	  .owner = &tasks[5],
	  .peers = { &tasks[6] },
	  .npeers = 1 },
	{ .proto = "tcp6",
	  .port = 2003,
	  .addr = "::",
	  .owner_pid = 16,
	  .owner_comm = "nc",
	  .owner = &tasks[7] },
	{ .proto = "tcp",
	  .port = 4242,
	  .addr = "0.0.0.0",
	  .owner_pid = 17,
	  .owner_comm = "vigil-worker",
	  .owner = &tasks[8] },
	{ .proto = "tcp",
	  .port = 4369,
	  .addr = "0.0.0.0",
	  .owner_pid = 18,
	  .owner_comm = "epmd",
	  .owner = &tasks[9] },
	{ .proto = "udp",
	  .port = 9999,
	  .addr = "0.0.0.0",
	  .owner_pid = 16,
	  .owner_comm = "nc",
	  .owner = &tasks[7] },
};

static void snapshot(struct vg_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->tasks.v = tasks;
	s->tasks.n = sizeof(tasks) / sizeof(tasks[0]);
	s->listen = listeners;
	s->nlisten = sizeof(listeners) / sizeof(listeners[0]);
	s->have_listen = true;
}

static const struct vg_finding *find(const struct vg_findings *f, const char *id)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].target_id, id))
			return &f->v[i];
	return NULL;
}

static void expect(const struct vg_findings *f, const char *id, enum vg_severity sev,
		   const char *reason, const char *ev)
{
	const struct vg_finding *x = find(f, id);
	char want[64];

	if (!x)
		fail_msg("no finding for %s", id);
	snprintf(want, sizeof(want), "(%s)", reason);
	if (x->severity != sev || !strstr(x->summary, want) || (ev && !strstr(x->evidence, ev)))
		fail_msg("%s: %s %s", id, x->summary, x->evidence);
}

static void run(const struct vg_ids_opts *o, struct vg_findings *f)
{
	static const char *const only[] = { "backdoor-port", NULL };
	struct vg_ids_opts opts = o ? *o : (struct vg_ids_opts){ 0 };
	struct vg_err err = { 0 };
	struct vg_snapshot s;

	snapshot(&s);
	opts.only = only;
	memset(f, 0, sizeof(*f));
	assert_int_equal(vg_ids_run(&s, &opts, f, &err), 0);
}

static void what_a_listener_runs(void **state)
{
	struct vg_findings f;

	run(NULL, &f);
	expect(&f, "tcp6/8080", VG_SEV_MEDIUM, "netcat-exec", "\"exec\":\"/bin/cat\"");
	/* the evidence the older tests read keeps its shape */
	expect(&f, "tcp6/2001", VG_SEV_HIGH, "shell-listener",
	       "\"owner\":{\"pid\":11,\"comm\":\"nc\"},\"exe\":\"/bin/busybox\"");
	expect(&f, "tcp6/2001", VG_SEV_HIGH, "shell-listener", "\"shell_via\":\"argv\"");
	expect(&f, "tcp6/2004", VG_SEV_HIGH, "shell-listener",
	       "\"shell_via\":\"child\",\"shell\":{\"pid\":13");
	expect(&f, "tcp6/2002", VG_SEV_HIGH, "shell-listener",
	       "\"shell_via\":\"pipe\",\"shell\":{\"pid\":15,\"comm\":\"sh\"");
	expect(&f, "tcp6/2003", VG_SEV_MEDIUM, "netcat-listener", NULL);
	expect(&f, "tcp/4369", VG_SEV_CRITICAL, "bindshell-port", NULL);
	/* no port policy: the worker and a UDP netcat are not reported */
	assert_int_equal(f.n, 6);
	vg_findings_free(&f);
}

static void accepted_listeners(void **state)
{
	const struct vg_listener_rule rules[] = {
		/* the baseline's: same executable and argv */
		{ 8080, "/bin/busybox", "nc -ll -p 8080 -e /bin/cat" },
		/* argv changed since: not this rule's */
		{ 2003, "/bin/busybox", "nc -l -p 2003 -q 1" },
		/* the policy's: port and executable */
		{ 4369, "/usr/bin/epmd", NULL },
		{ 2001, "/bin/busybox", NULL },
		{ 2004, "/bin/busybox", NULL },
	};
	const uint16_t ports[] = { 80 };
	struct vg_ids_opts o = { .allowed_listeners = rules,
				 .nallowed_listeners = sizeof(rules) / sizeof(rules[0]),
				 .allowed_ports = ports,
				 .nallowed_ports = 1 };
	struct vg_findings f;

	run(&o, &f);
	assert_null(find(&f, "tcp6/8080"));
	assert_null(find(&f, "tcp/4369"));
	expect(&f, "tcp6/2003", VG_SEV_MEDIUM, "netcat-listener", NULL);
	/* a shell is reported however it is accepted */
	expect(&f, "tcp6/2001", VG_SEV_HIGH, "shell-listener", NULL);
	expect(&f, "tcp6/2004", VG_SEV_HIGH, "shell-listener", NULL);
	expect(&f, "tcp6/2002", VG_SEV_HIGH, "shell-listener", NULL);
	expect(&f, "tcp/4242", VG_SEV_MEDIUM, "not-allowed", NULL);
	expect(&f, "udp/9999", VG_SEV_MEDIUM, "not-allowed", NULL);
	assert_int_equal(f.n, 6);
	vg_findings_free(&f);
	/* on a bindshell port, a shell is critical whatever accepts it */
	tasks[9].cmdline = "epmd -e /bin/sh";
	strcpy(listeners[6].owner_comm, "nc");
	run(&o, &f);
	expect(&f, "tcp/4369", VG_SEV_CRITICAL, "bindshell-port", "\"shell_via\":\"argv\"");
	vg_findings_free(&f);
	tasks[9].cmdline = "epmd -daemon";
	strcpy(listeners[6].owner_comm, "epmd");
}

static void baseline_keeps_listener_owners(void **state)
{
	struct vg_baseline b, back;
	struct vg_err err = { 0 };
	struct vg_snapshot s;
	char path[] = "/tmp/vigil-test-bl-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	close(fd);
	snapshot(&s);
	assert_int_equal(vg_baseline_from_snapshot(&b, &s, "banner", 0, NULL, &err), 0);
	assert_int_equal(vg_baseline_save(&b, path, &err), 0);
	assert_int_equal(vg_baseline_load(&back, path, &err), 0);
	assert_int_equal(back.nlisten, s.nlisten);
	assert_int_equal(back.listen[0].port, 8080);
	assert_string_equal(back.listen[0].exe, "/bin/busybox");
	assert_string_equal(back.listen[0].cmdline, "nc -ll -p 8080 -e /bin/cat");
	vg_baseline_free(&back);
	vg_baseline_free(&b);
	/* both or neither */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"vigil_baseline\":1,\"kernel\":{},\"modules\":[],\"executables\":[],"
	      "\"listen\":[{\"proto\":\"tcp\",\"port\":1,\"addr\":\"\",\"exe\":\"/x\"}]}",
	      f);
	fclose(f);
	vg_err_clear(&err);
	assert_int_not_equal(vg_baseline_load(&back, path, &err), 0);
	assert_non_null(strstr(err.msg, "listen[0]"));
	/* a baseline from before owners were recorded still loads */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"vigil_baseline\":1,\"kernel\":{},\"modules\":[],\"executables\":[],"
	      "\"listen\":[{\"proto\":\"tcp\",\"port\":1,\"addr\":\"\"}]}",
	      f);
	fclose(f);
	assert_int_equal(vg_baseline_load(&back, path, &err), 0);
	assert_null(back.listen[0].exe);
	vg_baseline_free(&back);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_exec_targets_from_argv),
		cmocka_unit_test(knows_netcats),
		cmocka_unit_test(hostile_argv_is_bounded),
		cmocka_unit_test(tells_shells_reading_stdin),
		cmocka_unit_test(what_a_listener_runs),
		cmocka_unit_test(accepted_listeners),
		cmocka_unit_test(baseline_keeps_listener_owners),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
