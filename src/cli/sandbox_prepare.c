// SPDX-License-Identifier: MIT
/*
 * vigil sandbox prepare: downloads and builds the environments' images once (src/sandbox/
 * prepare.c), showing the builders' steps as one progress line on a terminal and as a line
 * each otherwise. Afterwards `sandbox one|run` need no network: they only look for the images.
 * Exit 0 when every environment asked for is ready, 2 otherwise.
 */
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sandbox_cli.h"
#include "vigil/json.h"

static void prepare_help(void)
{
	printf("Usage: %s sandbox prepare [--env ENV]... [-j|-p]\n\n"
	       "Downloads Debian's armhf packages and builds the environments' images into the\n"
	       "cache ($VIGIL_CACHE/sandbox or ~/.cache/vigil/sandbox), once. Runs need the\n"
	       "images and never download: after this, campaigns work without network (e.g. in\n"
	       "'unshare -n'). An image already built from these sources is kept.\n"
	       "  --env ENV   system, container or minimal (repeatable; default all three)\n"
	       "  -j, --json  what was prepared, as JSON; -p indented\n",
	       PROG_NAME);
}

static void step(void *ctx, const char *what, const char *line)
{
	bool tty = *(bool *)ctx;

	if (tty)
		fprintf(stderr, "\r\033[K%s: %s: %.*s", PROG_NAME, what, 100, line);
	else
		fprintf(stderr, "%s: sandbox prepare: %s: %s\n", PROG_NAME, what, line);
}

int sandbox_prepare(int argc, char **argv)
{
	enum { O_ENV = 256 };
	static const struct option opts[] = {
		{ "env", required_argument, NULL, O_ENV },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	const char *envs[SBX_MAX_ENVS];
	struct sbx_prepared out[SBX_MAX_ENVS];
	struct sbx_prepare_opts po = { .envs = envs, .step = step };
	struct cli_common co = { 0 };
	struct vg_err err = { 0 };
	bool tty = isatty(STDERR_FILENO);
	unsigned nout;
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
		switch (c) {
		case O_ENV:
			if (!sbx_env_known(optarg))
				return cli_fail("sandbox prepare: unknown environment '%s'",
						optarg);
			for (unsigned i = 0; i < po.nenvs; i++)
				if (!strcmp(envs[i], optarg))
					return cli_fail("sandbox prepare: --env %s given twice",
							optarg);
			envs[po.nenvs++] = optarg;
			break;
		default:
			if (!cli_common_opt(c, &co))
				return cli_bad_option("sandbox prepare", argc, argv);
		}
	}
	if (co.help) {
		prepare_help();
		return EXIT_OK;
	}
	if (optind < argc)
		return cli_fail("sandbox prepare: unexpected argument '%s'; see --help",
				argv[optind]);
	po.ctx = &tty;
	rc = sbx_prepare(&po, out, &nout, &err);
	if (tty)
		fprintf(stderr, "\r\033[K");
	if (rc)
		return cli_fail("sandbox prepare: %s", err.msg);
	if (co.json) {
		struct vg_json j;

		vg_json_init(&j, stdout, co.pretty);
		vg_json_obj_open(&j);
		vg_json_key(&j, "envs");
		vg_json_arr_open(&j);
		for (unsigned i = 0; i < nout; i++) {
			vg_json_obj_open(&j);
			vg_json_kstr(&j, "env", out[i].env);
			vg_json_kstr(&j, "image", out[i].image);
			vg_json_kdouble(&j, "seconds", out[i].seconds);
			vg_json_obj_close(&j);
		}
		vg_json_arr_close(&j);
		vg_json_obj_close(&j);
		vg_json_end(&j);
		return EXIT_OK;
	}
	for (unsigned i = 0; i < nout; i++)
		printf("%-10s ready  %s (%.1f s)\n", out[i].env, out[i].image, out[i].seconds);
	return EXIT_OK;
}
