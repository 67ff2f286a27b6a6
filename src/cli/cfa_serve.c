// SPDX-License-Identifier: MIT
/*
 * `vigil cfa serve`: the gateway for syscall attestation (src/cfa/sys_serve.c). Runs until
 * SIGINT/SIGTERM (or --duration), then prints what it did; alerts go to the sinks as they
 * happen. Exit 0, 2 on error.
 */
#include <getopt.h>
#include <sodium.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfa_cli.h"
#include "cfa_sys_cli.h"
#include "cli.h"
#include "vigil/cfa_report.h"
#include "vigil/json.h"
#include "vigil/sysserve.h"
#include "vigil/util.h"

static volatile int serve_stop;

static void on_signal(int sig)
{
	(void)sig;
	serve_stop = 1;
}

static void on_alarm(int sig)
{
	(void)sig;
	serve_stop = 1;
}

static void note(void *ctx, const char *msg)
{
	if (!*(bool *)ctx)
		fprintf(stderr, "%s: %s\n", PROG_NAME, msg);
}

static void usage(void)
{
	printf("Usage: %s cfa serve --listen HOST:PORT --key KEY --devices REGISTRY\n"
	       "          [--sign KEY --reports DIR [--report-every N]] [--silent-after SEC]\n"
	       "          [--alerts SINK]... [--batch-log] [--duration SEC] [-q] [-j|-p]\n\n"
	       "Gateway for syscall attestation: agents (`vigil agent run --gateway ...`) connect\n"
	       "over the secure channel; every batch is checked (sequence, device, syscall model)\n"
	       "and acknowledged with its verdict.\n"
	       "  --key KEY          the gateway's secure-channel key (`vigil agent keygen`)\n"
	       "  --devices FILE     registry: \"ID PUBLIC-KEY MODEL [PROGRAM]\" per line\n"
	       "  --sign KEY         Ed25519 key (`vigil cfa keygen`) for signed reports, written\n"
	       "                     to DIR/<device>.report every N batches and at the end\n"
	       "  --silent-after S   report a device that sends nothing for S seconds (30)\n"
	       "  --alerts SINK      stdout (default), file:PATH, syslog, unix:PATH; repeatable\n"
	       "  --batch-log        a JSON line per batch on stdout (device, seq, verdict)\n"
	       "  --duration S       stop after S seconds (otherwise at SIGINT/SIGTERM)\n",
	       PROG_NAME);
}

static void print_stats(const struct vg_sys_serve_stats *st, bool json, bool pretty)
{
	double rate = st->verify_cpu_s > 0 ? (double)st->syscalls / st->verify_cpu_s : 0;
	double lrate = st->cpu_s > 0 ? (double)st->syscalls / st->cpu_s : 0;
	struct vg_json j;

	if (!json) {
		fprintf(stderr,
			"%s: %llu devices registered, %llu seen, %llu sessions (%llu refused); "
			"%llu batches (%llu rejected), %llu syscalls; verdicts: %llu clean, %llu "
			"anomaly, %llu violation, %llu incomplete; %llu alerts, %llu silent; "
			"%.0f syscalls per CPU second in the loop\n",
			PROG_NAME, (unsigned long long)st->devices, (unsigned long long)st->seen,
			(unsigned long long)st->sessions, (unsigned long long)st->refused,
			(unsigned long long)st->batches, (unsigned long long)st->rejected,
			(unsigned long long)st->syscalls, (unsigned long long)st->verdicts[0],
			(unsigned long long)st->verdicts[1], (unsigned long long)st->verdicts[2],
			(unsigned long long)st->verdicts[3], (unsigned long long)st->alerts,
			(unsigned long long)st->silent, lrate);
		return;
	}
	vg_json_init(&j, stdout, pretty);
	vg_json_obj_open(&j);
	vg_json_kuint(&j, "devices", st->devices);
	vg_json_kuint(&j, "seen", st->seen);
	vg_json_kuint(&j, "sessions", st->sessions);
	vg_json_kuint(&j, "refused", st->refused);
	vg_json_kuint(&j, "handshake_failures", st->handshake_failures);
	vg_json_kuint(&j, "channel_errors", st->channel_errors);
	vg_json_kuint(&j, "batches", st->batches);
	vg_json_kuint(&j, "rejected", st->rejected);
	vg_json_kuint(&j, "syscalls", st->syscalls);
	vg_json_key(&j, "verdicts");
	vg_json_obj_open(&j);
	vg_json_kuint(&j, "clean", st->verdicts[0]);
	vg_json_kuint(&j, "anomaly", st->verdicts[1]);
	vg_json_kuint(&j, "violation", st->verdicts[2]);
	vg_json_kuint(&j, "incomplete", st->verdicts[3]);
	vg_json_obj_close(&j);
	vg_json_kuint(&j, "alerts", st->alerts);
	vg_json_kuint(&j, "silent", st->silent);
	vg_json_kdouble(&j, "loop_cpu_s", st->cpu_s);
	vg_json_kdouble(&j, "verify_cpu_s", st->verify_cpu_s);
	vg_json_kdouble(&j, "wall_s", st->wall_s);
	vg_json_kdouble(&j, "syscalls_per_loop_cpu_s", lrate);
	vg_json_kdouble(&j, "syscalls_per_verify_cpu_s", rate);
	vg_json_obj_close(&j);
	vg_json_end(&j);
}

int cfa_serve(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "listen", required_argument, NULL, 'L' },
		{ "key", required_argument, NULL, 'k' },
		{ "devices", required_argument, NULL, 'D' },
		{ "sign", required_argument, NULL, 's' },
		{ "reports", required_argument, NULL, 'R' },
		{ "report-every", required_argument, NULL, 'E' },
		{ "silent-after", required_argument, NULL, 'S' },
		{ "alerts", required_argument, NULL, 'a' },
		{ "batch-log", no_argument, NULL, 'B' },
		{ "duration", required_argument, NULL, 'T' },
		{ "quiet", no_argument, NULL, 'q' },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	const char *keyfile = NULL, *sign = NULL, *sinks[VG_ALERT_MAX_SINKS];
	struct vg_sys_serve_opts o = { .stop = &serve_stop, .note = note };
	struct sigaction sa = { .sa_handler = on_signal }, sal = { .sa_handler = on_alarm };
	struct vg_wire_keypair kp;
	struct vg_sys_serve_stats st;
	struct cli_common cc = { 0 };
	struct vg_alerter al;
	struct vg_err err = { 0 };
	uint8_t sk[64];
	unsigned duration = 0;
	bool quiet = false, loose = false;
	int c, nsinks = 0, rc;

	o.note_ctx = &quiet;
	optind = 1;
	opterr = 0; /* cli_bad_option says it, once */
	while ((c = getopt_long(argc, argv, "q" CLI_COMMON_SHORT, lo, NULL)) != -1) {
		if (cli_common_opt(c, &cc))
			continue;
		switch (c) {
		case 'L':
			o.listen = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'D':
			o.registry = optarg;
			break;
		case 's':
			sign = optarg;
			break;
		case 'R':
			o.report_dir = optarg;
			break;
		case 'E':
			o.report_every = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'S':
			o.silent_after_s = (uint32_t)strtoul(optarg, NULL, 10);
			if (!o.silent_after_s)
				return cli_fail("cfa serve: --silent-after wants seconds > 0");
			break;
		case 'a':
			if (nsinks >= VG_ALERT_MAX_SINKS)
				return cli_fail("cfa serve: too many --alerts");
			sinks[nsinks++] = optarg;
			break;
		case 'B':
			o.batch_log = stdout;
			break;
		case 'T':
			duration = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return cli_bad_option("cfa serve", argc, argv);
		}
	}
	if (cc.help) {
		usage();
		return EXIT_OK;
	}
	if (!o.listen || !keyfile || !o.registry || optind != argc)
		return cli_fail(
			"cfa serve: usage: --listen HOST:PORT --key KEY --devices REGISTRY");
	if (o.report_dir && !sign)
		return cli_fail("cfa serve: --reports needs --sign KEY");
	if (vg_wire_key_read_secret(keyfile, &kp, &loose, &err))
		return cli_fail_err(&err);
	if (loose && !quiet)
		fprintf(stderr, "%s: warning: %s can be read by other users\n", PROG_NAME, keyfile);
	if (sign && vg_cfa_key_read_secret(sign, sk, &loose, &err))
		return cli_fail_err(&err);
	if (sign && loose && !quiet)
		fprintf(stderr, "%s: warning: %s can be read by other users\n", PROG_NAME, sign);
	if (o.report_dir && vg_mkdir_p(o.report_dir, 0755))
		return cli_fail("cfa serve: cannot create %s", o.report_dir);
	o.key = &kp;
	o.sign_sk = sign ? sk : NULL;
	if (vg_alerter_open(&al, "gateway", sinks, nsinks, &err))
		return cli_fail_err(&err);
	o.alerter = &al;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGALRM, &sal, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (duration)
		alarm(duration);
	rc = vg_sys_serve(&o, &st, &err);
	vg_alerter_close(&al);
	sodium_memzero(sk, sizeof(sk));
	if (rc)
		return cli_fail_err(&err);
	fflush(stdout);
	print_stats(&st, cc.json, cc.pretty);
	return EXIT_OK;
}
