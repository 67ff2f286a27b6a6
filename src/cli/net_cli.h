/* SPDX-License-Identifier: MIT */
/* What the net commands share: engine options, loading rules, flow-record output. */
#ifndef VIGIL_CLI_NET_CLI_H
#define VIGIL_CLI_NET_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "cli.h"
#include "vigil/net_engine.h"
#include "vigil/net_rules.h"
#include "vigil/net_switch.h"

#define NET_MAX_LIST 32

struct net_args {
	struct cli_common c;
	const char *rules[NET_MAX_LIST];
	int nrules;
	const char *vars[NET_MAX_LIST], *portvars[NET_MAX_LIST];
	int nvars, nportvars;
	const char *outputs[VG_ALERT_MAX_SINKS];
	int noutputs;
	struct vg_port_spec ports[VG_NET_MAX_PORTS];
	int nports;
	const char *pcap_dir, *flows, *host;
	unsigned long max_flows;
	bool ips, no_dpi, no_inspect, stats;
	char *pos[4];
	int npos;
};

/* Options per command (beyond the engine's, which every command but rules takes). */
enum { NET_OPT_SWITCH = 1, NET_OPT_INSPECT = 2, NET_OPT_RULES = 4 };

/* Parses argv; 0, or EXIT_ERROR after printing the problem (a->c.help on --help). */
int net_parse(int argc, char **argv, unsigned opts, void (*help)(void), struct net_args *a);
/* Loads the rule files (the default when none) and variables into RS; prints problems. */
int net_load_rules(const struct net_args *a, struct vg_net_rules *rs);
/* Opens the flow-record output (NULL when not asked for); LIVE writes whole lines as they
 * come (the switch), otherwise buffered (a capture). Prints problems. */
int net_open_flows(const struct net_args *a, bool live, FILE **out);
void net_write_flow(void *ctx, const struct vg_net_flow_rec *r);
/* Prints a warning line on stderr: "vigil: warning: MSG". */
void net_warn(void *ctx, const char *msg);

int cmd_net_switch(int argc, char **argv);

#endif
