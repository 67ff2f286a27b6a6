// SPDX-License-Identifier: MIT
/*
 * rootkit-file: the files and directories chkrootkit 0.57's "aliens" test and its worm
 * tests (w55808, slapper, scalper, rexedcs) look for, reimplemented from its published
 * script: exact paths (its [ -f ], [ -e ] and [ -d ] tests and lookfor_rootkit) and names
 * found below directories (its find ... -name). Paths are chkrootkit's, made absolute; a
 * symlink counts as what it points to, as test(1) sees it. docs/disk.md has one row per test.
 */
#include <errno.h>
#include <fnmatch.h>
#include <string.h>
#include <sys/stat.h>

#include "scan_int.h"

enum rk_kind {
	RK_PATHS, /* each path exists */
	RK_FIND,  /* a name matching NAMES anywhere below WHERE */
	RK_CHILD, /* a name matching NAMES directly in WHERE */
};

struct rk_rule {
	const char *rootkit; /* what chkrootkit calls it */
	const char *test;    /* the chkrootkit test that looks */
	enum rk_kind kind;
	const char *const *where;
	const char *const *names;
	char type; /* 0 anything, 'f' regular file, 'd' directory, 'x' executable file */
	enum vg_severity sev;
};

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define H VG_SEV_HIGH
#define M VG_SEV_MEDIUM
#define CGIDIRS                                                                               \
	L("/www/httpd/cgi-bin", "/www/cgi-bin", "/var/www/cgi-bin", "/var/lib/httpd/cgi-bin", \
	  "/usr/local/httpd/cgi-bin", "/usr/local/apache/cgi-bin", "/home/httpd/cgi-bin",     \
	  "/usr/local/apache2", "/usr/local/www", "/usr/lib")

static const struct rk_rule rules[] = {
	{ "sniffer log directory", "aliens", RK_PATHS,
	  L("/var/run/.tmp", "/lib/.so", "/usr/lib/.fx", "/var/local/.lpd", "/dev/rd/cdb",
	    "/var/spool/lp/admins/.lp", "/var/adm/sa/.adm", "/usr/lib/lib.so1.so"),
	  NULL, 'd', H },
	{ "known suspicious file", "aliens", RK_PATHS,
	  L("/usr/lib/pt07", "/usr/bin/atm", "/tmp/.cheese", "/dev/ptyzx", "/dev/ptyzy",
	    "/usr/bin/sourcemask", "/dev/ida", "/dev/xdf1", "/dev/xdf2", "/usr/bin/xstat",
	    "/tmp/982235016-gtkrc-429249277", "/usr/bin/ras2xm", "/usr/sbin/in.telnet",
	    "/sbin/vobiscum", "/usr/sbin/jcd", "/usr/sbin/atd2", "/usr/bin/.etc", "/.lp",
	    "/etc/ld.so.hash", "/sbin/init.zk", "/usr/lib/in.httpd", "/usr/lib/in.pop3d",
	    "/nlsadmin"),
	  NULL, 'f', H },
	{ "sniffer log", "aliens", RK_FIND, L("/dev", "/tmp", "/lib", "/etc", "/var"),
	  L("tcp.log", ".linux-sniff", "sniff-l0g", "core_"), 0, M },
	{ "HiDrootkit", "aliens", RK_PATHS, L("/var/lib/games/.k"), NULL, 'd', H },
	{ "t0rn", "aliens", RK_PATHS, L("/etc/ttyhash", "/sbin/xlogin", "/lib/ldlib.tk"), NULL, 0,
	  H },
	{ "t0rn", "aliens", RK_PATHS, L("/usr/src/.puta", "/usr/info/.t0rn"), NULL, 'd', H },
	{ "t0rn v8", "aliens", RK_FIND, L("/lib", "/usr/lib", "/usr/local/lib"), L("libproc.a"), 0,
	  H },
	{ "Lion", "aliens", RK_PATHS, L("/bin/in.telnetd", "/bin/mjy"), NULL, 0, H },
	{ "Lion", "aliens", RK_PATHS, L("/usr/info/.torn", "/dev/.lib"), NULL, 'd', H },
	{ "RSHA", "aliens", RK_PATHS,
	  L("/bin/kr4p", "/usr/bin/n3tstat", "/usr/bin/chsh2", "/usr/bin/slice2",
	    "/usr/src/linux/arch/alpha/lib/.lib/.1proc", "/etc/rc.d/arch/alpha/lib/.lib/.1addr"),
	  NULL, 0, H },
	{ "RSHA", "aliens", RK_PATHS, L("/etc/rc.d/rsha", "/etc/rc.d/arch/alpha/lib/.lib"), NULL,
	  'd', H },
	{ "RH-Sharpe", "aliens", RK_PATHS,
	  L("/bin/lps", "/usr/bin/lpstree", "/usr/bin/ltop", "/usr/bin/lkillall", "/usr/bin/ldu",
	    "/usr/bin/lnetstat", "/usr/bin/wp", "/usr/bin/shad", "/usr/bin/vadim", "/usr/bin/slice",
	    "/usr/bin/cleaner", "/usr/include/rpcsvc/du"),
	  NULL, 0, H },
	{ "Ambient (ark)", "aliens", RK_PATHS, L("/dev/ptyxx", "/usr/doc/... "), NULL, 'd', H },
	{ "Ambient (ark)", "aliens", RK_CHILD, L("/usr/lib"), L(".ark?"), 0, H },
	{ "LPD Worm", "aliens", RK_PATHS, L("/dev/.kork"), NULL, 'd', H },
	{ "LPD Worm", "aliens", RK_PATHS,
	  L("/bin/.ps", "/usr/bin/.ps", "/bin/.login", "/usr/bin/.login"), NULL, 'f', H },
	{ "Ramen Worm", "aliens", RK_PATHS, L("/tmp/ramen.tgz", "/etc/xinetd.d/asp"), NULL, 0, H },
	{ "Ramen Worm", "aliens", RK_PATHS, L("/usr/src/.poop"), NULL, 'd', H },
	{ "Maniac", "aliens", RK_FIND, L("/usr/bin"), L("mailrc"), 0, M },
	{ "RK17", "aliens", RK_FIND, L("/bin", "/usr/bin"), L("rtty", "squit"), 0, H },
	{ "RK17", "aliens", RK_FIND, L("/sbin"), L("pback"), 0, H },
	{ "RK17", "aliens", RK_FIND, L("/usr/man/man3"), L("psid"), 0, H },
	{ "RK17", "aliens", RK_FIND, L("/usr/src/linux/modules"), L("autod.o", "soundx.o"), 0, H },
	{ "RK17", "aliens", RK_FIND, L("/usr/bin"), L("gib", "ct", "snick", "kfl"), 0, M },
	{ "RK17 CGI backdoor", "aliens", RK_CHILD, CGIDIRS,
	  L("number.cgi", "void.cgi", "psid", "becys.cgi", "nobody.cgi", "bash.zk.cgi", "alya.cgi",
	    "shell.cgi", "alin.cgi", "httpd.cgi", "linux.cgi", "sh.cgi", "take.cgi", "bogus.cgi",
	    "alia.cgi", "all4one.cgi", "zxcvbnm.cgi", "secure.cgi", "ubb.cgi", "r57shell.php"),
	  'f', H },
	{ "Ducoci", "aliens", RK_FIND, CGIDIRS, L("last.cgi"), 0, H },
	{ "Adore Worm", "aliens", RK_FIND, L("/usr/lib", "/usr/bin"),
	  L("red.tar", "start.sh", "klogd.o", "0anacron-bak", "adore"), 0, M },
	{ "ShitC Worm", "aliens", RK_FIND, L("/bin", "/usr/bin"), L("homo", "frgy", "dy"), 0, H },
	{ "ShitC Worm", "aliens", RK_FIND, L("/usr/bin"), L("dir"), 'd', H },
	{ "ShitC Worm", "aliens", RK_FIND, L("/usr/sbin"), L("in.slogind"), 0, H },
	{ "Omega Worm", "aliens", RK_FIND, L("/dev"), L("chr"), 0, M },
	{ "Sadmind/IIS Worm", "aliens", RK_PATHS, L("/dev/cuc"), NULL, 0, H },
	{ "MonKit", "aliens", RK_PATHS, L("/lib/defs", "/usr/lib/libpikapp.a"), NULL, 0, H },
	{ "Showtee", "aliens", RK_PATHS,
	  L("/usr/lib/liblog.o", "/usr/include/addr.h", "/usr/include/cron.h",
	    "/usr/include/file.h", "/usr/include/proc.h", "/usr/include/syslogs.h",
	    "/usr/include/chk.h"),
	  NULL, 0, H },
	{ "Showtee", "aliens", RK_PATHS,
	  L("/usr/lib/.egcs", "/usr/lib/.kinetic", "/usr/lib/.wormie"), NULL, 'd', H },
	{ "OpticKit / T.R.K", "aliens", RK_PATHS, L("/usr/bin/xchk", "/usr/bin/xsf"), NULL, 0, H },
	{ "Mithra", "aliens", RK_FIND, L("/usr/lib/locale"), L("uboot"), 0, H },
	{ "LOC", "aliens", RK_FIND, L("/tmp"), L("xp", "kidd0.c"), 0, H },
	{ "Romanian", "aliens", RK_PATHS,
	  L("/usr/include/file.h", "/usr/include/proc.h", "/usr/include/addr.h",
	    "/usr/include/syslogs.h"),
	  NULL, 0, H },
	{ "Suckit", "aliens", RK_PATHS, L("/dev/.golf"), NULL, 'd', H },
	{ "Volc", "aliens", RK_PATHS, L("/usr/bin/volc", "/usr/lib/volc"), NULL, 0, H },
	{ "Gold2", "aliens", RK_PATHS, L("/usr/bin/ishit"), NULL, 0, H },
	{ "TC2 Worm", "aliens", RK_PATHS, L("/usr/sbin/initcheck", "/usr/sbin/ldb"), NULL, 0, H },
	{ "TC2 Worm", "aliens", RK_PATHS, L("/usr/info/.tc2k", "/usr/bin/util"), NULL, 'd', H },
	{ "Anonoying", "aliens", RK_PATHS, L("/usr/sbin/mech", "/usr/sbin/kswapd"), NULL, 0, H },
	{ "ZK", "aliens", RK_PATHS, L("/etc/sysconfig/console/load.zk"), NULL, 0, H },
	{ "ShKit", "aliens", RK_PATHS, L("/lib/security/.config", "/etc/ld.so.hash"), NULL, 0, H },
	{ "AjaKit", "aliens", RK_PATHS, L("/lib/.ligh.gh", "/dev/tux"), NULL, 'd', H },
	{ "zaRwT", "aliens", RK_PATHS, L("/bin/imin", "/bin/imout"), NULL, 0, H },
	{ "Madalin", "aliens", RK_PATHS,
	  L("/usr/include/icekey.h", "/usr/include/iceconf.h", "/usr/include/iceseed.h"), NULL, 0,
	  H },
	{ "Fu", "aliens", RK_PATHS, L("/sbin/xc", "/bin/.lib", "/usr/include/ivtype.h"), NULL, 0,
	  H },
	{ "Kenga3", "aliens", RK_PATHS, L("/usr/include/. ."), NULL, 'd', H },
	{ "ESRK", "aliens", RK_PATHS, L("/usr/lib/tcl5.3"), NULL, 'd', H },
	{ "rootedoor", "aliens", RK_CHILD,
	  L("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"),
	  L("rootedoor"), 'f', H },
	{ "ENYELKM", "aliens", RK_PATHS, L("/etc/.enyelkmOCULTAR.ko"), NULL, 'd', H },
	{ "ssh-scanner", "aliens", RK_FIND, L("/tmp", "/var/tmp"),
	  L("vuln.txt", "ssh-scan", "pscan2"), 0, M },
	{ "64-bit Linux Rootkit modules", "aliens", RK_FIND, L("/lib/modules", "/usr/lib/modules"),
	  L("module_init.ko"), 0, H },
	{ "Backdoor.Linux.Mokes.a", "aliens", RK_FIND, L("/tmp"), L("ss0-[0-9]*", "kk-[0-9]*"), 0,
	  H },
	{ "Malicious TinyDNS", "aliens", RK_PATHS, L("/home/ ."), NULL, 0, H },
	{ "Linux.Xor.DDoS", "aliens", RK_FIND, L("/tmp"), L("*"), 'x', M },
	{ "Linux.Xor.DDoS", "aliens", RK_PATHS,
	  L("/etc/cron.hourly/udev.sh", "/etc/cron.hourly/gcc.sh"), NULL, 0, H },
	{ "CrossRAT", "aliens", RK_PATHS, L("/usr/var/mediamgrs.jar"), NULL, 0, H },
	{ "Hidden Cobra", "aliens", RK_CHILD, L("/tmp/.ICE-unix"), L("m*.so", "engine.so"), 0, H },
	{ "Rocke Monero Miner", "aliens", RK_PATHS, L("/ld.so.pre", "/etc/xig"), NULL, 0, H },
	{ "PWNLNX4 LKM", "aliens", RK_PATHS,
	  L("/uOnlineBuilder64", "/var/tmp/.1", "/var/tmp/Linux_Server"), NULL, 'd', H },
	{ "PWNLNX6 LKM", "aliens", RK_PATHS, L("/tmp/suterusu"), NULL, 'd', H },
	{ "Umbreon", "aliens", RK_CHILD, L("/usr/share"), L("libc.so.*"), 0, H },
	{ "Kinsing.a backdoor", "aliens", RK_PATHS, L("/tmp/kdevtmpfsi"), NULL, 0, H },
	{ "RotaJakiro backdoor", "aliens", RK_PATHS, L("/bin/systemd-daemon"), NULL, 0, H },
	{ "suspect PHP file", "aliens", RK_FIND, L("/tmp", "/var/tmp"), L("*.php"), 0, M },
	{ "55808 Worm", "w55808", RK_PATHS, L("/tmp/.../a", "/tmp/.../r"), NULL, 'f', H },
	{ "Slapper Worm", "slapper", RK_PATHS,
	  L("/tmp/.bugtraq", "/tmp/.bugtraq.c", "/tmp/.unlock", "/tmp/httpd", "/tmp/update",
	    "/tmp/.cinik", "/tmp/.b"),
	  NULL, 'f', H },
	{ "Scalper Worm", "scalper", RK_PATHS, L("/tmp/.uua", "/tmp/.a"), NULL, 'f', H },
	{ "rexedcs", "rexedcs", RK_CHILD,
	  L("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", "/lib",
	    "/usr/lib", "/usr/libexec"),
	  L("in.rexedcs"), 'f', H },
};

static bool type_ok(const struct vg_ftab *t, long idx, char type)
{
	long r = idx;
	uint32_t mode;

	if (type && S_ISLNK(t->v[idx].mode))
		r = vg_ftab_resolve(t, vg_fent_path(t, &t->v[idx]));
	if (r < 0)
		return false;
	mode = t->v[r].mode;
	switch (type) {
	case 'f':
		return S_ISREG(mode);
	case 'd':
		return S_ISDIR(mode);
	case 'x':
		return S_ISREG(mode) && (mode & 0111);
	default:
		return true;
	}
}

static void report(struct vg_scan *c, const struct rk_rule *r, long idx)
{
	const struct vg_fent *e = &c->t->v[idx];
	const char *path = vg_fent_path(c->t, e);
	struct vg_json j;

	if (vg_ev_open(&j)) {
		c->ret = -ENOMEM;
		return;
	}
	vg_json_kstr(&j, "rootkit", r->rootkit);
	vg_json_kstr(&j, "chkrootkit_test", r->test);
	vg_ev_entry(&j, c->t, e);
	vg_scan_add(c, "rootkit-file", r->sev, "T1014", NULL, path, &j, "possible %s: %s",
		    r->rootkit, path);
}

static bool name_matches(const char *name, const char *const *pats)
{
	for (const char *const *p = pats; *p; p++)
		if (!fnmatch(*p, name, 0))
			return true;
	return false;
}

/* Does entry E (with its PATH) fall under rule R's FIND or CHILD directories? */
static bool placed(const struct vg_ftab *t, const struct vg_fent *e, const char *path,
		   const struct rk_rule *r)
{
	const char *parent = vg_fent_path(t, &t->v[e->parent]);

	for (const char *const *d = r->where; *d; d++) {
		if (r->kind == RK_CHILD ? !strcmp(parent, *d)
					: vg_path_under(path, *d) && strcmp(path, *d))
			return true;
	}
	return false;
}

void vg_rules_files(struct vg_scan *c)
{
	const size_t nrules = sizeof(rules) / sizeof(rules[0]);
	const struct vg_ftab *t = c->t;

	if (!vg_scan_on(c, "rootkit-file"))
		return;
	for (size_t k = 0; k < nrules; k++) {
		if (rules[k].kind != RK_PATHS)
			continue;
		for (const char *const *p = rules[k].where; *p; p++) {
			long idx = vg_ftab_lookup(t, *p);

			if (idx >= 0 && type_ok(t, idx, rules[k].type))
				report(c, &rules[k], idx);
		}
	}
	for (size_t i = 0; i < t->n && !c->ret; i++) {
		const struct vg_fent *e = &t->v[i];
		const char *path = vg_fent_path(t, e), *name = vg_fent_name(t, e);

		if (e->flags & VG_FENT_OFFTREE || e->parent == i)
			continue;
		for (size_t k = 0; k < nrules; k++) {
			const struct rk_rule *r = &rules[k];

			if (r->kind != RK_PATHS && placed(t, e, path, r) &&
			    name_matches(name, r->names) && type_ok(t, (long)i, r->type)) {
				report(c, r, (long)i);
				break; /* one finding per file */
			}
		}
	}
}
