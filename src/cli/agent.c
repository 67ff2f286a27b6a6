// SPDX-License-Identifier: MIT
/*
 * `vigil agent ...` (also the stand-alone `vigil-agent`, which links only the agent, the
 * secure channel, libbpf, libseccomp and libsodium): record a program's system calls with
 * their call sites and send them to a gateway running `vigil cfa serve`, or into a recording
 * file. Exit 0, 1 when the gateway judged a batch not clean, 2 on error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vigil/agent.h"
#include "vigil/json.h"
#include "vigil/sysbatch.h"
#include "vigil/wire.h"

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

struct agent_args {
	struct cli_common c;
	struct vg_agent_opts o;
	struct vg_wire_keypair key;
	uint8_t gw_pk[VG_WIRE_KEY_LEN];
	bool quiet;
};

static void note(void *ctx, const char *msg)
{
	const struct agent_args *a = ctx;

	if (!a->quiet)
		fprintf(stderr, "%s: %s\n", PROG_NAME, msg);
}

static void usage(const char *cmd)
{
	printf("Usage: %s agent %s [--device ID] [--gateway HOST:PORT --key KEY --gateway-pub "
	       "PUB]\n"
	       "          [-o RECORDING] [--interval MIN_MS:MAX_MS] [--seccomp] [-q] [-j|-p] %s\n\n"
	       "Records a program's system calls (eBPF on raw_syscalls) with the code that made\n"
	       "each one and its call site, folds loops, batches adaptively and sends the batches\n"
	       "to `vigil cfa serve` over the secure channel and/or into RECORDING.\n"
	       "  --device ID        name of this device at the gateway (default: the host name)\n"
	       "  --gateway H:P      the gateway; needs --key (this device's secret key, from\n"
	       "                     `vigil agent keygen`) and --gateway-pub (its public key)\n"
	       "  -o, --record FILE  also write every batch to FILE (created, never overwritten)\n"
	       "  --interval A:B     batch interval in ms: A after news, doubling to B (100:5000)\n"
	       "  --seccomp          record with seccomp user notification instead of eBPF\n"
	       "                     (where eBPF cannot be loaded; much slower; run only)\n"
	       "  -q, --quiet        no warnings on stderr\n",
	       PROG_NAME, cmd, strcmp(cmd, "run") ? "PID" : "-- PROGRAM [ARGS...]");
}

static int parse(int argc, char **argv, struct agent_args *a)
{
	static const struct option lo[] = {
		{ "device", required_argument, NULL, 'D' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "key", required_argument, NULL, 'k' },
		{ "gateway-pub", required_argument, NULL, 'P' },
		{ "record", required_argument, NULL, 'o' },
		{ "interval", required_argument, NULL, 'i' },
		{ "seccomp", no_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	static char host[VG_SB_DEVICE_MAX];
	const char *keyfile = NULL, *pub = NULL;
	struct vg_err err = { 0 };
	bool loose = false;
	int c;

	memset(a, 0, sizeof(*a));
	a->o.note = note;
	a->o.note_ctx = a;
	a->o.stop = &stop_flag;
	optind = 1;
	opterr = 0; /* cli_bad_option says it, once */
	while ((c = getopt_long(argc, argv, "+o:q" CLI_COMMON_SHORT, lo, NULL)) != -1) {
		char *end;

		if (cli_common_opt(c, &a->c))
			continue;
		switch (c) {
		case 'D':
			a->o.device = optarg;
			break;
		case 'g':
			a->o.gateway = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'P':
			pub = optarg;
			break;
		case 'o':
			a->o.record = optarg;
			break;
		case 'i':
			a->o.min_interval_ms = (uint32_t)strtoul(optarg, &end, 10);
			a->o.max_interval_ms = *end == ':' ? (uint32_t)strtoul(end + 1, &end, 10)
							   : a->o.min_interval_ms;
			if (*end || !a->o.min_interval_ms ||
			    a->o.max_interval_ms < a->o.min_interval_ms)
				return cli_fail(
					"agent: --interval wants MIN_MS:MAX_MS, MIN <= MAX");
			break;
		case 's':
			a->o.recorder = VG_AGENT_SECCOMP;
			break;
		case 'q':
			a->quiet = true;
			break;
		default:
			return cli_bad_option("agent", argc, argv);
		}
	}
	if (a->c.help)
		return EXIT_OK;
	if (!a->o.device) {
		if (gethostname(host, sizeof(host) - 1))
			snprintf(host, sizeof(host), "device");
		a->o.device = host;
	}
	if (a->o.gateway) {
		if (!keyfile || !pub)
			return cli_fail("agent: --gateway needs --key and --gateway-pub");
		if (vg_wire_key_read_secret(keyfile, &a->key, &loose, &err) ||
		    vg_wire_key_read_public(pub, a->gw_pk, &err))
			return cli_fail_err(&err);
		if (loose)
			note(a, "warning: the device key can be read by other users");
		a->o.key = &a->key;
		a->o.gateway_pk = a->gw_pk;
	}
	return EXIT_OK;
}

static void report(const struct agent_args *a, const struct vg_agent_stats *st)
{
	static const char *vn[] = { "clean", "anomaly", "violation", "incomplete" };
	double per_byte = st->wire_bytes ? (double)st->syscalls / (double)st->wire_bytes : 0;
	struct vg_json j;

	if (!a->c.json) {
		printf("%llu syscalls (%llu ring records, %llu dropped), %llu batches, %llu bytes "
		       "made, %llu bytes sent; %llu syscall kinds, %llu modules, %llu processes, "
		       "%llu threads\n",
		       (unsigned long long)st->syscalls, (unsigned long long)st->records,
		       (unsigned long long)st->dropped, (unsigned long long)st->batches,
		       (unsigned long long)st->batch_bytes, (unsigned long long)st->wire_bytes,
		       (unsigned long long)st->tokens, (unsigned long long)st->modules,
		       (unsigned long long)st->processes, (unsigned long long)st->threads);
		if (a->o.gateway)
			printf("gateway verdicts: %llu clean, %llu anomaly, %llu violation, %llu "
			       "incomplete\n",
			       (unsigned long long)st->verdicts[0],
			       (unsigned long long)st->verdicts[1],
			       (unsigned long long)st->verdicts[2],
			       (unsigned long long)st->verdicts[3]);
		return;
	}
	vg_json_init(&j, stdout, a->c.pretty);
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "device", a->o.device);
	vg_json_kuint(&j, "syscalls", st->syscalls);
	vg_json_kuint(&j, "ring_records", st->records);
	vg_json_kuint(&j, "dropped", st->dropped);
	vg_json_kuint(&j, "batches", st->batches);
	vg_json_kuint(&j, "batch_bytes", st->batch_bytes);
	vg_json_kuint(&j, "wire_bytes", st->wire_bytes);
	vg_json_kdouble(&j, "syscalls_per_wire_byte", per_byte);
	vg_json_kuint(&j, "tokens", st->tokens);
	vg_json_kuint(&j, "modules", st->modules);
	vg_json_kuint(&j, "processes", st->processes);
	vg_json_kuint(&j, "threads", st->threads);
	vg_json_kuint(&j, "reconnects", st->reconnects);
	vg_json_kuint(&j, "acked", st->acked);
	vg_json_key(&j, "verdicts");
	vg_json_obj_open(&j);
	for (int i = 0; i < 4; i++)
		vg_json_kuint(&j, vn[i], st->verdicts[i]);
	vg_json_obj_close(&j);
	vg_json_kint(&j, "exit_status", st->exit_status);
	vg_json_obj_close(&j);
	vg_json_end(&j);
}

static int finish(const struct agent_args *a, const struct vg_agent_stats *st)
{
	report(a, st);
	fflush(stdout);
	return st->verdicts[1] + st->verdicts[2] + st->verdicts[3] ? EXIT_FINDINGS : EXIT_OK;
}

static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int cmd_run(int argc, char **argv)
{
	struct agent_args a;
	struct vg_agent_stats st;
	struct vg_err err = { 0 };
	int r = parse(argc, argv, &a);

	if (r)
		return r;
	if (a.c.help) {
		usage("run");
		return EXIT_OK;
	}
	if (optind >= argc)
		return cli_fail("agent run: no program given (-- PROGRAM [ARGS...])");
	catch_signals();
	if (vg_agent_run(&a.o, argv + optind, &st, &err))
		return cli_fail_err(&err);
	return finish(&a, &st);
}

static int cmd_attach(int argc, char **argv)
{
	struct agent_args a;
	struct vg_agent_stats st;
	struct vg_err err = { 0 };
	char *end;
	long pid;
	int r = parse(argc, argv, &a);

	if (r)
		return r;
	if (a.c.help) {
		usage("attach");
		return EXIT_OK;
	}
	if (optind != argc - 1)
		return cli_fail("agent attach: give exactly one PID");
	pid = strtol(argv[optind], &end, 10);
	if (*end || pid <= 0)
		return cli_fail("agent attach: '%s' is not a process id", argv[optind]);
	catch_signals();
	if (vg_agent_attach(&a.o, (pid_t)pid, &st, &err))
		return cli_fail_err(&err);
	return finish(&a, &st);
}

static int cmd_keygen(int argc, char **argv)
{
	static const struct option lo[] = { { "output", required_argument, NULL, 'o' },
					    CLI_COMMON_LONG,
					    { NULL, 0, NULL, 0 } };
	char pubpath[4096], b64[VG_WIRE_KEY_B64_LEN + 1];
	struct vg_wire_keypair kp;
	struct cli_common cc = { 0 };
	struct vg_err err = { 0 };
	const char *out = NULL;
	int c, fd;

	optind = 1;
	opterr = 0; /* cli_bad_option says it, once */
	while ((c = getopt_long(argc, argv, "o:" CLI_COMMON_SHORT, lo, NULL)) != -1) {
		if (cli_common_opt(c, &cc))
			continue;
		if (c != 'o')
			return cli_bad_option("agent keygen", argc, argv);
		out = optarg;
	}
	if (cc.help) {
		printf("Usage: %s agent keygen -o KEY\n  Writes a secure-channel key pair: KEY "
		       "(secret, 0600) and KEY.pub (base64), for a device or a gateway.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	if (!out || optind != argc)
		return cli_fail("agent keygen: usage: -o KEY");
	vg_wire_keypair_new(&kp);
	if (vg_wire_key_write_secret(out, &kp, &err))
		return cli_fail_err(&err);
	snprintf(pubpath, sizeof(pubpath), "%s.pub", out);
	vg_wire_key_encode(kp.pk, b64);
	fd = open(pubpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	strcat(b64, "\n");
	if (fd < 0 || write(fd, b64, strlen(b64)) != (ssize_t)strlen(b64)) {
		if (fd >= 0)
			close(fd);
		return cli_fail("%s: %s", pubpath, strerror(errno));
	}
	close(fd);
	if (cc.json)
		printf("{\"key\":\"%s\",\"public\":\"%.44s\"}\n", out, b64);
	else
		printf("%s", b64);
	return EXIT_OK;
}

static int cmd_check(int argc, char **argv)
{
	struct vg_err err = { 0 };
	struct cli_common cc = { 0 };
	int r;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			cc.json = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			cc.help = true;
		else
			return cli_fail("agent check: unexpected argument '%s'", argv[i]);
	if (cc.help) {
		printf("Usage: %s agent check [-j]\n  Says whether the eBPF recorder can run here "
		       "(exit 0) or why not (exit 1).\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	r = vg_agent_probe(&err);
	if (cc.json) {
		struct vg_json j;

		vg_json_init(&j, stdout, false);
		vg_json_obj_open(&j);
		vg_json_kbool(&j, "ebpf", r == 0);
		vg_json_kstr(&j, "recorder", r ? "seccomp" : "ebpf");
		if (r)
			vg_json_kstr(&j, "reason", err.msg);
		vg_json_obj_close(&j);
		vg_json_end(&j);
	} else if (r) {
		printf("eBPF recording is not available: %s\n", err.msg);
	} else {
		printf("eBPF recording works here (raw_syscalls and sched tracepoints, ring "
		       "buffer)\n");
	}
	return r ? EXIT_FINDINGS : EXIT_OK;
}

static const struct cli_cmd agent_cmds[] = {
	{ "run", cmd_run, "start a program and record its system calls with call sites" },
	{ "attach", cmd_attach, "record a running process from now on" },
	{ "keygen", cmd_keygen, "make a secure-channel key pair for a device or a gateway" },
	{ "check", cmd_check, "say whether eBPF recording works here (else use --seccomp)" },
	{ NULL, NULL, NULL },
};

int cmd_agent(int argc, char **argv)
{
	return cli_dispatch("agent", agent_cmds, argc - 1, argv + 1);
}
