/* SPDX-License-Identifier: MIT */
/*
 * Pieces shared by the `vigil sandbox` commands (sandbox.c: the table and `one`;
 * sandbox_run.c: campaigns; sandbox_report.c: CSV, JSON and chart).
 */
#ifndef VIGIL_SANDBOX_CLI_H
#define VIGIL_SANDBOX_CLI_H

#include "vigil/sandbox.h"

#define SBX_DEFAULT_TIMEOUT 10

int sandbox_run(int argc, char **argv);
int sandbox_report(int argc, char **argv);
int sandbox_prepare(int argc, char **argv);

/* Parses a --timeout value (1..3600 s). */
int sandbox_timeout(const char *s, unsigned *out);
/* Loads --scores FILE over the default table (FILE may be NULL). */
int sandbox_scores(const char *file, struct sbx_scores *s);

#endif
