// SPDX-License-Identifier: MIT
/*
 * `vigil cfa model --syscalls BINARY` (the syscall model, trained on agent recordings) and
 * `vigil cfa verify-syscalls` (a recording checked offline, as the gateway would live).
 */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cfa_cli.h"
#include "cfa_sys_cli.h"
#include "cli.h"
#include "vigil/agent.h"
#include "vigil/cfa_report.h"
#include "vigil/json.h"
#include "vigil/sysstream.h"

#define MAX_LIST 64

struct modscan {
	const char *libs[MAX_LIST];
	char *owned[MAX_LIST];
	size_t n;
	const struct vg_sys_model *m;
	const char *sysroot;
};

/* Modules a recording names that the model lacks and this host has (same identity). */
static int seen_module(void *ctx, const struct vg_sb_module *md)
{
	struct modscan *s = ctx;
	char path[VG_SB_NAME_MAX + 4096];
	uint8_t kind, id[32], len;
	struct vg_err err = { 0 };

	if (!md->idkind || s->n >= MAX_LIST ||
	    vg_sys_find_mod(s->m, md->idkind, md->ident, md->idlen) != VG_SYS_NONE)
		return 0;
	snprintf(path, sizeof(path), "%s%.*s", s->sysroot ? s->sysroot : "", (int)md->namelen,
		 md->name);
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->libs[i], path))
			return 0;
	if (vg_agent_module_ident(path, &kind, id, &len, &err) || kind != md->idkind ||
	    len != md->idlen || memcmp(id, md->ident, len))
		return 0;
	s->owned[s->n] = strdup(path);
	if (!s->owned[s->n])
		return -ENOMEM;
	s->libs[s->n] = s->owned[s->n];
	s->n++;
	return 0;
}

static int scan_recordings(struct modscan *s, char **recs, int nrec, struct vg_err *err)
{
	static const struct vg_sb_visitor v = { .module = seen_module };

	for (int i = 0; i < nrec; i++) {
		struct vg_sb_reader r;
		const uint8_t *b;
		size_t len;
		int rc;

		if ((rc = vg_sb_rec_open(&r, recs[i], err)))
			return rc;
		while ((rc = vg_sb_rec_next(&r, &b, &len, err)) > 0)
			if ((rc = vg_sb_parse(b, len, &v, s, err)))
				break;
		vg_sb_rec_close(&r);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void train_warn(void *ctx, const struct vg_sys_alert *a)
{
	int *n = ctx;

	if ((*n)++ < 5)
		fprintf(stderr, "%s: warning: training: %s: %s (%s at %s+0x%llx)\n", PROG_NAME,
			vg_sys_check_name(a->check), a->reason,
			a->nr != VG_SYS_NONE ? vg_sys_nr_name(a->nr) : "-",
			a->code.module ? a->code.module : "?", (unsigned long long)a->code.off);
}

static int train(struct vg_sys_model *m, char **recs, int nrec, void **owned, int *warnings,
		 struct vg_err *err)
{
	struct vg_sys_verify_opts vo = { .train = true, .alert = train_warn, .ctx = warnings };
	struct vg_sys_verifier *v;
	int rc = vg_sys_verifier_new(&v, m, &vo, err);

	for (int i = 0; i < nrec && !rc; i++) {
		struct vg_sb_reader r;
		struct vg_sys_result res;
		struct vg_sb_hdr h;
		const uint8_t *b;
		uint64_t boot = 0, next = 0;
		size_t len;

		if ((rc = vg_sb_rec_open(&r, recs[i], err)))
			break;
		vg_sys_verifier_reset(v);
		while (!rc && (rc = vg_sb_rec_next(&r, &b, &len, err)) > 0) {
			rc = vg_sb_parse_hdr(b, len, &h, err);
			if (!rc && (h.boot != boot || next == 0)) {
				boot = h.boot;
				next = h.seq;
				vg_sys_verifier_reset(v);
			}
			if (!rc && h.seq != next)
				rc = vg_errf(err, EBADMSG,
					     "%s: batch %llu where %llu was due: a "
					     "training recording must be complete",
					     recs[i], (unsigned long long)h.seq,
					     (unsigned long long)next);
			if (!rc)
				rc = vg_sys_verifier_batch(v, b, len, &res, err);
			next++;
		}
		vg_sb_rec_close(&r);
	}
	if (!rc)
		rc = vg_sys_verifier_train_into(v, m, owned, err);
	vg_sys_verifier_free(v);
	return rc;
}

static void model_stats(const struct vg_sys_model *m, const char *path, bool json, bool pretty)
{
	uint32_t known = 0, depth = 0, indirect = 0;
	struct vg_json j;

	for (uint32_t i = 0; i < m->ninsns; i++) {
		known += m->insns[i].nr != VG_SYS_ANY_NR;
		depth += m->insns[i].depth >= 0;
	}
	for (uint32_t i = 0; i < m->nsites; i++)
		indirect += !!(m->sites[i].flags & VG_SYS_S_INDIRECT);
	if (!json) {
		printf("syscall model %s: %u modules, %u functions, %u syscall instructions (%u "
		       "with a known number, %u with a known frame), %u call sites (%u "
		       "indirect)%s",
		       path, m->nmods, m->nfuncs, m->ninsns, known, depth, m->nsites, indirect,
		       m->flags & VG_SYS_M_TRAINED ? "" : ", not trained\n");
		if (m->flags & VG_SYS_M_TRAINED)
			printf(", trained: %u syscall tuples, %u transitions, %u executed files\n",
			       m->ntuples, m->ntrans, m->nexecs);
		for (uint32_t i = 0; i < m->nmods; i++)
			printf("  %s%s\n", vg_sys_str(m, m->mods[i].name),
			       m->mods[i].flags & VG_SYS_MOD_MAIN ? " (program)" : "");
		return;
	}
	vg_json_init(&j, stdout, pretty);
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "model", path);
	vg_json_key(&j, "modules");
	vg_json_arr_open(&j);
	for (uint32_t i = 0; i < m->nmods; i++)
		vg_json_str(&j, vg_sys_str(m, m->mods[i].name));
	vg_json_arr_close(&j);
	vg_json_kuint(&j, "functions", m->nfuncs);
	vg_json_kuint(&j, "syscall_instructions", m->ninsns);
	vg_json_kuint(&j, "known_numbers", known);
	vg_json_kuint(&j, "known_frames", depth);
	vg_json_kuint(&j, "call_sites", m->nsites);
	vg_json_kuint(&j, "indirect_call_sites", indirect);
	vg_json_kbool(&j, "trained", m->flags & VG_SYS_M_TRAINED);
	vg_json_kuint(&j, "trained_tuples", m->ntuples);
	vg_json_kuint(&j, "trained_transitions", m->ntrans);
	vg_json_kuint(&j, "trained_execs", m->nexecs);
	vg_json_obj_close(&j);
	vg_json_end(&j);
}

int cfa_sys_model(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "syscalls", required_argument, NULL, 'S' },
		{ "output", required_argument, NULL, 'o' },
		{ "lib", required_argument, NULL, 'l' },
		{ "sysroot", required_argument, NULL, 'r' },
		{ "train", required_argument, NULL, 't' },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	const char *bin = NULL, *out = NULL;
	char *recs[MAX_LIST];
	struct modscan ms = { 0 };
	struct cli_common cc = { 0 };
	struct vg_sys_build_opts bo = { 0 };
	struct vg_sys_model m, probe;
	struct vg_err err = { 0 };
	void *owned = NULL;
	int c, nrec = 0, warnings = 0, rc;

	optind = 1;
	opterr = 0; /* cli_bad_option says it, once */
	while ((c = getopt_long(argc, argv, "o:" CLI_COMMON_SHORT, lo, NULL)) != -1) {
		if (cli_common_opt(c, &cc))
			continue;
		switch (c) {
		case 'S':
			bin = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'l':
			if (ms.n >= MAX_LIST)
				return cli_fail("cfa model: at most %d --lib", MAX_LIST);
			ms.libs[ms.n++] = optarg;
			break;
		case 'r':
			bo.sysroot = optarg;
			break;
		case 't':
			if (nrec >= MAX_LIST)
				return cli_fail("cfa model: at most %d --train", MAX_LIST);
			recs[nrec++] = optarg;
			break;
		default:
			return cli_bad_option("cfa model", argc, argv);
		}
	}
	if (cc.help) {
		printf("Usage: %s cfa model --syscalls BINARY -o MODEL [--lib PATH]... [--sysroot "
		       "DIR] [--train RECORDING]... [-j]\n\n"
		       "Syscall model: which call sites of BINARY, its libraries and interpreter\n"
		       "may make which system calls (capstone + .eh_frame), refined by recordings\n"
		       "of clean runs (`vigil agent run -o RECORDING`).\n"
		       "  --lib PATH       also model PATH (dlopen'ed plugins, programs it runs)\n"
		       "  --sysroot DIR    the device's / is DIR on this host\n"
		       "  --train FILE     learn from a clean recording (files it names that this\n"
		       "                   host has, with the same identity, are modelled too)\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	if (!bin || !out || optind != argc)
		return cli_fail("cfa model: usage: --syscalls BINARY -o MODEL");
	if (sodium_init() < 0)
		return cli_fail("libsodium failed to initialise");
	bo.libs = ms.libs;
	bo.nlibs = ms.n;
	if (nrec) {
		/* a first static model tells which recorded modules are missing from it */
		ms.sysroot = bo.sysroot;
		if (vg_sys_model_build(&probe, bin, &bo, &err))
			return cli_fail_err(&err);
		ms.m = &probe;
		rc = scan_recordings(&ms, recs, nrec, &err);
		vg_sys_model_free(&probe);
		if (rc)
			return cli_fail_err(&err);
		bo.libs = ms.libs;
		bo.nlibs = ms.n;
	}
	rc = vg_sys_model_build(&m, bin, &bo, &err);
	if (!rc && nrec)
		rc = train(&m, recs, nrec, &owned, &warnings, &err);
	if (!rc)
		rc = vg_sys_model_save(&m, out, &err);
	for (size_t i = 0; i < ms.n; i++)
		free(ms.owned[i]);
	if (rc) {
		free(owned);
		return cli_fail_err(&err);
	}
	if (warnings)
		fprintf(stderr,
			"%s: warning: %d static findings in the training recordings were accepted "
			"as trained (see above)\n",
			PROG_NAME, warnings);
	model_stats(&m, out, cc.json, cc.pretty);
	vg_sys_model_free(&m);
	free(owned);
	return EXIT_OK;
}

int cfa_sys_verify(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "key", required_argument, NULL, 'k' },
		{ "report", required_argument, NULL, 'r' },
		{ "alerts", required_argument, NULL, 'a' },
		{ "program", required_argument, NULL, 'P' },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	const char *model = NULL, *key = NULL, *report = NULL, *sinks[VG_ALERT_MAX_SINKS],
		   *program = NULL;
	struct vg_sys_stream_opts so = { 0 };
	struct cli_common cc = { 0 };
	struct vg_sys_stream s;
	struct vg_alerter al;
	struct vg_sys_model m;
	struct vg_sb_reader r;
	struct vg_err err = { 0 };
	uint8_t sk[64];
	char device[VG_SB_DEVICE_MAX + 1];
	uint64_t rejected = 0;
	bool loose = false;
	int c, nsinks = 0, rc;

	optind = 1;
	opterr = 0; /* cli_bad_option says it, once */
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, lo, NULL)) != -1) {
		if (cli_common_opt(c, &cc))
			continue;
		switch (c) {
		case 'm':
			model = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'r':
			report = optarg;
			break;
		case 'P':
			program = optarg;
			break;
		case 'a':
			if (nsinks >= VG_ALERT_MAX_SINKS)
				return cli_fail("cfa verify-syscalls: too many --alerts");
			sinks[nsinks++] = optarg;
			break;
		default:
			return cli_bad_option("cfa verify-syscalls", argc, argv);
		}
	}
	if (cc.help) {
		printf("Usage: %s cfa verify-syscalls --model MODEL [--key KEY --report OUT] "
		       "[--alerts SINK]... [-j] RECORDING\n\n"
		       "Checks an agent recording as `vigil cfa serve` checks live batches: "
		       "alerts\n"
		       "as JSON lines (stdout or SINK), the verdict on stderr (or JSON with -j).\n"
		       "Exit 0 clean, 1 findings, 2 error.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	if (!model || optind != argc - 1 || (report && !key))
		return cli_fail(
			"cfa verify-syscalls: usage: --model MODEL [--key KEY --report OUT] "
			"RECORDING");
	if (sodium_init() < 0)
		return cli_fail("libsodium failed to initialise");
	if (key && vg_cfa_key_read_secret(key, sk, &loose, &err))
		return cli_fail_err(&err);
	if (loose)
		fprintf(stderr, "%s: warning: %s can be read by other users\n", PROG_NAME, key);
	if (vg_sys_model_load(&m, model, &err))
		return cli_fail_err(&err);
	if (vg_alerter_open(&al, "device", sinks, nsinks, &err)) {
		vg_sys_model_free(&m);
		return cli_fail_err(&err);
	}
	rc = vg_sb_rec_open(&r, argv[optind], &err);
	so.model = &m;
	so.alerter = &al;
	so.program = program ? program : vg_sys_str(&m, m.mods[0].name);
	for (bool first = true; !rc;) {
		enum vg_sys_batch_status st;
		struct vg_sys_result res;
		struct vg_sb_hdr h;
		const uint8_t *b;
		size_t len;

		rc = vg_sb_rec_next(&r, &b, &len, &err);
		if (rc <= 0)
			break;
		rc = 0;
		if (first) {
			/* a recording is its device's: its first batch says which */
			if ((rc = vg_sb_parse_hdr(b, len, &h, &err)))
				break;
			snprintf(device, sizeof(device), "%s", h.device);
			so.device = device;
			if ((rc = vg_sys_stream_init(&s, &so, &err)))
				break;
			first = false;
		}
		rc = vg_sys_stream_batch(&s, b, len, &st, &res, &err);
		rejected += st != VG_SYS_B_ACCEPTED;
	}
	vg_sb_rec_close(&r);
	if (!rc && !so.device)
		rc = vg_errf(&err, EINVAL, "%s: the recording holds no batch", argv[optind]);
	if (!rc && report) {
		char *txt;
		size_t len;

		rc = vg_sys_stream_report(&s, 0, sk, &txt, &len, &err);
		if (!rc) {
			FILE *f = fopen(report, "we");

			if (!f || fwrite(txt, 1, len, f) != len || fclose(f))
				rc = vg_errf(&err, errno ? errno : EIO, "%s: %m", report);
			free(txt);
		}
	}
	if (!rc) {
		struct vg_sys_totals t;

		vg_sys_verifier_totals(s.v, &t);
		fflush(stdout);
		if (cc.json) {
			struct vg_json j;

			vg_json_init(&j, stdout, cc.pretty);
			vg_json_obj_open(&j);
			vg_json_kstr(&j, "device", so.device);
			vg_json_kstr(&j, "verdict", vg_sys_verdict_name(s.worst));
			vg_json_kuint(&j, "batches", s.batches);
			vg_json_kuint(&j, "rejected", rejected);
			vg_json_kuint(&j, "syscalls", s.events);
			vg_json_kuint(&j, "distinct_syscalls", t.tokens);
			vg_json_kuint(&j, "alerts", al.sent);
			vg_json_obj_close(&j);
			vg_json_end(&j);
		} else {
			fprintf(stderr,
				"%s: %s (%llu batches, %llu rejected, %llu syscalls, %llu "
				"alerts)\n",
				so.device, vg_sys_verdict_name(s.worst),
				(unsigned long long)s.batches, (unsigned long long)rejected,
				(unsigned long long)s.events, (unsigned long long)al.sent);
		}
		rc = s.worst != VG_SYS_V_CLEAN || rejected ? EXIT_FINDINGS : EXIT_OK;
	} else {
		rc = cli_fail_err(&err);
	}
	if (so.device)
		vg_sys_stream_free(&s);
	vg_alerter_close(&al);
	vg_sys_model_free(&m);
	sodium_memzero(sk, sizeof(sk));
	return rc;
}
