// SPDX-License-Identifier: MIT
/*
 * vigil ids: run the out-of-VM checks. A finding on a live guest is confirmed by a second
 * snapshot (a task forking or exiting between two views is not a rootkit), so only findings
 * present in both are reported.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vigil/ids.h"
#include "vigil/json.h"
#include "vmi_open.h"

#define MAX_ONLY 32
#define MAX_ALLOW 256

static void scan_help(void)
{
	printf("Usage: %s ids scan --vm SOURCE [--check ID]... [--allow-modules A,B,...] "
	       "[--allow-ports P,Q,...] [--format KIND] [--no-cache] [-j|-p]\n\n"
	       "Runs the checks once over a guest's memory. Exit 0 clean, 1 findings, 2 error.\n"
	       "  --check ID           run only this check (repeatable); see 'vigil ids checks'\n"
	       "  --allow-modules LIST modules the unknown-module check accepts\n"
	       "  --allow-ports LIST   listening ports backdoor-port accepts (bindshell ports and\n"
	       "                       shell-held listeners are reported regardless)\n"
	       "  -j, --json           findings as JSON alerts (DESIGN.md schema), one per line\n",
	       PROG_NAME);
}

static bool same(const struct vg_finding *a, const struct vg_finding *b)
{
	return !strcmp(a->check, b->check) && !strcmp(a->target_id, b->target_id) &&
	       !strcmp(a->summary, b->summary);
}

static int collect(struct vmi_guest *g, const struct vg_ids_opts *io, struct vg_findings *f)
{
	struct vg_snapshot s;
	struct vg_err err = { 0 };

	if (vg_ids_gather(&g->lx, &s, &err))
		return cli_fail_err(&err);
	if (vg_ids_run(&s, io, f)) {
		vg_ids_snapshot_free(&s);
		return cli_fail("scan: out of memory");
	}
	if (s.gather_errors[0])
		fprintf(stderr, "%s: warning: %s\n", PROG_NAME, s.gather_errors);
	vg_ids_snapshot_free(&s);
	return 0;
}

static int do_scan(int argc, char **argv)
{
	enum { O_CHECK = 256, O_ALLOW, O_NO_CACHE, O_FORMAT, O_PORTS };
	static const struct option opts[] = {
		{ "vm", required_argument, NULL, 'v' },
		{ "check", required_argument, NULL, O_CHECK },
		{ "allow-modules", required_argument, NULL, O_ALLOW },
		{ "allow-ports", required_argument, NULL, O_PORTS },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "no-cache", no_argument, NULL, O_NO_CACHE },
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *only[MAX_ONLY + 1] = { 0 }, *allow[MAX_ALLOW + 1] = { 0 };
	uint16_t ports[MAX_ALLOW];
	struct vg_ids_opts io = { 0 };
	struct vmi_args a = { 0 };
	struct vmi_guest g;
	struct vg_findings f1 = { 0 }, f2 = { 0 };
	char host[256];
	char *allow_buf = NULL;
	int c, nonly = 0, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "v:jph", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			a.vm = optarg;
			break;
		case O_CHECK: {
			bool known = false;

			for (const struct vg_ids_check *k = vg_ids_checks; k->id; k++)
				known |= !strcmp(k->id, optarg);
			if (!known)
				return cli_fail("scan: unknown check '%s'; see 'vigil ids checks'",
						optarg);
			if (nonly == MAX_ONLY)
				return cli_fail("scan: too many --check options");
			only[nonly++] = optarg;
			break;
		}
		case O_ALLOW: {
			int n = 0;

			free(allow_buf);
			allow_buf = strdup(optarg);
			for (char *t = strtok(allow_buf, ","); t && n < MAX_ALLOW;
			     t = strtok(NULL, ","))
				allow[n++] = t;
			allow[n] = NULL;
			io.allowed_modules = allow;
			break;
		}
		case O_PORTS: {
			char *end, *p = optarg;

			io.nallowed_ports = 0;
			while (*p && io.nallowed_ports < MAX_ALLOW) {
				unsigned long v = strtoul(p, &end, 10);

				if (end == p || v > 65535 || (*end && *end != ','))
					return cli_fail(
						"scan: --allow-ports takes ports like 22,80");
				ports[io.nallowed_ports++] = (uint16_t)v;
				p = *end ? end + 1 : end;
			}
			io.allowed_ports = ports;
			break;
		}
		case O_FORMAT:
			a.format = optarg;
			break;
		case O_NO_CACHE:
			a.no_cache = true;
			break;
		case 'j':
			a.json = true;
			break;
		case 'p':
			a.json = a.pretty = true;
			break;
		case 'h':
			scan_help();
			return EXIT_OK;
		default:
			return cli_fail("scan: unknown option or missing value '%s'; see --help",
					argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_fail("scan: unexpected argument '%s'", argv[optind]);
	if (!a.vm)
		return cli_fail("scan: --vm SOURCE is required");
	io.only = nonly ? only : NULL;
	if (vmi_open(&a, &g))
		return EXIT_ERROR;
	rc = collect(&g, &io, &f1);
	if (!rc && f1.n) {
		/* confirm against a second look */
		vg_as_flush(&g.lx.kas);
		rc = collect(&g, &io, &f2);
	}
	if (rc)
		goto out;
	snprintf(host, sizeof(host), "%s", a.vm);
	if (!a.json)
		printf("%-18s %-9s %-24s %s\n", "CHECK", "SEVERITY", "TARGET", "SUMMARY");
	rc = EXIT_OK;
	for (size_t i = 0; i < f1.n; i++) {
		const struct vg_finding *x = &f1.v[i];
		bool confirmed = false;

		for (size_t k = 0; k < f2.n && !confirmed; k++)
			confirmed = same(x, &f2.v[k]);
		if (!confirmed)
			continue;
		rc = EXIT_FINDINGS;
		if (a.json)
			vg_alert_write(stdout, host, "ids", x, NULL);
		else
			printf("%-18s %-9s %-24.24s %s\n", x->check, vg_severity_name(x->severity),
			       x->target_id, x->summary);
	}
	if (!a.json && rc == EXIT_OK)
		printf("(no findings)\n");
out:
	vg_findings_free(&f1);
	vg_findings_free(&f2);
	free(allow_buf);
	vmi_close(&g);
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
	{ "checks", do_checks, "list the checks" },
	{ NULL, NULL, NULL },
};

int cmd_ids(int argc, char **argv)
{
	return cli_dispatch("ids", ids_cmds, argc - 1, argv + 1);
}
