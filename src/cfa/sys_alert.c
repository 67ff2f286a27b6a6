// SPDX-License-Identifier: MIT
/*
 * Syscall attestation alerts in the one schema: the engine's findings and the session's,
 * with their evidence objects built by the vg_json writer, handed to the stream's alerter.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sys_stream_int.h"
#include "vigil/json.h"

static const char *fd_kind(uint32_t k)
{
	static const char *const n[] = { "none",	"file",		"directory",
					 "char-device", "block-device", "pipe",
					 "socket",	"symlink",	"anon" };

	k &= 0xf;
	return k < sizeof(n) / sizeof(n[0]) ? n[k] : k == 15 ? "bad-fd" : "?";
}

static void where_json(struct vg_json *j, const char *key, const struct vg_sys_where *w)
{
	static const char *const kinds[] = { "?", "file", "anonymous", "vdso", "unmapped", "data" };

	vg_json_key(j, key);
	vg_json_obj_open(j);
	vg_json_kstr(j, "kind", w->kind < 6 ? kinds[w->kind] : "?");
	if (w->module)
		vg_json_kstr(j, "module", w->module);
	if (w->function)
		vg_json_kstr(j, "function", w->function);
	vg_json_khex(j, "offset", w->off);
	if (w->word >= 0)
		vg_json_kint(j, "stack_word", w->word);
	vg_json_obj_close(j);
}

static void emit(struct vg_sys_stream *s, const char *check, enum vg_severity sev,
		 const char *summary, const char *evidence, const char *attack)
{
	struct vg_alert a = {
		.source = "cfa",
		.target_kind = "device",
		.target_id = s->o.device,
		.check = check,
		.severity = sev,
		.summary = summary,
		.evidence = evidence,
		.attack = attack,
	};

	if (!s->o.alerter)
		return;
	/* the monitored host of the alert is the device (one alerter serves every device) */
	snprintf(s->o.alerter->host, sizeof(s->o.alerter->host), "%s", s->o.device);
	vg_alerter_emit(s->o.alerter, &a);
}

void vg_sys_stream_engine_alert(void *ctx, const struct vg_sys_alert *a)
{
	struct vg_sys_stream *s = ctx;
	struct vg_json j;
	char *ev;

	if (s->o.train) {
		if (s->o.warn)
			s->o.warn(s->o.warn_ctx, a);
		return;
	}
	if (vg_json_init_mem(&j, false))
		return;
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "program", s->o.program);
	vg_json_khex(&j, "boot", s->boot);
	vg_json_kuint(&j, "seq", s->cur_seq);
	vg_json_kstr(&j, "reason", a->reason);
	if (a->pid)
		vg_json_kuint(&j, "pid", a->pid);
	if (a->tid)
		vg_json_kuint(&j, "tid", a->tid);
	if (a->nr != VG_SYS_NONE) {
		vg_json_key(&j, "syscall");
		vg_json_obj_open(&j);
		vg_json_kuint(&j, "nr", a->nr);
		vg_json_kstr(&j, "name", vg_sys_nr_name(a->nr));
		vg_json_kstr(&j, "fd_kind", fd_kind(a->argkey));
		if (a->argkey & 0xff0)
			vg_json_kuint(&j, "family", (a->argkey >> 4) & 0xff);
		if (a->argkey & 0x1000)
			vg_json_kbool(&j, "prot_exec", true);
		if (a->nr == 56 || a->nr == 435)
			vg_json_kstr(&j, "creates", a->argkey & 0x2000 ? "thread" : "process");
		vg_json_obj_close(&j);
		where_json(&j, "code", &a->code);
		if (a->site.kind)
			where_json(&j, "call_site", &a->site);
		if (a->expected_word >= 0)
			vg_json_kint(&j, "expected_stack_word", a->expected_word);
	} else if (a->code.module) {
		vg_json_kstr(&j, "file", a->code.module);
	}
	if (a->prev) {
		where_json(&j, "previous", a->prev);
		vg_json_kstr(&j, "previous_syscall", vg_sys_nr_name(a->prev_nr));
	}
	if (a->path) {
		vg_json_key(&j, "path");
		vg_json_strn(&j, a->path, a->pathlen);
	}
	if (a->check == VG_SYS_C_LOST)
		vg_json_kuint(&j, "count", a->count);
	vg_json_obj_close(&j);
	ev = vg_json_mem_take(&j, NULL);
	emit(s, vg_sys_check_name(a->check), a->severity, a->reason, ev,
	     vg_sys_check_attack(a->check));
	free(ev);
}

void vg_sys_stream_session_alert(struct vg_sys_stream *s, enum vg_sys_session_check c,
			      const struct vg_sb_hdr *h, uint64_t count, const char *why)
{
	static const enum vg_severity sev[VG_SYS_S_KINDS] = {
		[VG_SYS_S_FORGED] = VG_SEV_HIGH,    [VG_SYS_S_REPLAYED] = VG_SEV_HIGH,
		[VG_SYS_S_MISSING] = VG_SEV_MEDIUM, [VG_SYS_S_MALFORMED] = VG_SEV_HIGH,
		[VG_SYS_S_RESTARTED] = VG_SEV_INFO, [VG_SYS_S_SILENT] = VG_SEV_MEDIUM,
	};
	struct vg_json j;
	char *ev;

	s->session_alerts[c]++;
	if (s->o.train || vg_json_init_mem(&j, false))
		return;
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "program", s->o.program);
	if (h) {
		vg_json_kstr(&j, "claimed_device", h->device);
		vg_json_khex(&j, "boot", h->boot);
		vg_json_kuint(&j, "seq", h->seq);
	}
	if (s->started) {
		vg_json_khex(&j, "current_boot", s->boot);
		vg_json_kuint(&j, "expected_seq", s->next_seq);
	}
	if (c == VG_SYS_S_MISSING)
		vg_json_kuint(&j, "missing_batches", count);
	if (c == VG_SYS_S_SILENT)
		vg_json_kuint(&j, "silent_seconds", count);
	vg_json_kstr(&j, "reason", why);
	vg_json_obj_close(&j);
	ev = vg_json_mem_take(&j, NULL);
	emit(s, vg_sys_session_check_name(c), sev[c], why, ev,
	     c == VG_SYS_S_FORGED || c == VG_SYS_S_REPLAYED ? "T1565" : NULL);
	free(ev);
}

const char *vg_sys_session_check_name(enum vg_sys_session_check c)
{
	static const char *const n[VG_SYS_S_KINDS] = {
		[VG_SYS_S_FORGED] = "cfa.batch-forged",
		[VG_SYS_S_REPLAYED] = "cfa.batch-replayed",
		[VG_SYS_S_MISSING] = "cfa.batch-missing",
		[VG_SYS_S_MALFORMED] = "cfa.batch-malformed",
		[VG_SYS_S_RESTARTED] = "cfa.device-restarted",
		[VG_SYS_S_SILENT] = "cfa.device-silent",
	};

	return (unsigned)c < VG_SYS_S_KINDS ? n[c] : "cfa.batch";
}
