// SPDX-License-Identifier: MIT
/* Options, configuration and one look at the guest, shared by the ids commands. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ids_common.h"
#include "vigil/ids_text.h"

static bool known_check(const char *id)
{
	for (const struct vg_ids_check *k = vg_ids_checks; k->id; k++)
		if (!strcmp(k->id, id))
			return true;
	return false;
}

static int parse_ports(const char *arg, struct ids_args *a)
{
	const char *p = arg;
	char *end;

	a->nports = 0;
	while (*p) {
		unsigned long v = strtoul(p, &end, 10);

		if (end == p || v == 0 || v > 65535 || (*end && *end != ',') ||
		    a->nports == IDS_MAX_ALLOW)
			return cli_fail("--allow-ports takes up to %d ports like 22,80",
					IDS_MAX_ALLOW);
		a->ports[a->nports++] = (uint16_t)v;
		p = *end ? end + 1 : end;
	}
	return 0;
}

/* Which option needs which command capability; 0 = every ids command. */
static unsigned needs(int c)
{
	switch (c) {
	case 'c':
	case 'A':
	case 'P':
	case 'b':
		return IDS_OPT_CHECKS;
	case 'y':
		return IDS_OPT_CHECKS | IDS_OPT_POLICY;
	case 'o':
		return IDS_OPT_OUT;
	case 'i':
	case 'O':
		return IDS_OPT_WATCH;
	case 'W':
		return IDS_OPT_SWITCH;
	case 'S':
		return IDS_OPT_SOCKET;
	default:
		return 0;
	}
}

int ids_parse(int argc, char **argv, unsigned allowed, void (*help)(void), struct ids_args *a)
{
	enum { O_NO_CACHE = 256, O_FORMAT, O_SYMBOLS, O_BTF };
	static const struct option opts[] = {
		{ "vm", required_argument, NULL, 'v' },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "symbols", required_argument, NULL, O_SYMBOLS },
		{ "btf", required_argument, NULL, O_BTF },
		{ "no-cache", no_argument, NULL, O_NO_CACHE },
		{ "check", required_argument, NULL, 'c' },
		{ "allow-modules", required_argument, NULL, 'A' },
		{ "allow-ports", required_argument, NULL, 'P' },
		{ "baseline", required_argument, NULL, 'b' },
		{ "policy", required_argument, NULL, 'y' },
		{ "output", required_argument, NULL, 'O' },
		{ "interval", required_argument, NULL, 'i' },
		{ "socket", required_argument, NULL, 'S' },
		{ "switch-alerts", required_argument, NULL, 'W' },
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "v:o:jph", opts, NULL)) != -1) {
		if (needs(c) && !(needs(c) & allowed))
			return cli_fail("%s: option '%s' does not apply; see --help", argv[0],
					argv[optind - 1]);
		switch (c) {
		case 'v':
			a->vmi.vm = optarg;
			break;
		case O_FORMAT:
			a->vmi.format = optarg;
			break;
		case O_SYMBOLS:
			a->vmi.symbols = optarg;
			break;
		case O_BTF:
			a->vmi.btf = optarg;
			break;
		case O_NO_CACHE:
			a->vmi.no_cache = true;
			break;
		case 'c':
			if (!known_check(optarg))
				return cli_fail("%s: unknown check '%s'; see 'vigil ids checks'",
						argv[0], optarg);
			if (a->nonly == IDS_MAX_ONLY)
				return cli_fail("%s: too many --check options", argv[0]);
			a->only[a->nonly++] = optarg;
			break;
		case 'A': {
			int n = 0;
			char *sv;

			free(a->allow_buf);
			a->allow_buf = strdup(optarg);
			if (!a->allow_buf)
				return cli_fail("out of memory");
			for (char *t = strtok_r(a->allow_buf, ",", &sv); t && n < IDS_MAX_ALLOW;
			     t = strtok_r(NULL, ",", &sv))
				a->allow[n++] = t;
			a->allow[n] = NULL;
			a->have_allow = true;
			break;
		}
		case 'P':
			if (parse_ports(optarg, a))
				return EXIT_ERROR;
			break;
		case 'b':
			a->baseline = optarg;
			break;
		case 'y':
			a->policy = optarg;
			break;
		case 'o':
			a->out = optarg;
			break;
		case 'O':
			if (a->noutputs == IDS_MAX_OUTPUTS)
				return cli_fail("%s: too many --output options", argv[0]);
			a->outputs[a->noutputs++] = optarg;
			break;
		case 'i':
			if (vg_parse_duration(optarg, &a->interval_ms) || a->interval_ms < 100)
				return cli_fail(
					"%s: --interval takes a duration of at least 100ms, "
					"like 500ms, 2s or 1m",
					argv[0]);
			break;
		case 'S':
			a->socket = optarg;
			break;
		case 'W':
			a->switch_alerts = optarg;
			break;
		case 'j':
			a->vmi.json = true;
			break;
		case 'p':
			a->vmi.json = a->vmi.pretty = true;
			break;
		case 'h':
			help();
			a->help = true;
			return 0;
		default:
			return cli_fail("%s: unknown option or missing value '%s'; see --help",
					argv[0], argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_fail("%s: unexpected argument '%s'", argv[0], argv[optind]);
	if (!a->vmi.vm)
		return cli_fail("%s: --vm SOURCE is required", argv[0]);
	if ((allowed & IDS_OPT_OUT) && !a->out)
		return cli_fail("%s: -o FILE is required", argv[0]);
	if ((allowed & IDS_OPT_SOCKET) && !a->socket)
		return cli_fail("%s: --socket PATH is required", argv[0]);
	return 0;
}

void ids_args_free(struct ids_args *a)
{
	free(a->allow_buf);
	a->allow_buf = NULL;
}

static int add_mod(struct ids_ctx *c, size_t *n, const char *m)
{
	char **p;

	for (size_t i = 0; i < *n; i++)
		if (!strcmp(c->mods[i], m))
			return 0;
	p = realloc(c->mods, (*n + 2) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	c->mods = p;
	p[(*n)++] = (char *)m; /* borrowed from args, policy or baseline */
	p[*n] = NULL;
	return 0;
}

static int add_port(struct ids_ctx *c, uint16_t port)
{
	uint16_t *p;

	for (size_t i = 0; i < c->nports; i++)
		if (c->ports[i] == port)
			return 0;
	p = realloc(c->ports, (c->nports + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	c->ports = p;
	p[c->nports++] = port;
	return 0;
}

/* The allowlists from the command line, the policy and the baseline, merged: the unknown-module
 * check runs when any of them names modules; ports are the union. */
static int merge(struct ids_ctx *c, const struct ids_args *a)
{
	size_t n = 0;
	int ret = 0;
	bool mods = a->have_allow || c->policy.have_modules || c->have_baseline;

	for (int i = 0; a->have_allow && a->allow[i] && !ret; i++)
		ret = add_mod(c, &n, a->allow[i]);
	for (size_t i = 0; i < c->policy.nmodules && !ret; i++)
		ret = add_mod(c, &n, c->policy.modules[i]);
	for (size_t i = 0; c->have_baseline && i < c->baseline.nmodules && !ret; i++)
		ret = add_mod(c, &n, c->baseline.modules[i]);
	if (!ret && mods && !c->mods) {
		c->mods = calloc(1, sizeof(*c->mods));
		ret = c->mods ? 0 : -ENOMEM;
	}
	for (size_t i = 0; i < a->nports && !ret; i++)
		ret = add_port(c, a->ports[i]);
	for (size_t i = 0; i < c->policy.nports && !ret; i++)
		ret = add_port(c, c->policy.ports[i]);
	for (size_t i = 0; c->have_baseline && i < c->baseline.nlisten && !ret; i++)
		ret = add_port(c, c->baseline.listen[i].port);
	if (ret)
		return ret;
	c->io.allowed_modules = mods ? (const char *const *)c->mods : NULL;
	c->io.allowed_ports = c->nports ? c->ports : NULL;
	c->io.nallowed_ports = c->nports;
	return 0;
}

/* --check narrows the set; the policy's disable list narrows it further. */
static void select_checks(struct ids_ctx *c, const struct ids_args *a)
{
	size_t n = 0;

	if (!a->nonly && !c->policy.ndisabled) {
		c->io.only = NULL;
		return;
	}
	for (const struct vg_ids_check *k = vg_ids_checks; k->id; k++) {
		bool want = !a->nonly;

		for (int i = 0; i < a->nonly && !want; i++)
			want = !strcmp(a->only[i], k->id);
		if (want && vg_policy_check_enabled(&c->policy, k->id) &&
		    n + 1 < sizeof(c->only) / sizeof(c->only[0]))
			c->only[n++] = k->id;
	}
	c->only[n] = NULL;
	c->io.only = c->only;
}

int ids_ctx_init(struct ids_ctx *c, const struct ids_args *a)
{
	struct vg_err err = { 0 };

	memset(c, 0, sizeof(*c));
	vg_policy_init(&c->policy);
	if (a->policy && vg_policy_load(&c->policy, a->policy, &err))
		return cli_fail_err(&err);
	if (a->baseline) {
		if (vg_baseline_load(&c->baseline, a->baseline, &err)) {
			vg_policy_free(&c->policy);
			return cli_fail_err(&err);
		}
		c->have_baseline = true;
	}
	if (merge(c, a)) {
		ids_ctx_free(c);
		return cli_fail("out of memory");
	}
	select_checks(c, a);
	return 0;
}

void ids_ctx_free(struct ids_ctx *c)
{
	free(c->mods);
	free(c->ports);
	vg_policy_free(&c->policy);
	if (c->have_baseline)
		vg_baseline_free(&c->baseline);
	vg_text_cache_free(&c->text_cache);
	memset(c, 0, sizeof(*c));
}

int ids_look(struct vmi_guest *g, struct ids_ctx *c, struct vg_findings *f, char *warn, size_t wlen,
	     struct vg_err *err)
{
	struct vg_snapshot s;
	int ret;

	warn[0] = 0;
	ret = vg_ids_gather(&g->lx, &s, err);
	if (ret)
		return ret;
	if (c->have_baseline && c->baseline.text)
		vg_ids_gather_text_cached(&g->lx, c->baseline.text, &c->text_cache, &s);
	if (c->have_baseline && strcmp(c->baseline.release, s.release))
		snprintf(warn, wlen, "baseline was recorded on kernel %s, the guest runs %s; ",
			 c->baseline.release, s.release);
	ret = vg_ids_run(&s, &c->io, f);
	if (!ret && c->have_baseline)
		ret = vg_baseline_compare(&c->baseline, &s, c->policy.new_executables, &c->io, f);
	if (s.gather_errors[0])
		snprintf(warn + strlen(warn), wlen - strlen(warn), "%s", s.gather_errors);
	vg_ids_snapshot_free(&s);
	if (ret)
		return vg_errf(err, ENOMEM, "running the checks: out of memory");
	vg_policy_apply(&c->policy, f);
	return 0;
}

char *ids_alert_line(const char *host, const struct vg_finding *x, const char *event, size_t *len)
{
	struct vg_alert al;

	vg_finding_alert(x, event, &al);
	return vg_alert_format(host, &al, len);
}
