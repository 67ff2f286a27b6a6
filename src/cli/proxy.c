// SPDX-License-Identifier: MIT
/*
 * vigil proxy: run an essential service with its network system calls executed in another
 * domain (run), and tell what the kernel offers for it (probe). `run` exits with the
 * program's own status (128+N when a signal N ended it), 2 when the proxy could not run it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"
#include "vigil/json.h"
#include "vigil/proxy.h"

static void run_help(void)
{
	printf("Usage: %s proxy run [--mode fd|data] [--domain PID | --netns PATH]\n"
	       "       [--exec-netns PATH] [--no-sync-wakeup] [--report FILE [-j|-p]] -- PROGRAM "
	       "[ARGS...]\n\n"
	       "Runs PROGRAM with its Internet sockets executed by an executor in another network\n"
	       "namespace, so its communication exists only there (docs/proxy.md).\n"
	       "  --mode fd|data     fd: the real socket is installed into PROGRAM (fast; hidden\n"
	       "                     from its network namespace only); data (default): PROGRAM\n"
	       "                     holds no socket at all, every call is emulated\n"
	       "  --domain PID       run PROGRAM in the network, mount and pid namespaces of PID\n"
	       "  --netns PATH       run PROGRAM in this network namespace (e.g. /run/netns/NAME)\n"
	       "  --exec-netns PATH  the executor's network namespace (default: vigil's own)\n"
	       "  --no-sync-wakeup   leave the kernel's default notification wake-up\n"
	       "  --report FILE      write what the proxy did when PROGRAM ends (-j: as JSON)\n",
	       PROG_NAME);
}

static int write_report(const char *path, const struct cli_common *co, const char *mode,
			const struct vg_proxy_stats *st, int status)
{
	FILE *f = fopen(path, "w");
	struct vg_json j;

	if (!f)
		return cli_fail("proxy run: cannot write %s: %s", path, strerror(errno));
	if (co->json) {
		vg_json_init(&j, f, co->pretty);
		vg_json_obj_open(&j);
		vg_json_kstr(&j, "mode", mode);
		vg_json_kuint(&j, "notifications", st->notifications);
		vg_json_kuint(&j, "emulated", st->emulated);
		vg_json_kuint(&j, "continued", st->continued);
		vg_json_kuint(&j, "refused", st->refused);
		vg_json_kuint(&j, "sockets", st->sockets);
		vg_json_kuint(&j, "bytes_out", st->bytes_out);
		vg_json_kuint(&j, "bytes_in", st->bytes_in);
		vg_json_kuint(&j, "executor_restarts", st->exec_restarts);
		vg_json_kbool(&j, "sync_wakeup", st->sync_wakeup);
		vg_json_kint(&j, "exit_status", status);
		vg_json_obj_close(&j);
		vg_json_end(&j);
	} else {
		fprintf(f,
			"mode %s\nnotifications %llu\nemulated %llu\ncontinued %llu\nrefused %llu\n"
			"sockets %llu\nbytes_out %llu\nbytes_in %llu\nexecutor_restarts %llu\n"
			"sync_wakeup %s\nexit_status %d\n",
			mode, (unsigned long long)st->notifications,
			(unsigned long long)st->emulated, (unsigned long long)st->continued,
			(unsigned long long)st->refused, (unsigned long long)st->sockets,
			(unsigned long long)st->bytes_out, (unsigned long long)st->bytes_in,
			(unsigned long long)st->exec_restarts, st->sync_wakeup ? "yes" : "no",
			status);
	}
	if (fclose(f))
		return cli_fail("proxy run: writing %s: %s", path, strerror(errno));
	return 0;
}

static int do_run(int argc, char **argv)
{
	enum { O_MODE = 256, O_DOMAIN, O_NETNS, O_EXEC_NETNS, O_NO_SYNC, O_REPORT };
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, O_MODE },
		{ "domain", required_argument, NULL, O_DOMAIN },
		{ "netns", required_argument, NULL, O_NETNS },
		{ "exec-netns", required_argument, NULL, O_EXEC_NETNS },
		{ "no-sync-wakeup", no_argument, NULL, O_NO_SYNC },
		{ "report", required_argument, NULL, O_REPORT },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	struct vg_proxy_opts o = { .mode = VG_PROXY_DATA, .sync_wakeup = true };
	struct vg_proxy_stats st;
	struct cli_common co = { 0 };
	struct vg_err err = { 0 };
	const char *report = NULL, *mode = "data";
	int c, status = 0, code;
	char *end;

	optind = 1;
	opterr = 0;
	/* '+': PROGRAM's own options are not ours */
	while ((c = getopt_long(argc, argv, "+" CLI_COMMON_SHORT, opts, NULL)) != -1) {
		if (cli_common_opt(c, &co))
			continue;
		switch (c) {
		case O_MODE:
			if (strcmp(optarg, "fd") && strcmp(optarg, "data"))
				return cli_fail("proxy run: --mode takes fd or data");
			mode = optarg;
			o.mode = strcmp(optarg, "fd") ? VG_PROXY_DATA : VG_PROXY_FD;
			break;
		case O_DOMAIN:
			o.domain_pid = (pid_t)strtol(optarg, &end, 10);
			if (end == optarg || *end || o.domain_pid <= 0)
				return cli_fail("proxy run: --domain takes a process id");
			break;
		case O_NETNS:
			o.netns = optarg;
			break;
		case O_EXEC_NETNS:
			o.exec_netns = optarg;
			break;
		case O_NO_SYNC:
			o.sync_wakeup = false;
			break;
		case O_REPORT:
			report = optarg;
			break;
		default:
			return cli_bad_option("proxy run", argc, argv);
		}
	}
	if (co.help) {
		run_help();
		return EXIT_OK;
	}
	if (o.domain_pid && o.netns)
		return cli_fail("proxy run: --domain and --netns exclude each other");
	if (optind >= argc)
		return cli_fail("proxy run: no PROGRAM given; see --help");
	o.argv = argv + optind;
	if (vg_proxy_run(&o, &status, &st, &err))
		return cli_fail_err(&err);
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (report && write_report(report, &co, mode, &st, code))
		return EXIT_ERROR;
	return code;
}

static int do_probe(int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_LONG, { NULL, 0, NULL, 0 } };
	struct cli_common co = { 0 };
	struct vg_proxy_probe p;
	struct vg_err err = { 0 };
	struct vg_json j;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1)
		if (!cli_common_opt(c, &co))
			return cli_bad_option("proxy probe", argc, argv);
	if (co.help) {
		printf("Usage: %s proxy probe [-j|-p]\n\nWhat this kernel offers the proxy: "
		       "seccomp user notification, ADDFD (fd mode),\nsynchronous wake-up.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	if (optind < argc)
		return cli_fail("proxy probe: unexpected argument '%s'", argv[optind]);
	if (vg_proxy_probe(&p, &err))
		return cli_fail_err(&err);
	if (co.json) {
		vg_json_init(&j, stdout, co.pretty);
		vg_json_obj_open(&j);
		vg_json_kbool(&j, "user_notification", p.unotify);
		vg_json_kbool(&j, "addfd", p.addfd);
		vg_json_kbool(&j, "sync_wakeup", p.sync_wakeup);
		vg_json_obj_close(&j);
		vg_json_end(&j);
	} else {
		printf("user notification  %s\n", p.unotify ? "yes" : "no");
		printf("addfd (fd mode)    %s\n", p.addfd ? "yes" : "no");
		printf("sync wake-up       %s\n", p.sync_wakeup ? "yes" : "no");
	}
	return EXIT_OK;
}

int cmd_proxy(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "run", do_run,
		  "run a program with its network calls executed in another domain" },
		{ "probe", do_probe, "what this kernel offers the proxy" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch("proxy", cmds, argc - 1, argv + 1);
}
