// SPDX-License-Identifier: MIT
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vmi_open.h"

bool vmi_guest_opt(int c, const char *arg, struct vmi_args *a)
{
	switch (c) {
	case 'v':
		a->vm = arg;
		return true;
	case VMI_O_SYMBOLS:
		a->symbols = arg;
		return true;
	case VMI_O_BTF:
		a->btf = arg;
		return true;
	case VMI_O_NO_CACHE:
		a->no_cache = true;
		return true;
	case VMI_O_FORMAT:
		a->format = arg;
		return true;
	default:
		return false;
	}
}

int vmi_parse(int argc, char **argv, unsigned extra, struct vmi_args *a)
{
	enum { O_THREADS = 0x100 };
	static const struct option opts[] = {
		VMI_GUEST_LONG,
		{ "threads", no_argument, NULL, O_THREADS },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	struct cli_common co = { 0 };
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, VMI_GUEST_SHORT CLI_COMMON_SHORT, opts, NULL)) != -1) {
		if (vmi_guest_opt(c, optarg, a))
			continue;
		switch (c) {
		case O_THREADS:
			if (!(extra & VMI_OPT_THREADS))
				return cli_fail("%s: unknown option --threads", argv[0]);
			a->threads = true;
			break;
		default:
			if (cli_common_opt(c, &co))
				break;
			return cli_bad_option(argv[0], argc, argv);
		}
		if (co.help) {
			a->help = true;
			return 0;
		}
	}
	a->json = co.json;
	a->pretty = co.pretty;
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
