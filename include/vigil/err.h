/* SPDX-License-Identifier: MIT */
/*
 * Error context: library functions return 0 or a negative errno and, on failure, leave one
 * human-readable sentence in a caller-supplied struct vg_err. Libraries never print or exit;
 * the CLI prints err->msg as the single stderr line DESIGN.md §5 asks for.
 */
#ifndef VIGIL_ERR_H
#define VIGIL_ERR_H

#include <stdarg.h>

struct vg_err {
	int code; /* positive errno of the first failure, 0 when none */
	char msg[512];
};

/* Records the failure (first one wins, so the root cause is kept) and returns -code. */
int vg_errf(struct vg_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes context to an existing message: "reading task list: <old message>". */
int vg_err_prefix(struct vg_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void vg_err_clear(struct vg_err *err);

#endif
