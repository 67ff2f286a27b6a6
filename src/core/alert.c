// SPDX-License-Identifier: MIT
/* The alert envelope and the sink set (see alert.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/alert.h"
#include "vigil/clock.h"
#include "vigil/json.h"

static const char *const sev_names[] = { "info", "low", "medium", "high", "critical" };

const char *vg_severity_name(enum vg_severity s)
{
	return (unsigned)s < 5 ? sev_names[s] : "info";
}

int vg_severity_parse(const char *name, enum vg_severity *out)
{
	for (unsigned i = 0; i < 5; i++)
		if (name && !strcmp(name, sev_names[i])) {
			*out = (enum vg_severity)i;
			return 0;
		}
	return -EINVAL;
}

/* ATT&CK ids as an array: "T1014,T1562.001" -> ["T1014","T1562.001"]. */
static void write_attack(struct vg_json *j, const char *list)
{
	const char *p = list;

	vg_json_key(j, "attack");
	vg_json_arr_open(j);
	while (*p) {
		size_t n = strcspn(p, ", ");

		if (n)
			vg_json_strn(j, p, n);
		p += n;
		p += strspn(p, ", ");
	}
	vg_json_arr_close(j);
}

static void write_alert(struct vg_json *j, const char *host, const struct vg_alert *a)
{
	char ts[VG_RFC3339_LEN];

	vg_rfc3339_us(ts, sizeof(ts), a->ts_us ? a->ts_us : vg_wall_us());
	vg_json_obj_open(j);
	vg_json_kstr(j, "ts", ts);
	vg_json_kstr(j, "host", host ? host : "");
	vg_json_kstr(j, "source", a->source);
	if (a->event)
		vg_json_kstr(j, "event", a->event);
	vg_json_key(j, "target");
	vg_json_obj_open(j);
	vg_json_kstr(j, "kind", a->target_kind ? a->target_kind : "");
	vg_json_kstr(j, "id", a->target_id ? a->target_id : "");
	vg_json_obj_close(j);
	vg_json_kstr(j, "check", a->check);
	vg_json_kstr(j, "severity", vg_severity_name(a->severity));
	vg_json_kstr(j, "summary", a->summary ? a->summary : "");
	/* evidence was built by the vg_json writer, so it is already valid JSON */
	vg_json_kraw(j, "evidence", a->evidence && a->evidence[0] ? a->evidence : "{}");
	if (a->attack && a->attack[0])
		write_attack(j, a->attack);
	vg_json_obj_close(j);
}

int vg_alert_fprint(FILE *out, const char *host, const struct vg_alert *a, bool pretty)
{
	struct vg_json j;

	vg_json_init(&j, out, pretty);
	write_alert(&j, host, a);
	vg_json_end(&j);
	return ferror(out) ? -EIO : 0;
}

char *vg_alert_format(const char *host, const struct vg_alert *a, size_t *len)
{
	struct vg_json j;

	if (vg_json_init_mem(&j, false))
		return NULL;
	write_alert(&j, host, a);
	return vg_json_mem_take(&j, len);
}

int vg_alerter_open(struct vg_alerter *w, const char *host, const char *const *specs, int nspecs,
		    struct vg_err *err)
{
	static const char *const dflt[] = { "stdout" };

	memset(w, 0, sizeof(*w));
	snprintf(w->host, sizeof(w->host), "%s", host ? host : "");
	if (!specs || nspecs <= 0) {
		specs = dflt;
		nspecs = 1;
	}
	if (nspecs > VG_ALERT_MAX_SINKS)
		return vg_errf(err, E2BIG, "at most %d alert outputs", VG_ALERT_MAX_SINKS);
	for (int i = 0; i < nspecs; i++) {
		int ret = vg_sink_open(&w->sinks[i], specs[i], err);

		if (ret) {
			vg_alerter_close(w);
			return ret;
		}
		w->n++;
	}
	return 0;
}

static void warn(struct vg_alerter *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct vg_alerter *w, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!w->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w->warn(w->warn_ctx, msg);
}

int vg_alerter_emit(struct vg_alerter *w, const struct vg_alert *a)
{
	size_t len = 0;
	char *line = vg_alert_format(w->host, a, &len);
	int ok = 0;

	if (!line) {
		warn(w, "an alert could not be formatted (out of memory)");
		w->failures++;
		return -ENOMEM;
	}
	w->sent++;
	for (int i = 0; i < w->n; i++) {
		bool was_ok = !w->sinks[i].failed;

		if (vg_sink_write(&w->sinks[i], line, len, vg_severity_name(a->severity))) {
			w->failures++;
			if (was_ok)
				warn(w, "alert output %d (%s) failed: %s", i + 1,
				     vg_sink_name(&w->sinks[i]), strerror(w->sinks[i].failed));
		} else {
			ok++;
		}
	}
	free(line);
	return ok || !w->n ? 0 : -EIO;
}

void vg_alerter_reopen(struct vg_alerter *w)
{
	for (int i = 0; i < w->n; i++) {
		struct vg_err err = { 0 };

		if (vg_sink_reopen(&w->sinks[i], &err))
			warn(w, "%s", err.msg);
	}
}

void vg_alerter_close(struct vg_alerter *w)
{
	for (int i = 0; i < w->n; i++)
		vg_sink_close(&w->sinks[i]);
	w->n = 0;
}
