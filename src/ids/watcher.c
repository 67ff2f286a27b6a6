// SPDX-License-Identifier: MIT
/* One tick of ids watch/serve: guest liveness, a look, and the changes it shows (see
 * ids_watcher.h), and the loop that ticks. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/clock.h"
#include "vigil/ids_watcher.h"
#include "vigil/json.h"
#include "vigil/util.h"

const char *vg_watcher_state_name(enum vg_watcher_state s)
{
	static const char *const n[] = { "starting", "running",	   "paused",
					 "gone",     "unreadable", "unreachable" };

	return (unsigned)s < sizeof(n) / sizeof(n[0]) ? n[s] : "unknown";
}

void vg_watcher_init(struct vg_watcher *w, const struct vg_guest_opts *go, struct vg_ids_config *c,
		     vg_watch_emit_fn emit, void *ctx)
{
	/* Every look allocates and frees the same few megabytes (views, text copy). By default
	 * glibc hands large blocks back to the kernel on free and faults them in afresh on the
	 * next look; on a virtualised host a fresh page costs ~12 us, and a look that reuses its
	 * memory is 3 ms instead of 20. A long-running watch keeps its memory. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
	memset(w, 0, sizeof(*w));
	w->go = go;
	w->c = c;
	w->emit = emit;
	w->emit_ctx = ctx;
}

/* A state event, in the alert schema: check "guest-state", target the VM. */
static void state_event(struct vg_watcher *w, const char *state, enum vg_severity sev,
			const char *summary, const char *detail)
{
	struct vg_finding x = { 0 };
	struct vg_json j;
	char *ev;

	x.check = "guest-state";
	x.severity = sev;
	snprintf(x.target_kind, sizeof(x.target_kind), "vm");
	snprintf(x.target_id, sizeof(x.target_id), "%s", w->go->source);
	snprintf(x.summary, sizeof(x.summary), "%s", summary);
	if (!vg_json_init_mem(&j, false)) {
		vg_json_obj_open(&j);
		vg_json_kstr(&j, "state", state);
		vg_json_kstr(&j, "detail", detail ? detail : "");
		vg_json_obj_close(&j);
		ev = vg_json_mem_take(&j, NULL);
		/* a detail too long for the finding is cut, the event still goes out */
		if (ev && strlen(ev) < sizeof(x.evidence))
			snprintf(x.evidence, sizeof(x.evidence), "%s", ev);
		else
			snprintf(x.evidence, sizeof(x.evidence), "{\"state\":\"%s\"}", state);
		free(ev);
	}
	w->emit(w->emit_ctx, &x, "state");
}

/* Drops the kernel, keeping the source open. */
static void forget_kernel(struct vg_watcher *w)
{
	vg_guest_forget_kernel(&w->g);
	w->open = false;
	w->have_jiffies = false;
}

static void close_guest(struct vg_watcher *w)
{
	forget_kernel(w);
	vg_guest_close(&w->g);
}

static void went_away(struct vg_watcher *w, const char *why)
{
	close_guest(w);
	if (w->state != VG_WS_GONE) {
		w->state = VG_WS_GONE;
		w->gone_since_ms = vg_mono_ms();
		state_event(w, "gone", VG_SEV_MEDIUM, "the guest's memory source is gone", why);
	}
}

/* A remote source that cannot be reached: nothing is known about the guest, so nothing
 * changes; ridden out like a pause, and announced once per outage. */
static void unreachable(struct vg_watcher *w, const char *why)
{
	if (w->state != VG_WS_UNREACHABLE) {
		w->state = VG_WS_UNREACHABLE;
		state_event(w, "unreachable", VG_SEV_LOW,
			    "the guest's memory source cannot be reached; waiting for it", why);
	}
}

static bool read_jiffies(struct vg_watcher *w, uint64_t *j)
{
	return w->jiffies_va && vg_linux_read(&w->g.lx, w->jiffies_va, j, sizeof(*j)) == 0;
}

/* Stop trusting the kernel we read: rediscover, prefer a kernel other than this one, and
 * accept whatever is found only once its clock is seen moving (confirm_fresh), so a stopped
 * image left in RAM is not taken again. The state event goes out once per outage. */
static void kernel_lost(struct vg_watcher *w, const char *summary, const char *why)
{
	if (w->open) {
		w->stale_banner_pa = w->g.lx.banner_pa;
		w->stale_text_va = w->g.lx.text_va;
		w->stale_jiffies = w->last_jiffies;
		w->stale_have_jiffies = w->have_jiffies;
	}
	forget_kernel(w);
	w->reboot_pending = true;
	if (w->state != VG_WS_UNREADABLE) {
		w->state = VG_WS_UNREADABLE;
		state_event(w, "unreadable", VG_SEV_MEDIUM, summary, why);
	}
}

/* The kernel we read stopped (its clock went backwards, or stood still while memory kept
 * changing): a reboot or a crash. Its findings belonged to that boot. */
static void kernel_stopped(struct vg_watcher *w, const char *why)
{
	vg_watch_clear(&w->w, w->emit, w->emit_ctx);
	kernel_lost(w, "the guest's kernel stopped; waiting for it", why);
	w->stale_have_jiffies = false; /* whatever runs next is another boot */
}

/* The rediscovered kernel's clock moved (now at j): it is live. The kernel we lost, found
 * again with its clock going on, was only unreadable for a while; anything else is a new
 * boot, whose findings are alerted afresh. */
static void confirm_fresh(struct vg_watcher *w, uint64_t j)
{
	bool same = w->stale_have_jiffies && w->g.lx.banner_pa == w->stale_banner_pa &&
		    w->g.lx.text_va == w->stale_text_va && j >= w->stale_jiffies;

	w->fresh_pending = false;
	w->stale_banner_pa = 0;
	w->stale_have_jiffies = false;
	if (same) {
		state_event(w, "readable", VG_SEV_INFO, "the guest's kernel can be read again",
			    NULL);
		return;
	}
	vg_watch_clear(&w->w, w->emit, w->emit_ctx);
	state_event(w, "rebooted", VG_SEV_MEDIUM, "the guest rebooted", w->g.lx.banner);
}

/* Is the source there, and the one we opened? Opens it when closed. 0, or -errno after the
 * state event that says why not. */
static int source_ready(struct vg_watcher *w)
{
	struct vg_err err = { 0 };
	int r;

	if (!w->g.mem) {
		r = vg_guest_open_source(&w->g, w->go, &err);
		if (r == -EAGAIN || r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EHOSTUNREACH ||
		    r == -ECONNRESET) {
			unreachable(w, err.msg);
			return r;
		}
		if (r) {
			went_away(w, err.msg);
			return r;
		}
		w->live = vg_mem_live(w->g.mem) == 1;
		return 0;
	}
	r = vg_mem_check(w->g.mem);
	if (r == -EAGAIN) {
		unreachable(w, "the connection to the memory source dropped");
		return r;
	}
	if (r) {
		went_away(w, r == -ESTALE ? "the memory source was replaced"
					  : "the memory source no longer exists");
		return r;
	}
	return 0;
}

int vg_watcher_ensure_open(struct vg_watcher *w)
{
	struct vg_err err = { 0 };
	bool other_kernel;
	int r;

	if (w->open)
		return 0;
	r = source_ready(w);
	if (r)
		return r;
	if (w->live && vg_mem_live(w->g.mem) == 0) {
		went_away(w, "no process maps the memory file any more: QEMU exited");
		return -ENOENT;
	}
	/* after a stop, prefer a kernel other than the stopped one; without KASLR the new one
	 * sits where the old one did, so fall back to taking any */
	if ((!w->stale_banner_pa || vg_guest_discover(&w->g, w->go, w->stale_banner_pa, &err)) &&
	    (vg_err_clear(&err), vg_guest_discover(&w->g, w->go, 0, &err))) {
		if (w->state != VG_WS_UNREADABLE && w->state != VG_WS_GONE) {
			w->state = VG_WS_UNREADABLE;
			state_event(w, "unreadable", VG_SEV_MEDIUM,
				    "the guest's kernel cannot be read (booting, or not Linux)",
				    err.msg);
		}
		return -EIO;
	}
	w->open = true;
	if (vg_linux_sym(&w->g.lx, "jiffies_64", &w->jiffies_va) &&
	    vg_linux_sym(&w->g.lx, "jiffies", &w->jiffies_va))
		w->jiffies_va = 0;
	w->have_jiffies = read_jiffies(w, &w->last_jiffies);
	w->jiffies_since_ms = vg_mono_ms();
	other_kernel = w->seen_boot &&
		       (strcmp(w->banner, w->g.lx.banner) || w->text_va != w->g.lx.text_va);
	if (w->state == VG_WS_GONE)
		state_event(w, "returned", VG_SEV_INFO, "the guest's memory source is back", NULL);
	else if (w->state == VG_WS_UNREACHABLE)
		state_event(w, "reachable", VG_SEV_INFO, "the guest's memory source answers again",
			    NULL);
	if (w->reboot_pending) {
		/* announced once its clock moves (check_liveness), not on a stale image */
		w->fresh_pending = true;
	} else if (other_kernel) {
		/* old findings belonged to the previous boot; what persists is alerted anew */
		vg_watch_clear(&w->w, w->emit, w->emit_ctx);
		state_event(w, "rebooted", VG_SEV_MEDIUM, "the guest rebooted", w->g.lx.banner);
	}
	w->reboot_pending = false;
	w->seen_boot = true;
	snprintf(w->banner, sizeof(w->banner), "%s", w->g.lx.banner);
	w->text_va = w->g.lx.text_va;
	w->state = w->fresh_pending ? VG_WS_UNREADABLE : VG_WS_RUNNING;
	return 0;
}

/* A fingerprint of guest RAM: SAMPLE_PAGES pages spread evenly over it. A paused guest's
 * memory does not change at all; a rebooting one rewrites much of it. */
static uint64_t ram_sample(struct vg_watcher *w)
{
	const struct vg_mem_range *r = vg_mem_ranges(w->g.mem);
	size_t nr = vg_mem_nranges(w->g.mem);
	uint64_t total = vg_mem_total(w->g.mem), h = VG_FNV64_INIT;
	uint64_t step = total / VG_WATCHER_SAMPLE_PAGES;
	uint8_t page[4096];

	step &= ~4095ull;
	if (!step)
		step = 4096;
	for (uint64_t off = 0, k = 0; off < total && k < VG_WATCHER_SAMPLE_PAGES;
	     off += step, k++) {
		uint64_t o = off;

		for (size_t i = 0; i < nr; i++) {
			if (o < r[i].size) {
				if (vg_mem_read(w->g.mem, r[i].start + o, page, sizeof(page)) == 0)
					h = vg_fasthash64(page, sizeof(page), h);
				break;
			}
			o -= r[i].size;
		}
	}
	return h;
}

/* Did the clock go from last_jiffies (read at jiffies_since_ms) to j as a clock can? */
static bool plausible_step(const struct vg_watcher *w, uint64_t j, uint64_t now)
{
	return j >= w->last_jiffies &&
	       j - w->last_jiffies <= now - w->jiffies_since_ms + VG_WATCHER_JIFFY_SLACK;
}

/*
 * False when the guest went away or its kernel stopped (closed; rediscovered next tick).
 * Jiffies standing still mean one of two things, told apart by RAM: unchanged, the guest is
 * paused; changing, the kernel we read has stopped while something else runs — a reboot, with
 * the new kernel elsewhere in memory. Jiffies going backwards or leaping ahead are not a
 * clock at all: the kernel's memory is being overwritten.
 */
static bool check_liveness(struct vg_watcher *w)
{
	uint64_t j, sample, now = vg_mono_ms();
	bool stood_still;

	w->clock_moved = false;
	if (source_ready(w)) {
		if (w->g.mem)
			forget_kernel(w); /* unreachable: rediscover once it answers */
		return false;
	}
	if (!read_jiffies(w, &j))
		return true; /* the look below will tell whether the kernel is readable */
	if (w->have_jiffies && !plausible_step(w, j, now)) {
		if (w->fresh_pending) {
			forget_kernel(w); /* not a live kernel after all: rediscover next tick */
			return false;
		}
		if (j < w->last_jiffies)
			kernel_stopped(w, "the kernel's clock went backwards");
		else
			kernel_lost(w, "the guest's kernel cannot be read",
				    "the kernel's clock leapt ahead of wall time");
		return false;
	}
	sample = ram_sample(w);
	if (!w->have_jiffies || j != w->last_jiffies) {
		if (w->fresh_pending)
			confirm_fresh(w, j);
		else if (w->state == VG_WS_PAUSED)
			state_event(w, "resumed", VG_SEV_INFO, "the guest runs again", NULL);
		w->clock_moved = w->have_jiffies;
		w->state = VG_WS_RUNNING;
		w->last_jiffies = j;
		w->have_jiffies = true;
		w->jiffies_since_ms = now;
		w->last_sample = sample;
		return true;
	}
	stood_still = now - w->jiffies_since_ms >= VG_WATCHER_PAUSE_MS;
	if (w->fresh_pending && stood_still) {
		/* rediscovery found the stopped kernel again (its image is still in RAM) */
		forget_kernel(w);
		return false;
	}
	if (stood_still && sample != w->last_sample) {
		kernel_stopped(w, "the kernel's clock stopped while guest memory keeps changing");
		return false;
	}
	if (stood_still && w->live && vg_mem_live(w->g.mem) == 0) {
		went_away(w, "no process maps the memory file any more: QEMU exited");
		return false;
	}
	if (stood_still && w->state == VG_WS_RUNNING) {
		/* a paused guest's state is frozen, so looking on is harmless: keep scanning */
		w->state = VG_WS_PAUSED;
		state_event(w, "paused", VG_SEV_INFO,
			    "the guest is paused: its clock and memory have not moved", NULL);
	}
	w->last_sample = sample;
	return true;
}

/* May what the looks of this tick showed be committed? Only if the kernel was alive around
 * them (see ids_watcher.h): a paused guest, a kernel without a readable clock symbol, or a
 * clock that moved since the last tick and is still where a clock could be after the looks. */
static bool seen_alive(struct vg_watcher *w)
{
	uint64_t j;

	if (!w->jiffies_va || w->state == VG_WS_PAUSED)
		return true;
	if (!w->clock_moved || !read_jiffies(w, &j))
		return false;
	return plausible_step(w, j, vg_mono_ms());
}

static int look(struct vg_watcher *w, struct vg_findings *f)
{
	struct vg_err err = { 0 };
	char warn[1024];

	if (vg_ids_look(&w->g, w->c, f, warn, sizeof(warn), &err)) {
		vg_findings_free(f);
		if (++w->errors >= 2) {
			/* twice in a row: the kernel moved (reboot) or memory is torn */
			w->errors = 0;
			kernel_lost(w, "the guest's kernel cannot be read", err.msg);
		}
		return -EIO;
	}
	w->errors = 0;
	w->looks++;
	if (strcmp(warn, w->last_warning)) {
		if (warn[0] && w->warn)
			w->warn(w->emit_ctx, warn);
		snprintf(w->last_warning, sizeof(w->last_warning), "%s", warn);
	}
	return 0;
}

int vg_watcher_tick(struct vg_watcher *w)
{
	struct vg_findings a = { 0 }, b = { 0 };
	int ret;

	if (!w->open && vg_watcher_ensure_open(w)) {
		if (w->state == VG_WS_GONE && w->c->policy.on_gone == VG_GONE_EXIT &&
		    vg_mono_ms() - w->gone_since_ms >= w->c->policy.gone_grace_ms)
			return 1;
		return 0;
	}
	if (!check_liveness(w) || w->fresh_pending)
		return 0;
	vg_as_flush(&w->g.lx.kas);
	if (look(w, &a))
		return 0;
	if (vg_watch_differs(&w->w, &a)) {
		vg_as_flush(&w->g.lx.kas);
		if (look(w, &b)) {
			vg_findings_free(&a);
			return 0;
		}
		/* a change is believed only from a kernel seen alive around both looks */
		ret = seen_alive(w) ? vg_watch_commit(&w->w, &a, &b, w->emit, w->emit_ctx) : 0;
	} else {
		ret = vg_watch_commit(&w->w, &a, &a, w->emit, w->emit_ctx);
	}
	vg_findings_free(&a);
	vg_findings_free(&b);
	return ret < 0 ? ret : 0;
}

void vg_watcher_free(struct vg_watcher *w)
{
	close_guest(w);
	vg_watch_free(&w->w);
}

void vg_watcher_emit_alert(struct vg_alerter *out, const struct vg_finding *x, const char *event)
{
	struct vg_alert al;

	vg_finding_alert(x, event, &al);
	vg_alerter_emit(out, &al);
}

int vg_watcher_run(struct vg_watcher *w, uint32_t interval_ms, const struct vg_loop_ctl *ctl,
		   struct vg_alerter *out)
{
	uint64_t next = vg_mono_ms();

	while (!ctl->stop(ctl->ctx)) {
		int t;

		if (ctl->reopen(ctl->ctx))
			vg_alerter_reopen(out);
		t = vg_watcher_tick(w);
		if (t < 0)
			return t;
		if (t > 0)
			return 0;
		next += interval_ms;
		if (next < vg_mono_ms()) /* a look longer than the interval: skip, no burst */
			next = vg_mono_ms() + interval_ms;
		vg_sleep_until_ms(next);
	}
	return 0;
}
