// SPDX-License-Identifier: MIT
/*
 * `vigil cfa ...`: control-flow attestation command group - the table, and the commands about
 * keys, models and reports (keygen, model, info, check-report); cfa_run.c has the ones that
 * run or verify programs (trace, verify, run). Parsing, opening and printing only: the work is
 * src/cfa's (vigil/cfa_run.h). Exit 0 ok, 1 findings (or an invalid report), 2 error.
 */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cfa_cli.h"
#include "cfa_sys_cli.h"
#include "cli.h"
#include "vigil/cfa_model.h"
#include "vigil/cfa_report.h"
#include "vigil/cfa_run.h"
#include "vigil/json.h"

#define MAX_LIST 64

int cfa_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
	       struct cli_common *co)
{
	int c = getopt_long(argc, argv, shortopts, longopts, NULL);
	char cmd[64];

	if (c == '?' || c == ':') {
		snprintf(cmd, sizeof(cmd), "cfa %s", argv[0]);
		cli_bad_option(cmd, argc, argv);
		return -2;
	}
	if (c != -1 && cli_common_opt(c, co))
		return 0;
	return c;
}

void cfa_getopt_init(struct cli_common *co)
{
	memset(co, 0, sizeof(*co));
	optind = 1;
	opterr = 0;
}

/* ---- keygen ---- */

static int cmd_keygen(int argc, char **argv)
{
	enum { O_FORCE = 256 };
	static const struct option lo[] = { { "force", no_argument, NULL, O_FORCE },
					    CLI_COMMON_LONG,
					    { NULL, 0, NULL, 0 } };
	struct vg_err err = { 0 };
	struct cli_common co;
	const char *out = NULL;
	bool force = false;
	unsigned old_mode;
	char pub[4200];
	int c, rc;

	cfa_getopt_init(&co);
	while ((c = cfa_getopt(argc, argv, "o:" CLI_COMMON_SHORT, lo, &co)) != -1) {
		if (c == -2)
			return EXIT_ERROR;
		if (c == 'o')
			out = optarg;
		else if (c == O_FORCE)
			force = true;
	}
	if (co.help) {
		printf("Usage: %s cfa keygen -o KEY [--force] [-j|-p]\n\n"
		       "Writes a new Ed25519 signing key to KEY (created with mode 0600) and its "
		       "public\nhalf to KEY.pub (0644). An existing KEY or KEY.pub is refused: a "
		       "key file is never\nwritten in place. --force replaces them with new "
		       "files.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	if (optind < argc)
		return cli_fail("cfa keygen: unexpected argument '%s'; see --help", argv[optind]);
	if (!out)
		return cli_fail("cfa keygen: -o KEY is required");
	snprintf(pub, sizeof(pub), "%s.pub", out);
	rc = vg_cfa_keygen(out, force, &old_mode, &err);
	/* as wireguard's genkey warns: a key that sat in a file others could read may be known */
	if (old_mode & 077)
		fprintf(stderr,
			"%s: warning: %s %s readable by others (mode %04o): a key it held may "
			"have been copied%s\n",
			PROG_NAME, out, rc ? "is" : "was", old_mode,
			rc ? "" : "; the new key is in a new file with mode 0600");
	if (rc == -EEXIST)
		return cli_fail("%s; --force replaces it", err.msg);
	if (rc)
		return cli_fail_err(&err);
	if (co.json) {
		struct vg_json j;

		vg_json_init(&j, stdout, co.pretty);
		vg_json_obj_open(&j);
		vg_json_kstr(&j, "secret_key", out);
		vg_json_kstr(&j, "public_key", pub);
		vg_json_kbool(&j, "replaced", old_mode != 0);
		vg_json_obj_close(&j);
		vg_json_end(&j);
	} else {
		printf("wrote %s and %s\n", out, pub);
	}
	return EXIT_OK;
}

/* ---- model and info ---- */

static void model_stats(const struct vg_cfa_model *m, const struct cli_common *co, const char *path)
{
	struct vg_cfa_model_stats st;
	const char *kind = vg_cfa_kind_name(m->kind);
	char h[65];
	struct vg_json j;

	vg_cfa_model_stats(m, &st);
	sodium_bin2hex(h, sizeof(h), m->build_id, m->build_id_len);
	if (!co->json) {
		printf("model %s: %s, build id %s\n  %u functions (%u instrumented, %u "
		       "address-taken), %u sites (%u reduced), %u return points, %u edges, %u "
		       "loop headers, %u unresolved indirect jumps, %u deny rules, %s\n",
		       path, kind, h, m->nfuncs, st.instrumented, st.address_taken, st.sites,
		       st.reduced, st.return_points, m->nsucc, st.loop_headers, st.unresolved_ijmp,
		       m->ndeny, m->flags & VG_CFA_M_TRAINED ? "trained" : "not trained");
		return;
	}
	vg_json_init(&j, stdout, co->pretty);
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "model", path);
	vg_json_kstr(&j, "kind", kind);
	vg_json_kstr(&j, "build_id", h);
	vg_json_kuint(&j, "functions", m->nfuncs);
	vg_json_kuint(&j, "instrumented", st.instrumented);
	vg_json_kuint(&j, "address_taken", st.address_taken);
	vg_json_kuint(&j, "sites", st.sites);
	vg_json_kuint(&j, "reduced", st.reduced);
	vg_json_kuint(&j, "return_points", st.return_points);
	vg_json_kuint(&j, "edges", m->nsucc);
	vg_json_kuint(&j, "loop_headers", st.loop_headers);
	vg_json_kuint(&j, "unresolved_ijmp", st.unresolved_ijmp);
	vg_json_kuint(&j, "deny_rules", m->ndeny);
	vg_json_kbool(&j, "trained", m->flags & VG_CFA_M_TRAINED);
	vg_json_kuint(&j, "trained_paths", m->npaths);
	vg_json_kuint(&j, "trained_iterations", m->niters);
	vg_json_obj_close(&j);
	vg_json_end(&j);
}

static void train_warning(void *ctx, const struct vg_cfa_alert *a)
{
	int *bad = ctx;

	if (a->kind != VG_CFA_A_UNSEEN_PATH && a->kind != VG_CFA_A_LOOP && (*bad)++ < 3)
		fprintf(stderr, "%s: warning: training trace: %s at event %llu (%s)\n", PROG_NAME,
			vg_cfa_alert_check(a->kind), (unsigned long long)a->index, a->reason);
}

static int cmd_model(int argc, char **argv)
{
	enum { O_TRAIN = 256, O_DENY, O_NO_REDUCE };
	static const struct option lo[] = {
		{ "train", required_argument, NULL, O_TRAIN },
		{ "deny", required_argument, NULL, O_DENY },
		{ "no-reduce", no_argument, NULL, O_NO_REDUCE },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	const char *deny[MAX_LIST], *traces[MAX_LIST], *out = NULL;
	struct vg_cfa_build_opts bo = { .deny = deny };
	struct vg_cfa_model m, l;
	struct vg_err err = { 0 };
	struct cli_common co;
	unsigned ntr = 0;
	void *owned = NULL;
	int c, bad = 0, rc;

	/* the syscall model has its own options: cfa_sys.c */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--syscalls"))
			return cfa_sys_model(argc, argv);
	cfa_getopt_init(&co);
	while ((c = cfa_getopt(argc, argv, "o:" CLI_COMMON_SHORT, lo, &co)) != -1) {
		if (c == -2)
			return EXIT_ERROR;
		if (c == 'o') {
			out = optarg;
		} else if (c == O_TRAIN) {
			if (ntr == MAX_LIST)
				return cli_fail("cfa model: at most %d --train", MAX_LIST);
			traces[ntr++] = optarg;
		} else if (c == O_DENY) {
			if (bo.ndeny == MAX_LIST)
				return cli_fail("cfa model: at most %d --deny", MAX_LIST);
			deny[bo.ndeny++] = optarg;
		} else if (c == O_NO_REDUCE) {
			bo.no_reduce = 1;
		}
	}
	if (co.help) {
		printf("Usage: %s cfa model ELF -o MODEL [--train TRACE]... [--deny FUNCTION|A->B|"
		       "0xSITE->0xSITE]... [--no-reduce] [-j|-p]\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	if (optind + 1 != argc || !out)
		return cli_fail("cfa model: usage: ELF -o MODEL; see --help");
	if (vg_cfa_model_build(&m, argv[optind], &bo, &err))
		return cli_fail_err(&err);
	rc = ntr ? vg_cfa_train(&m, traces, ntr, train_warning, &bad, &owned, &err) : 0;
	if (bad)
		fprintf(stderr, "%s: warning: %d CFG findings in training traces (see above)\n",
			PROG_NAME, bad);
	if (!rc)
		rc = vg_cfa_model_save(&m, out, &err);
	vg_cfa_model_free(&m);
	free(owned);
	/* what is shown is what was saved, read back */
	if (!rc && !(rc = vg_cfa_model_load(&l, out, &err))) {
		model_stats(&l, &co, out);
		vg_cfa_model_free(&l);
	}
	return rc ? cli_fail_err(&err) : EXIT_OK;
}

static void list_sites(const struct vg_cfa_model *m)
{
	for (uint32_t f = 0; f < m->nfuncs; f++) {
		uint32_t fl = m->funcs[f].flags;

		if (!(fl & VG_CFA_F_INSTR) && !(fl & VG_CFA_F_ADDR_TAKEN))
			continue;
		printf("%s [0x%x-0x%x]%s%s%s%s\n", vg_cfa_func_name(m, f), m->funcs[f].lo,
		       m->funcs[f].hi, fl & VG_CFA_F_INSTR ? " instrumented" : "",
		       fl & VG_CFA_F_ADDR_TAKEN ? " address-taken" : "",
		       fl & VG_CFA_F_ENTERABLE ? " enterable" : "",
		       fl & VG_CFA_F_DENIED ? " denied" : "");
		for (uint32_t i = 0; i < m->nnodes; i++) {
			const struct vg_cfa_node *n = &m->nodes[i];

			if (n->func != f)
				continue;
			printf("  %s 0x%x%s%s%s%s ->", n->flags & VG_CFA_N_SITE ? "site" : "rp  ",
			       n->off, n->flags & VG_CFA_N_ENTRY ? " entry" : "",
			       n->flags & VG_CFA_N_HEADER ? " header" : "",
			       n->flags & VG_CFA_N_REDUCED ? " reduced" : "",
			       n->flags & VG_CFA_N_CANRET ? " ret" : "");
			for (uint32_t k = 0; k < n->nsucc; k++)
				printf(" 0x%x%s",
				       m->nodes[m->succ[n->succ + k] & VG_CFA_SUCC_MASK].off,
				       m->succ[n->succ + k] & VG_CFA_SUCC_BACK ? "(back)" : "");
			for (uint32_t k = 0; k < n->ncall; k++) {
				const struct vg_cfa_call *c = &m->calls[n->call + k];

				printf(" call:%s",
				       c->callee < m->nfuncs ? vg_cfa_func_name(m, c->callee)
				       : c->callee == VG_CFA_CALL_INDIRECT ? "*indirect"
									   : "*external");
				if (c->rp != VG_CFA_NONE)
					printf("/rp0x%x", m->nodes[c->rp].off);
			}
			printf("\n");
		}
	}
}

static int cmd_info(int argc, char **argv)
{
	static const struct option lo[] = { { "verbose", no_argument, NULL, 'v' },
					    CLI_COMMON_LONG,
					    { NULL, 0, NULL, 0 } };
	struct vg_cfa_model m;
	struct vg_err err = { 0 };
	struct cli_common co;
	bool verbose = false;
	int c;

	cfa_getopt_init(&co);
	while ((c = cfa_getopt(argc, argv, "v" CLI_COMMON_SHORT, lo, &co)) != -1) {
		if (c == -2)
			return EXIT_ERROR;
		if (c == 'v')
			verbose = true;
	}
	if (co.help) {
		printf("Usage: %s cfa info [-v] [-j|-p] MODEL\n  -v lists instrumented functions "
		       "and their sites.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	if (optind + 1 != argc)
		return cli_fail("cfa info: usage: MODEL; see --help");
	if (vg_cfa_model_load(&m, argv[optind], &err))
		return cli_fail_err(&err);
	model_stats(&m, &co, argv[optind]);
	if (verbose && !co.json)
		list_sites(&m);
	vg_cfa_model_free(&m);
	return EXIT_OK;
}

/* ---- check-report ---- */

static int cmd_check_report(int argc, char **argv)
{
	enum { O_PUB = 256 };
	static const struct option lo[] = { { "pub", required_argument, NULL, O_PUB },
					    CLI_COMMON_LONG,
					    { NULL, 0, NULL, 0 } };
	const char *pub = NULL, *rep;
	struct vg_err err = { 0 };
	struct cli_common co;
	uint8_t pk[32];
	char *text;
	size_t len;
	int c, rc;

	cfa_getopt_init(&co);
	while ((c = cfa_getopt(argc, argv, CLI_COMMON_SHORT, lo, &co)) != -1) {
		if (c == -2)
			return EXIT_ERROR;
		if (c == O_PUB)
			pub = optarg;
	}
	if (co.help) {
		printf("Usage: %s cfa check-report --pub KEY.pub [-j|-p] REPORT\n  Verifies a "
		       "signed attestation report; exit 0 valid, 1 invalid.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	if (!pub || optind + 1 != argc)
		return cli_fail("cfa check-report: usage: --pub KEY.pub REPORT; see --help");
	rep = argv[optind];
	if (vg_cfa_key_read_public(pub, pk, &err))
		return cli_fail_err(&err);
	rc = vg_cfa_report_check_file(rep, pk, &text, &len, &err);
	if (rc && rc != -EBADMSG) {
		free(text);
		return cli_fail_err(&err);
	}
	if (co.json) {
		struct vg_json j;

		vg_json_init(&j, stdout, co.pretty);
		vg_json_obj_open(&j);
		vg_json_kstr(&j, "report", rep);
		vg_json_kbool(&j, "valid", !rc);
		if (rc)
			vg_json_kstr(&j, "reason", err.msg);
		vg_json_obj_close(&j);
		vg_json_end(&j);
	} else if (rc) {
		printf("INVALID: %s\n", err.msg);
	} else {
		printf("valid: %.*s\n", (int)strcspn(text, "\n"), text);
	}
	free(text);
	return rc ? EXIT_FINDINGS : EXIT_OK;
}

static const struct cli_cmd cfa_cmds[] = {
	{ "keygen", cmd_keygen, "create an Ed25519 key pair for signing attestation reports" },
	{ "model", cmd_model,
	  "build the reference model of an instrumented ELF (--train, --deny)" },
	{ "info", cmd_info, "show a model's contents" },
	{ "trace", cfa_trace, "run a program and record its control-flow events" },
	{ "verify", cfa_verify, "check a recorded trace against a model" },
	{ "run", cfa_run, "run a program and verify its control flow live" },
	{ "check-report", cmd_check_report, "verify a signed attestation report" },
	{ "verify-syscalls", cfa_sys_verify, "check an agent recording against a syscall model" },
	{ "serve", cfa_serve, "gateway: verify many devices' syscall batches live, sign reports" },
	{ NULL, NULL, NULL },
};

int cmd_cfa(int argc, char **argv)
{
	return cli_dispatch("cfa", cfa_cmds, argc - 1, argv + 1);
}
