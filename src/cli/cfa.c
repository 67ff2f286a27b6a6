// SPDX-License-Identifier: MIT
/*
 * `vigil cfa ...`: control-flow attestation command group - the table, keygen, model, info,
 * check-report, and helpers shared with cfa_run.c (trace, verify, run). Exit 0 ok, 1 findings
 * (or an invalid report), 2 error.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cfa_cli.h"
#include "cfa_sys_cli.h"
#include "cli.h"
#include "vigil/cfa_model.h"
#include "vigil/cfa_report.h"
#include "vigil/cfa_trace.h"
#include "vigil/cfa_verify.h"
#include "vigil/json.h"

#define MAX_LIST 64

void cfa_now_rfc3339(char *buf, size_t n)
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
}

int cfa_read_hex_file(const char *path, uint8_t *out, size_t n, struct vg_err *err)
{
	char buf[300];
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return vg_errf(err, errno, "key %s: %m", path);
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return vg_errf(err, EINVAL, "key %s: empty", path);
	buf[r] = 0;
	if (sodium_hex2bin(out, n, buf, (size_t)r, "\n", &got, NULL) || got != n)
		return vg_errf(err, EINVAL, "key %s: expected %zu hex-encoded bytes", path, n);
	return 0;
}

int cfa_write_text(const char *path, const char *text, size_t len, mode_t mode, struct vg_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0)
		return vg_errf(err, errno, "%s: %m", path);
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return vg_errf(err, EIO, "writing %s: %m", path);
	}
	return close(fd) ? vg_errf(err, errno, "closing %s: %m", path) : 0;
}

int cfa_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	return 0;
}

/* ---- keygen ---- */

int cfa_same_build(const struct vg_cfa_model *m, const uint8_t *id, uint32_t len)
{
	return m->build_id_len == len && !memcmp(m->build_id, id, len);
}

static int cmd_keygen(int argc, char **argv)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char hsk[sizeof(sk) * 2 + 2], hpk[sizeof(pk) * 2 + 2], pub[4096];
	struct vg_err err = { 0 };
	const char *out = NULL;

	if (cfa_wants_help(argc, argv)) {
		printf("Usage: %s cfa keygen -o KEY\n  Writes an Ed25519 signing key to KEY (mode "
		       "0600) "
		       "and its public half to KEY.pub.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-o") && i + 1 < argc)
			out = argv[++i];
	if (!out)
		return cli_fail("cfa keygen: -o KEY is required");
	if (sodium_init() < 0)
		return cli_fail("libsodium failed to initialise");
	crypto_sign_keypair(pk, sk);
	sodium_bin2hex(hsk, sizeof(hsk) - 1, sk, sizeof(sk));
	sodium_bin2hex(hpk, sizeof(hpk) - 1, pk, sizeof(pk));
	strcat(hsk, "\n");
	strcat(hpk, "\n");
	snprintf(pub, sizeof(pub), "%s.pub", out);
	if (cfa_write_text(out, hsk, strlen(hsk), 0600, &err) ||
	    cfa_write_text(pub, hpk, strlen(hpk), 0644, &err))
		return cli_fail_err(&err);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(hsk, sizeof(hsk));
	printf("wrote %s and %s\n", out, pub);
	return EXIT_OK;
}

/* ---- shared: verifier results ---- */

static void model_stats(const struct vg_cfa_model *m, int json, const char *path)
{
	uint32_t sites = 0, rps = 0, reduced = 0, headers = 0, taken = 0, instr = 0, ijmp = 0;
	char h[65];
	struct vg_json j;

	for (uint32_t i = 0; i < m->nnodes; i++) {
		uint32_t f = m->nodes[i].flags;

		sites += !!(f & VG_CFA_N_SITE);
		rps += !!(f & VG_CFA_N_RP);
		reduced += !!(f & VG_CFA_N_REDUCED);
		headers += !!(f & VG_CFA_N_HEADER);
		ijmp += !!(f & VG_CFA_N_IJMP);
	}
	for (uint32_t i = 0; i < m->nfuncs; i++) {
		taken += !!(m->funcs[i].flags & VG_CFA_F_ADDR_TAKEN);
		instr += !!(m->funcs[i].flags & VG_CFA_F_INSTR);
	}
	sodium_bin2hex(h, sizeof(h), m->build_id, m->build_id_len);
	const char *kind = m->kind == VG_RT_KIND_GUARD ? "trace-pc-guard"
			   : m->kind == VG_RT_KIND_PC  ? "trace-pc"
						       : "functions";

	if (!json) {
		printf("model %s: %s, build id %s\n  %u functions (%u instrumented, %u "
		       "address-taken), "
		       "%u sites (%u reduced), %u return points, %u edges, %u loop headers, %u "
		       "unresolved indirect jumps, %u deny rules, %s\n",
		       path, kind, h, m->nfuncs, instr, taken, sites, reduced, rps, m->nsucc,
		       headers, ijmp, m->ndeny,
		       m->flags & VG_CFA_M_TRAINED ? "trained" : "not trained");
		return;
	}
	vg_json_init(&j, stdout, false);
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "model", path);
	vg_json_kstr(&j, "kind", kind);
	vg_json_kstr(&j, "build_id", h);
	vg_json_kuint(&j, "functions", m->nfuncs);
	vg_json_kuint(&j, "instrumented", instr);
	vg_json_kuint(&j, "address_taken", taken);
	vg_json_kuint(&j, "sites", sites);
	vg_json_kuint(&j, "reduced", reduced);
	vg_json_kuint(&j, "return_points", rps);
	vg_json_kuint(&j, "edges", m->nsucc);
	vg_json_kuint(&j, "loop_headers", headers);
	vg_json_kuint(&j, "unresolved_ijmp", ijmp);
	vg_json_kuint(&j, "deny_rules", m->ndeny);
	vg_json_kbool(&j, "trained", m->flags & VG_CFA_M_TRAINED);
	vg_json_kuint(&j, "trained_paths", m->npaths);
	vg_json_kuint(&j, "trained_iterations", m->niters);
	vg_json_obj_close(&j);
	vg_json_end(&j);
}

static void train_alert(void *ctx, const struct vg_cfa_alert *a)
{
	int *bad = ctx;

	if (a->kind != VG_CFA_A_UNSEEN_PATH && a->kind != VG_CFA_A_LOOP && (*bad)++ < 3)
		fprintf(stderr, "%s: warning: training trace: %s at event %llu (%s)\n", PROG_NAME,
			vg_cfa_alert_check(a->kind), (unsigned long long)a->index, a->reason);
}

static int cmd_model(int argc, char **argv)
{
	const char *deny[MAX_LIST], *traces[MAX_LIST], *out = NULL, *elf = NULL;
	struct vg_cfa_build_opts bo = { .deny = deny };
	struct vg_cfa_model m;
	struct vg_err err = { 0 };
	int ntr = 0, json = 0, rc;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--syscalls"))
			return cfa_sys_model(argc, argv);
	if (cfa_wants_help(argc, argv)) {
		printf("Usage: %s cfa model ELF -o MODEL [--train TRACE]... [--deny FUNCTION|A->B|"
		       "0xSITE->0xSITE]... [--no-reduce] [-j]\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-o") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(a, "--train") && i + 1 < argc && ntr < MAX_LIST)
			traces[ntr++] = argv[++i];
		else if (!strcmp(a, "--deny") && i + 1 < argc && bo.ndeny < MAX_LIST)
			deny[bo.ndeny++] = argv[++i];
		else if (!strcmp(a, "--no-reduce"))
			bo.no_reduce = 1;
		else if (!strcmp(a, "-j") || !strcmp(a, "--json"))
			json = 1;
		else if (a[0] == '-' || elf)
			return cli_fail("cfa model: unexpected argument '%s'", a);
		else
			elf = a;
	}
	if (!elf || !out)
		return cli_fail("cfa model: usage: ELF -o MODEL");
	if (sodium_init() < 0)
		return cli_fail("libsodium failed to initialise");
	if (vg_cfa_model_build(&m, elf, &bo, &err))
		return cli_fail_err(&err);
	/* Training needs the static model in its final form: validate, then train over it. */
	if (ntr) {
		struct vg_cfa_verifier *v = NULL;
		int bad = 0;
		struct vg_cfa_verify_opts vo = { .train = 1, .alert = train_alert, .ctx = &bad };
		void *owned = NULL;

		rc = vg_cfa_verifier_new(&v, &m, &vo, &err);
		for (int i = 0; i < ntr && !rc; i++) {
			struct vg_cfa_trace_reader r;
			struct vg_cfa_batch b;

			if ((rc = vg_cfa_trace_open(&r, traces[i], &err)))
				break;
			if (!cfa_same_build(&m, r.hdr.build_id, r.hdr.build_id_len))
				rc = vg_errf(&err, EINVAL,
					     "training trace %s is from a different binary",
					     traces[i]);
			while (!rc && (rc = vg_cfa_trace_next(&r, &b, &err)) > 0)
				/* one stream id space per trace: offset by trace number */
				rc = vg_cfa_verifier_feed(
					v, (b.stream + (uint32_t)i) % VG_CFA_MAX_STREAMS, b.ev,
					b.n);
			vg_cfa_trace_close(&r);
			vg_cfa_verifier_finish(v);
		}
		if (!rc)
			rc = vg_cfa_verifier_train_into(v, &m, &owned, &err);
		if (!rc)
			rc = vg_cfa_model_save(&m, out, &err);
		vg_cfa_verifier_free(v);
		free(owned);
		if (bad)
			fprintf(stderr,
				"%s: warning: %d CFG findings in training traces (see above)\n",
				PROG_NAME, bad);
	} else {
		rc = vg_cfa_model_save(&m, out, &err);
	}
	if (!rc) {
		struct vg_cfa_model l;

		if (!(rc = vg_cfa_model_load(&l, out, &err))) {
			model_stats(&l, json, out);
			vg_cfa_model_free(&l);
		}
	}
	vg_cfa_model_free(&m);
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
	struct vg_cfa_model m;
	struct vg_err err = { 0 };
	int json = 0, verbose = 0;
	const char *path = NULL;

	if (cfa_wants_help(argc, argv)) {
		printf("Usage: %s cfa info [-j] [-v] MODEL\n  -v lists instrumented functions and "
		       "their sites.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "-v"))
			verbose = 1;
		else
			path = argv[i];
	if (!path)
		return cli_fail("cfa info: usage: MODEL");
	if (vg_cfa_model_load(&m, path, &err))
		return cli_fail_err(&err);
	model_stats(&m, json, path);
	if (verbose && !json)
		list_sites(&m);
	vg_cfa_model_free(&m);
	return EXIT_OK;
}

static int cmd_check_report(int argc, char **argv)
{
	const char *pub = NULL, *rep = NULL;
	uint8_t pk[32];
	struct vg_err err = { 0 };
	char *buf;
	struct stat st;
	int fd, json = 0;

	if (cfa_wants_help(argc, argv)) {
		printf("Usage: %s cfa check-report --pub KEY.pub [-j] REPORT\n  Verifies a signed "
		       "attestation report; exit 0 valid, 1 invalid.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--pub") && i + 1 < argc)
			pub = argv[++i];
		else if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			json = 1;
		else
			rep = argv[i];
	if (!pub || !rep)
		return cli_fail("cfa check-report: usage: --pub KEY.pub REPORT");
	if (sodium_init() < 0)
		return cli_fail("libsodium failed to initialise");
	if (cfa_read_hex_file(pub, pk, 32, &err))
		return cli_fail_err(&err);
	fd = open(rep, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || st.st_size > (1 << 24)) {
		if (fd >= 0)
			close(fd);
		return cli_fail("%s: unreadable or larger than 16 MiB", rep);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf || read(fd, buf, (size_t)st.st_size) != st.st_size) {
		close(fd);
		free(buf);
		return cli_fail("%s: read failed", rep);
	}
	close(fd);
	int bad = vg_cfa_report_check(buf, (size_t)st.st_size, pk, &err);

	if (json)
		printf("{\"report\":\"%s\",\"valid\":%s}\n", rep, bad ? "false" : "true");
	else if (bad)
		printf("INVALID: %s\n", err.msg);
	else
		printf("valid: %.*s\n", (int)(strchr(buf, '\n') - buf), buf);
	free(buf);
	return bad ? EXIT_FINDINGS : EXIT_OK;
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
