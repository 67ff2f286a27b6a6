/* SPDX-License-Identifier: MIT */
/*
 * Internal to the `vigil cfa` command group: the commands in cfa_run.c (trace, verify, run)
 * for cfa.c's table, and the option parsing every cfa command shares.
 */
#ifndef VIGIL_CLI_CFA_H
#define VIGIL_CLI_CFA_H

#include <getopt.h>

#include "cli.h"

/* Resets getopt and CO for a command's argv. */
void cfa_getopt_init(struct cli_common *co);
/* getopt_long that takes -j/-p/-h into CO (returning 0 for them), reports an unknown option
 * or a missing value itself and returns -2 then; otherwise getopt_long's value. */
int cfa_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
	       struct cli_common *co);

int cfa_verify(int argc, char **argv);
int cfa_trace(int argc, char **argv);
int cfa_run(int argc, char **argv);

#endif
