// SPDX-License-Identifier: MIT
/* One tick of ids watch/serve: guest liveness, a look, and the changes it shows. */
#include <errno.h>
#include <malloc.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "cli.h"
#include "ids_watcher.h"
#include "vigil/util.h"
#include "vigil/json.h"

uint64_t watcher_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Does any process map the file (dev, ino)? QEMU maps a memory-backend file for as long as
 * it runs, so a live RAM file nobody maps any more belongs to a QEMU that exited. Reads
 * /proc/PID/maps, bounded per process; called only when the guest's memory stands still. */
static bool file_mapped(dev_t dev, ino_t ino)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	bool found = false;
	int procs = 0;

	if (!d)
		return true; /* cannot tell: do not call the guest gone */
	while (!found && (e = readdir(d)) && procs < 65536) {
		char path[64], line[512];
		FILE *f;
		int lines = 0;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		procs++;
		snprintf(path, sizeof(path), "/proc/%.20s/maps", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (!found && lines++ < 100000 && fgets(line, sizeof(line), f)) {
			unsigned maj, min;
			unsigned long long in;

			if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &in) == 3 &&
			    in == (unsigned long long)ino && makedev(maj, min) == dev)
				found = true;
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

const char *watcher_state_name(enum watcher_state s)
{
	static const char *const n[] = { "starting", "running", "paused", "gone", "unreadable" };

	return (unsigned)s < 5 ? n[s] : "unknown";
}

void watcher_init(struct watcher *w, const struct ids_args *a, struct ids_ctx *c,
		  vg_watch_emit_fn emit, void *ctx)
{
	/* Every look allocates and frees the same few megabytes (views, text copy). By default
	 * glibc hands large blocks back to the kernel on free and faults them in afresh on the
	 * next look; on a virtualised host a fresh page costs ~12 us, and a look that reuses its
	 * memory is 3 ms instead of 20. A long-running watch keeps its memory. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
	memset(w, 0, sizeof(*w));
	w->a = a;
	w->c = c;
	w->emit = emit;
	w->emit_ctx = ctx;
}

/* A state event, in the alert schema: check "guest-state", target the VM. */
static void state_event(struct watcher *w, const char *state, enum vg_severity sev,
			const char *summary, const char *detail)
{
	struct vg_finding x = { 0 };
	char qd[600];

	x.check = "guest-state";
	x.severity = sev;
	snprintf(x.target_kind, sizeof(x.target_kind), "vm");
	snprintf(x.target_id, sizeof(x.target_id), "%s", w->a->vmi.vm);
	snprintf(x.summary, sizeof(x.summary), "%s", summary);
	vg_json_quote(qd, sizeof(qd), detail ? detail : "");
	snprintf(x.evidence, sizeof(x.evidence), "{\"state\":\"%s\",\"detail\":%s}", state, qd);
	w->emit(w->emit_ctx, &x, "state");
}

static void close_guest(struct watcher *w)
{
	if (w->open)
		vg_guest_close(&w->g);
	w->open = false;
	w->have_jiffies = false;
}

static void went_away(struct watcher *w, const char *why)
{
	close_guest(w);
	if (w->state != WS_GONE) {
		w->state = WS_GONE;
		w->gone_since_ms = watcher_now_ms();
		state_event(w, "gone", VG_SEV_MEDIUM, "the guest's memory source is gone", why);
	}
}

static bool read_jiffies(struct watcher *w, uint64_t *j)
{
	return w->jiffies_va && vg_linux_read(&w->g.lx, w->jiffies_va, j, sizeof(*j)) == 0;
}

/* Stop trusting the kernel we read: rediscover, prefer a kernel other than this one, and
 * accept whatever is found only once its clock is seen moving (confirm_fresh), so a stopped
 * image left in RAM is not taken again. The state event goes out once per outage. */
static void kernel_lost(struct watcher *w, const char *summary, const char *why)
{
	if (w->open) {
		w->stale_banner_pa = w->g.lx.banner_pa;
		w->stale_text_va = w->g.lx.text_va;
		w->stale_jiffies = w->last_jiffies;
		w->stale_have_jiffies = w->have_jiffies;
	}
	close_guest(w);
	w->reboot_pending = true;
	if (w->state != WS_UNREADABLE) {
		w->state = WS_UNREADABLE;
		state_event(w, "unreadable", VG_SEV_MEDIUM, summary, why);
	}
}

/* The kernel we read stopped (its clock went backwards, or stood still while memory kept
 * changing): a reboot or a crash. Its findings belonged to that boot. */
static void kernel_stopped(struct watcher *w, const char *why)
{
	vg_watch_clear(&w->w, w->emit, w->emit_ctx);
	kernel_lost(w, "the guest's kernel stopped; waiting for it", why);
	w->stale_have_jiffies = false; /* whatever runs next is another boot */
}

/* The rediscovered kernel's clock moved (now at j): it is live. The kernel we lost, found
 * again with its clock going on, was only unreadable for a while; anything else is a new
 * boot, whose findings are alerted afresh. */
static void confirm_fresh(struct watcher *w, uint64_t j)
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

int watcher_ensure_open(struct watcher *w)
{
	struct vg_err err = { 0 };
	struct vg_guest_opts go;
	struct stat st;
	bool other_kernel, remote = vg_mem_is_remote(w->a->vmi.vm);

	if (w->open)
		return 0;
	memset(&st, 0, sizeof(st));
	if (!remote && stat(w->a->vmi.vm, &st)) {
		went_away(w, strerror(errno));
		return -ENOENT;
	}
	if (!remote && w->live && st.st_dev == w->dev && st.st_ino == w->ino &&
	    !file_mapped(w->dev, w->ino)) {
		went_away(w, "no process maps the memory file any more: QEMU exited");
		return -ENOENT;
	}
	/* after a stop, prefer a kernel other than the stopped one; without KASLR the new one
	 * sits where the old one did, so fall back to taking any */
	vmi_guest_opts(&w->a->vmi, &go);
	if (vg_guest_open_source(&w->g, &go, &err) ||
	    ((!w->stale_banner_pa || vg_guest_discover(&w->g, &go, w->stale_banner_pa, &err)) &&
	     (vg_err_clear(&err), vg_guest_discover(&w->g, &go, 0, &err)))) {
		vg_guest_close(&w->g);
		if (w->state != WS_UNREADABLE && w->state != WS_GONE) {
			w->state = WS_UNREADABLE;
			state_event(w, "unreadable", VG_SEV_MEDIUM,
				    "the guest's kernel cannot be read (booting, or not Linux)",
				    err.msg);
		}
		return -EIO;
	}
	w->open = true;
	w->dev = st.st_dev;
	w->ino = st.st_ino;
	w->live = !remote && file_mapped(w->dev, w->ino);
	if (vg_linux_sym(&w->g.lx, "jiffies_64", &w->jiffies_va) &&
	    vg_linux_sym(&w->g.lx, "jiffies", &w->jiffies_va))
		w->jiffies_va = 0;
	w->have_jiffies = read_jiffies(w, &w->last_jiffies);
	w->jiffies_since_ms = watcher_now_ms();
	other_kernel = w->seen_boot &&
		       (strcmp(w->banner, w->g.lx.banner) || w->text_va != w->g.lx.text_va);
	if (w->state == WS_GONE)
		state_event(w, "returned", VG_SEV_INFO, "the guest's memory source is back", NULL);
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
	w->state = w->fresh_pending ? WS_UNREADABLE : WS_RUNNING;
	return 0;
}

/* A fingerprint of guest RAM: SAMPLE_PAGES pages spread evenly over it. A paused guest's
 * memory does not change at all; a rebooting one rewrites much of it. */
static uint64_t ram_sample(struct watcher *w)
{
	const struct vg_mem_range *r = vg_mem_ranges(w->g.mem);
	size_t nr = vg_mem_nranges(w->g.mem);
	uint64_t total = vg_mem_total(w->g.mem), h = VG_FNV64_INIT;
	uint64_t step = total / WATCHER_SAMPLE_PAGES;
	uint8_t page[4096];

	step &= ~4095ull;
	if (!step)
		step = 4096;
	for (uint64_t off = 0, k = 0; off < total && k < WATCHER_SAMPLE_PAGES; off += step, k++) {
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
static bool plausible_step(const struct watcher *w, uint64_t j, uint64_t now)
{
	return j >= w->last_jiffies &&
	       j - w->last_jiffies <= now - w->jiffies_since_ms + WATCHER_JIFFY_SLACK;
}

/*
 * False when the guest went away or its kernel stopped (closed; rediscovered next tick).
 * Jiffies standing still mean one of two things, told apart by RAM: unchanged, the guest is
 * paused; changing, the kernel we read has stopped while something else runs — a reboot, with
 * the new kernel elsewhere in memory. Jiffies going backwards or leaping ahead are not a
 * clock at all: the kernel's memory is being overwritten.
 */
static bool check_liveness(struct watcher *w)
{
	struct stat st;
	uint64_t j, sample, now = watcher_now_ms();
	bool stood_still;

	w->clock_moved = false;
	if (vg_mem_is_remote(w->a->vmi.vm)) {
		/* the broker answers for the file; unreachable is ridden out like a pause */
		int r = vg_mem_check(w->g.mem);

		if (r == -EAGAIN)
			return false;
		if (r) {
			went_away(w, r == -ENOENT ? "the broker says the guest is gone"
						  : "the guest's memory was replaced");
			return false;
		}
	} else if (stat(w->a->vmi.vm, &st)) {
		went_away(w, strerror(errno));
		return false;
	}
	if (!vg_mem_is_remote(w->a->vmi.vm) && (st.st_dev != w->dev || st.st_ino != w->ino)) {
		went_away(w, "the memory file was replaced");
		return false;
	}
	if (!read_jiffies(w, &j))
		return true; /* the look below will tell whether the kernel is readable */
	if (w->have_jiffies && !plausible_step(w, j, now)) {
		if (w->fresh_pending) {
			close_guest(w); /* not a live kernel after all: rediscover next tick */
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
		else if (w->state == WS_PAUSED)
			state_event(w, "resumed", VG_SEV_INFO, "the guest runs again", NULL);
		w->clock_moved = w->have_jiffies;
		w->state = WS_RUNNING;
		w->last_jiffies = j;
		w->have_jiffies = true;
		w->jiffies_since_ms = now;
		w->last_sample = sample;
		return true;
	}
	stood_still = now - w->jiffies_since_ms >= WATCHER_PAUSE_MS;
	if (w->fresh_pending && stood_still) {
		/* rediscovery found the stopped kernel again (its image is still in RAM) */
		close_guest(w);
		return false;
	}
	if (stood_still && sample != w->last_sample) {
		kernel_stopped(w, "the kernel's clock stopped while guest memory keeps changing");
		return false;
	}
	if (stood_still && w->live && !file_mapped(w->dev, w->ino)) {
		went_away(w, "no process maps the memory file any more: QEMU exited");
		return false;
	}
	if (stood_still && w->state == WS_RUNNING) {
		/* a paused guest's state is frozen, so looking on is harmless: keep scanning */
		w->state = WS_PAUSED;
		state_event(w, "paused", VG_SEV_INFO,
			    "the guest is paused: its clock and memory have not moved", NULL);
	}
	w->last_sample = sample;
	return true;
}

/* May what the looks of this tick showed be committed? Only if the kernel was alive around
 * them (see ids_watcher.h): a paused guest, a kernel without a readable clock symbol, or a
 * clock that moved since the last tick and is still where a clock could be after the looks. */
static bool seen_alive(struct watcher *w)
{
	uint64_t j;

	if (!w->jiffies_va || w->state == WS_PAUSED)
		return true;
	if (!w->clock_moved || !read_jiffies(w, &j))
		return false;
	return plausible_step(w, j, watcher_now_ms());
}

static int look(struct watcher *w, struct vg_findings *f)
{
	struct vg_err err = { 0 };
	char warn[1024];

	if (ids_look(&w->g, w->c, f, warn, sizeof(warn), &err)) {
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
	if (strcmp(warn, w->c->last_warning)) {
		if (warn[0])
			fprintf(stderr, "%s: warning: %s\n", PROG_NAME, warn);
		snprintf(w->c->last_warning, sizeof(w->c->last_warning), "%s", warn);
	}
	return 0;
}

int watcher_tick(struct watcher *w)
{
	struct vg_findings a = { 0 }, b = { 0 };
	int ret;

	if (!w->open && watcher_ensure_open(w)) {
		if (w->state == WS_GONE && w->c->policy.on_gone == VG_GONE_EXIT &&
		    watcher_now_ms() - w->gone_since_ms >= w->c->policy.gone_grace_ms)
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

void watcher_free(struct watcher *w)
{
	close_guest(w);
	vg_watch_free(&w->w);
}
