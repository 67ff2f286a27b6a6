// SPDX-License-Identifier: MIT
/*
 * trojaned-binary: chkrootkit 0.57's chk_<command> tests, reimplemented from its script.
 * Each command is found the way chkrootkit's loc() finds it (the first of root's PATH and
 * its extra directories that holds it, symlinks followed inside the image), its printable
 * strings are extracted as strings(1) -a does (runs of at least four printable characters)
 * and each is matched against chkrootkit's labels with POSIX extended regular expressions,
 * as egrep matches them line by line. The labels are kept verbatim; each alternative is only
 * compiled and tried when its longest literal run occurs in the file, which is what makes
 * this cheap. Multi-call binaries (busybox, toybox) are skipped: the command name says nothing
 * about which applet's code a string belongs to.
 */
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scan_int.h"

#define MIN_STRING 4
#define MAX_ALT 24

enum {
	T_UNLESS = 1,	   /* infected unless ALSO matches (ifconfig: PROMISC; chsh: *NOT*) */
	T_SKIP_LOCALE = 2, /* strings mentioning "locale" do not count (chk_write) */
};

struct trojan {
	const char *test;	  /* chkrootkit's test name */
	const char *const *names; /* found on the search path (first name found wins) */
	const char *const *paths; /* or at fixed paths */
	const char *labels;	  /* chkrootkit's egrep pattern, verbatim */
	const char *also;	  /* a second pattern (T_UNLESS) */
	unsigned flags;
	const char *rootkit; /* what a match means, when chkrootkit says */
};

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define GENERIC "^/bin/.*sh$|bash|elite$|vejeta|\\.ark|iroffer"

static const struct trojan trojans[] = {
	{ "amd", L("amd"), NULL, "blah", NULL, 0, NULL },
	{ "basename", L("basename"), NULL, GENERIC, NULL, 0, NULL },
	{ "biff", L("biff"), NULL, GENERIC, NULL, 0, NULL },
	{ "chfn", L("chfn"), NULL, GENERIC, NULL, 0, NULL },
	{ "chsh", L("chsh"), NULL, GENERIC, "\\*NOT\\*", T_UNLESS, NULL },
	{ "cron", L("cron", "crond"), NULL, "/dev/hda|/dev/hda[0-7]|/dev/hdc0", NULL, 0, NULL },
	{ "date", L("date"), NULL, GENERIC, NULL, 0, NULL },
	{ "du", L("du"), NULL, "/dev/ttyof|/dev/pty[pqrsx]|w0rm|^/prof|/dev/tux|file\\.h", NULL, 0,
	  NULL },
	{ "dirname", L("dirname"), NULL, GENERIC, NULL, 0, NULL },
	{ "echo", L("echo"), NULL, GENERIC, NULL, 0, NULL },
	{ "egrep", L("egrep"), NULL, "blah", NULL, 0, NULL },
	{ "env", L("env"), NULL, GENERIC, NULL, 0, NULL },
	{ "find", L("find"), NULL,
	  "/dev/ttyof|/dev/pty[pqrs]|^/prof|/home/virus|/security|file\\.h", NULL, 0, NULL },
	{ "fingerd", L("fingerd", "in.fingerd"), NULL, "cterm100|" GENERIC, NULL, 0, NULL },
	{ "gpm", L("gpm"), NULL, "mingetty", NULL, 0, NULL },
	{ "grep", L("grep"), NULL, "givemer", NULL, 0, NULL },
	{ "hdparm", L("hdparm"), NULL, "/dev/ida", NULL, 0, NULL },
	{ "su", L("su"), NULL, "satori|vejeta|conf\\.inv", NULL, 0, NULL },
	{ "ifconfig", L("ifconfig"), NULL, "/dev/tux|/session.null", "PROMISC", T_UNLESS, NULL },
	{ "inetd", L("inetd"), NULL, GENERIC, NULL, 0, NULL },
	{ "identd", L("in.identd"), NULL, GENERIC, NULL, 0, NULL },
	{ "init", L("init"), NULL, "UPX", NULL, 0, NULL },
	{ "killall", L("killall"), NULL,
	  "/dev/ttyop|/dev/pty[pqrs]|/dev/hda[0-7]|/dev/hdp|/dev/ptyxx|/dev/tux|proc\\.h", NULL, 0,
	  NULL },
	{ "login", L("login"), NULL,
	  "^root$|vejeta|^xlogin|^@\\(#\\)klogin\\.c|lets_log|sukasuka|/usr/lib/"
	  ".ark?|SucKIT|cocola",
	  NULL, 0, NULL },
	{ "ls", L("ls"), NULL,
	  "/dev/ttyof|/dev/pty[pqrs]|/dev/hdl0|\\.tmp/lsfile|/dev/hdcc|/dev/ptyxx|duarawkz|^/prof|"
	  "/dev/tux|/security|file\\.h",
	  NULL, 0, NULL },
	{ "lsof", L("lsof"), NULL, "^/prof", NULL, 0, NULL },
	{ "mail", L("mail"), NULL, "sh -i", NULL, 0, NULL },
	{ "mingetty", L("mingetty"), NULL, "Dimensioni|pacchetto", NULL, 0, NULL },
	{ "netstat", L("netstat"), NULL,
	  "/dev/hdl0/dev/xdta|/dev/ttyoa|/dev/pty[pqrsx]|/dev/cui|/dev/hdn0|/dev/cui221|/dev/dszy|"
	  "/dev/ddth3|/dev/caca|^/prof|/dev/tux|grep|addr\\.h|__bzero",
	  NULL, 0, NULL },
	{ "named", L("named", "in.named"), NULL, "blah|bye", NULL, 0, NULL },
	{ "passwd", L("passwd"), NULL, GENERIC "|/lib/security", NULL, 0, NULL },
	{ "pidof", L("pidof"), NULL, "/dev/pty[pqrs]", NULL, 0, NULL },
	{ "pop2", L("in.pop2d"), NULL, GENERIC, NULL, 0, NULL },
	{ "pop3", L("in.pop3d"), NULL, GENERIC, NULL, 0, NULL },
	{ "ps", L("ps"), NULL,
	  "/dev/xmx|\\.1proc|/dev/ttyop|/dev/pty[pqrsx]|/dev/cui|/dev/hda[0-7]|/dev/hdp|/dev/"
	  "cui220|"
	  "/dev/dsx|w0rm|/dev/hdaa|duarawkz|/dev/tux|/security|^proc\\.h|ARRRGH\\.so",
	  NULL, 0, NULL },
	{ "pstree", L("pstree"), NULL,
	  "/dev/ttyof|/dev/hda01|/dev/cui220|/dev/ptyxx|^/prof|/dev/tux|proc\\.h", NULL, 0, NULL },
	{ "rpcinfo", L("rpcinfo"), NULL, GENERIC, NULL, 0, NULL },
	{ "rlogind", L("in.rlogind", "rlogind"), NULL, "p1r0c4|r00t", NULL, 0, NULL },
	{ "rshd", NULL, L("/usr/sbin/in.rshd"), "HISTFILE", NULL, 0, NULL },
	{ "slogin", L("slogin"), NULL, "homo", NULL, 0, NULL },
	{ "sendmail", L("sendmail"), NULL, "fuck", NULL, 0, NULL },
	{ "sshd", L("sshd"), NULL, "check_global_passwd|panasonic|satori|vejeta|\\.ark|/hash\\.zk",
	  NULL, 0, NULL },
	{ "syslogd", L("syslogd"), NULL,
	  "/usr/lib/pt07|/dev/pty[pqrs]|/dev/hd[als][0-7]|/dev/ddtz1|/dev/ptyxx|/dev/tux|"
	  "syslogs\\.h",
	  NULL, 0, NULL },
	{ "tcpd", L("tcpd"), NULL, "p1r0c4|hack|/dev/xmx|/dev/hdn0|/dev/xdta|/dev/tux", NULL, 0,
	  NULL },
	{ "top", L("top"), NULL,
	  "/dev/xmx|/dev/ttyop|/dev/pty[pqrsx]|/dev/hdp|/dev/dsx|^/prof/|/dev/tux|^/proc\\.h|"
	  "proc_hackinit",
	  NULL, 0, NULL },
	{ "telnetd", L("telnetd", "in.telnetd"), NULL,
	  "cterm100|vt350|VT100|ansi-term|/dev/hda[0-7]", NULL, 0, NULL },
	{ "timed", L("timed", "in.timed"), NULL, GENERIC, NULL, 0, NULL },
	{ "traceroute", L("traceroute"), NULL, GENERIC, NULL, 0, NULL },
	{ "vdir", L("vdir"), NULL, "/lib/volc", NULL, 0, NULL },
	{ "w", L("w"), NULL, "uname -a", NULL, 0, NULL },
	{ "write", L("write"), NULL, "bash|elite$|vejeta|\\.ark", NULL, T_SKIP_LOCALE, NULL },
	{ "asp", L("asp"), NULL, "poop", NULL, 0, "Ramen Worm" },
	{ "aliens", NULL, L("/sbin/init"), "\\.sniffer", NULL, 0, "Suckit" },
	{ "aliens", NULL, L("/lib/x86_64-linux-gnu/libkeyutils.so.1"),
	  "libns2|libns5|libpw3|libpw5|libsbr|libslr", NULL, 0, "Linux/Ebury 1.6" },
};

/* chkrootkit's loc() path: root's PATH, then the directories it appends. */
static const char *const search_path[] = {
	"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", "/lib",
	"/usr/lib",	   "/usr/libexec",   NULL
};
static const char *const multicall[] = { "busybox", "toybox", NULL };

/* One top-level alternative of an egrep pattern and the longest literal run it needs. */
struct alt {
	char re[256];
	char lit[128];
};

static void longest_literal(const char *re, char *lit, size_t len)
{
	char run[128];
	size_t n = 0;

	lit[0] = '\0';
	for (const char *p = re;; p++) {
		bool end = !*p;
		bool special = !end && strchr(".[]*?+(){}^$|", *p);

		if (!end && (*p == '*' || *p == '?' || *p == '{') && n)
			n--; /* the character before a quantifier is optional */
		if (end || special) {
			run[n] = '\0';
			if (n > strlen(lit) && n < len)
				memcpy(lit, run, n + 1);
			n = 0;
			if (end)
				return;
			if (*p == '[')
				while (p[1] && p[1] != ']')
					p++;
			continue;
		}
		if (*p == '\\' && p[1])
			p++;
		if (n + 1 < sizeof(run))
			run[n++] = *p;
	}
}

/* Splits a pattern at its top-level '|' (the labels have no groups with alternatives). */
static int split(const char *pattern, struct alt *alts, int max)
{
	int n = 0;

	for (const char *p = pattern; *p && n < max;) {
		size_t len = strcspn(p, "|");

		if (len < sizeof(alts[n].re)) {
			memcpy(alts[n].re, p, len);
			alts[n].re[len] = '\0';
			longest_literal(alts[n].re, alts[n].lit, sizeof(alts[n].lit));
			n++;
		}
		p += len + (p[len] == '|');
	}
	return n;
}

/* Does RE match a strings(1) line of DATA? HIT gets the first that does. */
static bool any_string(const uint8_t *data, size_t len, const regex_t *re, bool skip_locale,
		       char *hit, size_t hitlen)
{
	char line[4096];
	size_t i = 0;

	while (i < len) {
		size_t start = i, n;

		while (i < len && ((data[i] >= 0x20 && data[i] < 0x7f) || data[i] == '\t'))
			i++;
		n = i - start;
		if (n >= MIN_STRING) {
			/* an over-long run is matched on its first 4 KiB */
			size_t m = n < sizeof(line) - 1 ? n : sizeof(line) - 1;

			memcpy(line, data + start, m);
			line[m] = '\0';
			if ((!skip_locale || !strstr(line, "locale")) &&
			    !regexec(re, line, 0, NULL, 0)) {
				size_t h = m < hitlen - 1 ? m : hitlen - 1;

				memcpy(hit, line, h);
				hit[h] = '\0';
				return true;
			}
		}
		i++;
	}
	return false;
}

/* Does any alternative of PATTERN match a string of DATA? HIT gets the first string. */
static bool labels_match(const uint8_t *data, size_t len, const char *pattern, bool skip_locale,
			 char *hit, size_t hitlen)
{
	struct alt alts[MAX_ALT];
	int n = split(pattern, alts, MAX_ALT);

	for (int k = 0; k < n; k++) {
		regex_t re;
		bool found;

		if (alts[k].lit[0] && !memmem(data, len, alts[k].lit, strlen(alts[k].lit)))
			continue;
		if (regcomp(&re, alts[k].re, REG_EXTENDED | REG_NOSUB))
			continue;
		found = any_string(data, len, &re, skip_locale, hit, hitlen);
		regfree(&re);
		if (found)
			return true;
	}
	return false;
}

static void check(struct vg_scan *c, uint32_t idx, const uint8_t *data, size_t len, const void *arg)
{
	const struct trojan *tr = arg;
	const char *path = vg_fent_path(c->t, &c->t->v[idx]);
	char hit[256] = "";
	struct vg_json j;
	bool infected;

	if (tr->flags & T_UNLESS) {
		char also[256];

		/* ifconfig: infected without PROMISC, or with a label; chsh: label without the
		 * PAM marker */
		infected = labels_match(data, len, tr->labels, false, hit, sizeof(hit));
		if (!strcmp(tr->test, "ifconfig")) {
			if (!infected &&
			    !labels_match(data, len, tr->also, false, also, sizeof(also))) {
				infected = true;
				snprintf(hit, sizeof(hit), "(no PROMISC string)");
			}
		} else
			infected = infected &&
				   !labels_match(data, len, tr->also, false, also, sizeof(also));
	} else {
		infected = labels_match(data, len, tr->labels, tr->flags & T_SKIP_LOCALE, hit,
					sizeof(hit));
	}
	if (!infected)
		return;
	if (vg_ev_open(&j)) {
		c->ret = -ENOMEM;
		return;
	}
	vg_json_kstr(&j, "chkrootkit_test", tr->test);
	if (tr->rootkit)
		vg_json_kstr(&j, "rootkit", tr->rootkit);
	vg_ev_entry(&j, c->t, &c->t->v[idx]);
	vg_json_kstr(&j, "labels", tr->labels);
	vg_json_kstr(&j, "matched_string", hit);
	vg_scan_add(c, "trojaned-binary", VG_SEV_CRITICAL, "T1554", NULL, path, &j,
		    "%s looks trojaned (chkrootkit %s%s%s): %s%.80s%s", path, tr->test,
		    tr->rootkit ? ", " : "", tr->rootkit ? tr->rootkit : "",
		    hit[0] == '(' ? "" : "string \"", hit, hit[0] == '(' ? "" : "\"");
}

static bool is_multicall(const struct vg_ftab *t, long idx)
{
	const char *name = vg_fent_name(t, &t->v[idx]);

	for (const char *const *m = multicall; *m; m++)
		if (!strcmp(name, *m))
			return true;
	return false;
}

/* chkrootkit's loc(): the first directory of the search path where NAME is a file. */
static long locate(const struct vg_ftab *t, const char *name)
{
	char path[VG_FTAB_MAX_PATH];

	for (const char *const *d = search_path; *d; d++) {
		long idx;

		snprintf(path, sizeof(path), "%s/%s", *d, name);
		idx = vg_ftab_resolve(t, path);
		if (idx >= 0 && S_ISREG(t->v[idx].mode))
			return idx;
	}
	return -1;
}

void vg_rules_trojan(struct vg_scan *c)
{
	const size_t n = sizeof(trojans) / sizeof(trojans[0]);

	if (!vg_scan_on(c, "trojaned-binary"))
		return;
	for (size_t k = 0; k < n; k++) {
		const struct trojan *tr = &trojans[k];
		long idx = -1;

		for (const char *const *p = tr->names; p && *p && idx < 0; p++)
			idx = locate(c->t, *p);
		for (const char *const *p = tr->paths; p && *p && idx < 0; p++) {
			idx = vg_ftab_resolve(c->t, *p);
			if (idx >= 0 && !S_ISREG(c->t->v[idx].mode))
				idx = -1;
		}
		if (idx >= 0 && !is_multicall(c->t, idx))
			vg_scan_want(c, (uint32_t)idx, check, tr);
	}
}
