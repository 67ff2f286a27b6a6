// SPDX-License-Identifier: MIT
/*
 * vigil broker: the memory broker beside QEMU (src/broker). `run` serves the guests its
 * configuration names to the clients it allows; `check` reads the configuration and says what
 * it would serve, so a typo is found before a client is refused.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "vigil/broker.h"
#include "vigil/clock.h"
#include "vigil/json.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

struct broker_args {
	struct cli_common co;
	const char *config, *listen, *key;
	int max_clients;
};

static void help(const char *cmd)
{
	printf("Usage: %s broker %s --config FILE%s\n\n", PROG_NAME, cmd,
	       strcmp(cmd, "run") ? " [-j|-p]"
				  : " [--listen HOST:PORT] [--key FILE] [--max-clients N]");
	if (!strcmp(cmd, "run"))
		printf("Serves the memory of the guests FILE names, read-only, to the clients each "
		       "guest allows,\nover vigil's secure channel (docs/broker.md). One line per "
		       "connection on stderr.\n"
		       "  --listen HOST:PORT  overrides [broker] listen\n"
		       "  --key FILE          overrides [broker] key (the broker's secret key)\n"
		       "  --max-clients N     concurrent sessions (default 64)\n");
	else
		printf("Reads FILE and lists each guest, its memory file and how many keys may "
		       "read "
		       "it;\nexit 2 when FILE is invalid.\n");
}

static int parse(int argc, char **argv, struct broker_args *a)
{
	enum { O_LISTEN = 256, O_KEY, O_MAX };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "key", required_argument, NULL, O_KEY },
		{ "max-clients", required_argument, NULL, O_MAX },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	bool run = !strcmp(argv[0], "run");
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:" CLI_COMMON_SHORT, opts, NULL)) != -1) {
		if (cli_common_opt(c, &a->co))
			continue;
		if (c == 'c')
			a->config = optarg;
		else if (c == O_LISTEN && run)
			a->listen = optarg;
		else if (c == O_KEY && run)
			a->key = optarg;
		else if (c == O_MAX && run && (a->max_clients = atoi(optarg)) > 0)
			continue;
		else
			return cli_bad_option(argv[0], argc, argv);
	}
	if (a->co.help)
		return 0;
	if (optind < argc)
		return cli_fail("%s: unexpected argument '%s'", argv[0], argv[optind]);
	if (!a->config)
		return cli_fail("%s: --config FILE is required", argv[0]);
	return 0;
}

static void log_line(void *ctx, const char *msg)
{
	char ts[VG_RFC3339_LEN];

	(void)ctx;
	vg_rfc3339_now(ts, sizeof(ts));
	fprintf(stderr, "%s broker: %s\n", ts, msg);
}

static int do_run(int argc, char **argv)
{
	struct broker_args a;
	struct vg_broker_config cfg;
	struct vg_wire_keypair kp;
	struct vg_err err = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	char host[256], port[16], b64[VG_WIRE_KEY_B64_LEN];
	const char *listen_at, *key;
	bool loose = false;
	int fd, rc;

	if (parse(argc, argv, &a))
		return EXIT_ERROR;
	if (a.co.help) {
		help("run");
		return EXIT_OK;
	}
	if (sodium_init() < 0)
		return cli_fail("broker: libsodium could not be initialised");
	if (vg_broker_config_load(&cfg, a.config, &err))
		return cli_fail_err(&err);
	listen_at = a.listen ? a.listen : cfg.listen;
	key = a.key ? a.key : cfg.key;
	if (!listen_at || !key) {
		vg_broker_config_free(&cfg);
		return cli_fail("broker run: no %s (set it in [broker] or with --%s)",
				listen_at ? "key" : "listen address", listen_at ? "key" : "listen");
	}
	if (vg_wire_split_hostport(listen_at, host, sizeof(host), port, sizeof(port))) {
		vg_broker_config_free(&cfg);
		return cli_fail("broker run: listen address '%s' is not HOST:PORT", listen_at);
	}
	if (vg_wire_key_read_secret(key, &kp, &loose, &err) ||
	    (loose && vg_errf(&err, EPERM,
			      "%s: the secret key can be read by others (chmod 600 it)", key))) {
		vg_broker_config_free(&cfg);
		return cli_fail_err(&err);
	}
	fd = vg_wire_listen(host, port, &err);
	if (fd < 0) {
		sodium_memzero(&kp, sizeof(kp));
		vg_broker_config_free(&cfg);
		return cli_fail_err(&err);
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	vg_wire_key_encode(kp.pk, b64);
	fprintf(stderr, "%s: broker listening on %s, public key %s, %zu guest%s\n", PROG_NAME,
		listen_at, b64, cfg.nvms, cfg.nvms == 1 ? "" : "s");
	fflush(stderr);
	struct vg_broker_opts o = {
		.cfg = &cfg,
		.kp = &kp,
		.max_clients = a.max_clients,
		.stop = &stop_flag,
		.log = log_line,
	};
	rc = vg_broker_serve(fd, &o, &err) ? cli_fail_err(&err) : EXIT_OK;
	close(fd);
	sodium_memzero(&kp, sizeof(kp));
	vg_broker_config_free(&cfg);
	return rc;
}

static int do_check(int argc, char **argv)
{
	struct broker_args a;
	struct vg_broker_config cfg;
	struct vg_err err = { 0 };
	struct vg_json j;

	if (parse(argc, argv, &a))
		return EXIT_ERROR;
	if (a.co.help) {
		help("check");
		return EXIT_OK;
	}
	if (vg_broker_config_load(&cfg, a.config, &err))
		return cli_fail_err(&err);
	if (a.co.json) {
		vg_json_init(&j, stdout, a.co.pretty);
		vg_json_obj_open(&j);
		vg_json_kstr(&j, "listen", cfg.listen ? cfg.listen : "");
		vg_json_kstr(&j, "key", cfg.key ? cfg.key : "");
		vg_json_key(&j, "guests");
		vg_json_arr_open(&j);
	} else {
		printf("listen %s, key %s\n%-20s %-6s %-5s %s\n", cfg.listen ? cfg.listen : "-",
		       cfg.key ? cfg.key : "-", "GUEST", "KEYS", "FILE", "MEMORY");
	}
	for (size_t i = 0; i < cfg.nvms; i++) {
		const struct vg_broker_vm *vm = &cfg.vms[i];
		bool there = access(vm->memory, R_OK) == 0;

		if (a.co.json) {
			vg_json_obj_open(&j);
			vg_json_kstr(&j, "name", vm->name);
			vg_json_kstr(&j, "memory", vm->memory);
			vg_json_kstr(&j, "format", vm->format ? vm->format : "");
			vg_json_kuint(&j, "keys", vm->nallow);
			vg_json_kbool(&j, "readable", there);
			vg_json_obj_close(&j);
		} else {
			printf("%-20s %-6zu %-5s %s\n", vm->name, vm->nallow, there ? "ok" : "gone",
			       vm->memory);
		}
	}
	if (a.co.json) {
		vg_json_arr_close(&j);
		vg_json_obj_close(&j);
		vg_json_end(&j);
	}
	vg_broker_config_free(&cfg);
	return EXIT_OK;
}

static const struct cli_cmd broker_cmds[] = {
	{ "run", do_run, "serve the configured guests' memory to the clients each allows" },
	{ "check", do_check, "read a configuration and list what it would serve" },
	{ NULL, NULL, NULL },
};

int cmd_broker(int argc, char **argv)
{
	return cli_dispatch("broker", broker_cmds, argc - 1, argv + 1);
}
