/* SPDX-License-Identifier: MIT */
/*
 * Internal helpers of the sandbox analysis: a bounded line iterator over an artifact held in
 * memory, bounded reading of a whole artifact, and small string helpers. Not a public API.
 */
#ifndef VIGIL_SBX_INT_H
#define VIGIL_SBX_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/err.h"

struct sbx_lines {
	const char *p, *end;
	uint32_t n; /* lines returned so far */
};

static inline void sbx_lines_init(struct sbx_lines *it, const char *buf, size_t len)
{
	it->p = buf;
	it->end = buf + len;
	it->n = 0;
}

/* The next line, NUL-terminated in BUF (cut to CAP - 1 bytes; embedded NULs end it early).
 * False at the end or after SBX_MAX_LINES lines. */
bool sbx_next_line(struct sbx_lines *it, char *buf, size_t cap);

/* Reads at most SBX_MAX_FILE bytes of DIR/NAME into a NUL-terminated malloc'd buffer.
 * -ENOENT (no message) when the file does not exist. */
int sbx_read_artifact(const char *dir, const char *name, char **buf, size_t *len,
		      struct vg_err *err);

/* snprintf into a fixed field, never failing. */
void sbx_copy(char *dst, size_t cap, const char *src);

/* Last path component. */
const char *sbx_basename(const char *path);

/* Is PATH the sample's own file? Its name inside the environment is either its host file
 * name or "sample" (the name the system environment's agent gives it). */
bool sbx_is_self(const char *path, const char *sample_name);
/* The sample's file name inside an environment (/tmp/run/NAME), the same in all of them: its
 * base name when that is a plain name ([A-Za-z0-9._-], not starting with '.', fits CAP),
 * otherwise "sample". Either way sbx_is_self() recognises it. */
void sbx_guest_name(const char *path, char *out, size_t cap);

/* Is PATH a place a program writes to survive a reboot (init scripts, rc files, inittab,
 * crontabs, systemd units, shell profiles)? */
bool sbx_persist_path(const char *path);

/* Shannon entropy (bits per byte) that content of SIZE bytes must reach to count as
 * near-random: small files cannot reach 8 bits, so the bar follows log2(size). */
double sbx_entropy_bar(uint64_t size);

/* ---- the environments' image builders (builder.c) ---- */
/* $VIGIL_CACHE/sandbox, else ~/.cache/vigil/sandbox. */
int sbx_cache_dir(char *out, size_t n);
/* The script that builds ENV's image: image/system/build.sh for system, else
 * image/build-rootfs.sh (or $VIGIL_SANDBOX_BUILDER) for container and minimal. */
const char *sbx_builder_script(const char *env);

struct sbx_builder_opts {
	const char *script;
	bool check;	       /* --check: look, never build (no apt, no network) */
	const char *cache_dir; /* the builder's CACHE argument */
	const char *log;       /* everything it printed goes here too; NULL: nowhere */
	void (*step)(void *ctx, const char *step); /* its "step: ..." lines */
	void *ctx;
};
/* Runs a builder to its end: *STATUS its exit status, LAST its last line other than a step
 * (the image path when it succeeded, the reason when not). Fails only when it cannot run. */
int sbx_builder_run(const struct sbx_builder_opts *b, char *last, size_t n, int *status,
		    struct vg_err *err);
/* ENV's image as prepared in CACHE_DIR, by the builder's --check: 0 and its path, or -ENOENT
 * with an error naming `vigil sandbox prepare` when it is missing or from other sources. */
int sbx_image_find(const char *env, const char *cache_dir, char *path, size_t n,
		   struct vg_err *err);

/* Opens libcairo for chart.c (cairo_lazy.c); 0, or -errno with ERR set when it is missing. */
int sbx_cairo_load(struct vg_err *err);

#endif
