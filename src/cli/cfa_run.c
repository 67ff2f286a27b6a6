// SPDX-License-Identifier: MIT
/*
 * `vigil cfa trace|verify|run`: drive programs linked with libvigil-rt, drain their rings, feed
 * the verifier, print alerts as JSON lines (DESIGN.md §6) and the verdict; optionally write a
 * signed attestation report. Exit 0 clean, 1 findings, 2 error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfa_cli.h"
#include "cli.h"
#include "vigil/cfa_model.h"
#include "vigil/cfa_report.h"
#include "vigil/cfa_trace.h"
#include "vigil/cfa_verify.h"
#include "vigil/json.h"

struct alert_ctx {
	const struct vg_cfa_model *m;
	const char *target_kind;
	char target_id[4200];
	char host[256];
	uint64_t counts[VG_CFA_A_KINDS];
};

static void ev_json(struct vg_json *j, const struct vg_cfa_model *m, uint32_t ev)
{
	uint32_t n = vg_cfa_lookup(m, m->kind == VG_RT_KIND_FUNC ? ev & ~VG_RT_EXIT_BIT : ev);

	vg_json_obj_open(j);
	vg_json_khex(j, "event", ev);
	vg_json_kstr(j, "function", n == VG_CFA_NONE ? "?" : vg_cfa_func_name(m, m->nodes[n].func));
	vg_json_obj_close(j);
}

static const char *summary(enum vg_cfa_alert_kind k)
{
	switch (k) {
	case VG_CFA_A_CFG:
		return "control flow left the program's control-flow graph";
	case VG_CFA_A_DENIED:
		return "the program took a flow the operator denied";
	case VG_CFA_A_UNSEEN_PATH:
		return "the program took a valid path that no training run took";
	case VG_CFA_A_LOOP:
		return "a loop ran more iterations than in any training run";
	case VG_CFA_A_UNKNOWN_EVENT:
		return "the trace contains an event that is not a site of this binary";
	case VG_CFA_A_LOST:
		return "the runtime lost events; the trace is incomplete";
	default:
		return "the shadow stack overflowed";
	}
}

static void on_alert(void *vctx, const struct vg_cfa_alert *a)
{
	struct alert_ctx *c = vctx;
	struct vg_json j;
	char ts[64];

	c->counts[a->kind]++;
	cfa_now_rfc3339(ts, sizeof(ts));
	vg_json_init(&j, stdout, false);
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "ts", ts);
	vg_json_kstr(&j, "host", c->host);
	vg_json_kstr(&j, "source", "cfa");
	vg_json_key(&j, "target");
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "kind", c->target_kind);
	vg_json_kstr(&j, "id", c->target_id);
	vg_json_obj_close(&j);
	vg_json_kstr(&j, "check", vg_cfa_alert_check(a->kind));
	vg_json_kstr(&j, "severity", vg_cfa_alert_severity(a->kind));
	vg_json_kstr(&j, "summary", summary(a->kind));
	vg_json_key(&j, "evidence");
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "reason", a->reason);
	vg_json_kuint(&j, "stream", a->stream);
	vg_json_kuint(&j, "event_index", a->index);
	if (a->from_ev != VG_CFA_NONE) {
		vg_json_key(&j, "from");
		ev_json(&j, c->m, a->from_ev);
	}
	if (a->to_ev != VG_CFA_NONE) {
		vg_json_key(&j, "to");
		ev_json(&j, c->m, a->to_ev);
	}
	if (a->owner != VG_CFA_NONE)
		vg_json_kstr(&j, "function", vg_cfa_func_name(c->m, a->owner));
	if (a->kind == VG_CFA_A_LOOP) {
		vg_json_kuint(&j, "iterations", a->count);
		vg_json_kuint(&j, "trained_max", a->limit);
	}
	vg_json_key(&j, "last_events");
	vg_json_arr_open(&j);
	for (uint32_t i = 0; i < a->nlast; i++)
		ev_json(&j, c->m, a->last[i]);
	vg_json_arr_close(&j);
	vg_json_obj_close(&j);
	if (a->kind == VG_CFA_A_CFG || a->kind == VG_CFA_A_UNKNOWN_EVENT) {
		vg_json_key(&j, "attack");
		vg_json_arr_open(&j);
		vg_json_str(&j, "T1203"); /* exploitation: code reuse after memory corruption */
		vg_json_arr_close(&j);
	}
	vg_json_obj_close(&j);
	vg_json_end(&j);
}

static const char *verdict_of(const uint64_t *c)
{
	if (c[VG_CFA_A_CFG] || c[VG_CFA_A_DENIED] || c[VG_CFA_A_UNKNOWN_EVENT] || c[VG_CFA_A_STACK])
		return "violation";
	if (c[VG_CFA_A_UNSEEN_PATH] || c[VG_CFA_A_LOOP])
		return "anomaly";
	if (c[VG_CFA_A_LOST])
		return "incomplete";
	return "clean";
}

struct vopts {
	const char *model, *key, *report;
	int json, no_reduce;
	uint32_t ring;
	uint64_t checkpoint;
};

static size_t collect(const struct vg_cfa_verifier *v, struct vg_cfa_report_stream *rs,
		      uint64_t *total)
{
	uint64_t mask = vg_cfa_verifier_streams(v);
	size_t ns = 0;

	memset(total, 0, VG_CFA_A_KINDS * sizeof(*total));
	for (uint32_t i = 0; i < VG_CFA_MAX_STREAMS; i++)
		if (mask & (1ull << i)) {
			rs[ns].stream = i;
			vg_cfa_verifier_result(v, i, &rs[ns].r);
			for (int k = 1; k < VG_CFA_A_KINDS; k++)
				total[k] += rs[ns].r.alerts[k];
			ns++;
		}
	return ns;
}

/* Signs and writes one report; CHECKPOINT 0 is the final one (written to --report itself). */
static int write_report(const struct vg_cfa_verifier *v, const struct vg_cfa_model *m,
			const struct vopts *o, const uint8_t *sk, const char *program,
			uint64_t checkpoint, struct vg_err *err)
{
	struct vg_cfa_report_stream rs[VG_CFA_MAX_STREAMS];
	struct vg_cfa_loop_summary *loops = NULL;
	uint64_t total[VG_CFA_A_KINDS];
	size_t ns = collect(v, rs, total), nl = 0, len;
	char ts[64], path[4200], *text;
	int rc;

	if (vg_cfa_verifier_loops(v, &loops, &nl))
		return vg_errf(err, ENOMEM, "report: out of memory");
	cfa_now_rfc3339(ts, sizeof(ts));
	struct vg_cfa_report_in in = { program, ts,    m, verdict_of(total), checkpoint, rs,
				       ns,	loops, nl };

	if (checkpoint)
		snprintf(path, sizeof(path), "%s.%llu", o->report, (unsigned long long)checkpoint);
	else
		snprintf(path, sizeof(path), "%s", o->report);
	rc = vg_cfa_report_build(&in, sk, &text, &len, err);
	if (!rc) {
		rc = cfa_write_text(path, text, len, 0644, err);
		free(text);
	}
	free(loops);
	return rc;
}

/* --checkpoint N: a signed report every N events (all streams), as REPORT.1, REPORT.2, ... Each
 * carries the chain value after the last complete segment and its segment count, so it is
 * reproducible however the events were batched. */
struct checkpoints {
	const struct vg_cfa_model *m;
	const struct vopts *o;
	const uint8_t *sk;
	const char *program;
	uint64_t next, done;
	struct vg_err err;
};

static int checkpoint(struct checkpoints *c, const struct vg_cfa_verifier *v)
{
	struct vg_cfa_report_stream rs[VG_CFA_MAX_STREAMS];
	uint64_t total[VG_CFA_A_KINDS], events = 0;
	size_t ns;

	if (!c->o->checkpoint || !c->o->report)
		return 0;
	ns = collect(v, rs, total);
	for (size_t i = 0; i < ns; i++)
		events += rs[i].r.events;
	if (events < c->next)
		return 0;
	c->next = events - events % c->o->checkpoint + c->o->checkpoint;
	return write_report(v, c->m, c->o, c->sk, c->program, ++c->done, &c->err);
}

static int finish_verdict(struct vg_cfa_verifier *v, const struct vg_cfa_model *m,
			  const struct vopts *o, const uint8_t *sk, const char *program)
{
	struct vg_cfa_report_stream rs[VG_CFA_MAX_STREAMS];
	struct vg_cfa_loop_summary *loops = NULL;
	size_t ns, nl = 0;
	uint64_t total[VG_CFA_A_KINDS];
	struct vg_err err = { 0 };
	const char *verdict;
	char h[65];
	struct vg_json j;

	vg_cfa_verifier_finish(v);
	ns = collect(v, rs, total);
	verdict = verdict_of(total);
	if (vg_cfa_verifier_loops(v, &loops, &nl))
		return cli_fail("out of memory");
	if (o->report && write_report(v, m, o, sk, program, 0, &err)) {
		free(loops);
		return cli_fail_err(&err);
	}
	if (o->json) {
		vg_json_init(&j, stdout, false);
		vg_json_obj_open(&j);
		vg_json_kstr(&j, "verdict", verdict);
		vg_json_key(&j, "streams");
		vg_json_arr_open(&j);
		for (size_t i = 0; i < ns; i++) {
			vg_json_obj_open(&j);
			vg_json_kuint(&j, "stream", rs[i].stream);
			vg_json_kuint(&j, "events", rs[i].r.events);
			sodium_bin2hex(h, sizeof(h), rs[i].r.measurement, 32);
			vg_json_kstr(&j, "measurement", h);
			vg_json_obj_close(&j);
		}
		vg_json_arr_close(&j);
		vg_json_key(&j, "loops");
		vg_json_arr_open(&j);
		for (size_t i = 0; i < nl; i++) {
			vg_json_obj_open(&j);
			vg_json_kstr(&j, "function",
				     vg_cfa_func_name(m, m->nodes[loops[i].header].func));
			vg_json_khex(&j, "header", m->nodes[loops[i].header].off);
			vg_json_kuint(&j, "instances", loops[i].instances);
			vg_json_kuint(&j, "max_iterations", loops[i].max_iters);
			vg_json_obj_close(&j);
		}
		vg_json_arr_close(&j);
		vg_json_obj_close(&j);
		vg_json_end(&j);
	} else {
		for (size_t i = 0; i < ns; i++) {
			sodium_bin2hex(h, sizeof(h), rs[i].r.measurement, 32);
			fprintf(stderr, "stream %u: %llu events, measurement %s\n", rs[i].stream,
				(unsigned long long)rs[i].r.events, h);
		}
		fprintf(stderr, "verdict: %s\n", verdict);
	}
	free(loops);
	return strcmp(verdict, "clean") ? EXIT_FINDINGS : EXIT_OK;
}

static int parse_vopts(int argc, char **argv, struct vopts *o, int *first_arg)
{
	static const struct option lo[] = {
		{ "model", required_argument, 0, 'm' },	     { "key", required_argument, 0, 'k' },
		{ "report", required_argument, 0, 'r' },     { "json", no_argument, 0, 'j' },
		{ "no-reduce", no_argument, 0, 'R' },	     { "ring", required_argument, 0, 'n' },
		{ "checkpoint", required_argument, 0, 'c' }, { 0, 0, 0, 0 }
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+m:k:r:jn:", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->model = optarg;
			break;
		case 'k':
			o->key = optarg;
			break;
		case 'r':
			o->report = optarg;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'R':
			o->no_reduce = 1;
			break;
		case 'n':
			o->ring = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'c':
			o->checkpoint = strtoull(optarg, NULL, 0);
			break;
		default:
			return cli_fail("cfa %s: unknown option '%s'", argv[0], argv[optind - 1]);
		}
	}
	*first_arg = optind;
	if (o->checkpoint && (!o->report || !o->key))
		return cli_fail("cfa %s: --checkpoint needs --report OUT and --key KEY", argv[0]);
	return 0;
}

static int setup_verifier(const struct vopts *o, struct vg_cfa_model *m, uint8_t sk[64],
			  int *have_sk, struct vg_cfa_verifier **v, struct alert_ctx *ac)
{
	struct vg_cfa_verify_opts vo = { .alert = on_alert, .ctx = ac };
	struct vg_err err = { 0 };

	if (sodium_init() < 0)
		return cli_fail("libsodium failed to initialise");
	*have_sk = 0;
	if (o->key) {
		if (cfa_read_hex_file(o->key, sk, 64, &err))
			return cli_fail_err(&err);
		vg_cfa_measure_key(sk, vo.key);
		*have_sk = 1;
	}
	if (vg_cfa_model_load(m, o->model, &err))
		return cli_fail_err(&err);
	ac->m = m;
	gethostname(ac->host, sizeof(ac->host) - 1);
	if (vg_cfa_verifier_new(v, m, &vo, &err)) {
		vg_cfa_model_free(m);
		return cli_fail_err(&err);
	}
	return 0;
}

/* ---- verify ---- */

int cfa_verify(int argc, char **argv)
{
	struct vopts o;
	struct vg_cfa_model m;
	struct vg_cfa_verifier *v;
	struct vg_cfa_trace_reader r;
	struct vg_cfa_batch b;
	struct alert_ctx ac = { .target_kind = "trace" };
	struct vg_err err = { 0 };
	uint8_t sk[64];
	int first, have_sk, rc;

	if (cfa_wants_help(argc, argv)) {
		printf("Usage: %s cfa verify --model MODEL [--key KEY] [--report OUT [--checkpoint "
		       "EVENTS]] [-j] TRACE\n"
		       "  Checks a recorded trace against MODEL; alerts as JSON lines; exit 1 on "
		       "any "
		       "finding.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	if (parse_vopts(argc, argv, &o, &first))
		return EXIT_ERROR;
	if (!o.model || first != argc - 1)
		return cli_fail("cfa verify: usage: --model MODEL TRACE");
	snprintf(ac.target_id, sizeof(ac.target_id), "%s", argv[first]);
	if (vg_cfa_trace_open(&r, argv[first], &err))
		return cli_fail_err(&err);
	if ((rc = setup_verifier(&o, &m, sk, &have_sk, &v, &ac))) {
		vg_cfa_trace_close(&r);
		return rc;
	}
	if (!cfa_same_build(&m, r.hdr.build_id, r.hdr.build_id_len)) {
		rc = cli_fail("trace %s was recorded from a different binary than model %s was "
			      "built for (build ids differ)",
			      argv[first], o.model);
		goto out;
	}
	struct checkpoints cp = { &m, &o, sk, argv[first], o.checkpoint, 0, { 0 } };

	while ((rc = vg_cfa_trace_next(&r, &b, &err)) > 0) {
		if (vg_cfa_verifier_feed(v, b.stream, b.ev, b.n)) {
			rc = cli_fail("verifier: out of memory");
			goto out;
		}
		if (checkpoint(&cp, v)) {
			rc = cli_fail_err(&cp.err);
			goto out;
		}
	}
	if (rc < 0) {
		rc = cli_fail_err(&err);
		goto out;
	}
	rc = finish_verdict(v, &m, &o, have_sk ? sk : NULL, argv[first]);
out:
	vg_cfa_verifier_free(v);
	vg_cfa_model_free(&m);
	vg_cfa_trace_close(&r);
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

/* ---- running a traced program ---- */

static int resolve(const char *prog, char *out, size_t n)
{
	const char *path = getenv("PATH");

	if (strchr(prog, '/')) {
		snprintf(out, n, "%s", prog);
		return access(out, X_OK) ? -ENOENT : 0;
	}
	while (path && *path) {
		const char *c = strchr(path, ':');
		size_t l = c ? (size_t)(c - path) : strlen(path);

		snprintf(out, n, "%.*s/%s", (int)l, path, prog);
		if (!access(out, X_OK))
			return 0;
		path += l + (c ? 1 : 0);
	}
	return -ENOENT;
}

struct runner {
	struct vg_cfa_shm shm;
	pid_t pid;
	int status;
	uint64_t waits; /* full-ring waits seen at the last drain pass */
};

static int start(struct runner *rn, const struct vg_cfa_shm_opts *so, char **args,
		 struct vg_err *err)
{
	char fdbuf[16];
	int rc = vg_cfa_shm_create(&rn->shm, so, err);

	if (rc)
		return rc;
	rn->pid = fork();
	if (rn->pid < 0)
		return vg_errf(err, errno, "fork: %m");
	if (!rn->pid) {
		snprintf(fdbuf, sizeof(fdbuf), "%d", rn->shm.fd);
		setenv(VG_RT_ENV, fdbuf, 1);
		execvp(args[0], args);
		fprintf(stderr, "%s: cannot run %s: %s\n", PROG_NAME, args[0], strerror(errno));
		_exit(127);
	}
	return 0;
}

/* Drains until the program exits, then once more; the region outlives the process. */
static int pump(struct runner *rn, vg_cfa_sink_fn sink, void *ctx, struct vg_err *err)
{
	uint64_t n;
	int rc, exited = 0;

	for (;;) {
		if ((rc = vg_cfa_shm_drain(&rn->shm, sink, ctx, &n, err)))
			break;
		if (exited)
			break;
		if (waitpid(rn->pid, &rn->status, WNOHANG) == rn->pid) {
			exited = 1;
			continue;
		}
		/* Pace the drainer: polling a ring the program is writing pulls its cache lines
		 * away on every pass. Sleep 100 us unless the last pass found a quarter-full ring
		 * or a producer waited on a full one since. */
		uint64_t waits = 0;

		for (uint32_t i = 0; i < VG_RT_MAX_RINGS; i++)
			waits += vg_rt_ring_at(rn->shm.h, i)->waits;
		if (n < rn->shm.h->ring_events / 4 && waits == rn->waits) {
			struct timespec ts = { 0, 100000 };

			nanosleep(&ts, NULL);
		}
		rn->waits = waits;
	}
	if (!exited) {
		kill(rn->pid, SIGKILL);
		waitpid(rn->pid, &rn->status, 0);
	}
	return rc;
}

/* A program that never mapped the region recorded nothing: no verdict can be given. */
static int attached(const struct runner *rn, const char *prog)
{
	if (rn->shm.h->attached)
		return 1;
	cli_fail("%s did not attach to the trace region (not linked with libvigil-rt, or it "
		 "failed to start)",
		 prog);
	return 0;
}

static void describe_exit(const struct runner *rn, const char *prog)
{
	uint64_t lost = 0;

	for (uint32_t i = 0; i < VG_RT_MAX_RINGS; i++)
		lost += vg_rt_ring_at(rn->shm.h, i)->lost;
	if (WIFSIGNALED(rn->status))
		fprintf(stderr, "%s: %s killed by signal %d\n", PROG_NAME, prog,
			WTERMSIG(rn->status));
	if (lost || rn->shm.h->lost_threads)
		fprintf(stderr, "%s: warning: %llu events and %llu threads were not recorded\n",
			PROG_NAME, (unsigned long long)lost,
			(unsigned long long)rn->shm.h->lost_threads);
}

struct trace_sink {
	FILE *f;
};

static int trace_sink(void *ctx, uint32_t stream, uint64_t seq, uint64_t lost, const uint32_t *ev,
		      uint32_t n)
{
	struct trace_sink *t = ctx;

	return vg_cfa_trace_write_batch(t->f, stream, seq, lost, ev, n);
}

int cfa_trace(int argc, char **argv)
{
	struct vopts o;
	struct runner rn = { 0 };
	struct vg_cfa_trace_hdr h = { 0 };
	struct vg_err err = { 0 };
	struct vg_cfa_model m = { 0 };
	struct vg_cfa_shm_opts so = { 0 };
	struct trace_sink ts;
	char path[4096];
	const char *out = NULL;
	int first, rc;

	if (cfa_wants_help(argc, argv)) {
		printf("Usage: %s cfa trace -o TRACE [--model MODEL] [--ring EVENTS] -- PROG ARGS\n"
		       "  Runs PROG (linked with libvigil-rt) and records its events to TRACE. "
		       "With "
		       "--model, the model's reduced sites are switched off.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			out = argv[i + 1];
			memmove(&argv[i], &argv[i + 2], (size_t)(argc - i - 1) * sizeof(char *));
			argc -= 2;
			break;
		}
	if (parse_vopts(argc, argv, &o, &first))
		return EXIT_ERROR;
	if (!out || first >= argc)
		return cli_fail("cfa trace: usage: -o TRACE -- PROG ARGS");
	if (resolve(argv[first], path, sizeof(path)))
		return cli_fail("cfa trace: %s: not found or not executable", argv[first]);
	if (vg_cfa_elf_build_id(path, h.build_id, &h.build_id_len, &err))
		return cli_fail_err(&err);
	if (o.model) {
		if (vg_cfa_model_load(&m, o.model, &err))
			return cli_fail_err(&err);
		if (!cfa_same_build(&m, h.build_id, h.build_id_len)) {
			vg_cfa_model_free(&m);
			return cli_fail("model %s was built for a different binary than %s",
					o.model, path);
		}
		so.reduce = o.no_reduce ? NULL : &m;
	}
	so.ring_events = o.ring;
	ts.f = fopen(out, "wbe");
	if (!ts.f) {
		vg_cfa_model_free(&m);
		return cli_fail("%s: %s", out, strerror(errno));
	}
	/* header rewritten once the runtime has reported its kind and base */
	vg_cfa_trace_write_hdr(ts.f, &h);
	rc = start(&rn, &so, &argv[first], &err);
	if (!rc)
		rc = pump(&rn, trace_sink, &ts, &err);
	if (!rc) {
		h.kind = rn.shm.h->kind;
		h.base = rn.shm.h->base;
		if (fseek(ts.f, 0, SEEK_SET) || vg_cfa_trace_write_hdr(ts.f, &h))
			rc = vg_errf(&err, EIO, "%s: rewriting the header failed", out);
		describe_exit(&rn, argv[first]);
	}
	if (!rc && !attached(&rn, argv[first])) {
		fclose(ts.f);
		vg_cfa_shm_close(&rn.shm);
		vg_cfa_model_free(&m);
		unlink(out);
		return EXIT_ERROR;
	}
	if (fclose(ts.f) && !rc)
		rc = vg_errf(&err, EIO, "%s: %m", out);
	vg_cfa_shm_close(&rn.shm);
	vg_cfa_model_free(&m);
	if (rc)
		return cli_fail_err(&err);
	return EXIT_OK;
}

struct live_sink {
	struct vg_cfa_verifier *v;
	struct checkpoints *cp;
};

static int live_sink(void *ctx, uint32_t stream, uint64_t seq, uint64_t lost, const uint32_t *ev,
		     uint32_t n)
{
	struct live_sink *l = ctx;
	int rc = vg_cfa_verifier_feed(l->v, stream, ev, n);

	return rc ? rc : checkpoint(l->cp, l->v);
}

int cfa_run(int argc, char **argv)
{
	struct vopts o;
	struct vg_cfa_model m;
	struct vg_cfa_verifier *v;
	struct alert_ctx ac = { .target_kind = "process" };
	struct runner rn = { 0 };
	struct vg_cfa_shm_opts so = { 0 };
	struct vg_err err = { 0 };
	uint8_t sk[64], id[32];
	uint32_t idlen;
	char path[4096];
	int first, have_sk, rc;

	if (cfa_wants_help(argc, argv)) {
		printf("Usage: %s cfa run --model MODEL [--key KEY] [--report OUT [--checkpoint "
		       "EVENTS]] "
		       "[--no-reduce] [--ring EVENTS] [-j] "
		       "-- PROG ARGS\n  Runs PROG, drains and verifies its events live; alerts as "
		       "JSON "
		       "lines; exit 1 on any finding.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	if (parse_vopts(argc, argv, &o, &first))
		return EXIT_ERROR;
	if (!o.model || first >= argc)
		return cli_fail("cfa run: usage: --model MODEL -- PROG ARGS");
	if (resolve(argv[first], path, sizeof(path)))
		return cli_fail("cfa run: %s: not found or not executable", argv[first]);
	if (vg_cfa_elf_build_id(path, id, &idlen, &err))
		return cli_fail_err(&err);
	if ((rc = setup_verifier(&o, &m, sk, &have_sk, &v, &ac)))
		return rc;
	if (!cfa_same_build(&m, id, idlen)) {
		rc = cli_fail("model %s was built for a different binary than %s", o.model, path);
		goto out;
	}
	so.reduce = o.no_reduce ? NULL : &m;
	so.ring_events = o.ring;
	struct checkpoints cp = { &m, &o, sk, path, o.checkpoint, 0, { 0 } };
	struct live_sink ls = { v, &cp };

	rc = start(&rn, &so, &argv[first], &err);
	if (!rc)
		snprintf(ac.target_id, sizeof(ac.target_id), "%s[%d]", path, (int)rn.pid);
	if (!rc)
		rc = pump(&rn, live_sink, &ls, &err);
	if (rc) {
		rc = err.code	   ? cli_fail_err(&err)
		     : cp.err.code ? cli_fail_err(&cp.err)
				   : cli_fail("verifier: out of memory");
		goto out;
	}
	describe_exit(&rn, argv[first]);
	rc = attached(&rn, argv[first]) ? finish_verdict(v, &m, &o, have_sk ? sk : NULL, path)
					: EXIT_ERROR;
out:
	vg_cfa_shm_close(&rn.shm);
	vg_cfa_verifier_free(v);
	vg_cfa_model_free(&m);
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

/* ---- model ---- */
