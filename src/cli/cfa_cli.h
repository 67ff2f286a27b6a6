/* SPDX-License-Identifier: MIT */
/*
 * Internal to the `vigil cfa` command group: helpers shared by cfa.c (keys, models, reports)
 * and cfa_run.c (trace, verify, run: the commands that drive the verifier).
 */
#ifndef VIGIL_CLI_CFA_H
#define VIGIL_CLI_CFA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vigil/cfa_model.h"
#include "vigil/err.h"

void cfa_now_rfc3339(char *buf, size_t n);
int cfa_read_hex_file(const char *path, uint8_t *out, size_t n, struct vg_err *err);
int cfa_write_text(const char *path, const char *text, size_t len, mode_t mode, struct vg_err *err);
int cfa_wants_help(int argc, char **argv);
int cfa_same_build(const struct vg_cfa_model *m, const uint8_t *id, uint32_t len);

int cfa_verify(int argc, char **argv);
int cfa_trace(int argc, char **argv);
int cfa_run(int argc, char **argv);

#endif
