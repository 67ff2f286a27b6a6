/* SPDX-License-Identifier: MIT */
/* Pieces of ids watch that ids serve reuses: alert sinks, signals, the interval. */
#ifndef VIGIL_CLI_IDS_WATCH_CMD_H
#define VIGIL_CLI_IDS_WATCH_CMD_H

#include <stdbool.h>

#include "ids_common.h"
#include "vigil/alert.h"

/* Opens the --output sinks (stdout when none) with warnings printed on stderr. */
int ids_sinks_open(struct vg_alerter *s, const struct ids_args *a);
void ids_sinks_emit(struct vg_alerter *s, const struct vg_finding *x, const char *event);

void ids_install_signals(void);
bool ids_stop_requested(void);
bool ids_take_reopen(void); /* true once after each SIGHUP */
uint32_t ids_interval_ms(const struct ids_args *a, const struct ids_ctx *c);

int cmd_ids_watch(int argc, char **argv);
int cmd_ids_serve(int argc, char **argv);

#endif
