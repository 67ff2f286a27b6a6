/* SPDX-License-Identifier: MIT */
/* YARA glue internals: why the lazily opened library is missing, and the built-in rules. */
#ifndef VIGIL_DISK_YARA_LAZY_H
#define VIGIL_DISK_YARA_LAZY_H

/* Why yr_initialize failed to find libyara ("" when it did not). */
const char *vg_yara_lazy_error(void);

/* The rule files of share/yara, compiled into vigil (yara_embed.py generates them). */
struct vg_yara_builtin {
	const char *name; /* file name, e.g. "linux_rootkits.yar" */
	const char *text;
};
extern const struct vg_yara_builtin vg_yara_builtins[]; /* ends with { NULL, NULL } */

#endif
