// SPDX-License-Identifier: MIT
/*
 * A device's batch stream (contract in include/vigil/sysstream.h): sequence and identity
 * checks, the measurement chain, the engine, and signed reports.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sys_stream_int.h"
#include "vigil/clock.h"
#include "vigil/json.h"

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void chain_start(struct vg_sys_stream *s)
{
	static const char tag[] = "vigil-sys-measure-v1";
	crypto_generichash_state h;
	uint8_t b[8];

	le64(b, s->boot);
	crypto_generichash_init(&h, NULL, 0, 32);
	crypto_generichash_update(&h, (const uint8_t *)tag, sizeof(tag) - 1);
	crypto_generichash_update(&h, (const uint8_t *)s->o.device, strlen(s->o.device));
	crypto_generichash_update(&h, b, 8);
	crypto_generichash_final(&h, s->chain, 32);
}

static void chain_add(struct vg_sys_stream *s, uint64_t seq, const uint8_t *buf, size_t len)
{
	crypto_generichash_state h;
	uint8_t d[32], b[8];

	crypto_generichash(d, sizeof(d), buf, len, NULL, 0);
	le64(b, seq);
	crypto_generichash_init(&h, NULL, 0, 32);
	crypto_generichash_update(&h, s->chain, 32);
	crypto_generichash_update(&h, b, 8);
	crypto_generichash_update(&h, d, 32);
	crypto_generichash_final(&h, s->chain, 32);
}

int vg_sys_stream_init(struct vg_sys_stream *s, const struct vg_sys_stream_opts *o,
		       struct vg_err *err)
{
	struct vg_sys_verify_opts vo = { .train = o->train, .alert = vg_sys_stream_engine_alert };

	memset(s, 0, sizeof(*s));
	s->o = *o;
	vo.ctx = s;
	return vg_sys_verifier_new(&s->v, o->model, &vo, err);
}

static bool old_boot(const struct vg_sys_stream *s, uint64_t boot)
{
	for (uint32_t i = 0; i < s->nold && i < VG_SYS_OLD_BOOTS; i++)
		if (s->old_boots[i] == boot)
			return true;
	return false;
}

static void new_boot(struct vg_sys_stream *s, const struct vg_sb_hdr *h)
{
	if (s->started) {
		s->old_boots[s->nold++ % VG_SYS_OLD_BOOTS] = s->boot;
		vg_sys_stream_session_alert(s, VG_SYS_S_RESTARTED, h, 0,
					 "the device's agent started again (a new boot)");
	}
	vg_sys_verifier_reset(s->v);
	s->started = true;
	s->final = false;
	s->boot = h->boot;
	s->next_seq = 0;
	s->first_seq = h->seq;
	chain_start(s);
}

void vg_sys_stream_hello(struct vg_sys_stream *s, const struct vg_sb_hello *h, bool *known,
			 uint64_t *next)
{
	*known = s->started && h->boot == s->boot;
	*next = *known ? s->next_seq : 0;
}

int vg_sys_stream_batch(struct vg_sys_stream *s, const uint8_t *buf, size_t len,
			enum vg_sys_batch_status *st, struct vg_sys_result *res, struct vg_err *err)
{
	struct vg_err perr = { 0 };
	struct vg_sb_hdr h;
	int r;

	memset(res, 0, sizeof(*res));
	*st = VG_SYS_B_MALFORMED;
	if (vg_sb_parse_hdr(buf, len, &h, &perr)) {
		s->rejected++;
		vg_sys_stream_session_alert(s, VG_SYS_S_MALFORMED, NULL, 0, perr.msg);
		return 0;
	}
	if (strcmp(h.device, s->o.device)) {
		*st = VG_SYS_B_FORGED;
		s->rejected++;
		vg_sys_stream_session_alert(
			s, VG_SYS_S_FORGED, &h, 0,
			"a batch claimed another device than the key that sent it");
		return 0;
	}
	if (old_boot(s, h.boot) ||
	    (s->started && h.boot == s->boot && (h.seq < s->next_seq || s->final))) {
		*st = VG_SYS_B_REPLAYED;
		s->rejected++;
		vg_sys_stream_session_alert(s, VG_SYS_S_REPLAYED, &h, 0,
					 "a batch was sent again or out of order (its sequence "
					 "number was accepted before)");
		return 0;
	}
	if (!s->started || h.boot != s->boot)
		new_boot(s, &h);
	if (h.seq > s->next_seq) {
		s->missing += h.seq - s->next_seq;
		vg_sys_stream_session_alert(s, VG_SYS_S_MISSING, &h, h.seq - s->next_seq,
					 "batches are missing before this one");
	}
	s->cur_seq = h.seq;
	r = vg_sys_verifier_batch(s->v, buf, len, res, &perr);
	if (r == -ENOMEM)
		return vg_errf(err, ENOMEM, "out of memory");
	if (r) {
		s->rejected++;
		vg_sys_stream_session_alert(s, VG_SYS_S_MALFORMED, &h, 0, perr.msg);
		/* definitions it made before the error may be wrong: start them afresh */
		vg_sys_verifier_reset(s->v);
		return 0;
	}
	if (h.seq > s->next_seq && res->verdict == VG_SYS_V_CLEAN)
		res->verdict = VG_SYS_V_INCOMPLETE;
	*st = VG_SYS_B_ACCEPTED;
	chain_add(s, h.seq, buf, len);
	s->next_seq = h.seq + 1;
	s->final = h.flags & VG_SB_F_FINAL;
	s->batches++;
	s->events += res->events;
	if (res->observed)
		s->observed = res->observed;
	s->last_us = vg_wall_us();
	s->silent = false;
	if (res->verdict == VG_SYS_V_VIOLATION ||
	    (res->verdict == VG_SYS_V_INCOMPLETE && s->worst != VG_SYS_V_VIOLATION) ||
	    (res->verdict == VG_SYS_V_ANOMALY && s->worst == VG_SYS_V_CLEAN))
		s->worst = res->verdict;
	return 0;
}

void vg_sys_stream_silent(struct vg_sys_stream *s, int64_t now_us, int64_t last_us)
{
	if (s->silent)
		return;
	s->silent = true;
	vg_sys_stream_session_alert(s, VG_SYS_S_SILENT, NULL, (uint64_t)((now_us - last_us) / 1000000),
				 "the device has sent nothing for longer than allowed");
}

int vg_sys_stream_report(const struct vg_sys_stream *s, uint64_t checkpoint, const uint8_t sk[64],
			 char **out, size_t *len, struct vg_err *err)
{
	char hex[65], ts[VG_RFC3339_LEN], sig_hex[crypto_sign_BYTES * 2 + 1], *body, *o;
	const struct vg_sys_model *m = s->o.model;
	uint8_t sig[crypto_sign_BYTES];
	struct vg_sys_totals t;
	struct vg_json j;
	size_t n;

	vg_sys_verifier_totals(s->v, &t);
	if (vg_json_init_mem(&j, false))
		return vg_errf(err, ENOMEM, "report: out of memory");
	vg_rfc3339_now(ts, sizeof(ts));
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "type", "vigil-cfa-syscall-attestation");
	vg_json_kint(&j, "version", 1);
	vg_json_kstr(&j, "ts", ts);
	vg_json_kstr(&j, "device", s->o.device);
	vg_json_kstr(&j, "program", s->o.program);
	for (uint32_t i = 0; i < m->nmods; i++)
		if (m->mods[i].flags & VG_SYS_MOD_MAIN) {
			sodium_bin2hex(hex, sizeof(hex), m->mods[i].id, m->mods[i].idlen);
			vg_json_kstr(&j, "build_id", hex);
		}
	vg_json_kbool(&j, "trained", m->flags & VG_SYS_M_TRAINED);
	vg_json_kuint(&j, "checkpoint", checkpoint);
	vg_json_khex(&j, "boot", s->boot);
	vg_json_kuint(&j, "first_seq", s->first_seq);
	vg_json_kuint(&j, "next_seq", s->next_seq);
	vg_json_kuint(&j, "batches", s->batches);
	vg_json_kuint(&j, "rejected", s->rejected);
	vg_json_kuint(&j, "missing", s->missing);
	vg_json_kuint(&j, "syscalls", s->events);
	vg_json_kuint(&j, "observed", s->observed);
	vg_json_kuint(&j, "distinct_syscalls", t.tokens);
	vg_json_kuint(&j, "modules", t.modules);
	vg_json_kuint(&j, "processes", t.processes);
	vg_json_kstr(&j, "verdict", vg_sys_verdict_name(s->worst));
	vg_json_key(&j, "alerts");
	vg_json_obj_open(&j);
	for (int k = 1; k < VG_SYS_C_KINDS; k++)
		if (t.alerts[k])
			vg_json_kuint(&j, vg_sys_check_name(k), t.alerts[k]);
	for (int k = 0; k < VG_SYS_S_KINDS; k++)
		if (s->session_alerts[k])
			vg_json_kuint(&j, vg_sys_session_check_name(k), s->session_alerts[k]);
	vg_json_obj_close(&j);
	sodium_bin2hex(hex, sizeof(hex), s->chain, 32);
	vg_json_kstr(&j, "measurement", hex);
	vg_json_obj_close(&j);
	body = vg_json_mem_take(&j, &n);
	if (!body)
		return vg_errf(err, ENOMEM, "report: out of memory");
	/* the cfa report format: the same signature line, checked by `vigil cfa check-report` */
	crypto_sign_detached(sig, NULL, (const uint8_t *)body, n, sk);
	sodium_bin2hex(sig_hex, sizeof(sig_hex), sig, sizeof(sig));
	o = malloc(n + sizeof(sig_hex) + 16);
	if (!o) {
		free(body);
		return vg_errf(err, ENOMEM, "report: out of memory");
	}
	*len = (size_t)snprintf(o, n + sizeof(sig_hex) + 16, "%s\ned25519:%s\n", body, sig_hex);
	free(body);
	*out = o;
	return 0;
}

void vg_sys_stream_free(struct vg_sys_stream *s)
{
	vg_sys_verifier_free(s->v);
	s->v = NULL;
}
