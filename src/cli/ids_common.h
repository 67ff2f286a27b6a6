/* SPDX-License-Identifier: MIT */
/*
 * What the ids commands share: one option parser (scan, baseline, watch and serve take the
 * same guest, policy and baseline options) and loading the configuration they name; the look
 * pipeline itself is the library's (vigil/ids_look.h).
 */
#ifndef VIGIL_CLI_IDS_COMMON_H
#define VIGIL_CLI_IDS_COMMON_H

#include "vigil/ids_look.h"
#include "vmi_open.h"

#define IDS_MAX_ONLY 32
#define IDS_MAX_ALLOW 256
#define IDS_MAX_OUTPUTS 8

/* Options beyond the guest's, by command. */
enum {
	IDS_OPT_CHECKS = 1,  /* --check, --allow-modules, --allow-ports, --policy, --baseline */
	IDS_OPT_OUT = 2,     /* -o FILE */
	IDS_OPT_WATCH = 4,   /* --interval, --output */
	IDS_OPT_SOCKET = 8,  /* --socket */
	IDS_OPT_POLICY = 16, /* --policy alone (baseline) */
};

struct ids_args {
	struct vmi_args vmi;
	const char *baseline, *policy, *out, *socket;
	const char *outputs[IDS_MAX_OUTPUTS];
	int noutputs;
	uint32_t interval_ms; /* 0: policy's or the default */
	const char *only[IDS_MAX_ONLY + 1];
	int nonly;
	char *allow_buf;
	const char *allow[IDS_MAX_ALLOW + 1];
	bool have_allow;
	uint16_t ports[IDS_MAX_ALLOW];
	size_t nports;
	bool help;
};

/* Parses argv for a command that accepts OPTS; prints HELP on --help (a->help set). Returns 0
 * or EXIT_ERROR after printing the problem. */
int ids_parse(int argc, char **argv, unsigned opts, void (*help)(void), struct ids_args *a);
void ids_args_free(struct ids_args *a);

/* The library's setup from the parsed options (borrowing A's strings). */
void ids_setup(const struct ids_args *a, struct vg_ids_setup *s);
/* Loads the configuration A names; prints the problem and returns EXIT_ERROR. */
int ids_config(const struct ids_args *a, struct vg_ids_config *c);

#endif
