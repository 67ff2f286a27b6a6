// SPDX-License-Identifier: MIT
/*
 * vigil net: the virtual switch (net_switch.c), offline inspection of captures with the same
 * engine, and a look at what a rule file holds. Alerts are the one schema's JSON lines (-j) or
 * a table; `inspect` exits 1 when it raised alerts.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "net_cli.h"
#include "net/net_paths.h"
#include "vigil/json.h"
#include "vigil/clock.h"
#include "vigil/net_io.h"

int net_parse(int argc, char **argv, unsigned opts, void (*help)(void), struct net_args *a)
{
	enum {
		O_RULES = 256,
		O_VAR,
		O_PORTVAR,
		O_IPS,
		O_NO_DPI,
		O_PCAP_DIR,
		O_FLOWS,
		O_MAX_FLOWS,
		O_PORT,
		O_UPLINK,
		O_OUTPUT,
		O_NO_INSPECT,
		O_HOST,
		O_STATS
	};
	static const struct option lo[] = {
		{ "rules", required_argument, NULL, O_RULES },
		{ "var", required_argument, NULL, O_VAR },
		{ "portvar", required_argument, NULL, O_PORTVAR },
		{ "ips", no_argument, NULL, O_IPS },
		{ "no-dpi", no_argument, NULL, O_NO_DPI },
		{ "pcap-dir", required_argument, NULL, O_PCAP_DIR },
		{ "flows", required_argument, NULL, O_FLOWS },
		{ "max-flows", required_argument, NULL, O_MAX_FLOWS },
		{ "port", required_argument, NULL, O_PORT },
		{ "uplink", required_argument, NULL, O_UPLINK },
		{ "output", required_argument, NULL, O_OUTPUT },
		{ "no-inspect", no_argument, NULL, O_NO_INSPECT },
		{ "host", required_argument, NULL, O_HOST },
		{ "stats", no_argument, NULL, O_STATS },
		CLI_COMMON_LONG,
		{ NULL, 0, NULL, 0 },
	};
	struct vg_err err = { 0 };
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, lo, NULL)) != -1) {
		bool sw = opts & NET_OPT_SWITCH, engine = !(opts & NET_OPT_RULES);
		char *end;

		if (cli_common_opt(c, &a->c))
			continue;
		if ((c == O_PORT || c == O_UPLINK || c == O_OUTPUT || c == O_NO_INSPECT ||
		     c == O_HOST) &&
		    !sw)
			return cli_fail("%s: option '%s' is for 'net switch'", argv[0],
					argv[optind - 1]);
		if ((c == O_IPS || c == O_NO_DPI || c == O_PCAP_DIR || c == O_FLOWS ||
		     c == O_MAX_FLOWS) &&
		    !engine)
			return cli_fail("%s: option '%s' does not apply; see --help", argv[0],
					argv[optind - 1]);
		if (c == O_STATS && !(opts & NET_OPT_INSPECT))
			return cli_fail("%s: --stats is for 'net inspect'", argv[0]);
		switch (c) {
		case O_RULES:
		case O_VAR:
		case O_PORTVAR: {
			const char **l = c == O_RULES ? a->rules
					 : c == O_VAR ? a->vars
						      : a->portvars;
			int *n = c == O_RULES ? &a->nrules : c == O_VAR ? &a->nvars : &a->nportvars;

			if (*n == NET_MAX_LIST)
				return cli_fail("%s: too many '%s' options", argv[0],
						argv[optind - 2]);
			l[(*n)++] = optarg;
			break;
		}
		case O_IPS:
			a->ips = true;
			break;
		case O_NO_DPI:
			a->no_dpi = true;
			break;
		case O_NO_INSPECT:
			a->no_inspect = true;
			break;
		case O_STATS:
			a->stats = true;
			break;
		case O_PCAP_DIR:
			a->pcap_dir = optarg;
			break;
		case O_FLOWS:
			a->flows = optarg;
			break;
		case O_HOST:
			a->host = optarg;
			break;
		case O_MAX_FLOWS:
			a->max_flows = strtoul(optarg, &end, 10);
			if (*end || a->max_flows < 64 || a->max_flows > (1ul << 24))
				return cli_fail("%s: --max-flows takes 64 to 16777216", argv[0]);
			break;
		case O_OUTPUT:
			if (a->noutputs == VG_ALERT_MAX_SINKS)
				return cli_fail("%s: too many --output options", argv[0]);
			a->outputs[a->noutputs++] = optarg;
			break;
		case O_PORT:
		case O_UPLINK:
			if (a->nports == VG_NET_MAX_PORTS)
				return cli_fail("%s: at most %d ports", argv[0], VG_NET_MAX_PORTS);
			if (vg_port_spec_parse(optarg, c == O_UPLINK, &a->ports[a->nports], &err))
				return cli_fail_err(&err);
			a->nports++;
			break;
		default:
			return cli_bad_option(argv[0], argc, argv);
		}
	}
	if (a->c.help) {
		help();
		return 0;
	}
	for (; optind < argc; optind++) {
		if (a->npos == 4)
			return cli_fail("%s: unexpected argument '%s'", argv[0], argv[optind]);
		a->pos[a->npos++] = argv[optind];
	}
	return 0;
}

int net_load_rules(const struct net_args *a, struct vg_net_rules *rs)
{
	struct vg_err err = { 0 };

	if (vg_net_rules_init(rs, &err))
		return cli_fail_err(&err);
	for (int i = 0; i < a->nvars; i++)
		if (vg_net_rules_set_var(rs, a->vars[i], false, &err))
			goto fail;
	for (int i = 0; i < a->nportvars; i++)
		if (vg_net_rules_set_var(rs, a->portvars[i], true, &err))
			goto fail;
	if (!a->nrules && vg_net_rules_load(rs, VG_NET_DEFAULT_RULES, &err))
		goto fail;
	for (int i = 0; i < a->nrules; i++)
		if (vg_net_rules_load(rs, a->rules[i], &err))
			goto fail;
	return 0;
fail:
	vg_net_rules_free(rs);
	return cli_fail_err(&err);
}

int net_open_flows(const struct net_args *a, bool live, FILE **out)
{
	*out = NULL;
	if (!a->flows)
		return 0;
	if (!strcmp(a->flows, "-")) {
		*out = stdout;
		return 0;
	}
	*out = fopen(a->flows, "ae");
	if (!*out)
		return cli_fail("cannot open %s for flow records: %s", a->flows, strerror(errno));
	if (live)
		setvbuf(*out, NULL, _IOLBF, 0);
	return 0;
}

void net_write_flow(void *ctx, const struct vg_net_flow_rec *r)
{
	struct vg_json j;

	vg_json_init(&j, ctx, false);
	vg_net_flow_json(&j, r);
	vg_json_end(&j);
}

void net_warn(void *ctx, const char *msg)
{
	fprintf(stderr, "%s: warning: %s\n", PROG_NAME, msg);
}

static void warn_skipped(const struct vg_net_rules *rs)
{
	if (!rs->skipped)
		return;
	fprintf(stderr,
		"%s: warning: %u rule(s) use keywords outside the supported subset and "
		"were skipped (see 'vigil net rules'); first: %s\n",
		PROG_NAME, rs->skipped, rs->skip_msg[0] ? rs->skip_msg[0] : "?");
}

struct inspect_out {
	const char *host;
	bool json, pretty;
	uint64_t n;
};

static void print_alert(void *ctx, const struct vg_alert *al)
{
	struct inspect_out *o = ctx;

	o->n++;
	if (o->json) {
		vg_alert_fprint(stdout, o->host, al, o->pretty);
		return;
	}
	if (o->n == 1)
		printf("%-20s %-8s %-44s %s\n", "CHECK", "SEVERITY", "TARGET", "SUMMARY");
	printf("%-20s %-8s %-44s %s\n", al->check, vg_severity_name(al->severity), al->target_id,
	       al->summary);
}

static void inspect_help(void)
{
	printf("Usage: %s net inspect PCAP [--rules FILE]... [--var NAME=VALUE]...\n"
	       "       [--portvar NAME=VALUE]... [--ips] [--no-dpi] [--pcap-dir DIR]\n"
	       "       [--flows FILE] [--max-flows N] [--stats] [-j|-p]\n\n"
	       "Runs the switch's inspection engine over a capture file (pcap or pcapng,\n"
	       "Ethernet): the same decoding, flows, nDPI, checks and rules, with the capture's\n"
	       "timestamps as the clock. Exit 0 no alerts, 1 alerts, 2 error.\n"
	       "  --rules FILE     rule file (repeatable; default %s)\n"
	       "  --var NAME=VAL   set an address variable (HOME_NET, DNS_SERVERS, BLOCKLIST...)\n"
	       "  --portvar N=V    set a port variable\n"
	       "  --ips            act as the IPS would: count the frames it would drop\n"
	       "  --no-dpi         leave nDPI out\n"
	       "  --pcap-dir DIR   write each flagged flow's frames to its own pcap in DIR\n"
	       "  --flows FILE     append flow records (JSON lines; '-' for stdout)\n"
	       "  --max-flows N    flow table size (default 65536)\n"
	       "  --stats          a JSON line of counters and frames per second on stderr\n"
	       "  -j, --json       alerts as JSON lines (DESIGN.md schema); -p indented\n",
	       PROG_NAME, VG_NET_DEFAULT_RULES);
}

static void print_stats(const struct net_args *a, const struct vg_net_stats *st, double secs)
{
	struct vg_json j;

	if (a->stats) {
		vg_json_init(&j, stderr, false);
		vg_json_obj_open(&j);
		vg_json_kuint(&j, "frames", st->frames);
		vg_json_kuint(&j, "bytes", st->bytes);
		vg_json_kuint(&j, "flows", st->flows);
		vg_json_kuint(&j, "flows_evicted", st->flows_evicted);
		vg_json_kuint(&j, "alerts", st->alerts);
		vg_json_kuint(&j, "alerts_suppressed", st->alerts_suppressed);
		vg_json_kuint(&j, "dropped", st->dropped);
		vg_json_kuint(&j, "decode_anomalies", st->decode_anomalies);
		vg_json_kuint(&j, "rule_evals", st->rule_evals);
		vg_json_kuint(&j, "dpi_skipped", st->dpi_skipped);
		vg_json_kdouble(&j, "seconds", secs);
		vg_json_kdouble(&j, "pps", secs > 0 ? (double)st->frames / secs : 0);
		vg_json_obj_close(&j);
		vg_json_end(&j);
	}
	if (!a->c.json)
		printf("%llu frames, %llu flows, %llu alerts%s\n", (unsigned long long)st->frames,
		       (unsigned long long)st->flows, (unsigned long long)st->alerts,
		       a->ips ? "" : " (IDS mode)");
	if (!a->c.json && a->ips)
		printf("IPS mode: %llu frames would have been dropped\n",
		       (unsigned long long)st->dropped);
}

static int do_inspect(int argc, char **argv)
{
	struct inspect_out out = { 0 };
	struct vg_net_engine_opts o = { 0 };
	struct vg_net_engine *e = NULL;
	struct vg_net_rules rs;
	struct vg_err err = { 0 };
	struct net_args a;
	FILE *flows = NULL;
	uint64_t frames;
	double t0;
	int rc;

	if (net_parse(argc, argv, NET_OPT_INSPECT, inspect_help, &a))
		return EXIT_ERROR;
	if (a.c.help)
		return EXIT_OK;
	if (a.npos != 1)
		return cli_fail("inspect: exactly one capture file expected; see --help");
	if (net_load_rules(&a, &rs))
		return EXIT_ERROR;
	warn_skipped(&rs);
	rc = net_open_flows(&a, false, &flows);
	if (rc)
		goto out_rules;
	out = (struct inspect_out){ .host = a.pos[0], .json = a.c.json, .pretty = a.c.pretty };
	o = (struct vg_net_engine_opts){ .ips = a.ips,
					 .no_dpi = a.no_dpi,
					 .max_flows = (uint32_t)a.max_flows,
					 .pcap_dir = a.pcap_dir,
					 .on_alert = print_alert,
					 .alert_ctx = &out,
					 .on_flow = flows ? net_write_flow : NULL,
					 .flow_ctx = flows };
	if (vg_net_engine_open(&e, &rs, &o, &err)) {
		rc = cli_fail_err(&err);
		goto out_flows;
	}
	if (vg_net_engine_warning(e)[0])
		net_warn(NULL, vg_net_engine_warning(e));
	t0 = vg_mono_msf();
	rc = vg_net_inspect_pcap(e, a.pos[0], &frames, &err);
	vg_net_engine_finish(e);
	if (vg_net_engine_warning(e)[0])
		net_warn(NULL, vg_net_engine_warning(e));
	print_stats(&a, vg_net_engine_stats(e), (vg_mono_msf() - t0) / 1000);
	if (rc)
		rc = cli_fail_err(&err);
	else
		rc = out.n ? EXIT_FINDINGS : EXIT_OK;
	vg_net_engine_close(e);
out_flows:
	if (flows && flows != stdout)
		fclose(flows);
out_rules:
	vg_net_rules_free(&rs);
	return rc;
}

static void rules_help(void)
{
	printf("Usage: %s net rules [FILE]... [--var NAME=VALUE]... [--portvar NAME=VALUE]... "
	       "[-j|-p]\n\n"
	       "Loads rule files (default %s) and lists\n"
	       "what they hold: the behaviour checks with their settings, every signature, and\n"
	       "the rules that were skipped with the reason (a keyword outside the supported\n"
	       "subset, a syntax error). Supported keywords: see docs/net.md.\n",
	       PROG_NAME, VG_NET_DEFAULT_RULES);
}

static void rules_json(const struct vg_net_rules *rs, bool pretty)
{
	const struct vg_net_checks *c = &rs->checks;
	struct vg_json j;

	vg_json_init(&j, stdout, pretty);
	vg_json_obj_open(&j);
	vg_json_key(&j, "checks");
	vg_json_obj_open(&j);
	vg_json_kbool(&j, "horizontal-scan", c->hscan.on);
	vg_json_kbool(&j, "vertical-scan", c->vscan.on);
	vg_json_kbool(&j, "brute-force", c->brute.on);
	vg_json_kbool(&j, "arp-spoof", c->arp_spoof.on);
	vg_json_kbool(&j, "ip-spoof", c->ip_spoof.on);
	vg_json_kbool(&j, "new-listener", c->listener.on);
	vg_json_kbool(&j, "malformed", c->malformed.on);
	vg_json_kuint(&j, "ips-block-seconds", c->block);
	vg_json_obj_close(&j);
	vg_json_key(&j, "rules");
	vg_json_arr_open(&j);
	for (uint32_t i = 0; i < rs->n; i++) {
		const struct vg_rule *r = &rs->v[i];

		vg_json_obj_open(&j);
		vg_json_kuint(&j, "sid", r->sid);
		vg_json_kstr(&j, "action", vg_rule_action_name(r->action));
		vg_json_kstr(&j, "proto", r->app ? r->app : vg_rule_proto_name(r->proto));
		vg_json_kstr(&j, "check", r->check ? r->check : "signature");
		vg_json_kstr(&j, "severity", vg_severity_name(vg_rule_severity(r)));
		vg_json_kstr(&j, "msg", r->msg ? r->msg : "");
		vg_json_kuint(&j, "line", r->line);
		vg_json_obj_close(&j);
	}
	vg_json_arr_close(&j);
	vg_json_kuint(&j, "skipped", rs->skipped);
	vg_json_key(&j, "skipped_rules");
	vg_json_arr_open(&j);
	for (uint32_t i = 0; i < rs->skipped && i < VG_NET_MAX_SKIPPED; i++)
		vg_json_str(&j, rs->skip_msg[i] ? rs->skip_msg[i] : "");
	vg_json_arr_close(&j);
	vg_json_obj_close(&j);
	vg_json_end(&j);
}

static void rules_table(const struct vg_net_rules *rs)
{
	const struct vg_net_checks *c = &rs->checks;

	printf("checks:\n");
	if (c->hscan.on)
		printf("  horizontal-scan  %u hosts in %u s\n", c->hscan.count, c->hscan.seconds);
	if (c->vscan.on)
		printf("  vertical-scan    %u ports in %u s\n", c->vscan.count, c->vscan.seconds);
	if (c->brute.on)
		printf("  brute-force      %u login sessions in %u s\n", c->brute.attempts,
		       c->brute.seconds);
	if (c->arp_spoof.on)
		printf("  arp-spoof        bindings held %u s\n", c->arp_spoof.hold);
	if (c->ip_spoof.on)
		printf("  ip-spoof\n");
	if (c->listener.on)
		printf("  new-listener     after %u s of learning\n", c->listener.learn);
	if (c->malformed.on)
		printf("  malformed\n");
	printf("rules: %u loaded, %u skipped\n", rs->n, rs->skipped);
	printf("  %-9s %-6s %-7s %-20s %s\n", "SID", "ACTION", "PROTO", "CHECK", "MSG");
	for (uint32_t i = 0; i < rs->n; i++) {
		const struct vg_rule *r = &rs->v[i];

		printf("  %-9u %-6s %-7s %-20s %s\n", r->sid, vg_rule_action_name(r->action),
		       r->app ? r->app : vg_rule_proto_name(r->proto),
		       r->check ? r->check : "signature", r->msg ? r->msg : "");
	}
	for (uint32_t i = 0; i < rs->skipped && i < VG_NET_MAX_SKIPPED; i++)
		printf("  skipped: %s\n", rs->skip_msg[i] ? rs->skip_msg[i] : "?");
	if (rs->skipped > VG_NET_MAX_SKIPPED)
		printf("  ... and %u more skipped\n", rs->skipped - VG_NET_MAX_SKIPPED);
}

static int do_rules(int argc, char **argv)
{
	struct vg_net_rules rs;
	struct net_args a;

	if (net_parse(argc, argv, NET_OPT_RULES, rules_help, &a))
		return EXIT_ERROR;
	if (a.c.help)
		return EXIT_OK;
	for (int i = 0; i < a.npos; i++)
		a.rules[a.nrules++] = a.pos[i];
	if (net_load_rules(&a, &rs))
		return EXIT_ERROR;
	if (a.c.json)
		rules_json(&rs, a.c.pretty);
	else
		rules_table(&rs);
	vg_net_rules_free(&rs);
	return EXIT_OK;
}

int cmd_net(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "switch", cmd_net_switch,
		  "run a learning switch for QEMU guests with inline inspection (IDS/IPS)" },
		{ "inspect", do_inspect, "run the inspection engine over a capture file" },
		{ "rules", do_rules, "list what rule files hold and what was skipped" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch("net", cmds, argc - 1, argv + 1);
}
