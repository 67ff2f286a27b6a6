/* SPDX-License-Identifier: MIT */
/*
 * The watch loop's body, shared by `ids watch` and `ids serve`: one tick looks at the guest
 * and emits what changed — findings appearing ("alert") and clearing ("resolved"), and the
 * guest's own state ("state" events: paused, resumed, gone, returned, rebooted, unreadable,
 * readable).
 * It never exits on the guest's account: a vanished or unreadable guest is reported and
 * retried each tick; only the policy's on-gone=exit ends the loop.
 *
 * Guest state is read from memory alone (no QMP): a RAM file that vanished or was replaced
 * means the VM is gone; jiffies that stand still for PAUSE_MS while a sample of RAM stays the
 * same mean it is paused (an idle tickless guest can leave jiffies alone for a while, hence
 * the grace); jiffies that stand still while RAM changes, or go backwards, mean the kernel we
 * read stopped and another runs: a reboot, confirmed once the rediscovered kernel's clock
 * moves. Two failed looks in a row are treated the same way (a reboot often tears memory
 * before the clock has stood still long enough to tell), except that the kernel's findings
 * are kept: when the same kernel is found again with its clock going on, it was only
 * unreadable for a while ("readable"), not rebooted.
 *
 * A kernel's memory is overwritten from the moment its guest resets, seconds before its clock
 * has stood still long enough to call it stopped, and a look then reads garbage that looks
 * like tampering. So what a look shows is committed (alerted or resolved) only when the
 * kernel was seen alive around it: its clock moved since the last tick and was still moving
 * plausibly (forwards, no faster than 1000 Hz) after the look — or the guest is paused, its
 * memory frozen. Otherwise the look is kept back and the next tick decides.
 */
#ifndef VIGIL_CLI_IDS_WATCHER_H
#define VIGIL_CLI_IDS_WATCHER_H

#include <sys/types.h>

#include "ids_common.h"
#include "vigil/ids_watch.h"

#define WATCHER_PAUSE_MS 3000
/* No kernel ticks faster than 1000 Hz: a clock running ahead of wall time by more than this
 * slack (in jiffies) is not a clock but memory being overwritten. */
#define WATCHER_JIFFY_SLACK 1000
#define WATCHER_SAMPLE_PAGES 256

enum watcher_state { WS_START, WS_RUNNING, WS_PAUSED, WS_GONE, WS_UNREADABLE };

struct watcher {
	const struct ids_args *a;
	struct ids_ctx *c;
	struct vg_guest g;
	bool open;
	struct vg_watch w;
	enum watcher_state state;
	dev_t dev;
	ino_t ino;
	uint64_t jiffies_va, last_jiffies, jiffies_since_ms;
	bool have_jiffies;
	bool clock_moved; /* at this tick's liveness check, since the last tick's */
	char banner[256];
	uint64_t text_va;
	bool seen_boot, reboot_pending;
	bool live;		  /* some process (QEMU) mapped the file when it was opened */
	uint64_t stale_banner_pa; /* the stopped kernel's banner, avoided when rediscovering */
	uint64_t stale_text_va;	  /* ... its text address, and the last clock read from it: */
	uint64_t stale_jiffies;	  /* the same kernel found again with its clock going on was */
	bool stale_have_jiffies;  /* unreadable for a while, it did not reboot */
	bool fresh_pending;	  /* rediscovered after a stop: not trusted until its clock moves */
	uint64_t last_sample;	  /* ram_sample() at the last tick */
	int errors;		  /* consecutive failed looks */
	uint64_t gone_since_ms;
	uint64_t looks, alerts;
	vg_watch_emit_fn emit;
	void *emit_ctx;
};

void watcher_init(struct watcher *w, const struct ids_args *a, struct ids_ctx *c,
		  vg_watch_emit_fn emit, void *ctx);
/* One tick: 0 to go on, 1 when the policy says to stop (guest gone, on-gone=exit). */
int watcher_tick(struct watcher *w);
/* Makes sure the guest is open (serve's on-demand checks); 0 or negative errno. */
int watcher_ensure_open(struct watcher *w);
void watcher_free(struct watcher *w);
const char *watcher_state_name(enum watcher_state s);
uint64_t watcher_now_ms(void);

#endif
