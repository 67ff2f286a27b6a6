// SPDX-License-Identifier: MIT
/*
 * vigil disk: guest storage from outside. Disk images are read in-process with libext2fs
 * (no mount), RAM disks from guest memory; the same checks, YARA rules and baselines apply
 * to both. Human tables and -j JSON come from the same loops.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "disk_cli.h"
#include "vigil/alert.h"
#include "vigil/disk_ram.h"
#include "vigil/disk_scan.h"
#include "vigil/json.h"

#define CAT_DEFAULT_MAX (1ull << 30)

static const char *type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "file";
	case S_IFDIR:
		return "dir";
	case S_IFLNK:
		return "symlink";
	case S_IFCHR:
		return "char";
	case S_IFBLK:
		return "block";
	case S_IFIFO:
		return "fifo";
	case S_IFSOCK:
		return "socket";
	default:
		return "unknown";
	}
}

static void mode_string(uint32_t mode, char *s)
{
	static const char types[] = "?pc?d?b?-?l?s???";

	s[0] = types[(mode >> 12) & 15];
	for (int i = 0; i < 9; i++)
		s[1 + i] = (mode & (0400 >> i)) ? "rwxrwxrwx"[i] : '-';
	if (mode & S_ISUID)
		s[3] = (mode & S_IXUSR) ? 's' : 'S';
	if (mode & S_ISGID)
		s[6] = (mode & S_IXGRP) ? 's' : 'S';
	if (mode & S_ISVTX)
		s[9] = (mode & S_IXOTH) ? 't' : 'T';
	s[10] = '\0';
}

static void flag_names(uint32_t flags, char *out, size_t len)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{ VG_FENT_UNREACHABLE, "unreachable" }, { VG_FENT_ORPHAN, "orphan" },
		{ VG_FENT_DELETED, "deleted" },		{ VG_FENT_SHADOWED, "shadowed" },
		{ VG_FENT_BADNAME, "bad-name" },	{ VG_FENT_UNLISTED, "unlisted" },
		{ VG_FENT_COVERED, "covered" },
	};

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & names[i].bit)
			snprintf(out + strlen(out), len - strlen(out), "%s%s", out[0] ? "," : "",
				 names[i].name);
}

/* ---- info ---- */

static int do_info(int argc, char **argv)
{
	struct disk_args a;
	struct vg_image_info info;
	struct vg_blk_opts bo;
	struct vg_err err = { 0 };
	struct vg_json j;

	if (disk_parse(argc, argv, 0, &a))
		return EXIT_ERROR;
	if (a.c.help) {
		printf("Usage: %s disk info IMAGE [image options] [-j|-p]\n\n"
		       "The image's format and size, its partition table and which partitions "
		       "hold\n"
		       "an ext2/3/4 file system.\n\n",
		       PROG_NAME);
		disk_help_common(0);
		return EXIT_OK;
	}
	if (a.npos != 1)
		return cli_fail("info: one IMAGE is needed; see --help");
	bo = (struct vg_blk_opts){ .format = a.format,
				   .backing = a.backing,
				   .snapshot = a.snapshot };
	if (vg_image_probe(a.pos[0], &bo, &info, &err))
		return cli_fail_err(&err);
	if (a.c.json) {
		vg_json_init(&j, stdout, a.c.pretty);
		vg_json_obj_open(&j);
		vg_json_kstr(&j, "image", a.pos[0]);
		vg_json_kstr(&j, "format", info.format);
		vg_json_kuint(&j, "size", info.size);
		vg_json_kstr(&j, "table", info.parts.scheme);
		vg_json_kbool(&j, "whole_disk_ext", info.whole_ext);
		vg_json_key(&j, "partitions");
		vg_json_arr_open(&j);
		for (int i = 0; i < info.parts.n; i++) {
			const struct vg_part *p = &info.parts.v[i];

			vg_json_obj_open(&j);
			vg_json_kint(&j, "number", p->number);
			vg_json_kuint(&j, "start", p->start);
			vg_json_kuint(&j, "size", p->size);
			vg_json_kstr(&j, "type", p->type);
			vg_json_kstr(&j, "name", p->name);
			vg_json_kbool(&j, "ext", info.ext[i]);
			vg_json_obj_close(&j);
		}
		vg_json_arr_close(&j);
		vg_json_obj_close(&j);
		vg_json_end(&j);
		return EXIT_OK;
	}
	printf("image      %s\nformat     %s\nsize       %" PRIu64 " bytes\ntable      %s\n",
	       a.pos[0], info.format, info.size, info.parts.scheme);
	if (info.whole_ext)
		printf("ext2/3/4 file system on the whole disk\n");
	if (info.parts.n)
		printf("\n%4s %14s %14s %-38s %-4s %s\n", "PART", "START", "SIZE", "TYPE", "EXT",
		       "NAME");
	for (int i = 0; i < info.parts.n; i++) {
		const struct vg_part *p = &info.parts.v[i];

		printf("%4d %14" PRIu64 " %14" PRIu64 " %-38s %-4s %s\n", p->number, p->start,
		       p->size, p->type, info.ext[i] ? "yes" : "no", p->name);
	}
	return EXIT_OK;
}

/* ---- ls ---- */

static void print_entry(const struct vg_ftab *t, const struct vg_fent *e, struct vg_json *j)
{
	const char *link = vg_fent_link(t, e);
	char flags[96], mode[12], when[32];
	struct tm tm;
	time_t mt = (time_t)e->mtime;

	flag_names(e->flags, flags, sizeof(flags));
	if (j) {
		char omode[16];

		snprintf(omode, sizeof(omode), "%06o", e->mode);
		vg_json_obj_open(j);
		vg_json_kstr(j, "path", vg_fent_path(t, e));
		vg_json_kstr(j, "type", type_name(e->mode));
		vg_json_kstr(j, "mode", omode);
		vg_json_kuint(j, "uid", e->uid);
		vg_json_kuint(j, "gid", e->gid);
		vg_json_kuint(j, "nlink", e->nlink);
		vg_json_kuint(j, "size", e->size);
		vg_json_kuint(j, "inode", e->ino);
		vg_json_kint(j, "atime", e->atime);
		vg_json_kint(j, "mtime", e->mtime);
		vg_json_kint(j, "ctime", e->ctime);
		if (e->crtime)
			vg_json_kint(j, "crtime", e->crtime);
		if (S_ISCHR(e->mode) || S_ISBLK(e->mode)) {
			vg_json_kuint(j, "major", e->rdev >> 20);
			vg_json_kuint(j, "minor", e->rdev & 0xfffff);
		}
		if (link)
			vg_json_kstr(j, "link", link);
		if (flags[0])
			vg_json_kstr(j, "flags", flags);
		vg_json_obj_close(j);
		return;
	}
	mode_string(e->mode, mode);
	if (!gmtime_r(&mt, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm))
		snprintf(when, sizeof(when), "%" PRId64, e->mtime);
	printf("%s %3u %5u %5u %10" PRIu64 " %s %s%s%s%s%s%s\n", mode, e->nlink, e->uid, e->gid,
	       e->size, when, vg_fent_path(t, e), link ? " -> " : "", link ? link : "",
	       flags[0] ? "  [" : "", flags, flags[0] ? "]" : "");
}

/* PATH is DIR or below it. */
static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1 && dir[0] == '/')
		return true;
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

/* IMAGE [PATH] without --vm, [PATH] with it. */
static int split_args(const struct disk_args *a, const char *cmd, const char **image,
		      const char **path, bool path_required)
{
	int want_image = a->vm ? 0 : 1;

	*image = want_image ? a->pos[0] : NULL;
	*path = a->npos > want_image ? a->pos[want_image] : NULL;
	if (a->npos < want_image || a->npos > want_image + 1 || (path_required && !*path))
		return cli_fail("%s: expected %s%s; see --help", cmd, a->vm ? "" : "IMAGE ",
				path_required ? "PATH" : "[PATH]");
	return 0;
}

static int do_ls(int argc, char **argv)
{
	struct disk_args a;
	struct disk_src s;
	struct vg_ftab t;
	struct vg_err err = { 0 };
	struct vg_json j;
	const char *image, *path;
	int rc = EXIT_OK;

	if (disk_parse(argc, argv, DO_VM, &a))
		return EXIT_ERROR;
	if (a.c.help) {
		printf("Usage: %s disk ls IMAGE [PATH] [image options] [-j|-p]\n"
		       "       %s disk ls --vm SOURCE [PATH] [-j|-p]\n\n"
		       "Every entry at or below PATH (default /): mode, links, owner, size, "
		       "mtime,\n"
		       "path and symlink target, read from the image or from the guest's RAM "
		       "disks.\n"
		       "Entries off the tree are listed too and flagged: unreachable (an "
		       "allocated\n"
		       "inode no directory lists), orphan (deleted while open), deleted (held by "
		       "the\n"
		       "guest kernel), shadowed (under another mount), unlisted (a directory "
		       "whose\n"
		       "entries were not read).\n\n",
		       PROG_NAME, PROG_NAME);
		disk_help_common(DO_VM);
		return EXIT_OK;
	}
	if (split_args(&a, "ls", &image, &path, false) || disk_open(&a, image, &s))
		return EXIT_ERROR;
	if (vg_fsrc_list(s.fs, &t, &err)) {
		disk_close(&s);
		return cli_fail_err(&err);
	}
	if (s.fs->warning[0])
		fprintf(stderr, "%s: warning: %s\n", PROG_NAME, s.fs->warning);
	if (a.c.json) {
		vg_json_init(&j, stdout, a.c.pretty);
		vg_json_arr_open(&j);
	}
	for (size_t i = 0; i < t.n; i++) {
		const struct vg_fent *e = &t.v[i];
		const char *p = vg_fent_path(&t, e);

		if (path && p[0] == '/' && !under(p, path))
			continue;
		if (path && p[0] != '/' && strcmp(path, "/"))
			continue;
		print_entry(&t, e, a.c.json ? &j : NULL);
	}
	if (a.c.json) {
		vg_json_arr_close(&j);
		vg_json_end(&j);
	}
	vg_ftab_free(&t);
	disk_close(&s);
	return rc;
}

/* ---- cat ---- */

static long find_entry(const struct vg_ftab *t, const char *path)
{
	long idx = vg_ftab_resolve(t, path);

	/* off-tree entries ("<inode 12>", a deleted RAM file) by their listed name */
	for (size_t i = 0; idx < 0 && i < t->n; i++)
		if ((t->v[i].flags & VG_FENT_OFFTREE) && !strcmp(vg_fent_path(t, &t->v[i]), path))
			idx = (long)i;
	return idx;
}

static int do_cat(int argc, char **argv)
{
	struct disk_args a;
	struct disk_src s;
	struct vg_ftab t;
	struct vg_err err = { 0 };
	const char *image, *path;
	uint64_t max;
	uint8_t *buf = NULL;
	long idx;
	int rc = EXIT_OK;

	if (disk_parse(argc, argv, DO_VM | DO_SCAN, &a))
		return EXIT_ERROR;
	if (a.c.help) {
		printf("Usage: %s disk cat IMAGE PATH [image options] [--max-file SIZE]\n"
		       "       %s disk cat --vm SOURCE PATH [--max-file SIZE]\n\n"
		       "Writes a file's content to standard output, read from the image or from "
		       "the\n"
		       "guest's page cache (RAM disks); symlinks are followed inside the image. "
		       "PATH\n"
		       "may also be an entry 'ls' lists off the tree, such as '<inode 12>'. Files\n"
		       "over --max-file (default 1G) are refused.\n\n",
		       PROG_NAME, PROG_NAME);
		disk_help_common(DO_VM);
		return EXIT_OK;
	}
	if (split_args(&a, "cat", &image, &path, true))
		return EXIT_ERROR;
	if (a.c.json)
		return cli_fail("cat: writes raw bytes; -j does not apply");
	max = a.max_file ? a.max_file : CAT_DEFAULT_MAX;
	if (disk_open(&a, image, &s))
		return EXIT_ERROR;
	if (vg_fsrc_list(s.fs, &t, &err)) {
		disk_close(&s);
		return cli_fail_err(&err);
	}
	idx = find_entry(&t, path);
	if (idx < 0)
		rc = cli_fail("cat: %s: no such file in %s", path, s.fs->label);
	else if (!S_ISREG(t.v[idx].mode))
		rc = cli_fail("cat: %s is a %s, not a file", path, type_name(t.v[idx].mode));
	else if (t.v[idx].size > max)
		rc = cli_fail("cat: %s is %" PRIu64 " bytes, over --max-file", path, t.v[idx].size);
	else if (!(buf = malloc(t.v[idx].size ? (size_t)t.v[idx].size : 1)))
		rc = cli_fail("out of memory");
	else if (vg_fsrc_read(s.fs, &t.v[idx], buf, (size_t)t.v[idx].size, &err))
		rc = cli_fail_err(&err);
	else if (fwrite(buf, 1, (size_t)t.v[idx].size, stdout) != t.v[idx].size || fflush(stdout))
		rc = cli_fail("cat: cannot write to standard output");
	free(buf);
	vg_ftab_free(&t);
	disk_close(&s);
	return rc;
}

/* ---- scan, baseline, diff ---- */

static void print_findings(const struct disk_args *a, const struct disk_src *s,
			   const struct vg_dfindings *f, struct vg_alerter *al)
{
	if (!a->c.json)
		printf("%-18s %-9s %-32s %s\n", "CHECK", "SEVERITY", "TARGET", "SUMMARY");
	for (size_t i = 0; i < f->n; i++) {
		const struct vg_dfinding *x = &f->v[i];
		struct vg_alert alert;

		vg_dfinding_alert(x, &alert);
		if (al)
			vg_alerter_emit(al, &alert);
		if (a->c.json)
			vg_alert_fprint(stdout, s->host, &alert, a->c.pretty);
		else
			printf("%-18s %-9s %-32.32s %s\n", x->check, vg_severity_name(x->severity),
			       x->target, x->summary);
	}
	if (!a->c.json && !f->n)
		printf("(no findings)\n");
	if (f->dropped)
		fprintf(stderr, "%s: warning: %zu more findings were not kept\n", PROG_NAME,
			f->dropped);
}

static void warn_alert(void *ctx, const char *msg)
{
	fprintf(stderr, "%s: warning: %s\n", PROG_NAME, msg);
}

static bool wanted(const struct disk_args *a, const char *check)
{
	for (int i = 0; i < a->nchecks; i++)
		if (!strcmp(a->checks[i], check))
			return true;
	return !a->nchecks;
}

/* Moves F's findings of the checks --check asked for to TO; F is left empty. */
static int take_findings(const struct disk_args *a, struct vg_dfindings *to, struct vg_dfindings *f)
{
	for (size_t i = 0; i < f->n; i++) {
		if (!wanted(a, f->v[i].check)) {
			vg_dfinding_free(&f->v[i]);
			continue;
		}
		if (to->n == to->cap) {
			size_t cap = to->cap ? to->cap * 2 : 32;
			void *p = realloc(to->v, cap * sizeof(*to->v));

			if (!p)
				return -ENOMEM;
			to->v = p;
			to->cap = cap;
		}
		to->v[to->n++] = f->v[i];
	}
	free(f->v);
	memset(f, 0, sizeof(*f));
	return 0;
}

static int baseline_diff(const struct disk_args *a, const struct vg_disk_scan *r,
			 struct vg_dfindings *out)
{
	struct vg_dbase was, now;
	struct vg_dfindings d = { 0 };
	struct vg_err err = { 0 };
	int ret;

	if (vg_disk_baseline_read(a->baseline, &was, &err))
		return cli_fail_err(&err);
	ret = vg_disk_baseline_of(r, &now, &err);
	if (!ret)
		ret = vg_disk_diff(&was, &now, a->excludes, &d, &err);
	vg_disk_baseline_free(&was);
	vg_disk_baseline_free(&now);
	if (!ret && take_findings(a, out, &d))
		ret = vg_errf(&err, ENOMEM, "out of memory");
	vg_dfindings_free(&d);
	return ret ? cli_fail_err(&err) : 0;
}

static int cross_view(const struct disk_args *a, struct disk_src *s, const struct vg_disk_scan *r,
		      struct vg_dfindings *out)
{
	struct vg_dfindings d = { 0 };
	struct vg_xview_stats st;
	struct vg_err err = { 0 };

	if (vg_xview(&s->g.lx, s->fs, r, &d, &st, &err)) {
		vg_dfindings_free(&d);
		/* the image's own findings still stand */
		if (err.code == ENOENT) {
			fprintf(stderr, "%s: warning: no cross-view: %s\n", PROG_NAME, err.msg);
			return 0;
		}
		return cli_fail_err(&err);
	}
	if (!a->c.json)
		fprintf(stderr,
			"cross-view: %" PRIu64
			" kernel inodes of the file system mounted at %s, %" PRIu64
			" held by processes, %" PRIu64 " clean cached pages compared, %" PRIu64
			" dirty skipped\n",
			st.inodes, st.mount, st.held, st.pages, st.skipped);
	if (take_findings(a, out, &d)) {
		vg_dfindings_free(&d);
		return cli_fail("out of memory");
	}
	return 0;
}

static int run_scan(const struct disk_args *a, struct disk_src *s, bool hash, bool checks,
		    struct vg_disk_scan *r)
{
	static const char *const none[] = { "", NULL };
	struct vg_disk_scan_opts o = {
		.only = checks ? (a->nchecks ? a->checks : NULL) : none,
		.excludes = a->nexcludes ? a->excludes : NULL,
		.hash = hash,
		.max_file = a->max_file,
	};
	struct vg_yara *y = NULL;
	struct vg_err err = { 0 };
	int ret;

	if (checks && !a->no_yara && vg_yara_open(&y, a->rules, a->no_default_rules, &err))
		return cli_fail_err(&err);
	o.yara = y;
	ret = vg_disk_scan(s->fs, &o, r, &err);
	vg_yara_close(y);
	if (ret)
		return cli_fail_err(&err);
	if (r->warning[0])
		fprintf(stderr, "%s: warning: %s\n", PROG_NAME, r->warning);
	return 0;
}

static void scan_help(void)
{
	printf("Usage: %s disk scan IMAGE [--vm SOURCE] [options] [-j|-p]\n"
	       "       %s disk scan --vm SOURCE [options] [-j|-p]\n\n"
	       "Checks a guest's files from outside: an ext2/3/4 disk image read in-process (no\n"
	       "mount), or with only --vm the guest's RAM disks read from its memory; with both,\n"
	       "the guest kernel's view of the mounted image is compared with the disk too.\n"
	       "Exit 0 clean, 1 findings, 2 error. See 'vigil disk checks' and docs/disk.md.\n"
	       "  --rules DIR          YARA rules (*.yar, *.yara) on top of the built-in set\n"
	       "  --no-default-rules   only the rules of --rules\n"
	       "  --no-yara            no YARA at all\n"
	       "  --baseline FILE      also report what changed since 'vigil disk baseline'\n"
	       "  --check ID           run only this check (repeatable)\n"
	       "  --exclude PATH       no findings at or below PATH (repeatable)\n"
	       "  --max-file SIZE      files over SIZE (default 256M) are not read\n"
	       "  --alert SPEC         also send alerts to stdout, file:PATH, syslog or "
	       "unix:PATH\n",
	       PROG_NAME, PROG_NAME);
	disk_help_common(DO_VM);
}

static int do_scan(int argc, char **argv)
{
	struct disk_args a;
	struct disk_src s;
	struct vg_disk_scan r;
	struct vg_alerter al;
	struct vg_err err = { 0 };
	bool have_alerter = false;
	int rc;

	if (disk_parse(argc, argv, DO_VM | DO_SCAN | DO_BASELINE, &a))
		return EXIT_ERROR;
	if (a.c.help) {
		scan_help();
		return EXIT_OK;
	}
	if (a.npos > 1)
		return cli_fail("scan: one IMAGE at most; see --help");
	if (disk_open(&a, a.npos ? a.pos[0] : NULL, &s))
		return EXIT_ERROR;
	rc = run_scan(&a, &s, a.baseline != NULL, true, &r);
	if (rc) {
		disk_close(&s);
		return rc;
	}
	if (a.baseline)
		rc = baseline_diff(&a, &r, &r.findings);
	if (!rc && s.have_vm && !s.ram)
		rc = cross_view(&a, &s, &r, &r.findings);
	if (!rc && a.nalerts) {
		if (vg_alerter_open(&al, s.host, a.alerts, a.nalerts, &err))
			rc = cli_fail_err(&err);
		al.warn = warn_alert;
		have_alerter = !rc;
	}
	if (!rc) {
		print_findings(&a, &s, &r.findings, have_alerter ? &al : NULL);
		if (!a.c.json)
			printf("\n%s: %" PRIu64 " entries, %" PRIu64 " files (%.1f MiB read in "
			       "%.0f ms)%s\n",
			       s.fs->label, r.stats.entries, r.stats.files,
			       r.stats.bytes_read / 1048576.0, r.stats.list_ms + r.stats.check_ms,
			       r.stats.too_large ? "; some files over --max-file not read" : "");
		rc = r.findings.n ? EXIT_FINDINGS : EXIT_OK;
	}
	if (have_alerter)
		vg_alerter_close(&al);
	vg_disk_scan_free(&r);
	disk_close(&s);
	return rc;
}

static int do_baseline(int argc, char **argv)
{
	struct disk_args a;
	struct disk_src s;
	struct vg_disk_scan r;
	struct vg_err err = { 0 };
	int rc;

	if (disk_parse(argc, argv, DO_VM | DO_OUTPUT, &a))
		return EXIT_ERROR;
	if (a.c.help) {
		printf("Usage: %s disk baseline IMAGE -o FILE [image options]\n"
		       "       %s disk baseline --vm SOURCE -o FILE\n\n"
		       "Records every file of the image (or of the guest's RAM disks): type, "
		       "mode,\n"
		       "owner, size, links, inode number and times, symlink target and "
		       "BLAKE2b-256\n"
		       "of its content. FILE is created 0600 and never replaced. Compare later "
		       "with\n"
		       "'vigil disk diff' or 'vigil disk scan --baseline'.\n\n",
		       PROG_NAME, PROG_NAME);
		disk_help_common(DO_VM);
		return EXIT_OK;
	}
	if (!a.output)
		return cli_fail("baseline: -o FILE is required");
	if (a.npos > 1)
		return cli_fail("baseline: one IMAGE at most; see --help");
	if (disk_open(&a, a.npos ? a.pos[0] : NULL, &s))
		return EXIT_ERROR;
	rc = run_scan(&a, &s, true, false, &r);
	if (rc) {
		disk_close(&s);
		return rc;
	}
	if (vg_disk_baseline_write(&r, s.fs->label, a.output, &err)) {
		rc = cli_fail_err(&err);
	} else if (a.c.json) {
		struct vg_json j;

		vg_json_init(&j, stdout, a.c.pretty);
		vg_json_obj_open(&j);
		vg_json_kstr(&j, "source", s.fs->label);
		vg_json_kstr(&j, "baseline", a.output);
		vg_json_kuint(&j, "entries", r.stats.entries);
		vg_json_kuint(&j, "hashed", r.stats.files_read);
		vg_json_obj_close(&j);
		vg_json_end(&j);
	} else {
		printf("baseline of %s: %" PRIu64 " entries, %" PRIu64 " files hashed -> %s\n",
		       s.fs->label, r.stats.entries, r.stats.files_read, a.output);
	}
	vg_disk_scan_free(&r);
	disk_close(&s);
	return rc;
}

static bool is_baseline(const char *path)
{
	char head[64] = "";
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(head, 1, sizeof(head) - 1, f);
	fclose(f);
	head[n] = '\0';
	return !strncmp(head, "{\"vigil_disk_baseline\"", 22);
}

static int do_diff(int argc, char **argv)
{
	struct disk_args a;
	struct disk_src s = { 0 };
	struct vg_dbase was, now;
	struct vg_dfindings d = { 0 };
	struct vg_disk_scan r;
	struct vg_err err = { 0 };
	const char *against;
	bool scanned = false;
	int rc = 0;

	if (disk_parse(argc, argv, DO_VM | DO_SCAN, &a))
		return EXIT_ERROR;
	if (a.c.help) {
		printf("Usage: %s disk diff BASELINE IMAGE|BASELINE2 [image options] [-j|-p]\n"
		       "       %s disk diff BASELINE --vm SOURCE [-j|-p]\n\n"
		       "What changed since BASELINE: file-added, file-removed and file-changed "
		       "with\n"
		       "the fields (content, type, mode, owner, size, link, mtime, ctime, crtime,\n"
		       "inode). Exit 0 when nothing changed, 1 when something did, 2 on error.\n"
		       "  --exclude PATH   no findings at or below PATH (repeatable)\n\n",
		       PROG_NAME, PROG_NAME);
		disk_help_common(DO_VM);
		return EXIT_OK;
	}
	if (a.npos != (a.vm ? 1 : 2))
		return cli_fail("diff: expected BASELINE and %s; see --help",
				a.vm ? "--vm SOURCE" : "an IMAGE or a second baseline");
	if (vg_disk_baseline_read(a.pos[0], &was, &err))
		return cli_fail_err(&err);
	against = a.vm ? NULL : a.pos[1];
	if (against && is_baseline(against)) {
		if (vg_disk_baseline_read(against, &now, &err))
			rc = cli_fail_err(&err);
		s.host = against;
	} else if (disk_open(&a, against, &s)) {
		rc = EXIT_ERROR;
	} else {
		rc = run_scan(&a, &s, true, false, &r);
		scanned = !rc;
		if (!rc && vg_disk_baseline_of(&r, &now, &err))
			rc = cli_fail_err(&err);
	}
	if (!rc && vg_disk_diff(&was, &now, a.nexcludes ? a.excludes : NULL, &d, &err))
		rc = cli_fail_err(&err);
	if (!rc) {
		print_findings(&a, &s, &d, NULL);
		rc = d.n ? EXIT_FINDINGS : EXIT_OK;
		vg_disk_baseline_free(&now);
	}
	vg_dfindings_free(&d);
	vg_disk_baseline_free(&was);
	if (scanned)
		vg_disk_scan_free(&r);
	if (s.fs || s.have_vm)
		disk_close(&s);
	return rc;
}

static int do_checks(int argc, char **argv)
{
	struct disk_args a;
	struct vg_json j;

	if (disk_parse(argc, argv, 0, &a))
		return EXIT_ERROR;
	if (a.c.help) {
		printf("Usage: %s disk checks [-j|-p]\n\nThe checks 'vigil disk scan' runs.\n",
		       PROG_NAME);
		return EXIT_OK;
	}
	if (a.npos)
		return cli_fail("checks: unexpected argument '%s'", a.pos[0]);
	if (a.c.json) {
		vg_json_init(&j, stdout, a.c.pretty);
		vg_json_arr_open(&j);
	}
	for (const struct vg_disk_check *c = vg_disk_checks; c->id; c++) {
		if (a.c.json) {
			vg_json_obj_open(&j);
			vg_json_kstr(&j, "id", c->id);
			if (c->attack)
				vg_json_kstr(&j, "attack", c->attack);
			vg_json_kstr(&j, "what", c->what);
			vg_json_obj_close(&j);
		} else {
			printf("%-18s %-10s %s\n", c->id, c->attack ? c->attack : "-", c->what);
		}
	}
	if (a.c.json) {
		vg_json_arr_close(&j);
		vg_json_end(&j);
	}
	return EXIT_OK;
}

int cmd_disk(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "scan", do_scan,
		  "check an image or the guest's RAM disks (chkrootkit, YARA, ...)" },
		{ "baseline", do_baseline,
		  "record every file's hash, mode, owner, size and times" },
		{ "diff", do_diff, "what changed since a baseline" },
		{ "ls", do_ls, "list the files of an image or of the guest's RAM disks" },
		{ "cat", do_cat, "write one file's content to standard output" },
		{ "info", do_info, "an image's format, partition table and file systems" },
		{ "checks", do_checks, "the checks scan runs" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch("disk", cmds, argc - 1, argv + 1);
}
