// SPDX-License-Identifier: MIT
/*
 * vigil sandbox run: a campaign of samples over one or more environments into a SQLite
 * results database, in parallel workers, resumable (a re-run skips finished runs and redoes
 * unfinished ones). Progress goes to stderr: a bar when stderr is a terminal, one line per
 * finished run otherwise. High-scoring runs can be raised as alerts (DESIGN.md §6, source
 * "sandbox"). Exit 0 when every run finished, 2 otherwise.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sandbox_cli.h"
#include "vigil/json.h"

#define MAX_ENVS 3

struct prog {
	bool tty, json;
	FILE *alerts;
	int alert_score;
	unsigned nalerts;
	char host[256];
};

static void run_help(void)
{
	printf("Usage: %s sandbox run --env ENV [--env ENV2 ...] SAMPLES... -o RESULTS.db\n"
	       "       [--labels DIR] [--scores FILE] [--timeout S] [-J WORKERS] [--runs DIR]\n"
	       "       [--alerts FILE] [--alert-score N] [-j]\n\n"
	       "Runs every sample in every environment into RESULTS.db (resumable).\n"
	       "  --env ENV         system, container or minimal (repeatable)\n"
	       "  SAMPLES           files, or directories whose regular files are samples\n"
	       "  --labels DIR      AV reports as DIR/SHA256.json (VirusTotal style)\n"
	       "  --scores FILE     class and behaviour score table (docs/sandbox.md)\n"
	       "  --timeout S       each sample's time limit (default %d)\n"
	       "  -J WORKERS        parallel workers (default: the number of cores)\n"
	       "  --runs DIR        where run artifacts are kept (default RESULTS.db.runs)\n"
	       "  --alerts FILE     append an alert (JSON line) for each run whose behaviour or\n"
	       "                    label score reaches --alert-score (default 50)\n"
	       "  -j, --json        print the final counts as JSON\n",
	       PROG_NAME, SBX_DEFAULT_TIMEOUT);
}

static void now_rfc3339(char *buf, size_t n)
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
}

/* One alert per high-scoring run, with the behaviours' ATT&CK ids. */
static void alert(struct prog *p, const struct sbx_row *r)
{
	int score = r->behaviour_score > r->label_score ? r->behaviour_score : r->label_score;
	const char *sev = score >= 80 ? "critical" : score >= 60 ? "high" : "medium";
	char ts[96], summary[300], ids[512];
	struct vg_json j;

	if (!p->alerts || score < p->alert_score)
		return;
	now_rfc3339(ts, sizeof(ts));
	snprintf(summary, sizeof(summary), "sample %.12s scored %d in %s (%s)", r->sha256, score,
		 r->env, r->behaviours[0] ? r->behaviours : "no behaviours");
	vg_json_init(&j, p->alerts, false);
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "ts", ts);
	vg_json_kstr(&j, "host", p->host);
	vg_json_kstr(&j, "source", "sandbox");
	vg_json_key(&j, "target");
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "kind", "sample");
	vg_json_kstr(&j, "id", r->sha256);
	vg_json_obj_close(&j);
	vg_json_kstr(&j, "check", "sandbox-threat-score");
	vg_json_kstr(&j, "severity", sev);
	vg_json_kstr(&j, "summary", summary);
	vg_json_key(&j, "evidence");
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "env", r->env);
	vg_json_kstr(&j, "path", r->path);
	vg_json_kstr(&j, "verdict", r->verdict);
	vg_json_kint(&j, "behaviour_score", r->behaviour_score);
	if (r->label_score >= 0) {
		vg_json_kint(&j, "label_score", r->label_score);
		vg_json_kstr(&j, "class", r->cls);
	}
	vg_json_kstr(&j, "behaviours", r->behaviours);
	vg_json_kstr(&j, "service_impact", r->service_impact);
	vg_json_obj_close(&j);
	vg_json_key(&j, "attack");
	vg_json_arr_open(&j);
	snprintf(ids, sizeof(ids), "%s", r->behaviours);
	for (char *save, *t = strtok_r(ids, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
		int b = sbx_bhv_find(t);

		if (b >= 0)
			vg_json_str(&j, sbx_bhv_table[b].attack);
	}
	vg_json_arr_close(&j);
	vg_json_obj_close(&j);
	vg_json_end(&j);
	fflush(p->alerts);
	p->nalerts++;
}

static void progress(void *ctx, const struct sbx_progress *pr)
{
	struct prog *p = ctx;
	const struct sbx_counts *n = &pr->n;
	double rate = pr->elapsed_s > 1 ? 3600.0 * n->done / pr->elapsed_s : 0;

	if (pr->row) {
		alert(p, pr->row);
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
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *envs[MAX_ENVS], *scores_file = NULL, *alerts = NULL;
	struct sbx_campaign_opts co = { 0 };
	struct prog p = { 0 };
	struct sbx_scores scores;
	struct sbx_counts fin;
	struct vg_err err = { 0 };
	unsigned nenvs = 0;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int c, rc;

	co.timeout_s = SBX_DEFAULT_TIMEOUT;
	co.workers = cores > 0 ? (unsigned)cores : 1;
	p.alert_score = 50;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:J:jh", opts, NULL)) != -1) {
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
		case 'J': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (end == optarg || *end || v < 1 || v > 64)
				return cli_fail("sandbox run: -J takes 1..64 workers");
			co.workers = (unsigned)v;
			break;
		}
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
			alerts = optarg;
			break;
		case O_ALERT_SCORE:
			p.alert_score = atoi(optarg);
			break;
		case 'j':
			p.json = true;
			break;
		case 'h':
			run_help();
			return EXIT_OK;
		default:
			return cli_fail("sandbox run: unknown option or missing value '%s'; see "
					"--help",
					argv[optind - 1]);
		}
	}
	if (!nenvs)
		return cli_fail("sandbox run: at least one --env is required");
	if (!co.db)
		return cli_fail("sandbox run: -o RESULTS.db is required");
	if (optind >= argc)
		return cli_fail("sandbox run: no SAMPLES given");
	if (sandbox_scores(scores_file, &scores))
		return EXIT_ERROR;
	if (alerts && !(p.alerts = fopen(alerts, "a")))
		return cli_fail("sandbox run: %s: %m", alerts);
	gethostname(p.host, sizeof(p.host) - 1);
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
	if (p.alerts)
		fclose(p.alerts);
	if (p.json) {
		struct vg_json j;

		vg_json_init(&j, stdout, false);
		vg_json_obj_open(&j);
		vg_json_kstr(&j, "db", co.db);
		vg_json_kuint(&j, "runs", fin.total);
		vg_json_kuint(&j, "done", fin.done);
		vg_json_kuint(&j, "pending", fin.pending + fin.running);
		vg_json_kuint(&j, "alerts", p.nalerts);
		vg_json_obj_close(&j);
		vg_json_end(&j);
	} else if (!rc || fin.total) {
		printf("%u of %u runs done in %s", fin.done, fin.total, co.db);
		if (p.nalerts)
			printf(", %u alerts", p.nalerts);
		putchar('\n');
	}
	if (rc)
		return cli_fail_err(&err);
	return EXIT_OK;
}
