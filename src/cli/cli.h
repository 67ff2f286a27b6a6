/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of the vigil command line: the group entry points called from main.c's table
 * and the output helpers every command uses, so human and JSON output come from one code path
 * (bpftool's model) and errors are one line on stderr with exit status 2 (DESIGN.md §5).
 */
#ifndef VIGIL_CLI_H
#define VIGIL_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "vigil/err.h"

#define PROG_NAME "vigil"

enum { EXIT_OK = 0, EXIT_FINDINGS = 1, EXIT_ERROR = 2 };

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv); /* argv[0] is the command's own name */
	const char *summary;		  /* one line for the group's help table */
};

/* Runs the command named by argv[0] from TABLE, or prints the table for --help/no command.
 * GROUP is the group's name for usage lines. */
int cli_dispatch(const char *group, const struct cli_cmd *table, int argc, char **argv);

/*
 * The options every command takes, parsed the same way everywhere: -j/--json (JSON output),
 * -p/--pretty (indented JSON, implies -j), -h/--help. Put CLI_COMMON_SHORT in the getopt
 * string and CLI_COMMON_LONG in the option table; cli_common_opt() takes the three.
 */
#define CLI_COMMON_SHORT "jph"
#define CLI_COMMON_LONG                                                           \
	{ "json", no_argument, NULL, 'j' }, { "pretty", no_argument, NULL, 'p' }, \
	{                                                                         \
		"help", no_argument, NULL, 'h'                                    \
	}

struct cli_common {
	bool json, pretty, help;
};

/* Records C when it is one of the common options; false for any other. */
bool cli_common_opt(int c, struct cli_common *o);
/* Parses the arguments of a command that takes only the common options and no operands;
 * 0, or EXIT_ERROR after printing the problem. */
int cli_parse_common(int argc, char **argv, struct cli_common *co);
/* The "unknown option or missing value" error for getopt's '?' and ':' (exit status 2). */
int cli_bad_option(const char *cmd, int argc, char **argv);

/* Prints "vigil: <msg>" on stderr and returns EXIT_ERROR. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_fail_err(const struct vg_err *err);

/* Group entry points. */
int cmd_vmi(int argc, char **argv);
int cmd_ids(int argc, char **argv);
int cmd_cfa(int argc, char **argv);
int cmd_sandbox(int argc, char **argv);
int cmd_broker(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_proxy(int argc, char **argv);
int cmd_net(int argc, char **argv);
int cmd_disk(int argc, char **argv);
int cmd_agent(int argc, char **argv);

#endif
