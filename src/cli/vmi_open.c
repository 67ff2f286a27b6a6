// SPDX-License-Identifier: MIT
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vmi_open.h"

int vmi_parse(int argc, char **argv, unsigned extra, struct vmi_args *a)
{
	enum { O_SYMBOLS = 256, O_BTF, O_NO_CACHE, O_THREADS, O_FORMAT, O_TTL, O_ALLOW_OTHER };
	static const struct option opts[] = {
		{ "vm", required_argument, NULL, 'v' },
		{ "symbols", required_argument, NULL, O_SYMBOLS },
		{ "btf", required_argument, NULL, O_BTF },
		{ "no-cache", no_argument, NULL, O_NO_CACHE },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "threads", no_argument, NULL, O_THREADS },
		{ "ttl", required_argument, NULL, O_TTL },
		{ "allow-other", no_argument, NULL, O_ALLOW_OTHER },
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "v:jph", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			a->vm = optarg;
			break;
		case O_SYMBOLS:
			a->symbols = optarg;
			break;
		case O_BTF:
			a->btf = optarg;
			break;
		case O_NO_CACHE:
			a->no_cache = true;
			break;
		case O_FORMAT:
			a->format = optarg;
			break;
		case O_THREADS:
			if (!(extra & VMI_OPT_THREADS))
				return cli_fail("%s: unknown option --threads", argv[0]);
			a->threads = true;
			break;
		case O_TTL:
		case O_ALLOW_OTHER:
			if (!(extra & VMI_OPT_VIEW))
				return cli_fail("%s: unknown option %s", argv[0], argv[optind - 1]);
			if (c == O_ALLOW_OTHER)
				a->allow_other = true;
			else if ((a->ttl_ms = atoi(optarg)) <= 0 || a->ttl_ms > 3600000)
				return cli_fail("%s: --ttl is milliseconds from 1 to 3600000",
						argv[0]);
			break;
		case 'j':
			a->json = true;
			break;
		case 'p':
			a->json = a->pretty = true;
			break;
		case 'h':
			a->help = true;
			return 0;
		default:
			return cli_fail("%s: unknown option or missing value '%s'; see --help",
					argv[0], argv[optind - 1]);
		}
	}
	for (; optind < argc; optind++) {
		if (a->npos == (int)(sizeof(a->pos) / sizeof(a->pos[0])))
			return cli_fail("%s: too many arguments", argv[0]);
		a->pos[a->npos++] = argv[optind];
	}
	if (!a->vm)
		return cli_fail("%s: --vm SOURCE is required (a QEMU memory file, ELF core or raw "
				"dump)",
				argv[0]);
	return 0;
}

void vmi_guest_opts(const struct vmi_args *a, struct vg_guest_opts *o)
{
	*o = (struct vg_guest_opts){
		.source = a->vm,
		.format = a->format,
		.symbols = a->symbols,
		.btf = a->btf,
		.no_cache = a->no_cache,
	};
}

int vmi_open(const struct vmi_args *a, struct vg_guest *g)
{
	struct vg_guest_opts o;
	struct vg_err err = { 0 };

	vmi_guest_opts(a, &o);
	if (vg_guest_open(g, &o, &err))
		return cli_fail_err(&err);
	return 0;
}
