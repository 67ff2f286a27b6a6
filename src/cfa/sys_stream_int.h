/* SPDX-License-Identifier: MIT */
/* Internal to the device stream: its alert writers (sys_alert.c). */
#ifndef VIGIL_CFA_SYS_STREAM_INT_H
#define VIGIL_CFA_SYS_STREAM_INT_H

#include "vigil/sysstream.h"

/* vg_sys_alert_fn for the stream's verifier: CTX is the stream. */
void vg_sys_stream_engine_alert(void *ctx, const struct vg_sys_alert *a);
/* A session-level finding; H is the offending batch's header or NULL. */
void vg_sys_stream_session_alert(struct vg_sys_stream *s, enum vg_sys_session_check c,
			      const struct vg_sb_hdr *h, uint64_t count, const char *why);

#endif
