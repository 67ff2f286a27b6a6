// SPDX-License-Identifier: MIT
/* Options and configuration shared by the ids commands. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ids_common.h"
#include "vigil/ids_text.h"

static int parse_ports(const char *arg, struct ids_args *a)
{
	const char *p = arg;
	char *end;

	a->nports = 0;
	while (*p) {
		unsigned long v = strtoul(p, &end, 10);

		if (end == p || v == 0 || v > 65535 || (*end && *end != ',') ||
		    a->nports == IDS_MAX_ALLOW)
			return cli_fail("--allow-ports takes up to %d ports like 22,80",
					IDS_MAX_ALLOW);
		a->ports[a->nports++] = (uint16_t)v;
		p = *end ? end + 1 : end;
	}
	return 0;
}

/* Which option needs which command capability; 0 = every ids command. */
static unsigned needs(int c)
{
	switch (c) {
	case 'c':
	case 'A':
	case 'P':
	case 'b':
		return IDS_OPT_CHECKS;
	case 'y':
		return IDS_OPT_CHECKS | IDS_OPT_POLICY;
	case 'o':
		return IDS_OPT_OUT;
	case 'i':
	case 'O':
		return IDS_OPT_WATCH;
	case 'S':
		return IDS_OPT_SOCKET;
	default:
		return 0;
	}
}

int ids_parse(int argc, char **argv, unsigned allowed, void (*help)(void), struct ids_args *a)
{
	static const struct option opts[] = {
		VMI_GUEST_LONG,
		{ "check", required_argument, NULL, 'c' },
		{ "allow-modules", required_argument, NULL, 'A' },
		{ "allow-ports", required_argument, NULL, 'P' },
		{ "baseline", required_argument, NULL, 'b' },
		{ "policy", required_argument, NULL, 'y' },
		{ "output", required_argument, NULL, 'O' },
		{ "interval", required_argument, NULL, 'i' },
		{ "socket", required_argument, NULL, 'S' },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	struct cli_common co = { 0 };
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, VMI_GUEST_SHORT "o:" CLI_COMMON_SHORT, opts, NULL)) !=
	       -1) {
		if (needs(c) && !(needs(c) & allowed))
			return cli_fail("%s: option '%s' does not apply; see --help", argv[0],
					argv[optind - 1]);
		if (vmi_guest_opt(c, optarg, &a->vmi))
			continue;
		switch (c) {
		case 'c':
			if (!vg_ids_check_known(optarg))
				return cli_fail("%s: unknown check '%s'; see 'vigil ids checks'",
						argv[0], optarg);
			if (a->nonly == IDS_MAX_ONLY)
				return cli_fail("%s: too many --check options", argv[0]);
			a->only[a->nonly++] = optarg;
			break;
		case 'A': {
			int n = 0;
			char *sv;

			free(a->allow_buf);
			a->allow_buf = strdup(optarg);
			if (!a->allow_buf)
				return cli_fail("out of memory");
			for (char *t = strtok_r(a->allow_buf, ",", &sv); t && n < IDS_MAX_ALLOW;
			     t = strtok_r(NULL, ",", &sv))
				a->allow[n++] = t;
			a->allow[n] = NULL;
			a->have_allow = true;
			break;
		}
		case 'P':
			if (parse_ports(optarg, a))
				return EXIT_ERROR;
			break;
		case 'b':
			a->baseline = optarg;
			break;
		case 'y':
			a->policy = optarg;
			break;
		case 'o':
			a->out = optarg;
			break;
		case 'O':
			if (a->noutputs == IDS_MAX_OUTPUTS)
				return cli_fail("%s: too many --output options", argv[0]);
			a->outputs[a->noutputs++] = optarg;
			break;
		case 'i':
			if (vg_parse_duration(optarg, &a->interval_ms) || a->interval_ms < 100)
				return cli_fail(
					"%s: --interval takes a duration of at least 100ms, "
					"like 500ms, 2s or 1m",
					argv[0]);
			break;
		case 'S':
			a->socket = optarg;
			break;
		default:
			if (cli_common_opt(c, &co))
				break;
			return cli_bad_option(argv[0], argc, argv);
		}
		if (co.help) {
			help();
			a->help = true;
			return 0;
		}
	}
	a->vmi.json = co.json;
	a->vmi.pretty = co.pretty;
	if (optind < argc)
		return cli_fail("%s: unexpected argument '%s'", argv[0], argv[optind]);
	if (!a->vmi.vm)
		return cli_fail("%s: --vm SOURCE is required", argv[0]);
	if ((allowed & IDS_OPT_OUT) && !a->out)
		return cli_fail("%s: -o FILE is required", argv[0]);
	if ((allowed & IDS_OPT_SOCKET) && !a->socket)
		return cli_fail("%s: --socket PATH is required", argv[0]);
	return 0;
}

void ids_args_free(struct ids_args *a)
{
	free(a->allow_buf);
	a->allow_buf = NULL;
}

void ids_setup(const struct ids_args *a, struct vg_ids_setup *s)
{
	*s = (struct vg_ids_setup){
		.baseline = a->baseline,
		.policy = a->policy,
		.only = a->nonly ? a->only : NULL,
		.allow_modules = a->have_allow ? a->allow : NULL,
		.allow_ports = a->ports,
		.nallow_ports = a->nports,
	};
}

int ids_config(const struct ids_args *a, struct vg_ids_config *c)
{
	struct vg_ids_setup s;
	struct vg_err err = { 0 };

	ids_setup(a, &s);
	if (vg_ids_config_init(c, &s, &err))
		return cli_fail_err(&err);
	return 0;
}
