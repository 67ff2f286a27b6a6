/* SPDX-License-Identifier: MIT */
/*
 * Alert sinks (DESIGN.md §6): where alert JSON lines go. A spec names one:
 *   "-" or "stdout"   standard output, flushed per line
 *   "file:PATH"       appended with O_APPEND (one write per line, so concurrent writers do not
 *                     interleave), fsync'd on rotation and on close; vg_sink_reopen() reopens
 *                     PATH after logrotate moved it
 *   "syslog"          syslog(3), facility daemon, priority from the alert's severity
 *   "unix:PATH"       a line per alert to a Unix stream socket another program listens on
 *                     (a SIEM forwarder, socat); reconnected once per alert after a failure
 * A failing sink does not stop the others: the error is kept and reported once.
 */
#ifndef VIGIL_SINK_H
#define VIGIL_SINK_H

#include <stddef.h>

#include "vigil/err.h"

enum vg_sink_kind { VG_SINK_STDOUT, VG_SINK_FILE, VG_SINK_SYSLOG, VG_SINK_UNIX };

struct vg_sink {
	enum vg_sink_kind kind;
	char path[4096];
	int fd;
	int failed; /* errno of the first failed write, 0 while healthy */
};

int vg_sink_open(struct vg_sink *s, const char *spec, struct vg_err *err);
/* Writes one line (LINE holds no newline); SEVERITY is the alert's, for syslog. */
int vg_sink_write(struct vg_sink *s, const char *line, size_t len, const char *severity);
int vg_sink_reopen(struct vg_sink *s, struct vg_err *err);
void vg_sink_close(struct vg_sink *s);
/* "stdout", "syslog", or the file's or socket's path, for messages. */
const char *vg_sink_name(const struct vg_sink *s);

#endif
