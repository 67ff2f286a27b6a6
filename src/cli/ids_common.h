/* SPDX-License-Identifier: MIT */
/*
 * What the ids commands share: one option parser (scan, baseline, watch and serve take the
 * same guest, policy and baseline options), the resolved configuration (policy + baseline +
 * command-line allowlists merged), and one "look" at the guest: gather, run the checks,
 * compare with the baseline, apply the policy.
 */
#ifndef VIGIL_CLI_IDS_COMMON_H
#define VIGIL_CLI_IDS_COMMON_H

#include "vigil/ids.h"
#include "vigil/ids_baseline.h"
#include "vigil/ids_policy.h"
#include "vigil/ids_text.h"
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
	IDS_OPT_SWITCH = 32, /* --switch-alerts (watch) */
};

struct ids_args {
	struct vmi_args vmi;
	const char *baseline, *policy, *out, *socket;
	const char *switch_alerts; /* watch: listen here for the switch's alerts */
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

struct ids_ctx {
	struct vg_policy policy;
	struct vg_baseline baseline;
	bool have_baseline;
	struct vg_ids_opts io;
	const char *only[IDS_MAX_ONLY + 64];
	char **mods; /* merged module allowlist, NULL-terminated */
	uint16_t *ports;
	size_t nports;
	char last_warning[1024];	 /* the last gather warning, so watch reports each once */
	struct vg_text_cache text_cache; /* verified kernel text between looks */
};

/* Loads the policy and baseline and merges the allowlists; prints and returns EXIT_ERROR. */
int ids_ctx_init(struct ids_ctx *c, const struct ids_args *a);
void ids_ctx_free(struct ids_ctx *c);

/* One look: findings into F (empty on entry). WARN gets gather warnings (may be ""). */
int ids_look(struct vmi_guest *g, struct ids_ctx *c, struct vg_findings *f, char *warn, size_t wlen,
	     struct vg_err *err);

/* Writes an alert for X (EVENT "alert", "resolved" or NULL for scan) as one JSON line. */
char *ids_alert_line(const char *host, const struct vg_finding *x, const char *event, size_t *len);

#endif
