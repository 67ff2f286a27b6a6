// SPDX-License-Identifier: MIT
/*
 * vigil ids: scan, baseline and checks (watch and serve are in ids_watch.c and ids_serve.c).
 * A finding on a live guest is confirmed by a second snapshot (a task forking or exiting
 * between two views is not a rootkit), so only findings present in both are reported.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "ids_common.h"
#include "ids_watch_cmd.h"
#include "vigil/ids_text.h"
#include "vigil/ids_watch.h"
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

static int look(struct vg_guest *g, struct ids_ctx *c, struct vg_findings *f)
{
	struct vg_err err = { 0 };
	char warn[1024];

	if (ids_look(g, c, f, warn, sizeof(warn), &err))
		return cli_fail_err(&err);
	if (warn[0])
		fprintf(stderr, "%s: warning: %s\n", PROG_NAME, warn);
	return 0;
}

static int do_scan(int argc, char **argv)
{
	struct vg_findings f1 = { 0 }, f2 = { 0 };
	struct ids_args a;
	struct ids_ctx c;
	struct vg_guest g;
	int rc;

	rc = ids_parse(argc, argv, IDS_OPT_CHECKS, scan_help, &a);
	if (rc || a.help)
		goto out_args;
	rc = ids_ctx_init(&c, &a);
	if (rc)
		goto out_args;
	rc = vmi_open(&a.vmi, &g);
	if (rc)
		goto out_ctx;
	rc = look(&g, &c, &f1);
	if (!rc && f1.n) {
		/* a live guest changes under the reader: confirm against a second look */
		vg_as_flush(&g.lx.kas);
		rc = look(&g, &c, &f2);
	}
	if (rc)
		goto out;
	if (!a.vmi.json)
		printf("%-18s %-9s %-24s %s\n", "CHECK", "SEVERITY", "TARGET", "SUMMARY");
	rc = EXIT_OK;
	for (size_t i = 0; i < f1.n; i++) {
		const struct vg_finding *x = &f1.v[i];
		bool confirmed = false;

		for (size_t k = 0; k < f2.n && !confirmed; k++)
			confirmed = vg_finding_same(x, &f2.v[k]);
		if (!confirmed)
			continue;
		rc = EXIT_FINDINGS;
		if (a.vmi.json) {
			struct vg_alert al;

			vg_finding_alert(x, NULL, &al);
			vg_alert_fprint(stdout, a.vmi.vm, &al, a.vmi.pretty);
		} else
			printf("%-18s %-9s %-24.24s %s\n", x->check, vg_severity_name(x->severity),
			       x->target_id, x->summary);
	}
	if (!a.vmi.json && rc == EXIT_OK)
		printf("(no findings)\n");
	if (f1.dropped)
		fprintf(stderr, "%s: warning: %zu more findings were not kept\n", PROG_NAME,
			f1.dropped);
out:
	vg_findings_free(&f1);
	vg_findings_free(&f2);
	vg_guest_close(&g);
out_ctx:
	ids_ctx_free(&c);
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

static int record(struct vg_guest *g, const char *path, struct vg_baseline *b)
{
	struct vg_text_ref *text = calloc(1, sizeof(*text));
	struct vg_err err = { 0 };
	struct vg_snapshot s;
	uint8_t key[16];
	int ret;

	if (!text)
		return cli_fail("out of memory");
	/* the key stays on the host: the guest cannot aim a patch at a hash it cannot compute */
	randombytes_buf(key, sizeof(key));
	if (vg_ids_text_hash(&g->lx, key, text, &err)) {
		fprintf(stderr, "%s: warning: kernel text not recorded: %s\n", PROG_NAME, err.msg);
		vg_err_clear(&err);
		free(text);
		text = NULL;
	}
	ret = vg_ids_gather(&g->lx, &s, &err);
	if (ret && text) {
		vg_text_ref_free(text);
		free(text);
	}
	if (!ret) {
		/* the baseline owns TEXT from here, also when recording fails */
		ret = vg_baseline_from_snapshot(b, &s, g->lx.banner, g->lx.text_va, text, &err);
		if (s.gather_errors[0])
			fprintf(stderr, "%s: warning: %s\n", PROG_NAME, s.gather_errors);
		vg_ids_snapshot_free(&s);
	}
	if (!ret)
		ret = vg_baseline_save(b, path, &err);
	return ret ? cli_fail_err(&err) : 0;
}

static int do_baseline(int argc, char **argv)
{
	struct vg_findings f = { 0 };
	struct vg_baseline b = { 0 };
	struct ids_args a;
	struct ids_ctx c;
	struct vg_guest g;
	int rc;

	rc = ids_parse(argc, argv, IDS_OPT_OUT | IDS_OPT_POLICY, baseline_help, &a);
	if (rc || a.help)
		goto out_args;
	if (sodium_init() < 0) {
		rc = cli_fail("baseline: libsodium failed to initialise");
		goto out_args;
	}
	rc = ids_ctx_init(&c, &a);
	if (rc)
		goto out_args;
	rc = vmi_open(&a.vmi, &g);
	if (rc)
		goto out_ctx;
	/* what the checks say now, so nobody records a compromised guest as good unawares */
	rc = look(&g, &c, &f);
	for (size_t i = 0; !rc && i < f.n; i++)
		fprintf(stderr, "%s: warning: recording a guest with a finding: %s: %s\n",
			PROG_NAME, f.v[i].check, f.v[i].summary);
	if (!rc)
		rc = record(&g, a.out, &b);
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
out_ctx:
	ids_ctx_free(&c);
out_args:
	ids_args_free(&a);
	return rc;
}

static int do_checks(int argc, char **argv)
{
	bool json = argc > 1 && (!strcmp(argv[1], "-j") || !strcmp(argv[1], "--json"));
	struct vg_json j;

	if (argc > 1 && !json) {
		if (strcmp(argv[1], "--help") && strcmp(argv[1], "-h"))
			return cli_fail("checks: unknown option '%s'", argv[1]);
		printf("Usage: %s ids checks [-j]\n\nLists the checks 'ids scan' runs.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	if (json) {
		vg_json_init(&j, stdout, false);
		vg_json_arr_open(&j);
	}
	for (const struct vg_ids_check *k = vg_ids_checks; k->id; k++) {
		if (!json) {
			printf("%-20s %s\n", k->id, k->summary);
			continue;
		}
		vg_json_obj_open(&j);
		vg_json_kstr(&j, "id", k->id);
		vg_json_kstr(&j, "summary", k->summary);
		vg_json_obj_close(&j);
	}
	if (json) {
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
