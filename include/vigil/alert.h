/* SPDX-License-Identifier: MIT */
/*
 * The one alert writer (DESIGN.md §6). Every source — ids, disk, switch, cfa, proxy, sandbox —
 * describes an alert in a struct vg_alert and hands it here; the envelope (RFC 3339 UTC
 * timestamp with microseconds, host, source, target, check, severity, summary, evidence,
 * ATT&CK ids) is written in exactly one place, as one JSON line, to one or more sinks
 * (vigil/sink.h: stdout, file, syslog, Unix socket).
 *
 * Evidence is a JSON object built with the vg_json writer (vg_json_init_mem), never by hand.
 */
#ifndef VIGIL_ALERT_H
#define VIGIL_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vigil/err.h"
#include "vigil/sink.h"

enum vg_severity { VG_SEV_INFO, VG_SEV_LOW, VG_SEV_MEDIUM, VG_SEV_HIGH, VG_SEV_CRITICAL };

const char *vg_severity_name(enum vg_severity s);
/* "info" .. "critical" -> *out; -EINVAL for anything else. */
int vg_severity_parse(const char *name, enum vg_severity *out);

struct vg_alert {
	const char *source;	 /* "ids", "disk", "switch", "cfa", "proxy", "sandbox" */
	const char *event;	 /* NULL for one-shot output; "alert", "resolved", "state", ... */
	const char *target_kind; /* "process", "module", "flow", "file", "device", ... */
	const char *target_id;
	const char *check; /* stable id, e.g. "hidden-process" */
	enum vg_severity severity;
	const char *summary;  /* one sentence */
	const char *evidence; /* a JSON object's text, NULL for {} */
	const char *attack;   /* ATT&CK technique ids, comma-separated ("T1014,T1562"), or NULL */
	int64_t ts_us;	      /* wall-clock microseconds; 0 = now */
};

/* Writes A as one JSON line ending in '\n' to OUT; PRETTY indents it (for -p). */
int vg_alert_fprint(FILE *out, const char *host, const struct vg_alert *a, bool pretty);
/* A as one JSON line without the newline, in a malloc'd buffer (*len bytes); NULL when out of
 * memory. */
char *vg_alert_format(const char *host, const struct vg_alert *a, size_t *len);

#define VG_ALERT_MAX_SINKS 8

/* A set of sinks alerts go to; failures of one sink do not stop the others and are reported
 * once each through the warn callback (the CLI prints them; libraries stay silent). */
struct vg_alerter {
	struct vg_sink sinks[VG_ALERT_MAX_SINKS];
	int n;
	char host[256];
	uint64_t sent;	   /* alerts formatted and handed to the sinks */
	uint64_t failures; /* sink writes that failed */
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
};

/* Opens SPECS (NULL or nspecs == 0: stdout). HOST names the monitored machine in each alert. */
int vg_alerter_open(struct vg_alerter *w, const char *host, const char *const *specs, int nspecs,
		    struct vg_err *err);
/* 0, or -EIO when every sink failed (the alert is lost; warn has been told why). */
int vg_alerter_emit(struct vg_alerter *w, const struct vg_alert *a);
/* Reopens file sinks after logrotate moved them (SIGHUP). */
void vg_alerter_reopen(struct vg_alerter *w);
void vg_alerter_close(struct vg_alerter *w);

#endif
