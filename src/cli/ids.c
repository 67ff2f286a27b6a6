// SPDX-License-Identifier: MIT
/*
 * vigil ids: scan, baseline and checks (watch and serve are in ids_watch.c). The pipeline is
 * the library's (vigil/ids_look.h): a scan's findings are those two looks agree on.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ids_common.h"
#include "ids_watch_cmd.h"
#include "vigil/json.h"

static void scan_help(void)
{
	printf("Usage: %s ids scan --vm SOURCE [--baseline FILE] [--policy FILE] [--check ID]...\n"
	       "       [--allow-modules A,B,...] [--allow-ports P,Q,...] [--format KIND]\n"
	       "       [--no-cache] [-j|-p]\n\n"
	       "Runs the checks once over a guest's memory. Exit 0 clean, 1 findings, 2 error.\n"
	       "  --baseline FILE      compare with known-good state ('vigil ids baseline')\n"
	       "  --policy FILE        allowlists, disabled checks, severities (docs/policy.md)\n"
	       "  --check ID           run only this check (repeatable); see 'vigil ids checks'\n"
	       "  --allow-modules LIST modules the unknown-module check accepts\n"
	       "  --allow-ports LIST   listening ports backdoor-port accepts (bindshell ports and\n"
	       "                       shell or netcat listeners are reported regardless)\n"
	       "  -j, --json           findings as JSON alerts (DESIGN.md schema), one per line\n",
	       PROG_NAME);
}

static void warn_line(const char *warn)
{
	if (warn[0])
		fprintf(stderr, "%s: warning: %s\n", PROG_NAME, warn);
}

static int do_scan(int argc, char **argv)
{
	struct vg_findings f = { 0 };
	struct vg_err err = { 0 };
	struct vg_ids_config c;
	struct ids_args a;
	struct vg_guest g;
	char warn[1024];
	int rc;

	rc = ids_parse(argc, argv, IDS_OPT_CHECKS, scan_help, &a);
	if (rc || a.help)
		goto out_args;
	rc = ids_config(&a, &c);
	if (rc)
		goto out_args;
	rc = vmi_open(&a.vmi, &g);
	if (rc)
		goto out_cfg;
	if (vg_ids_scan(&g, &c, &f, warn, sizeof(warn), &err)) {
		rc = cli_fail_err(&err);
		goto out;
	}
	warn_line(warn);
	if (!a.vmi.json)
		printf("%-18s %-9s %-24s %s\n", "CHECK", "SEVERITY", "TARGET", "SUMMARY");
	for (size_t i = 0; i < f.n; i++) {
		const struct vg_finding *x = &f.v[i];

		if (a.vmi.json) {
			struct vg_alert al;

			vg_finding_alert(x, NULL, &al);
			vg_alert_fprint(stdout, a.vmi.vm, &al, a.vmi.pretty);
		} else {
			printf("%-18s %-9s %-24.24s %s\n", x->check, vg_severity_name(x->severity),
			       x->target_id, x->summary);
		}
	}
	if (!a.vmi.json && !f.n)
		printf("(no findings)\n");
	if (f.dropped)
		fprintf(stderr, "%s: warning: %zu more findings were not kept\n", PROG_NAME,
			f.dropped);
	rc = f.n ? EXIT_FINDINGS : EXIT_OK;
out:
	vg_findings_free(&f);
	vg_guest_close(&g);
out_cfg:
	vg_ids_config_free(&c);
out_args:
	ids_args_free(&a);
	return rc;
}

static void baseline_help(void)
{
	printf("Usage: %s ids baseline --vm SOURCE -o FILE [--policy FILE] [-j]\n\n"
	       "Records the guest's known-good state: kernel identity, keyed hashes of kernel\n"
	       "text, syscall tables by handler, modules, listening sockets and the executables\n"
	       "processes run from. Take it when the guest is known to be clean; findings the\n"
	       "checks raise at that moment are printed as warnings. See docs/baseline.md.\n",
	       PROG_NAME);
}

static int do_baseline(int argc, char **argv)
{
	struct vg_findings f = { 0 };
	struct vg_baseline b = { 0 };
	struct vg_err err = { 0 };
	struct vg_ids_config c;
	struct ids_args a;
	struct vg_guest g;
	char warn[1024];
	int rc;

	rc = ids_parse(argc, argv, IDS_OPT_OUT | IDS_OPT_POLICY, baseline_help, &a);
	if (rc || a.help)
		goto out_args;
	rc = ids_config(&a, &c);
	if (rc)
		goto out_args;
	rc = vmi_open(&a.vmi, &g);
	if (rc)
		goto out_cfg;
	/* what the checks say now, so nobody records a compromised guest as good unawares */
	rc = vg_ids_look(&g, &c, &f, warn, sizeof(warn), &err);
	if (!rc)
		warn_line(warn);
	for (size_t i = 0; !rc && i < f.n; i++)
		fprintf(stderr, "%s: warning: recording a guest with a finding: %s: %s\n",
			PROG_NAME, f.v[i].check, f.v[i].summary);
	if (!rc) {
		rc = vg_ids_baseline_take(&g, &b, warn, sizeof(warn), &err);
		warn_line(warn);
	}
	if (!rc)
		rc = vg_baseline_save(&b, a.out, &err);
	rc = rc ? cli_fail_err(&err) : EXIT_OK;
	if (!rc && a.vmi.json)
		printf("{\"baseline\":\"%s\",\"release\":\"%s\",\"modules\":%zu,\"listen\":%zu,"
		       "\"executables\":%zu,\"syscall_tables\":%d,\"kernel_text\":%s,"
		       "\"findings\":%zu}\n",
		       a.out, b.release, b.nmodules, b.nlisten, b.nexes, b.nsct,
		       b.text ? "true" : "false", f.n);
	else if (!rc)
		printf("baseline %s: kernel %s, %zu modules, %zu listening sockets, %zu "
		       "executables, %d syscall tables, kernel text %s\n",
		       a.out, b.release, b.nmodules, b.nlisten, b.nexes, b.nsct,
		       b.text ? "hashed" : "not recorded");
	vg_baseline_free(&b);
	vg_findings_free(&f);
	vg_guest_close(&g);
out_cfg:
	vg_ids_config_free(&c);
out_args:
	ids_args_free(&a);
	return rc;
}

static int do_checks(int argc, char **argv)
{
	struct cli_common co;
	struct vg_json j;

	if (cli_parse_common(argc, argv, &co))
		return EXIT_ERROR;
	if (co.help) {
		printf("Usage: %s ids checks [-j|-p]\n\nLists the checks 'ids scan' runs.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	if (co.json) {
		vg_json_init(&j, stdout, co.pretty);
		vg_json_arr_open(&j);
	}
	for (const struct vg_ids_check *k = vg_ids_checks; k->id; k++) {
		if (!co.json) {
			printf("%-20s %s\n", k->id, k->summary);
			continue;
		}
		vg_json_obj_open(&j);
		vg_json_kstr(&j, "id", k->id);
		vg_json_kstr(&j, "summary", k->summary);
		vg_json_obj_close(&j);
	}
	if (co.json) {
		vg_json_arr_close(&j);
		vg_json_end(&j);
	}
	return EXIT_OK;
}

static const struct cli_cmd ids_cmds[] = {
	{ "scan", do_scan, "run the rootkit, backdoor and tampering checks once" },
	{ "baseline", do_baseline, "record the guest's known-good state" },
	{ "watch", cmd_ids_watch, "run the checks continuously and alert on changes" },
	{ "serve", cmd_ids_serve, "control socket: checks on demand, alert subscriptions" },
	{ "checks", do_checks, "list the checks" },
	{ NULL, NULL, NULL },
};

int cmd_ids(int argc, char **argv)
{
	return cli_dispatch("ids", ids_cmds, argc - 1, argv + 1);
}
