/* SPDX-License-Identifier: MIT */
/*
 * Checks over a guest's files (vigil/disk.h sources: disk images and RAM disks), each with a
 * stable id, evidence and ATT&CK ids, reported as alerts of source "disk" (docs/disk.md):
 *
 *   chkrootkit's file-based checks, reimplemented from its published logic: known rootkit
 *   files and directories, suspicious files in /dev, hidden names in system paths, strings of
 *   trojaned binaries, ld.so.preload, wtmp and lastlog deletions, setuid changes, backdoor
 *   lines in configuration files, hidden directories by link count (chkdirs);
 *   vigil's own: world-writable system files, setuid files where none belongs, inodes no
 *   directory reaches, files deleted while open, file-system anomalies (loops, corruption),
 *   YARA rules over every file's content (libyara; a rules directory the user supplies and a
 *   small default set built in), and an AIDE-style baseline (BLAKE2b-256, mode, owner, size,
 *   inode times) with a diff.
 *
 * One pass: the source lists its table, name and metadata rules run over it, then every
 * regular file the checks need (all of them when hashing or YARA are on) is read once and
 * handed to each check that wants it. The checks are pure functions of the table and the
 * bytes read; the source does all I/O.
 */
#ifndef VIGIL_DISK_SCAN_H
#define VIGIL_DISK_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/alert.h"
#include "vigil/disk.h"

/* ---- findings ---- */

struct vg_dfinding {
	const char *check; /* stable id (static) */
	enum vg_severity severity;
	const char *attack; /* ATT&CK ids, comma-separated, or NULL (static or owned: see below) */
	char *target;	    /* the file's path (or what else the finding is about) */
	char *kind;	    /* target kind: "file", "filesystem", "user" */
	char *summary;
	char *evidence;	    /* a JSON object */
	char *attack_owned; /* set when attack came from a YARA rule's metadata */
};

#define VG_DISK_MAX_FINDINGS 100000

struct vg_dfindings {
	struct vg_dfinding *v;
	size_t n, cap;
	size_t dropped; /* past VG_DISK_MAX_FINDINGS */
};

void vg_dfindings_free(struct vg_dfindings *f);
void vg_dfinding_free(struct vg_dfinding *f); /* one finding's strings */
/* The alert for F (source "disk"); valid while F is. */
void vg_dfinding_alert(const struct vg_dfinding *f, struct vg_alert *a);

/* The checks, for 'vigil disk checks' and --check. */
struct vg_disk_check {
	const char *id;
	const char *attack;
	const char *what;
};
extern const struct vg_disk_check vg_disk_checks[];
bool vg_disk_check_known(const char *id);

/* ---- YARA (yara.c) ---- */

struct vg_yara;

/* Compiles the built-in rules (unless no_defaults) and every *.yar / *.yara file in DIR (when
 * set). A rule that does not compile is an error naming its file and line. */
int vg_yara_open(struct vg_yara **out, const char *dir, bool no_defaults, struct vg_err *err);
void vg_yara_close(struct vg_yara *y);
int vg_yara_count(const struct vg_yara *y); /* rules compiled */

struct vg_yara_match {
	const char *rule, *ns;
	const char *description, *severity, *attack; /* the rule's metadata, or NULL */
	const char *tags;			     /* space-separated */
	const char *strings[4];			     /* identifiers of the first strings */
	uint64_t offsets[4];			     /* and where each first matched */
	int nstrings;
};

/* A scanner of Y's rules, for one thread at a time, reused across files. */
struct vg_yara_scanner;
int vg_yara_scanner_open(struct vg_yara *y, struct vg_yara_scanner **out, struct vg_err *err);
void vg_yara_scanner_close(struct vg_yara_scanner *s);
/* Scans BUF; calls ON_MATCH for each matching rule. -ETIMEDOUT when the scan took too long. */
int vg_yara_scan(struct vg_yara_scanner *s, const void *buf, size_t len,
		 void (*on_match)(void *ctx, const struct vg_yara_match *m), void *ctx,
		 struct vg_err *err);

/* ---- a scan ---- */

#define VG_DISK_MAX_FILE_DEFAULT (256ull << 20)

struct vg_disk_scan_opts {
	const char *const *only;     /* NULL-terminated check ids, or NULL for all */
	const char *const *excludes; /* paths whose findings are dropped (and below them) */
	struct vg_yara *yara;	     /* NULL: no YARA */
	bool hash;		     /* hash every regular file (baselines, diffs) */
	uint64_t max_file;	     /* files over this are not read (0: the default) */
	int threads;		     /* hashing and YARA workers (0: one per CPU, at most 4) */
};

struct vg_disk_stats {
	uint64_t entries, files, dirs;
	uint64_t files_read, bytes_read;
	uint64_t too_large; /* regular files over max_file, not read */
	double list_ms, check_ms;
};

struct vg_disk_scan {
	struct vg_ftab tab;
	uint8_t (*hash)[32]; /* per entry, when opts.hash; all zero when not hashed */
	uint8_t *hashed;     /* per entry: 1 when hash[i] holds the file's BLAKE2b-256 */
	struct vg_dfindings findings;
	struct vg_disk_stats stats;
	char source_kind[8];
	char warning[512]; /* the source's warning, if any */
};

/* Lists SRC and runs the checks. Findings land in OUT; errors that stop the scan (the source
 * cannot be listed) are returned. Problems with single files become fs-anomaly findings. */
int vg_disk_scan(struct vg_fsrc *src, const struct vg_disk_scan_opts *o, struct vg_disk_scan *out,
		 struct vg_err *err);
void vg_disk_scan_free(struct vg_disk_scan *s);

/* ---- baselines (baseline.c) and their diff (diff.c) ---- */

/* Writes the scanned table (which must have been hashed) as a baseline file, created 0600
 * with O_EXCL (an existing file is not replaced). */
int vg_disk_baseline_write(const struct vg_disk_scan *s, const char *label, const char *path,
			   struct vg_err *err);

struct vg_dbase_file {
	char *path, *link;
	uint32_t mode, uid, gid, nlink;
	uint64_t ino, size;
	int64_t mtime, ctime, crtime;
	bool hashed;
	uint8_t hash[32];
};

struct vg_dbase {
	char *label, *kind;
	struct vg_dbase_file *v; /* sorted by path */
	size_t n;
};

/* Reads a baseline file (capped at 1 GiB); a malformed one is an error naming the problem. */
int vg_disk_baseline_read(const char *path, struct vg_dbase *b, struct vg_err *err);
void vg_disk_baseline_free(struct vg_dbase *b);
/* The baseline of a scan, in memory (a diff of two scans, tests). */
int vg_disk_baseline_of(const struct vg_disk_scan *s, struct vg_dbase *b, struct vg_err *err);

/* Adds file-added, file-removed and file-changed findings for NOW against WAS. */
int vg_disk_diff(const struct vg_dbase *was, const struct vg_dbase *now,
		 const char *const *excludes, struct vg_dfindings *out, struct vg_err *err);

#endif
