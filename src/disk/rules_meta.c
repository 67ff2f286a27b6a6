// SPDX-License-Identifier: MIT
/*
 * Checks on names and metadata alone, over the whole table:
 *   hidden-file       names of dots and spaces anywhere ("...", ". ", ".. "), control
 *                     characters in names, dot-names in system binary and library
 *                     directories (chkrootkit's "suspicious files and dirs": find usr/lib
 *                     usr/man lib -name '.*', widened to bin and sbin), files a mount covers
 *   dir-link-count    chkdirs: a directory's link count must be 2 + its subdirectories
 *   suid-file         chkrootkit's "ls -l | egrep '^...s'" on its list of commands, and
 *                     setuid/setgid on shells and interpreters, in temporary directories, /dev
 *                     or under hidden directories
 *   world-writable    system files anyone may write, system directories without the sticky
 *                     bit
 *   log-tampering     chkrootkit's shell history checks: an empty or hard- or sym-linked
 *                     .*history in root's or a user's home (a history sent to /dev/null)
 *   unreachable-inode, deleted-open, fs-anomaly: what the listing found off the tree
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "scan_int.h"

/* Dot-names developers' trees leave in library directories (seen on stock Debian). */
static const char *const benign_dotnames[] = { ".gitignore",   ".gitkeep",  ".keep",   ".build-id",
					       ".placeholder", ".packlist", "*.jinfo", NULL };
static const char *const dot_dirs[] = { "/lib",	      "/lib32",	    "/lib64",	 "/usr/lib",
					"/usr/lib32", "/usr/lib64", "/usr/man",	 "/bin",
					"/sbin",      "/usr/bin",   "/usr/sbin", NULL };
/* chkrootkit's commands that must never be setuid (chk_basename ... chk_grep). */
static const char *const no_suid[] = { "basename", "dirname", "rpcinfo", "date", "echo", "env",
				       "write",	   "tar",     "mail",	 "biff", "grep", NULL };
static const char *const shells[] = { "sh",	 "bash",    "dash",   "ash",   "zsh",
				      "ksh",	 "mksh",    "csh",    "tcsh",  "fish",
				      "busybox", "python*", "perl*",  "ruby*", "php*",
				      "lua*",	 "node",    "tclsh*", NULL };
static const char *const temp_dirs[] = { "/tmp", "/var/tmp", "/dev", "/run/shm", NULL };

static bool match_any(const char *name, const char *const *pats)
{
	for (const char *const *p = pats; *p; p++)
		if (!fnmatch(*p, name, 0))
			return true;
	return false;
}

static bool under_any(const char *path, const char *const *dirs)
{
	for (const char *const *d = dirs; *d; d++)
		if (vg_path_under(path, *d))
			return true;
	return false;
}

/* Only dots and spaces ("...", ". ", ".. ", " "), but not "." or "..". */
static bool dots_and_spaces(const char *n)
{
	size_t len = strlen(n);

	if (!len || !strcmp(n, ".") || !strcmp(n, ".."))
		return false;
	return strspn(n, ". ") == len;
}

static bool control_chars(const char *n)
{
	for (; *n; n++)
		if ((unsigned char)*n < 0x20 || *n == 0x7f)
			return true;
	return false;
}

/* A directory in PATH (not the last component) whose name starts with a dot. */
static bool in_hidden_dir(const char *path)
{
	const char *s = strrchr(path, '/');

	for (const char *p = path; p && p < s; p = strchr(p + 1, '/'))
		if (p[1] == '.')
			return true;
	return false;
}

static void add_entry(struct vg_scan *c, const struct vg_fent *e, const char *check,
		      enum vg_severity sev, const char *attack, const char *reason,
		      const char *summary)
{
	struct vg_json j;
	const char *path = vg_fent_path(c->t, e);

	if (vg_ev_open(&j)) {
		c->ret = -ENOMEM;
		return;
	}
	vg_json_kstr(&j, "reason", reason);
	vg_ev_entry(&j, c->t, e);
	vg_scan_add(c, check, sev, attack, NULL, path, &j, "%s %s", path, summary);
}

static void hidden(struct vg_scan *c, const struct vg_fent *e)
{
	const char *path = vg_fent_path(c->t, e), *name = vg_fent_name(c->t, e);

	if (dots_and_spaces(name))
		add_entry(c, e, "hidden-file", VG_SEV_HIGH, "T1564.001", "dots-and-spaces",
			  "is named only with dots and spaces, a classic way to hide from ls");
	else if (control_chars(name))
		add_entry(c, e, "hidden-file", VG_SEV_MEDIUM, "T1564.001", "control-characters",
			  "has control characters in its name");
	else if (name[0] == '.' && under_any(path, dot_dirs) && !match_any(name, benign_dotnames))
		add_entry(c, e, "hidden-file", VG_SEV_MEDIUM, "T1564.001", "dot-name-system-path",
			  "is a hidden name in a system directory (chkrootkit: suspicious files "
			  "and dirs)");
}

static void suid(struct vg_scan *c, const struct vg_fent *e)
{
	const char *path = vg_fent_path(c->t, e), *name = vg_fent_name(c->t, e);
	const char *bits = (e->mode & S_ISUID) ? "setuid" : "setgid";
	char msg[160];

	if (!S_ISREG(e->mode) || !(e->mode & (S_ISUID | S_ISGID)))
		return;
	if (match_any(name, shells)) {
		snprintf(msg, sizeof(msg),
			 "is a %s shell or interpreter: anyone runs code as %s %u", bits,
			 e->mode & S_ISUID ? "uid" : "gid", e->mode & S_ISUID ? e->uid : e->gid);
		add_entry(c, e, "suid-file", VG_SEV_CRITICAL, "T1548.001", "setuid-shell", msg);
	} else if (under_any(path, temp_dirs)) {
		snprintf(msg, sizeof(msg), "is %s in a temporary or device directory", bits);
		add_entry(c, e, "suid-file", VG_SEV_HIGH, "T1548.001", "setuid-in-temp", msg);
	} else if (in_hidden_dir(path)) {
		snprintf(msg, sizeof(msg), "is %s under a hidden directory", bits);
		add_entry(c, e, "suid-file", VG_SEV_HIGH, "T1548.001", "setuid-hidden-dir", msg);
	} else if ((e->mode & S_ISUID) && (e->mode & S_IXUSR) && match_any(name, no_suid) &&
		   vg_path_system(path)) {
		add_entry(c, e, "suid-file", VG_SEV_HIGH, "T1548.001", "chkrootkit-no-suid",
			  "is setuid, which this command never is (chkrootkit)");
	}
}

static void writable(struct vg_scan *c, const struct vg_fent *e)
{
	const char *path = vg_fent_path(c->t, e);

	if (!(e->mode & S_IWOTH) || !vg_path_system(path))
		return;
	if (S_ISREG(e->mode))
		add_entry(c, e, "world-writable", VG_SEV_HIGH, "T1222.002", "world-writable-file",
			  "is a system file anyone may write");
	else if (S_ISDIR(e->mode) && !(e->mode & S_ISVTX))
		add_entry(c, e, "world-writable", VG_SEV_MEDIUM, "T1222.002",
			  "world-writable-directory",
			  "is a system directory anyone may add to or delete from (no sticky bit)");
}

static void link_count(struct vg_scan *c, const struct vg_fent *e)
{
	char msg[200];

	/* 1 is how ext4 (dir_nlink) says "too many to count" */
	if (!S_ISDIR(e->mode) || e->nlink <= 1 || (e->flags & (VG_FENT_UNLISTED | VG_FENT_OFFTREE)))
		return;
	if (e->nlink == 2 + e->nsubdirs)
		return;
	snprintf(msg, sizeof(msg),
		 "has link count %u but lists %u subdirectories: a directory is hidden from its "
		 "listing, or the tree is damaged (chkdirs)",
		 e->nlink, e->nsubdirs);
	add_entry(c, e, "dir-link-count", VG_SEV_MEDIUM, "T1564.001", "link-count", msg);
}

static void offtree(struct vg_scan *c, const struct vg_fent *e)
{
	char msg[200];

	if (e->flags & VG_FENT_UNREACHABLE) {
		snprintf(msg, sizeof(msg),
			 "is allocated with %u link%s but no directory lists it: hidden from every "
			 "listing",
			 e->nlink, e->nlink == 1 ? "" : "s");
		add_entry(c, e, "unreachable-inode", VG_SEV_HIGH, "T1564", "unreachable", msg);
	} else if (e->flags & VG_FENT_ORPHAN) {
		add_entry(c, e, "deleted-open", VG_SEV_MEDIUM, "T1070.004", "orphan",
			  "was deleted while a process still had it open (on the orphan list)");
	} else if (e->flags & VG_FENT_DELETED) {
		add_entry(c, e, "deleted-open", VG_SEV_MEDIUM, "T1070.004", "deleted-in-memory",
			  "is deleted but the guest kernel still holds it");
	} else if ((e->flags & VG_FENT_SHADOWED) && S_ISREG(e->mode)) {
		/* device nodes under /dev's mount are the initramfs's own (/dev/console) */
		add_entry(c, e, "hidden-file", VG_SEV_HIGH, "T1564.001", "under-mount",
			  "lies in a directory another mount covers: invisible inside the guest");
	}
}

/* A .*history directly in /root or /home/USER. */
static bool history(const struct vg_ftab *t, const struct vg_fent *e)
{
	const char *name = vg_fent_name(t, e), *home = vg_fent_path(t, &t->v[e->parent]);
	size_t n = strlen(name);

	if (name[0] != '.' || n < 8 || strcmp(name + n - 7, "history"))
		return false;
	return !strcmp(home, "/root") ||
	       (!strncmp(home, "/home/", 6) && home[6] && !strchr(home + 6, '/'));
}

static void history_check(struct vg_scan *c, const struct vg_fent *e)
{
	if (!history(c->t, e))
		return;
	if (S_ISLNK(e->mode) || (S_ISREG(e->mode) && e->nlink >= 2))
		add_entry(
			c, e, "log-tampering", VG_SEV_HIGH, "T1070.003", "linked-history",
			"is linked to another file: the shell history goes elsewhere (chkrootkit)");
	else if (S_ISREG(e->mode) && !e->size)
		add_entry(c, e, "log-tampering", VG_SEV_MEDIUM, "T1070.003", "empty-history",
			  "is an empty shell history (chkrootkit: zero-size history files)");
}

static void notes(struct vg_scan *c)
{
	const struct vg_ftab *t = c->t;

	for (size_t i = 0; i < t->nnotes; i++) {
		const struct vg_fnote *n = &t->notes[i];
		enum vg_severity sev = n->kind == VG_FNOTE_LOOP	     ? VG_SEV_HIGH
				       : n->kind == VG_FNOTE_CORRUPT ? VG_SEV_MEDIUM
								     : VG_SEV_LOW;
		const char *kind = n->kind == VG_FNOTE_LOOP	 ? "loop"
				   : n->kind == VG_FNOTE_CORRUPT ? "corrupt"
								 : "limit";
		struct vg_json j;

		if (vg_ev_open(&j)) {
			c->ret = -ENOMEM;
			return;
		}
		vg_json_kstr(&j, "kind", kind);
		vg_json_kstr(&j, "path", n->path);
		vg_json_kstr(&j, "detail", n->what);
		vg_scan_add(c, "fs-anomaly", sev, n->kind == VG_FNOTE_LOOP ? "T1564" : NULL, NULL,
			    n->path, &j, "%s: %s", n->path, n->what);
	}
	if (t->notes_dropped)
		vg_scan_add(c, "fs-anomaly", VG_SEV_MEDIUM, NULL, "filesystem", "/", NULL,
			    "%zu more anomalies were not kept", t->notes_dropped);
}

void vg_rules_meta(struct vg_scan *c)
{
	notes(c);
	for (size_t i = 0; i < c->t->n && !c->ret; i++) {
		const struct vg_fent *e = &c->t->v[i];

		if (e->flags & VG_FENT_BADNAME)
			add_entry(c, e, "fs-anomaly", VG_SEV_HIGH, "T1564", "impossible-name",
				  "has a name with '/' or NUL in it, which no kernel writes: a "
				  "crafted file system");
		if (e->flags & VG_FENT_OFFTREE) {
			offtree(c, e);
			continue;
		}
		hidden(c, e);
		history_check(c, e);
		suid(c, e);
		writable(c, e);
		link_count(c, e);
	}
}
