// SPDX-License-Identifier: MIT
/*
 * Checks on the content of configuration files and /dev, from chkrootkit 0.57's script:
 *   dev-file        aliens: a regular file in /dev with a line "^[0-5] " (the config files
 *                   of several rootkits' hiders live there)
 *   rootkit-config  chk_inetdconf (a shell served by inetd), asp (Ramen's "asp" service),
 *                   the LPD worm (kork in passwd, port 666 in inetd.conf), Linux.Proxy
 *                   ("mother" in passwd), HKRK (".hk" in the network init script), the 64-bit
 *                   LKM rootkit (module_init in rc.local), Mumblehard (var/tmp in crontabs),
 *                   chk_crontab (Lupper: a crontab for nobody), suspect PHP scripts in /tmp
 * Lines are matched with POSIX extended regular expressions, as egrep does.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scan_int.h"

#define MAX_SHELLS 32

struct cfg_rule {
	const char *check;
	const char *name; /* chkrootkit's name for what it finds */
	const char *test; /* chkrootkit's test */
	const char *const *paths;
	const char *dir; /* or every regular file below it */
	const char *re;
	int cflags;
	bool first_line; /* only the first line counts (a script's #! line) */
	enum vg_severity sev;
	const char *attack;
};

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const struct cfg_rule rules[] = {
	{ "dev-file", "rootkit configuration in /dev", "aliens", NULL, "/dev", "^[0-5] ", 0, false,
	  VG_SEV_HIGH, "T1564.001" },
	{ "rootkit-config", "Ramen Worm", "asp", L("/etc/inetd.conf"), NULL, "^asp", 0, false,
	  VG_SEV_HIGH, "T1543" },
	{ "rootkit-config", "LPD Worm", "aliens", L("/etc/passwd"), NULL, "^kork", 0, false,
	  VG_SEV_HIGH, "T1136.001" },
	{ "rootkit-config", "LPD Worm", "aliens", L("/etc/inetd.conf"), NULL,
	  "^[[:space:]]*666[[:space:]]", 0, false, VG_SEV_HIGH, "T1543" },
	{ "rootkit-config", "Linux.Proxy.1.0", "aliens", L("/etc/passwd"), NULL, "mother",
	  REG_ICASE, false, VG_SEV_HIGH, "T1136.001" },
	{ "rootkit-config", "HKRK", "aliens", L("/etc/rc.d/init.d/network"), NULL, "\\.hk", 0,
	  false, VG_SEV_HIGH, "T1037.004" },
	{ "rootkit-config", "64-bit Linux Rootkit", "aliens", L("/etc/rc.local"), NULL,
	  "module_init", 0, false, VG_SEV_HIGH, "T1037.004" },
	{ "rootkit-config", "Mumblehard", "aliens", NULL, "/var/spool/cron/crontabs", "var/tmp", 0,
	  false, VG_SEV_HIGH, "T1053.003" },
	{ "rootkit-config", "Lupper.Worm", "crontab",
	  L("/var/spool/cron/crontabs/nobody", "/var/spool/cron/nobody"), NULL, "crontab.*666", 0,
	  false, VG_SEV_CRITICAL, "T1053.003" },
	{ "rootkit-config", "a crontab for nobody (Lupper.Worm)", "crontab",
	  L("/var/spool/cron/crontabs/nobody", "/var/spool/cron/nobody"), NULL, "[0-9]", 0, false,
	  VG_SEV_MEDIUM, "T1053.003" },
	{ "rootkit-file", "suspect PHP file", "aliens", NULL, "/tmp", "^#!.*php", 0, true,
	  VG_SEV_MEDIUM, "T1505.003" },
	{ "rootkit-file", "suspect PHP file", "aliens", NULL, "/var/tmp", "^#!.*php", 0, true,
	  VG_SEV_MEDIUM, "T1505.003" },
};

struct line_ctx {
	regex_t re;
	bool first_only, done;
	char hit[512];
	int lineno, hitline;
};

static bool match_line(void *ctx, const char *line)
{
	struct line_ctx *l = ctx;

	l->lineno++;
	if (l->done)
		return true;
	if (!regexec(&l->re, line, 0, NULL, 0)) {
		snprintf(l->hit, sizeof(l->hit), "%s", line);
		l->hitline = l->lineno;
		return true;
	}
	l->done = l->first_only;
	return false;
}

static void report(struct vg_scan *c, uint32_t idx, const char *check, const char *name,
		   const char *test, enum vg_severity sev, const char *attack, const char *line,
		   int lineno)
{
	const char *path = vg_fent_path(c->t, &c->t->v[idx]);
	struct vg_json j;

	if (vg_ev_open(&j)) {
		c->ret = -ENOMEM;
		return;
	}
	vg_json_kstr(&j, "rootkit", name);
	vg_json_kstr(&j, "chkrootkit_test", test);
	vg_ev_entry(&j, c->t, &c->t->v[idx]);
	vg_json_kint(&j, "line", lineno);
	vg_json_kstr(&j, "text", line);
	vg_scan_add(c, check, sev, attack, NULL, path, &j, "possible %s: %s line %d: \"%.80s\"",
		    name, path, lineno, line);
}

static void check_rule(struct vg_scan *c, uint32_t idx, const uint8_t *data, size_t len,
		       const void *arg)
{
	const struct cfg_rule *r = arg;
	struct line_ctx l = { .first_only = r->first_line };

	if (regcomp(&l.re, r->re, REG_EXTENDED | REG_NOSUB | r->cflags))
		return;
	vg_lines(data, len, match_line, &l);
	if (l.hitline)
		report(c, idx, r->check, r->name, r->test, r->sev, r->attack, l.hit, l.hitline);
	regfree(&l.re);
}

/* chk_inetdconf: a stream/tcp/nowait service whose program is one of /etc/shells. */
struct inetd_ctx {
	char shells[MAX_SHELLS][128];
	int nshells;
	char hit[512];
	int lineno, hitline;
};

static bool add_shell(void *ctx, const char *line)
{
	struct inetd_ctx *x = ctx;

	if (line[0] && line[0] != '#' && x->nshells < MAX_SHELLS)
		snprintf(x->shells[x->nshells++], sizeof(x->shells[0]), "%s", line);
	return false;
}

static bool shell_service(void *ctx, const char *line)
{
	struct inetd_ctx *x = ctx;
	const char *s, *t, *n;

	x->lineno++;
	if (line[0] == '#')
		return false;
	/* egrep "stream.*tcp.*nowait.*$SHELL" */
	if (!(s = strstr(line, "stream")) || !(t = strstr(s, "tcp")) || !(n = strstr(t, "nowait")))
		return false;
	for (int i = 0; i < x->nshells; i++)
		if (strstr(n, x->shells[i])) {
			snprintf(x->hit, sizeof(x->hit), "%s", line);
			x->hitline = x->lineno;
			return true;
		}
	return false;
}

static void check_inetd(struct vg_scan *c, uint32_t idx, const uint8_t *data, size_t len,
			const void *arg)
{
	struct inetd_ctx x = { 0 };
	uint8_t *shells;
	size_t slen;

	if (!vg_scan_slurp(c, "/etc/shells", 64 << 10, &shells, &slen)) {
		vg_lines(shells, slen, add_shell, &x);
		free(shells);
	}
	if (!x.nshells) {
		snprintf(x.shells[0], sizeof(x.shells[0]), "/bin/sh");
		snprintf(x.shells[1], sizeof(x.shells[1]), "/bin/bash");
		x.nshells = 2;
	}
	if (vg_lines(data, len, shell_service, &x))
		report(c, idx, "rootkit-config", "inetd shell backdoor", "inetdconf",
		       VG_SEV_CRITICAL, "T1543", x.hit, x.hitline);
}

static void want_path(struct vg_scan *c, const char *path, vg_want_fn fn, const void *arg)
{
	long idx = vg_ftab_resolve(c->t, path);

	if (idx >= 0 && S_ISREG(c->t->v[idx].mode))
		vg_scan_want(c, (uint32_t)idx, fn, arg);
}

void vg_rules_config(struct vg_scan *c)
{
	const size_t n = sizeof(rules) / sizeof(rules[0]);
	const struct vg_ftab *t = c->t;

	for (size_t k = 0; k < n; k++) {
		const struct cfg_rule *r = &rules[k];

		if (!vg_scan_on(c, r->check))
			continue;
		for (const char *const *p = r->paths; p && *p; p++)
			want_path(c, *p, check_rule, r);
		if (!r->dir)
			continue;
		for (size_t i = 0; i < t->n; i++) {
			const struct vg_fent *e = &t->v[i];
			const char *path = vg_fent_path(t, e);

			if (S_ISREG(e->mode) && !(e->flags & VG_FENT_OFFTREE) &&
			    vg_path_under(path, r->dir) && strcmp(path, r->dir))
				vg_scan_want(c, (uint32_t)i, check_rule, r);
		}
	}
	if (vg_scan_on(c, "rootkit-config"))
		want_path(c, "/etc/inetd.conf", check_inetd, NULL);
}
