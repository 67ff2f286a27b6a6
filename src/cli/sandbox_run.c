// SPDX-License-Identifier: MIT
/*
 * vigil sandbox run: a campaign of samples over one or more environments into a SQLite
 * results database, in parallel workers, resumable (a re-run skips finished runs and redoes
 * unfinished ones). Progress goes to stderr: a bar when stderr is a terminal, one line per
 * finished run otherwise. High-scoring runs are raised as alerts through the one alert writer
 * (vigil/alert.h) to the --alerts sinks. Exit 0 when every run finished, 2 otherwise.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sandbox_cli.h"
#include "vigil/alert.h"
#include "vigil/json.h"

#define MAX_ENVS 3

struct prog {
	bool tty;
};

static void run_help(void)
{
	printf("Usage: %s sandbox run --env ENV [--env ENV2 ...] SAMPLES... -o RESULTS.db\n"
	       "       [--labels DIR] [--scores FILE] [--timeout S] [-J WORKERS] [--runs DIR]\n"
	       "       [--alerts SINK]... [--alert-score N] [-j|-p]\n\n"
	       "Runs every sample in every environment into RESULTS.db (resumable).\n"
	       "  --env ENV         system, container or minimal (repeatable)\n"
	       "  SAMPLES           files, or directories whose regular files are samples\n"
	       "  --labels DIR      AV reports as DIR/SHA256.json (VirusTotal style)\n"
	       "  --scores FILE     class and behaviour score table (docs/sandbox.md)\n"
	       "  --timeout S       each sample's time limit (default %d)\n"
	       "  -J WORKERS        parallel workers (default: the number of cores)\n"
	       "  --runs DIR        where run artifacts are kept (default RESULTS.db.runs)\n"
	       "  --alerts SINK     an alert (JSON line) for each run whose behaviour or label\n"
	       "                    score reaches --alert-score (default 50), appended to a file\n"
	       "                    (PATH or file:PATH), or to stdout, syslog or unix:PATH\n"
	       "  -j, --json        print the final counts as JSON; -p indented\n",
	       PROG_NAME, SBX_DEFAULT_TIMEOUT);
}

static void progress(void *ctx, const struct sbx_progress *pr)
{
	struct prog *p = ctx;
	const struct sbx_counts *n = &pr->n;
	double rate = pr->elapsed_s > 1 ? 3600.0 * n->done / pr->elapsed_s : 0;

	if (pr->row) {
		if (!p->tty)
			fprintf(stderr, "[%u/%u] %.12s %-9s %-14s %-14s score %d %s\n", n->done,
				n->total, pr->row->sha256, pr->row->env, pr->row->research,
				pr->row->verdict, pr->row->behaviour_score, pr->row->behaviours);
		return;
	}
	if (p->tty && n->total) {
		char bar[41];
		unsigned fill = (unsigned)(40.0 * n->done / n->total);

		for (unsigned i = 0; i < 40; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[40] = '\0';
		fprintf(stderr, "\r[%s] %u/%u done, %u running, %.0f s, %.0f runs/h ", bar, n->done,
			n->total, n->running, pr->elapsed_s, rate);
	}
}

static void alert_warning(void *ctx, const char *msg)
{
	fprintf(stderr, "%s: warning: %s\n", PROG_NAME, msg);
}

/* --alerts takes an alert sink (vigil/sink.h); a plain path means file:PATH. */
static const char *sink_spec(const char *arg, char *buf, size_t n)
{
	if (!strcmp(arg, "-") || !strcmp(arg, "stdout") || !strcmp(arg, "syslog") ||
	    !strncmp(arg, "file:", 5) || !strncmp(arg, "unix:", 5))
		return arg;
	snprintf(buf, n, "file:%s", arg);
	return buf;
}

int sandbox_run(int argc, char **argv)
{
	enum { O_ENV = 256, O_TIMEOUT, O_LABELS, O_SCORES, O_RUNS, O_ALERTS, O_ALERT_SCORE };
	static const struct option opts[] = {
		{ "env", required_argument, NULL, O_ENV },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "labels", required_argument, NULL, O_LABELS },
		{ "scores", required_argument, NULL, O_SCORES },
		{ "runs", required_argument, NULL, O_RUNS },
		{ "alerts", required_argument, NULL, O_ALERTS },
		{ "alert-score", required_argument, NULL, O_ALERT_SCORE },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	const char *envs[MAX_ENVS], *scores_file = NULL, *sinks[VG_ALERT_MAX_SINKS];
	char specs[VG_ALERT_MAX_SINKS][4200];
	struct sbx_campaign_opts co = { .timeout_s = SBX_DEFAULT_TIMEOUT, .alert_score = 50 };
	struct vg_alerter alerter;
	struct cli_common cc = { 0 };
	struct prog p = { 0 };
	struct sbx_scores scores;
	struct sbx_counts fin;
	struct vg_err err = { 0 };
	unsigned nenvs = 0;
	int nsinks = 0;
	long cores = sysconf(_SC_NPROCESSORS_ONLN), v;
	char host[256] = "", *end;
	int c, rc;

	co.workers = cores > 0 ? (unsigned)cores : 1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:J:" CLI_COMMON_SHORT, opts, NULL)) != -1) {
		switch (c) {
		case O_ENV:
			if (!sbx_env_known(optarg))
				return cli_fail("sandbox run: unknown environment '%s'", optarg);
			for (unsigned i = 0; i < nenvs; i++)
				if (!strcmp(envs[i], optarg))
					return cli_fail("sandbox run: --env %s given twice",
							optarg);
			envs[nenvs++] = optarg;
			break;
		case 'o':
			co.db = optarg;
			break;
		case 'J':
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end || v < 1 || v > 64)
				return cli_fail("sandbox run: -J takes 1..64 workers");
			co.workers = (unsigned)v;
			break;
		case O_TIMEOUT:
			if (sandbox_timeout(optarg, &co.timeout_s))
				return EXIT_ERROR;
			break;
		case O_LABELS:
			co.labels_dir = optarg;
			break;
		case O_SCORES:
			scores_file = optarg;
			break;
		case O_RUNS:
			co.run_root = optarg;
			break;
		case O_ALERTS:
			if (nsinks == VG_ALERT_MAX_SINKS)
				return cli_fail("sandbox run: at most %d --alerts",
						VG_ALERT_MAX_SINKS);
			sinks[nsinks] = sink_spec(optarg, specs[nsinks], sizeof(specs[0]));
			nsinks++;
			break;
		case O_ALERT_SCORE:
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end || v < 0 || v > 1000)
				return cli_fail("sandbox run: --alert-score takes 0..1000");
			co.alert_score = (int)v;
			break;
		default:
			if (!cli_common_opt(c, &cc))
				return cli_bad_option("sandbox run", argc, argv);
		}
	}
	if (cc.help) {
		run_help();
		return EXIT_OK;
	}
	if (!nenvs)
		return cli_fail("sandbox run: at least one --env is required");
	if (!co.db)
		return cli_fail("sandbox run: -o RESULTS.db is required");
	if (optind >= argc)
		return cli_fail("sandbox run: no SAMPLES given");
	if (sandbox_scores(scores_file, &scores))
		return EXIT_ERROR;
	gethostname(host, sizeof(host) - 1);
	if (nsinks) {
		if (vg_alerter_open(&alerter, host, sinks, nsinks, &err))
			return cli_fail("sandbox run: %s", err.msg);
		alerter.warn = alert_warning;
		co.alerts = &alerter;
	}
	p.tty = isatty(STDERR_FILENO);
	co.envs = envs;
	co.nenvs = nenvs;
	co.samples = (const char *const *)argv + optind;
	co.nsamples = (unsigned)(argc - optind);
	co.scores = &scores;
	co.progress = progress;
	co.ctx = &p;
	rc = sbx_campaign_run(&co, &fin, &err);
	if (p.tty)
		fputc('\n', stderr);
	if (co.alerts)
		vg_alerter_close(&alerter);
	if (cc.json) {
		struct vg_json j;

		vg_json_init(&j, stdout, cc.pretty);
		vg_json_obj_open(&j);
		vg_json_kstr(&j, "db", co.db);
		vg_json_kuint(&j, "runs", fin.total);
		vg_json_kuint(&j, "done", fin.done);
		vg_json_kuint(&j, "pending", fin.pending + fin.running);
		vg_json_kuint(&j, "alerts", co.alerts ? alerter.sent : 0);
		vg_json_obj_close(&j);
		vg_json_end(&j);
	} else if (!rc || fin.total) {
		printf("%u of %u runs done in %s", fin.done, fin.total, co.db);
		if (co.alerts && alerter.sent)
			printf(", %llu alerts", (unsigned long long)alerter.sent);
		putchar('\n');
	}
	if (rc)
		return cli_fail_err(&err);
	return EXIT_OK;
}
