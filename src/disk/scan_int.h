/* SPDX-License-Identifier: MIT */
/* The scan's internals: the context the check files share (scan.c runs them). */
#ifndef VIGIL_DISK_SCAN_INT_H
#define VIGIL_DISK_SCAN_INT_H

#include <pthread.h>

#include "vigil/disk_scan.h"
#include "vigil/json.h"

struct vg_scan;

/* A check's wish to see one file's content: called with the bytes read (its first LEN). */
typedef void (*vg_want_fn)(struct vg_scan *c, uint32_t idx, const uint8_t *data, size_t len,
			   const void *arg);

struct vg_want {
	uint32_t idx;
	vg_want_fn fn;
	const void *arg;
};

struct vg_logs; /* rules_logs.c: what the wtmp/lastlog/passwd checks collected */

struct vg_scan {
	struct vg_fsrc *src;
	pthread_mutex_t *lock; /* held by vg_scan_add while content workers run */
	const struct vg_disk_scan_opts *o;
	struct vg_disk_scan *out;
	const struct vg_ftab *t; /* &out->tab */
	struct vg_want *wants;
	size_t nwants, capwants;
	struct vg_logs *logs;
	int ret; /* out of memory in a check: the scan fails */
};

/* Is check ID enabled (opts.only)? */
bool vg_scan_on(const struct vg_scan *c, const char *id);
/* Asks for entry IDX's content (a regular file, or a symlink's target file). */
void vg_scan_want(struct vg_scan *c, uint32_t idx, vg_want_fn fn, const void *arg);

/* Starts an evidence object (a vg_json memory writer with its object open). */
int vg_ev_open(struct vg_json *j);
/* Adds a finding about TARGET (of KIND; "file" when NULL). EV (an open evidence object, or
 * NULL) is closed and consumed. Findings on excluded paths or disabled checks are dropped. */
void vg_scan_add(struct vg_scan *c, const char *check, enum vg_severity sev, const char *attack,
		 const char *kind, const char *target, struct vg_json *ev, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));
/* Same, the finding taking ATTACK (malloc'd; NULL allowed). */
void vg_scan_add_owned(struct vg_scan *c, const char *check, enum vg_severity sev, char *attack,
		       const char *kind, const char *target, struct vg_json *ev, const char *fmt,
		       ...) __attribute__((format(printf, 8, 9)));
/* Same into a findings list with no scan around it (the cross-view). */
int vg_dfindings_add(struct vg_dfindings *f, const char *check, enum vg_severity sev,
		     const char *attack, const char *kind, const char *target, struct vg_json *ev,
		     const char *fmt, ...) __attribute__((format(printf, 8, 9)));

/* A small file's first MAX bytes, read now (a check that needs a second file to judge the one
 * it was handed): *DATA is malloc'd; -ENOENT when PATH is not a regular file. */
int vg_scan_slurp(struct vg_scan *c, const char *path, size_t max, uint8_t **data, size_t *len);

/* Calls FN on each line of DATA (without its newline, NUL-terminated, cut at 4 KiB) until it
 * returns true; returns whether one did. */
bool vg_lines(const uint8_t *data, size_t len, bool (*fn)(void *ctx, const char *line), void *ctx);

/* Common metadata evidence for an entry: path, inode, mode (octal), owner, size, mtime. */
void vg_ev_entry(struct vg_json *j, const struct vg_ftab *t, const struct vg_fent *e);

/* Path helpers. */
bool vg_path_under(const char *path, const char *dir); /* PATH is DIR or below it */
bool vg_path_system(const char *path); /* /bin, /sbin, /usr, /lib*, /etc, /boot and below */

/* Reads every regular file someone needs, once, and hands it to the hash, YARA and the
 * checks that asked (scan_content.c). */
void vg_scan_content(struct vg_scan *c);

/* The check files, in the order scan.c runs them. */
void vg_rules_meta(struct vg_scan *c);	  /* rules_meta.c */
void vg_rules_files(struct vg_scan *c);	  /* rules_files.c */
void vg_rules_trojan(struct vg_scan *c);  /* rules_trojan.c */
void vg_rules_config(struct vg_scan *c);  /* rules_config.c */
void vg_rules_preload(struct vg_scan *c); /* rules_preload.c */
void vg_rules_logs(struct vg_scan *c);	  /* rules_logs.c */
void vg_rules_logs_end(struct vg_scan *c);

#endif
