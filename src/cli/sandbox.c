// SPDX-License-Identifier: MIT
/*
 * vigil sandbox: the malware impact sandbox's commands - the table, and `one`, which runs a
 * single sample in one environment and prints its verdicts, behaviours and scores. Exit 0
 * when the sample was handled (whatever it did), 2 on a usage or environment set-up error.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	       "       [--scores FILE] [--force] [--worker N] [-j]\n\n"
	       "Runs one sample in one environment and prints its verdicts, behaviours and "
	       "scores.\n"
	       "  --env ENV       system, container or minimal\n"
	       "  -o RUNDIR       run directory for the artifacts (must not exist or be empty)\n"
	       "  --timeout S     the sample's time limit (default %d)\n"
	       "  --labels DIR    AV reports as DIR/SHA256.json (VirusTotal style)\n"
	       "  --scores FILE   class and behaviour score table (docs/sandbox.md)\n"
	       "  --force         run even what identification says cannot run\n"
	       "  --worker N      sinkhole and scratch slot (default: derived from the PID)\n"
	       "  -j, --json      the result as one JSON object\n",
	       PROG_NAME, SBX_DEFAULT_TIMEOUT);
}

static bool empty_or_absent(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;

	if (!d)
		return errno == ENOENT;
	while (empty && (e = readdir(d)))
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	closedir(d);
	return empty;
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
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = NULL, *out = NULL, *labels = NULL, *scores_file = NULL, *sample;
	struct sbx_worker_opts wo = { 0 };
	struct sbx_worker *w = NULL;
	struct sbx_scores scores;
	struct sbx_sample s = { 0 };
	struct sbx_ident id;
	struct sbx_result res;
	struct vg_err err = { 0 };
	unsigned timeout = SBX_DEFAULT_TIMEOUT;
	bool json = false, force = false;
	int worker = 100 + getpid() % 800, c, rc;
	char work[4200];
	struct stat st;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:jh", opts, NULL)) != -1) {
		switch (c) {
		case O_ENV:
			env = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case O_TIMEOUT:
			if (sandbox_timeout(optarg, &timeout))
				return EXIT_ERROR;
			break;
		case O_LABELS:
			labels = optarg;
			break;
		case O_SCORES:
			scores_file = optarg;
			break;
		case O_FORCE:
			force = true;
			break;
		case O_WORKER:
			worker = atoi(optarg);
			if (worker < 0 || worker > 999)
				return cli_fail("sandbox one: --worker takes 0..999");
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			one_help();
			return EXIT_OK;
		default:
			return cli_fail("sandbox one: unknown option or missing value '%s'; see "
					"--help",
					argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return cli_fail("sandbox one: exactly one SAMPLE is required; see --help");
	sample = argv[optind];
	if (!env)
		return cli_fail("sandbox one: --env system|container|minimal is required");
	if (!sbx_env_known(env))
		return cli_fail("sandbox one: unknown environment '%s'", env);
	if (!out)
		return cli_fail("sandbox one: -o RUNDIR is required");
	if (stat(sample, &st) || !S_ISREG(st.st_mode))
		return cli_fail("sandbox one: %s is not a readable regular file", sample);
	if (!empty_or_absent(out))
		return cli_fail("sandbox one: %s exists and is not an empty directory", out);
	if (sandbox_scores(scores_file, &scores))
		return EXIT_ERROR;
	if (sbx_identify_file(&id, sample, &err) || sbx_sha256_file(sample, s.sha256, &err))
		return cli_fail_err(&err);
	s.path = sample;
	s.size = (uint64_t)st.st_size;
	s.id = &id;
	s.label_score = -1;
	if (labels) {
		rc = sbx_labels_load(&s.labels, labels, s.sha256, &err);
		if (rc && rc != -ENOENT)
			return cli_fail_err(&err);
		s.label_score = sbx_label_score(&scores, &s.labels);
	}
	snprintf(work, sizeof(work), "%s/vigil-sbx-one-%d",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	wo = (struct sbx_worker_opts){ env, worker, NULL, work };
	/* on failure the scratch directory stays: the environment's logs there say why */
	if (sbx_worker_open(&w, &wo, &err))
		return cli_fail_err(&err);
	rc = sbx_worker_run(w, sample, &id, out, timeout, &scores, force, &res, &err);
	sbx_worker_close(w);
	sbx_rmtree(work);
	if (rc)
		return cli_fail_err(&err);
	if (json) {
		struct vg_json j;

		vg_json_init(&j, stdout, false);
		vg_json_obj_open(&j);
		sbx_sample_json_fields(&j, &s);
		vg_json_kstr(&j, "env", env);
		vg_json_kint(&j, "wall_ms", res.wall_ms);
		vg_json_kint(&j, "attempts", res.attempts);
		vg_json_key(&j, "result");
		sbx_report_json(&j, res.ran ? &res.r : NULL, &res.o, &scores);
		vg_json_obj_close(&j);
		vg_json_end(&j);
	} else {
		sbx_result_print(stdout, &s, env, &res, &scores);
	}
	return EXIT_OK;
}

static const struct cli_cmd sandbox_cmds[] = {
	{ "one", do_one, "run one sample in one environment and print its result" },
	{ "run", sandbox_run, "run a campaign of samples into a results database" },
	{ "report", sandbox_report, "CSV, per-sample JSON and a chart from a results database" },
	{ NULL, NULL, NULL },
};

int cmd_sandbox(int argc, char **argv)
{
	return cli_dispatch("sandbox", sandbox_cmds, argc - 1, argv + 1);
}
