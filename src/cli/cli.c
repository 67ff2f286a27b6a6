// SPDX-License-Identifier: MIT
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f, const char *group, const struct cli_cmd *table)
{
	fprintf(f, "Usage: %s %s%s<command> [options]\n\n", PROG_NAME, group ? group : "",
		group ? " " : "");
	fprintf(f, "Commands:\n");
	for (const struct cli_cmd *c = table; c->name; c++)
		fprintf(f, "  %-12s %s\n", c->name, c->summary);
	fprintf(f, "\nRun '%s %s%s<command> --help' for a command's options.\n", PROG_NAME,
		group ? group : "", group ? " " : "");
}

int cli_dispatch(const char *group, const struct cli_cmd *table, int argc, char **argv)
{
	if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h") ||
	    !strcmp(argv[0], "help")) {
		usage(argc < 1 ? stderr : stdout, group, table);
		return argc < 1 ? EXIT_ERROR : EXIT_OK;
	}
	for (const struct cli_cmd *c = table; c->name; c++)
		if (!strcmp(argv[0], c->name))
			return c->fn(argc, argv);
	fprintf(stderr, "%s: unknown command '%s%s%s'; see '%s %s%s--help'\n", PROG_NAME,
		group ? group : "", group ? " " : "", argv[0], PROG_NAME, group ? group : "",
		group ? " " : "");
	return EXIT_ERROR;
}

int cli_fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", PROG_NAME);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_ERROR;
}

int cli_fail_err(const struct vg_err *err)
{
	return cli_fail("%s", err->code ? err->msg : "unknown error");
}

bool cli_common_opt(int c, struct cli_common *o)
{
	switch (c) {
	case 'j':
		o->json = true;
		return true;
	case 'p':
		o->json = o->pretty = true;
		return true;
	case 'h':
		o->help = true;
		return true;
	default:
		return false;
	}
}

int cli_bad_option(const char *cmd, int argc, char **argv)
{
	const char *what = optind > 0 && optind <= argc ? argv[optind - 1] : "?";

	return cli_fail("%s: unknown option or missing value '%s'; see --help", cmd, what);
}

int cli_parse_common(int argc, char **argv, struct cli_common *co)
{
	static const struct option opts[] = { CLI_COMMON_LONG, { NULL, 0, NULL, 0 } };
	int c;

	*co = (struct cli_common){ 0 };
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1)
		if (!cli_common_opt(c, co))
			return cli_bad_option(argv[0], argc, argv);
	if (!co->help && optind < argc)
		return cli_fail("%s: unexpected argument '%s'", argv[0], argv[optind]);
	return 0;
}
