/* SPDX-License-Identifier: MIT */
/* The ids commands in ids_watch.c, for ids.c's table. */
#ifndef VIGIL_CLI_IDS_WATCH_CMD_H
#define VIGIL_CLI_IDS_WATCH_CMD_H

#include "ids_common.h"
#include "vigil/alert.h"

/* Opens the --output sinks (stdout when none) with warnings printed on stderr. */
int ids_sinks_open(struct vg_alerter *s, const struct ids_args *a);

int cmd_ids_watch(int argc, char **argv);
int cmd_ids_serve(int argc, char **argv);

#endif
