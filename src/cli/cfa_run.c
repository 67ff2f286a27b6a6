// SPDX-License-Identifier: MIT
/*
 * `vigil cfa trace|verify|run`: parse the options, open the model and the key, hand the work
 * to src/cfa (vigil/cfa_run.h: recording, verification sessions, live attestation) and print
 * what comes back - alerts as JSON lines on stdout through the one alert writer, then the
 * verdict (stderr, or a JSON object with -j). Exit 0 clean, 1 findings, 2 error.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cfa_cli.h"
#include "vigil/alert.h"
#include "vigil/cfa_run.h"
#include "vigil/json.h"

struct vopts {
	struct cli_common co;
	const char *model, *key, *report, *out;
	bool no_reduce;
	uint32_t ring;
	uint64_t checkpoint;
};

enum { O_MODEL = 256, O_KEY, O_REPORT, O_NO_REDUCE, O_RING, O_CHECKPOINT };

static const struct option verify_lo[] = {
	{ "model", required_argument, NULL, O_MODEL },
	{ "key", required_argument, NULL, O_KEY },
	{ "report", required_argument, NULL, O_REPORT },
	{ "checkpoint", required_argument, NULL, O_CHECKPOINT },
	CLI_COMMON_LONG,
	{ NULL, 0, NULL, 0 },
};

static const struct option run_lo[] = {
	{ "model", required_argument, NULL, O_MODEL },
	{ "key", required_argument, NULL, O_KEY },
	{ "report", required_argument, NULL, O_REPORT },
	{ "checkpoint", required_argument, NULL, O_CHECKPOINT },
	{ "no-reduce", no_argument, NULL, O_NO_REDUCE },
	{ "ring", required_argument, NULL, O_RING },
	CLI_COMMON_LONG,
	{ NULL, 0, NULL, 0 },
};

static const struct option trace_lo[] = {
	{ "model", required_argument, NULL, O_MODEL },
	{ "no-reduce", no_argument, NULL, O_NO_REDUCE },
	{ "ring", required_argument, NULL, O_RING },
	CLI_COMMON_LONG,
	{ NULL, 0, NULL, 0 },
};

static int number(const char *cmd, const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || !v || v > max)
		return cli_fail("cfa %s: %s takes a number from 1 to %llu, not '%s'", cmd, opt,
				(unsigned long long)max, s);
	*out = v;
	return 0;
}

/* Options up to the program or trace; '+' stops at the first operand, so the program's own
 * options (after --, or after its name) are not taken for ours. */
static int parse(int argc, char **argv, const char *shortopts, const struct option *lo,
		 struct vopts *o)
{
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	cfa_getopt_init(&o->co);
	while ((c = cfa_getopt(argc, argv, shortopts, lo, &o->co)) != -1) {
		switch (c) {
		case -2:
			return -1;
		case 'o':
			o->out = optarg;
			break;
		case O_MODEL:
			o->model = optarg;
			break;
		case O_KEY:
			o->key = optarg;
			break;
		case O_REPORT:
			o->report = optarg;
			break;
		case O_NO_REDUCE:
			o->no_reduce = true;
			break;
		case O_RING:
			if (number(argv[0], "--ring", optarg, 1u << 30, &v))
				return -1;
			o->ring = (uint32_t)v;
			break;
		case O_CHECKPOINT:
			if (number(argv[0], "--checkpoint", optarg, UINT64_MAX, &o->checkpoint))
				return -1;
			break;
		}
	}
	if (o->checkpoint && (!o->report || !o->key))
		return cli_fail("cfa %s: --checkpoint needs --report OUT and --key KEY", argv[0]),
		       -1;
	if (o->report && !o->key)
		return cli_fail("cfa %s: --report needs --key KEY (reports are signed)", argv[0]),
		       -1;
	return 0;
}

/* ---- printing ---- */

struct printer {
	char host[256];
	bool pretty;
};

static void print_alert(void *ctx, const struct vg_alert *a)
{
	struct printer *p = ctx;

	vg_alert_fprint(stdout, p->host, a, p->pretty);
}

static void print_exit(const char *prog, const struct vg_cfa_exit *x)
{
	if (WIFSIGNALED(x->status))
		fprintf(stderr, "%s: %s killed by signal %d\n", PROG_NAME, prog,
			WTERMSIG(x->status));
	if (x->lost_events || x->lost_threads)
		fprintf(stderr, "%s: warning: %llu events and %llu threads were not recorded\n",
			PROG_NAME, (unsigned long long)x->lost_events,
			(unsigned long long)x->lost_threads);
}

static int print_outcome(const struct vg_cfa_outcome *out, const struct vg_cfa_model *m,
			 const struct cli_common *co)
{
	const char *verdict = vg_cfa_verdict_name(out->verdict);
	char h[65];
	struct vg_json j;

	if (!co->json) {
		for (size_t i = 0; i < out->nstreams; i++) {
			sodium_bin2hex(h, sizeof(h), out->streams[i].r.measurement, 32);
			fprintf(stderr, "stream %u: %llu events, measurement %s\n",
				out->streams[i].stream,
				(unsigned long long)out->streams[i].r.events, h);
		}
		fprintf(stderr, "verdict: %s\n", verdict);
		return out->verdict == VG_CFA_CLEAN ? EXIT_OK : EXIT_FINDINGS;
	}
	vg_json_init(&j, stdout, co->pretty);
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "verdict", verdict);
	vg_json_key(&j, "streams");
	vg_json_arr_open(&j);
	for (size_t i = 0; i < out->nstreams; i++) {
		vg_json_obj_open(&j);
		vg_json_kuint(&j, "stream", out->streams[i].stream);
		vg_json_kuint(&j, "events", out->streams[i].r.events);
		sodium_bin2hex(h, sizeof(h), out->streams[i].r.measurement, 32);
		vg_json_kstr(&j, "measurement", h);
		vg_json_obj_close(&j);
	}
	vg_json_arr_close(&j);
	vg_json_key(&j, "loops");
	vg_json_arr_open(&j);
	for (size_t i = 0; i < out->nloops; i++) {
		const struct vg_cfa_loop_summary *l = &out->loops[i];

		vg_json_obj_open(&j);
		vg_json_kstr(&j, "function", vg_cfa_func_name(m, m->nodes[l->header].func));
		vg_json_khex(&j, "header", m->nodes[l->header].off);
		vg_json_kuint(&j, "instances", l->instances);
		vg_json_kuint(&j, "max_iterations", l->max_iters);
		vg_json_obj_close(&j);
	}
	vg_json_arr_close(&j);
	vg_json_obj_close(&j);
	vg_json_end(&j);
	return out->verdict == VG_CFA_CLEAN ? EXIT_OK : EXIT_FINDINGS;
}

/* ---- opening ---- */

struct opened {
	struct vg_cfa_model m;
	bool have_model;
	uint8_t sk[64];
	bool have_sk;
	struct printer pr;
	struct vg_cfa_session *s;
};

static int open_session(const struct vopts *o, const char *program, const char *target_kind,
			struct opened *op)
{
	struct vg_err err = { 0 };
	bool loose = false;

	if (o->key) {
		if (vg_cfa_key_read_secret(o->key, op->sk, &loose, &err))
			return cli_fail_err(&err);
		op->have_sk = true;
		if (loose)
			fprintf(stderr,
				"%s: warning: signing key %s is readable by others; keep it 0600\n",
				PROG_NAME, o->key);
	}
	if (vg_cfa_model_load(&op->m, o->model, &err))
		return cli_fail_err(&err);
	op->have_model = true;
	gethostname(op->pr.host, sizeof(op->pr.host) - 1);
	op->pr.pretty = o->co.pretty;
	struct vg_cfa_session_opts so = {
		.model = &op->m,
		.sk = op->have_sk ? op->sk : NULL,
		.report = o->report,
		.checkpoint = o->checkpoint,
		.program = program,
		.target_kind = target_kind,
		.alert = print_alert,
		.ctx = &op->pr,
	};

	if (vg_cfa_session_new(&op->s, &so, &err))
		return cli_fail_err(&err);
	return 0;
}

static void close_session(struct opened *op)
{
	vg_cfa_session_free(op->s);
	if (op->have_model)
		vg_cfa_model_free(&op->m);
	sodium_memzero(op->sk, sizeof(op->sk));
}

static int finish(struct opened *op, const struct cli_common *co)
{
	struct vg_cfa_outcome out;
	struct vg_err err = { 0 };

	if (vg_cfa_session_finish(op->s, &out, &err))
		return cli_fail_err(&err);
	return print_outcome(&out, &op->m, co);
}

/* ---- verify ---- */

int cfa_verify(int argc, char **argv)
{
	struct opened op = { 0 };
	struct vg_err err = { 0 };
	struct vopts o;
	int rc;

	if (parse(argc, argv, CLI_COMMON_SHORT, verify_lo, &o))
		return EXIT_ERROR;
	if (o.co.help) {
		printf("Usage: %s cfa verify --model MODEL [--key KEY] [--report OUT [--checkpoint "
		       "EVENTS]] [-j|-p] TRACE\n"
		       "  Checks a recorded trace against MODEL; alerts as JSON lines; exit 1 on "
		       "any finding.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	if (!o.model || optind + 1 != argc)
		return cli_fail("cfa verify: usage: --model MODEL TRACE; see --help");
	if ((rc = open_session(&o, argv[optind], "trace", &op)) == 0)
		rc = vg_cfa_attest_trace(op.s, argv[optind], &err) ? cli_fail_err(&err)
								   : finish(&op, &o.co);
	close_session(&op);
	return rc;
}

/* ---- running a traced program ---- */

/* The program after the options (and an optional "--"), resolved through $PATH. */
static int program(int argc, char **argv, const char *cmd, char *path, size_t n)
{
	if (optind >= argc)
		return cli_fail("cfa %s: no program given; see --help", cmd);
	if (vg_cfa_resolve(argv[optind], path, n))
		return cli_fail("cfa %s: %s: not found or not executable", cmd, argv[optind]);
	return 0;
}

int cfa_trace(int argc, char **argv)
{
	struct vg_cfa_model m = { 0 };
	struct vg_cfa_exit x;
	struct vg_err err = { 0 };
	struct vopts o;
	char path[4096];
	int rc;

	if (parse(argc, argv, "+o:" CLI_COMMON_SHORT, trace_lo, &o))
		return EXIT_ERROR;
	if (o.co.help) {
		printf("Usage: %s cfa trace -o TRACE [--model MODEL [--no-reduce]] [--ring EVENTS] "
		       "[-j|-p] -- PROG ARGS\n"
		       "  Runs PROG (linked with libvigil-rt) and records its events to TRACE. "
		       "With --model,\n  the model's reduced sites are switched off.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	if (!o.out)
		return cli_fail("cfa trace: -o TRACE is required; see --help");
	if (program(argc, argv, "trace", path, sizeof(path)))
		return EXIT_ERROR;
	if (o.model && vg_cfa_model_load(&m, o.model, &err))
		return cli_fail_err(&err);
	struct vg_cfa_exec e = {
		.path = path,
		.argv = &argv[optind],
		.shm = { .ring_events = o.ring, .reduce = o.model && !o.no_reduce ? &m : NULL },
	};

	rc = vg_cfa_record(o.out, &e, &x, &err) ? cli_fail_err(&err) : 0;
	if (o.model)
		vg_cfa_model_free(&m);
	if (rc)
		return rc;
	print_exit(argv[optind], &x);
	if (o.co.json) {
		struct vg_json j;

		vg_json_init(&j, stdout, o.co.pretty);
		vg_json_obj_open(&j);
		vg_json_kstr(&j, "trace", o.out);
		vg_json_kstr(&j, "program", path);
		if (WIFEXITED(x.status))
			vg_json_kint(&j, "exit_code", WEXITSTATUS(x.status));
		else
			vg_json_kint(&j, "signal", WTERMSIG(x.status));
		vg_json_kstr(&j, "kind", vg_cfa_kind_name(x.kind));
		vg_json_kuint(&j, "lost_events", x.lost_events);
		vg_json_kuint(&j, "lost_threads", x.lost_threads);
		vg_json_obj_close(&j);
		vg_json_end(&j);
	}
	return EXIT_OK;
}

int cfa_run(int argc, char **argv)
{
	struct opened op = { 0 };
	struct vg_cfa_exit x;
	struct vg_err err = { 0 };
	struct vopts o;
	char path[4096];
	int rc;

	if (parse(argc, argv, "+" CLI_COMMON_SHORT, run_lo, &o))
		return EXIT_ERROR;
	if (o.co.help) {
		printf("Usage: %s cfa run --model MODEL [--key KEY] [--report OUT [--checkpoint "
		       "EVENTS]] [--no-reduce] [--ring EVENTS] [-j|-p] -- PROG ARGS\n"
		       "  Runs PROG, drains and verifies its events live; alerts as JSON lines; "
		       "exit 1 on any\n  finding.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	if (!o.model)
		return cli_fail("cfa run: usage: --model MODEL -- PROG ARGS; see --help");
	if (program(argc, argv, "run", path, sizeof(path)))
		return EXIT_ERROR;
	if ((rc = open_session(&o, path, "process", &op)) == 0) {
		struct vg_cfa_exec e = {
			.path = path,
			.argv = &argv[optind],
			.shm = { .ring_events = o.ring, .reduce = o.no_reduce ? NULL : &op.m },
		};

		if (vg_cfa_attest_run(op.s, &e, &x, &err)) {
			rc = cli_fail_err(&err);
		} else {
			print_exit(argv[optind], &x);
			rc = finish(&op, &o.co);
		}
	}
	close_session(&op);
	return rc;
}
