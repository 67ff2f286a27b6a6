// SPDX-License-Identifier: MIT
/*
 * vigil sandbox report: the campaign's CSV (one row per sample and environment), a JSON
 * report per sample and a PNG chart comparing the environments, from a results database.
 * Without an output option it prints the CSV on stdout. Exit 0 ok, 2 error.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sandbox_cli.h"
#include "vigil/json.h"

static void report_help(void)
{
	printf("Usage: %s sandbox report RESULTS.db [--csv FILE] [--json-dir DIR] "
	       "[--chart FILE.png] [-j|-p]\n\n"
	       "Writes a campaign's reports (docs/sandbox.md lists the CSV columns).\n"
	       "  --csv FILE        one row per sample and environment ('-': stdout)\n"
	       "  --json-dir DIR    DIR/SHA256.json per sample\n"
	       "  --chart FILE.png  the environments compared: outcomes and mean behaviour score\n"
	       "  -j, --json        print what was written as JSON; -p indented\n",
	       PROG_NAME);
}

int sandbox_report(int argc, char **argv)
{
	enum { O_CSV = 256, O_JSON_DIR, O_CHART };
	static const struct option opts[] = {
		{ "csv", required_argument, NULL, O_CSV },
		{ "json-dir", required_argument, NULL, O_JSON_DIR },
		{ "chart", required_argument, NULL, O_CHART },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	const char *csv = NULL, *jdir = NULL, *chart = NULL;
	struct cli_common co = { 0 };
	struct sbx_store *st;
	struct sbx_counts n;
	struct vg_err err = { 0 };
	unsigned nfiles = 0;
	int c, rc = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
		switch (c) {
		case O_CSV:
			csv = optarg;
			break;
		case O_JSON_DIR:
			jdir = optarg;
			break;
		case O_CHART:
			chart = optarg;
			break;
		default:
			if (!cli_common_opt(c, &co))
				return cli_bad_option("sandbox report", argc, argv);
		}
	}
	if (co.help) {
		report_help();
		return EXIT_OK;
	}
	/* --json took a directory before it meant JSON output, as everywhere else */
	if (co.json && optind + 2 == argc)
		return cli_fail("sandbox report: -j/--json takes no value; per-sample JSON "
				"reports: --json-dir DIR");
	if (optind + 1 != argc)
		return cli_fail("sandbox report: exactly one RESULTS.db is required");
	if (access(argv[optind], R_OK))
		return cli_fail("sandbox report: %s: %m", argv[optind]);
	if (!csv && !jdir && !chart)
		csv = "-";
	if (sbx_store_open(&st, argv[optind], false, &err))
		return cli_fail_err(&err);
	if (!rc)
		rc = sbx_store_counts(st, &n, &err);
	if (!rc && csv)
		rc = sbx_report_csv(st, strcmp(csv, "-") ? csv : "/dev/stdout", &err);
	if (!rc && jdir)
		rc = sbx_report_json_dir(st, jdir, &nfiles, &err);
	if (!rc && chart)
		rc = sbx_report_chart(st, chart, &err);
	sbx_store_close(st);
	if (rc)
		return cli_fail_err(&err);
	if (co.json) {
		struct vg_json j;

		vg_json_init(&j, stdout, co.pretty);
		vg_json_obj_open(&j);
		vg_json_kuint(&j, "runs_done", n.done);
		vg_json_kuint(&j, "runs_unfinished", n.total - n.done);
		if (csv)
			vg_json_kstr(&j, "csv", csv);
		if (jdir) {
			vg_json_kstr(&j, "json_dir", jdir);
			vg_json_kuint(&j, "json_files", nfiles);
		}
		if (chart)
			vg_json_kstr(&j, "chart", chart);
		vg_json_obj_close(&j);
		vg_json_end(&j);
	} else if (n.total != n.done) {
		fprintf(stderr,
			"%s: warning: %u of %u runs are unfinished; resume with 'sandbox "
			"run'\n",
			PROG_NAME, n.total - n.done, n.total);
	}
	return EXIT_OK;
}
