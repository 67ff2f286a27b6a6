// SPDX-License-Identifier: MIT
/*
 * vigil net switch: opens the ports and the engine, runs until SIGINT/SIGTERM (SIGHUP reopens
 * file outputs), then ends every flow (flow records) and prints each port's counters on
 * stderr (JSON with -j).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "net_cli.h"
#include "net/net_paths.h"
#include "vigil/json.h"

static volatile sig_atomic_t stop_flag, reopen_flag;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reopen_flag = 1;
	else
		stop_flag = 1;
}

static void switch_help(void)
{
	printf("Usage: %s net switch --port NAME=[stream:|dgram:]PATH... [--uplink SPEC]\n"
	       "       [--rules FILE]... [--var NAME=VALUE]... [--portvar NAME=VALUE]... [--ips]\n"
	       "       [--output SINK]... [--pcap-dir DIR] [--flows FILE] [--max-flows N]\n"
	       "       [--no-dpi] [--no-inspect] [--host NAME] [-j]\n\n"
	       "A learning L2 switch for QEMU guests (no root, no tap) that inspects every frame\n"
	       "and raises alerts (source \"switch\"). A guest plugs into port NAME with\n"
	       "  -netdev stream,id=n0,server=off,addr.type=unix,addr.path=PATH "
	       "-device e1000,netdev=n0\n"
	       "or, for a dgram port,\n"
	       "  -netdev dgram,id=n0,local.type=unix,local.path=OWN,remote.type=unix,"
	       "remote.path=PATH\n"
	       "  --port SPEC      a guest port (repeatable, up to %d)\n"
	       "  --uplink SPEC    tap:IFNAME (a host tap) or netns:NS[:IFNAME] (a tap inside\n"
	       "                   network namespace NS, default IFNAME vigil0); needs root\n"
	       "  --rules FILE     rule file (repeatable; default %s)\n"
	       "  --var/--portvar  set a rule variable, e.g. --var HOME_NET=[10.0.0.0/24]\n"
	       "  --ips            drop the frames of flagged flows and block scanning or\n"
	       "                   brute-forcing sources (default: alert only)\n"
	       "  --output SINK    where alerts go: stdout (default), file:PATH, syslog,\n"
	       "                   unix:PATH; repeatable\n"
	       "  --pcap-dir DIR   each flagged flow's frames in a pcap of its own\n"
	       "  --flows FILE     append flow records (JSON lines)\n"
	       "  --no-inspect     a plain switch: no engine at all\n"
	       "  --host NAME      the alerts' host field (default: switch)\n"
	       "SIGINT/SIGTERM stop; SIGHUP reopens file outputs.\n",
	       PROG_NAME, VG_NET_MAX_PORTS, VG_NET_DEFAULT_RULES);
}

/* Alerts go to the sinks; a SIGHUP since the last one reopens file sinks first (logrotate). */
static void emit_alert(void *ctx, const struct vg_alert *al)
{
	struct vg_alerter *w = ctx;

	if (reopen_flag) {
		reopen_flag = 0;
		vg_alerter_reopen(w);
	}
	vg_alerter_emit(w, al);
}

static void port_stats(struct vg_switch *sw, const struct net_args *a)
{
	struct vg_json j;

	if (a->c.json) {
		vg_json_init(&j, stderr, a->c.pretty);
		vg_json_arr_open(&j);
	}
	for (int i = 0; i < a->nports; i++) {
		const struct vg_port_stats *s = vg_switch_port_stats(sw, i);

		if (!a->c.json) {
			fprintf(stderr,
				"port %-12s rx %llu tx %llu dropped %llu lost %llu bad %llu "
				"connects %u\n",
				a->ports[i].name, (unsigned long long)s->rx,
				(unsigned long long)s->tx, (unsigned long long)s->dropped,
				(unsigned long long)s->tx_lost, (unsigned long long)s->bad,
				s->connects);
			continue;
		}
		vg_json_obj_open(&j);
		vg_json_kstr(&j, "port", a->ports[i].name);
		vg_json_kuint(&j, "rx", s->rx);
		vg_json_kuint(&j, "tx", s->tx);
		vg_json_kuint(&j, "rx_bytes", s->rx_bytes);
		vg_json_kuint(&j, "tx_bytes", s->tx_bytes);
		vg_json_kuint(&j, "dropped", s->dropped);
		vg_json_kuint(&j, "lost", s->tx_lost);
		vg_json_kuint(&j, "bad", s->bad);
		vg_json_kuint(&j, "connects", s->connects);
		vg_json_obj_close(&j);
	}
	if (a->c.json) {
		vg_json_arr_close(&j);
		vg_json_end(&j);
	}
}

static int open_engine(const struct net_args *a, struct vg_net_rules *rs,
		       struct vg_alerter *alerter, FILE *flows, struct vg_net_engine **e)
{
	struct vg_net_engine_opts o = {
		.ips = a->ips,
		.no_dpi = a->no_dpi,
		.max_flows = (uint32_t)a->max_flows,
		.pcap_dir = a->pcap_dir,
		.on_alert = emit_alert,
		.alert_ctx = alerter,
		.on_flow = flows ? net_write_flow : NULL,
		.flow_ctx = flows,
	};
	struct vg_err err = { 0 };

	*e = NULL;
	if (a->no_inspect)
		return 0;
	if (vg_net_engine_open(e, rs, &o, &err))
		return cli_fail_err(&err);
	if (vg_net_engine_warning(*e)[0])
		net_warn(NULL, vg_net_engine_warning(*e));
	if (rs->skipped)
		fprintf(stderr, "%s: warning: %u rule(s) were skipped (see 'vigil net rules')\n",
			PROG_NAME, rs->skipped);
	return 0;
}

static void note(void *ctx, const char *msg)
{
	fprintf(stderr, "%s: %s\n", PROG_NAME, msg);
}

static int run(const struct net_args *a, struct vg_net_engine *e)
{
	struct vg_switch_opts so = {
		.ports = a->ports, .nports = a->nports, .engine = e, .note = note
	};
	struct vg_switch *sw;
	struct vg_err err = { 0 };
	struct sigaction sa = { 0 };
	int rc = EXIT_OK;

	if (vg_switch_open(&sw, &so, &err))
		return cli_fail_err(&err);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "%s: switch up: %d ports%s\n", PROG_NAME, a->nports,
		e ? (a->ips ? ", inspecting (IPS)" : ", inspecting (IDS)") : ", no inspection");
	if (vg_switch_run(sw, &stop_flag, &err))
		rc = cli_fail_err(&err);
	if (e)
		vg_net_engine_finish(e);
	port_stats(sw, a);
	vg_switch_close(sw);
	return rc;
}

int cmd_net_switch(int argc, char **argv)
{
	struct vg_alerter alerter = { 0 };
	struct vg_net_engine *e = NULL;
	struct vg_net_rules rs = { 0 };
	struct vg_err err = { 0 };
	struct sigaction sa = { 0 };
	struct net_args a;
	FILE *flows = NULL;
	int rc;

	if (net_parse(argc, argv, NET_OPT_SWITCH, switch_help, &a))
		return EXIT_ERROR;
	if (a.c.help)
		return EXIT_OK;
	if (a.npos)
		return cli_fail("switch: unexpected argument '%s'", a.pos[0]);
	if (!a.nports)
		return cli_fail("switch: at least one --port NAME=PATH is required");
	if (a.no_inspect && (a.ips || a.pcap_dir || a.flows || a.nrules))
		return cli_fail("switch: --no-inspect leaves no engine for --ips, --rules, "
				"--pcap-dir or --flows");
	if (!a.no_inspect && net_load_rules(&a, &rs))
		return EXIT_ERROR;
	rc = net_open_flows(&a, true, &flows);
	if (rc)
		goto out_rules;
	if (vg_alerter_open(&alerter, a.host ? a.host : "switch", a.outputs, a.noutputs, &err)) {
		rc = cli_fail_err(&err);
		goto out_flows;
	}
	alerter.warn = net_warn;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	rc = open_engine(&a, &rs, &alerter, flows, &e);
	if (!rc)
		rc = run(&a, e);
	vg_net_engine_close(e);
	vg_alerter_close(&alerter);
out_flows:
	if (flows && flows != stdout)
		fclose(flows);
out_rules:
	if (!a.no_inspect)
		vg_net_rules_free(&rs);
	return rc;
}
