/* SPDX-License-Identifier: MIT */
/*
 * The IDS control socket (`ids serve`): the research's command manager, minus telnet. A Unix
 * stream socket (mode 0600, and every peer's uid checked with SO_PEERCRED against ours, so only
 * the socket's owner gets in) takes one command per line and answers in JSON lines:
 *
 *   checks             {"checks":[{"id","summary"}...]}
 *   scan [ID...]       one alert line per confirmed finding (event "finding"), then
 *                      {"done":"scan","findings":N} or {"error":...}
 *   status             {"state","vm","looks","active","subscribed"}
 *   subscribe          {"ok":"subscribe"}, then every watch event as an alert line
 *   unsubscribe, quit
 *
 * Meanwhile it watches like `ids watch` (same interval, policy and sinks). One thread, one
 * poll loop; a client whose socket buffer is full is dropped rather than buffered for, so a
 * stalled subscriber cannot grow our memory.
 */
#ifndef VIGIL_IDS_SERVE_H
#define VIGIL_IDS_SERVE_H

#include "vigil/alert.h"
#include "vigil/ids_watcher.h"

#define VG_SERVE_MAX_CLIENTS 16
#define VG_SERVE_LINE_MAX 1024

struct vg_serve_client {
	int fd;
	bool subscribed;
	char buf[VG_SERVE_LINE_MAX + 1];
	size_t len;
};

struct vg_ids_server {
	int lfd;
	char path[108];
	struct vg_serve_client cl[VG_SERVE_MAX_CLIENTS];
	struct vg_alerter *sinks; /* the --output sinks, or NULL */
	struct vg_watcher w;
	struct vg_ids_config *c;
	const char *vm;
};

/* Binds PATH (mode 0600; a stale socket nobody answers on is replaced, never another kind of
 * file) and sets up the watcher over GO and C; SINKS may be NULL. */
int vg_ids_server_open(struct vg_ids_server *sv, const char *path, const struct vg_guest_opts *go,
		       struct vg_ids_config *c, struct vg_alerter *sinks, struct vg_err *err);
/* Watches every INTERVAL_MS and answers clients until CTL says stop or the policy ends it. */
int vg_ids_server_run(struct vg_ids_server *sv, uint32_t interval_ms,
		      const struct vg_loop_ctl *ctl);
/* Drops the clients, removes the socket, frees the watcher. */
void vg_ids_server_close(struct vg_ids_server *sv);

#endif
