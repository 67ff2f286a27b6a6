/* SPDX-License-Identifier: MIT */
/*
 * The watch loop's body, shared by `ids watch` and `ids serve`: one tick looks at the guest
 * and emits what changed — findings appearing ("alert") and clearing ("resolved"), and the
 * guest's own state ("state" events: paused, resumed, gone, returned, rebooted, unreadable,
 * readable, unreachable, reachable).
 * It never stops on the guest's account: a vanished or unreadable guest is reported and
 * retried each tick; only the policy's on-gone=exit ends the loop.
 *
 * Guest state is read from the memory source alone (no QMP): a source that vanished or was
 * replaced means the VM is gone (vg_mem_check); a remote source that cannot be reached is
 * ridden out like a paused guest; jiffies that stand still for PAUSE_MS while a sample of RAM
 * stays the same mean it is paused (an idle tickless guest can leave jiffies alone for a
 * while, hence the grace); jiffies that stand still while RAM changes, or go backwards, mean
 * the kernel we read stopped and another runs: a reboot, confirmed once the rediscovered
 * kernel's clock moves. Two failed looks in a row are treated the same way (a reboot often
 * tears memory before the clock has stood still long enough to tell), except that the
 * kernel's findings are kept: when the same kernel is found again with its clock going on, it
 * was only unreadable for a while ("readable"), not rebooted. A source that no running VM
 * stands behind any more (vg_mem_live: QEMU exited) is gone.
 *
 * A kernel's memory is overwritten from the moment its guest resets, seconds before its clock
 * has stood still long enough to call it stopped, and a look then reads garbage that looks
 * like tampering. So what a look shows is committed (alerted or resolved) only when the
 * kernel was seen alive around it: its clock moved since the last tick and was still moving
 * plausibly (forwards, no faster than 1000 Hz) after the look — or the guest is paused, its
 * memory frozen. Otherwise the look is kept back and the next tick decides.
 */
#ifndef VIGIL_IDS_WATCHER_H
#define VIGIL_IDS_WATCHER_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/alert.h"
#include "vigil/guest.h"
#include "vigil/ids_look.h"
#include "vigil/ids_watch.h"

#define VG_WATCHER_PAUSE_MS 3000
/* No kernel ticks faster than 1000 Hz: a clock running ahead of wall time by more than this
 * slack (in jiffies) is not a clock but memory being overwritten. */
#define VG_WATCHER_JIFFY_SLACK 1000
#define VG_WATCHER_SAMPLE_PAGES 256
#define VG_WATCHER_DEFAULT_INTERVAL_MS 5000

enum vg_watcher_state {
	VG_WS_START,
	VG_WS_RUNNING,
	VG_WS_PAUSED,
	VG_WS_GONE,
	VG_WS_UNREADABLE,
	VG_WS_UNREACHABLE
};

struct vg_watcher {
	const struct vg_guest_opts *go;
	struct vg_ids_config *c;
	struct vg_guest g;
	bool open; /* g has a source and a discovered kernel */
	struct vg_watch w;
	enum vg_watcher_state state;
	uint64_t jiffies_va, last_jiffies, jiffies_since_ms;
	bool have_jiffies;
	bool clock_moved; /* at this tick's liveness check, since the last tick's */
	char banner[256];
	uint64_t text_va;
	bool seen_boot, reboot_pending;
	bool live;		  /* a running VM stood behind the source when it was opened */
	uint64_t stale_banner_pa; /* the stopped kernel's banner, avoided when rediscovering */
	uint64_t stale_text_va;	  /* ... its text address, and the last clock read from it: */
	uint64_t stale_jiffies;	  /* the same kernel found again with its clock going on was */
	bool stale_have_jiffies;  /* unreadable for a while, it did not reboot */
	bool fresh_pending;	  /* rediscovered after a stop: not trusted until its clock moves */
	uint64_t last_sample;	  /* RAM fingerprint at the last tick */
	int errors;		  /* consecutive failed looks */
	uint64_t gone_since_ms;
	uint64_t looks, alerts;
	char last_warning[1024]; /* the last look's warning, so each is reported once */
	vg_watch_emit_fn emit;
	void *emit_ctx;
	void (*warn)(void *ctx, const char *msg); /* a look's new warning; may be NULL */
};

/* GO and C must outlive the watcher. */
void vg_watcher_init(struct vg_watcher *w, const struct vg_guest_opts *go, struct vg_ids_config *c,
		     vg_watch_emit_fn emit, void *ctx);
/* One tick: 0 to go on, 1 when the policy says to stop (guest gone, on-gone=exit), -ENOMEM. */
int vg_watcher_tick(struct vg_watcher *w);
/* Makes sure the guest is open (serve's on-demand checks); 0 or negative errno. */
int vg_watcher_ensure_open(struct vg_watcher *w);
void vg_watcher_free(struct vg_watcher *w);
const char *vg_watcher_state_name(enum vg_watcher_state s);

/* What stops a loop and reopens its outputs: the CLI's signal flags, read through these. */
struct vg_loop_ctl {
	bool (*stop)(void *ctx);
	bool (*reopen)(void *ctx); /* true once per request */
	void *ctx;
};

/* Ticks every INTERVAL_MS on absolute monotonic times (a slow look does not drift the
 * cadence, a look longer than the interval skips ticks rather than bursting) until CTL says
 * stop or the policy ends the watch; OUT's file sinks are reopened on request. 0 or -ENOMEM. */
int vg_watcher_run(struct vg_watcher *w, uint32_t interval_ms, const struct vg_loop_ctl *ctl,
		   struct vg_alerter *out);

/* The alert a finding or state event becomes (source "ids"), for emit callbacks. */
void vg_watcher_emit_alert(struct vg_alerter *out, const struct vg_finding *x, const char *event);

#endif
