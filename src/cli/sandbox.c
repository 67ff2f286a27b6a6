// SPDX-License-Identifier: MIT
/*
 * vigil sandbox: the malware impact sandbox's commands - the table, and `one`, which runs a
 * single sample in one environment (src/sandbox/one.c) and prints its verdicts, behaviours
 * and scores. Exit 0 when the sample was handled (whatever it did), 2 on a usage or
 * environment set-up error.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sandbox_cli.h"
#include "vigil/json.h"

int sandbox_timeout(const char *s, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s || *end || v < 1 || v > 3600)
		return cli_fail("sandbox: --timeout takes seconds, 1..3600");
	*out = (unsigned)v;
	return 0;
}

int sandbox_scores(const char *file, struct sbx_scores *s)
{
	struct vg_err err = { 0 };

	sbx_scores_default(s);
	if (file && sbx_scores_load(s, file, &err))
		return cli_fail_err(&err);
	return 0;
}

static void one_help(void)
{
	printf("Usage: %s sandbox one --env ENV SAMPLE -o RUNDIR [--timeout S] [--labels DIR]\n"
	       "       [--scores FILE] [--force] [--worker N] [-j|-p]\n\n"
	       "Runs one sample in one environment and prints its verdicts, behaviours and "
	       "scores.\n"
	       "  --env ENV       system, container or minimal\n"
	       "  -o RUNDIR       run directory for the artifacts (must not exist or be empty)\n"
	       "  --timeout S     the sample's time limit (default %d)\n"
	       "  --labels DIR    AV reports as DIR/SHA256.json (VirusTotal style)\n"
	       "  --scores FILE   class and behaviour score table (docs/sandbox.md)\n"
	       "  --force         run even what identification says cannot run\n"
	       "  --worker N      sinkhole and scratch slot (default: derived from the PID)\n"
	       "  -j, --json      the result as one JSON object; -p indented\n",
	       PROG_NAME, SBX_DEFAULT_TIMEOUT);
}

/* A run's result for people; -j gives the same facts as JSON (sbx_report_json). */
static void print_result(const struct sbx_sample *s, const char *env, const struct sbx_result *res,
			 const struct sbx_scores *sc)
{
	const struct sbx_report *r = &res->r;
	char buf[SBX_NOTE];

	printf("sample     %s  %s\n", s->sha256, s->path ? s->path : "");
	printf("type       %s, %s, %s%s%s\n", s->id->ftype,
	       s->id->is_elf ? s->id->machine_name : "-", sbx_linkage(s->id),
	       s->id->dynamic ? " " : "", s->id->dynamic ? s->id->interp : "");
	printf("env        %s\n", env);
	printf("verdict    %s (research); %s: %s\n",
	       res->o.executable ? "executable" : "not executable", sbx_verdict_name(res->o.v),
	       res->o.reason);
	printf("exit       %s\n", res->o.exit_str);
	if (s->labels.present)
		printf("labels     class %s%s%s, label score %d (%u/%u engines)\n", s->labels.cls,
		       s->labels.family[0] ? ", family " : "", s->labels.family, s->label_score,
		       s->labels.detected, s->labels.engines);
	if (!res->ran) {
		printf("not run    (wall %lld ms)\n", (long long)res->wall_ms);
		return;
	}
	printf("duration   %lld ms (wall %lld ms, %d attempt%s)\n", (long long)r->st.duration_ms,
	       (long long)res->wall_ms, res->attempts, res->attempts == 1 ? "" : "s");
	sbx_service_impact(&r->svc, buf, sizeof(buf));
	printf("services   %s\n", buf);
	printf("syscalls   %u, network events %u, files +%u ~%u -%u\n", r->sc.total, r->net.events,
	       r->files.created, r->files.modified, r->files.deleted);
	printf("behaviour  score %d\n", r->behaviour_score);
	for (int b = 0; b < SBX_B__COUNT; b++)
		if (r->bhv & (1u << b))
			printf("  %-16s %-10s %3d  %s\n", sbx_bhv_table[b].id,
			       sbx_bhv_table[b].attack, sc->weights[b], r->evidence[b]);
	if (r->missing[0])
		printf("missing    %s\n", r->missing);
}

static int do_one(int argc, char **argv)
{
	enum { O_ENV = 256, O_TIMEOUT, O_LABELS, O_SCORES, O_FORCE, O_WORKER };
	static const struct option opts[] = {
		{ "env", required_argument, NULL, O_ENV },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "labels", required_argument, NULL, O_LABELS },
		{ "scores", required_argument, NULL, O_SCORES },
		{ "force", no_argument, NULL, O_FORCE },
		{ "worker", required_argument, NULL, O_WORKER },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	struct sbx_one_opts o = { .timeout_s = SBX_DEFAULT_TIMEOUT, .worker = -1 };
	const char *scores_file = NULL;
	struct cli_common co = { 0 };
	struct sbx_scores scores;
	struct sbx_sample s;
	struct sbx_ident id;
	struct sbx_result res;
	struct vg_err err = { 0 };
	char *end;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:" CLI_COMMON_SHORT, opts, NULL)) != -1) {
		switch (c) {
		case O_ENV:
			o.env = optarg;
			break;
		case 'o':
			o.run_dir = optarg;
			break;
		case O_TIMEOUT:
			if (sandbox_timeout(optarg, &o.timeout_s))
				return EXIT_ERROR;
			break;
		case O_LABELS:
			o.labels_dir = optarg;
			break;
		case O_SCORES:
			scores_file = optarg;
			break;
		case O_FORCE:
			o.force = true;
			break;
		case O_WORKER:
			o.worker = (int)strtol(optarg, &end, 10);
			if (end == optarg || *end || o.worker < 0 || o.worker > 999)
				return cli_fail("sandbox one: --worker takes 0..999");
			break;
		default:
			if (!cli_common_opt(c, &co))
				return cli_bad_option("sandbox one", argc, argv);
		}
	}
	if (co.help) {
		one_help();
		return EXIT_OK;
	}
	if (optind + 1 != argc)
		return cli_fail("sandbox one: exactly one SAMPLE is required; see --help");
	o.sample = argv[optind];
	if (!o.env)
		return cli_fail("sandbox one: --env system|container|minimal is required");
	if (!o.run_dir)
		return cli_fail("sandbox one: -o RUNDIR is required");
	if (sandbox_scores(scores_file, &scores))
		return EXIT_ERROR;
	o.scores = &scores;
	if (sbx_one(&o, &s, &id, &res, &err))
		return cli_fail("sandbox one: %s", err.msg);
	if (co.json) {
		struct vg_json j;

		vg_json_init(&j, stdout, co.pretty);
		vg_json_obj_open(&j);
		sbx_sample_json_fields(&j, &s);
		vg_json_kstr(&j, "env", o.env);
		vg_json_kint(&j, "wall_ms", res.wall_ms);
		vg_json_kint(&j, "attempts", res.attempts);
		vg_json_key(&j, "result");
		sbx_report_json(&j, res.ran ? &res.r : NULL, &res.o, &scores);
		vg_json_obj_close(&j);
		vg_json_end(&j);
	} else {
		print_result(&s, o.env, &res, &scores);
	}
	return EXIT_OK;
}

static const struct cli_cmd sandbox_cmds[] = {
	{ "prepare", sandbox_prepare,
	  "download and build the environments once (then runs need no network)" },
	{ "one", do_one, "run one sample in one environment and print its result" },
	{ "run", sandbox_run, "run a campaign of samples into a results database" },
	{ "report", sandbox_report, "CSV, per-sample JSON and a chart from a results database" },
	{ NULL, NULL, NULL },
};

int cmd_sandbox(int argc, char **argv)
{
	return cli_dispatch("sandbox", sandbox_cmds, argc - 1, argv + 1);
}
