// SPDX-License-Identifier: MIT
/*
 * System-wide numbers for /proc/uptime, stat, loadavg, meminfo and cpuinfo (lxproc.h), each
 * from the kernel variable the real file prints: jiffies_64 (and HZ from tick_nsec), the
 * timekeeper's wall clock, avenrun[3], _totalram_pages, vm_zone_stat[NR_FREE_PAGES],
 * __num_online_cpus, pid_max and saved_command_line.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vigil/lxproc.h"
#include "kread.h"

#define NSEC_PER_SEC 1000000000ull
#define NR_FREE_PAGES 0
#define MIN_WALL 946684800ll  /* 2000-01-01: an earlier wall clock is not a clock */
#define MAX_WALL 4102444800ll /* 2100-01-01 */

static bool sym_u64(struct vg_linux *lx, const char *name, uint64_t *v)
{
	uint64_t a;

	return !vg_linux_sym(lx, name, &a) && !vg_as_read_u64(&lx->kas, a, v);
}

static bool sym_u32(struct vg_linux *lx, const char *name, uint32_t *v)
{
	uint64_t a;

	return !vg_linux_sym(lx, name, &a) && !vg_as_read_u32(&lx->kas, a, v);
}

/* The wall clock: tk_core is { seqcount; struct timekeeper timekeeper; }, an anonymous type,
 * so the timekeeper is looked for at the two offsets the seqcount's size allows and accepted
 * only when it reads as a plausible date. */
static int64_t wall_now(struct vg_linux *lx)
{
	int32_t xs = vg_linux_btf_offset(lx, "timekeeper", "xtime_sec");
	uint64_t tk, v;

	if (xs < 0 || vg_linux_sym(lx, "tk_core", &tk))
		return 0;
	for (uint64_t off = 8; off <= 64; off += 56)
		if (!vg_as_read_u64(&lx->kas, tk + off + (uint64_t)xs, &v) &&
		    (int64_t)v > MIN_WALL && (int64_t)v < MAX_WALL)
			return (int64_t)v;
	return 0;
}

void vg_kstat_read(struct vg_linux *lx, struct vg_kstat *k)
{
	uint64_t jiffies = 0, tick = 0, pages = 0, a;
	uint32_t u = 0;
	int64_t wall;

	memset(k, 0, sizeof(*k));
	k->hz = 250;
	if (sym_u64(lx, "tick_nsec", &tick) && tick >= NSEC_PER_SEC / 10000 &&
	    tick <= NSEC_PER_SEC / 24)
		k->hz = (uint32_t)((NSEC_PER_SEC + tick / 2) / tick);
	if (sym_u64(lx, "jiffies_64", &jiffies) || sym_u64(lx, "jiffies", &jiffies)) {
		/* jiffies start 5 minutes before wrapping 32 bits (INITIAL_JIFFIES) */
		uint64_t initial = (uint64_t)(uint32_t)(-300 * (int32_t)k->hz);

		k->uptime_ms = (jiffies - initial) * 1000 / k->hz;
	}
	wall = wall_now(lx);
	if (wall)
		k->boot_time_s = wall - (int64_t)(k->uptime_ms / 1000);
	if (!vg_linux_sym(lx, "avenrun", &a))
		vg_as_read(&lx->kas, a, k->load, sizeof(k->load));
	if (sym_u64(lx, "_totalram_pages", &pages) || sym_u64(lx, "totalram_pages", &pages))
		k->mem_total_kb = pages * 4;
	if (!vg_linux_sym(lx, "vm_zone_stat", &a) &&
	    !vg_as_read_u64(&lx->kas, a + 8 * NR_FREE_PAGES, &pages) && (int64_t)pages >= 0)
		k->mem_free_kb = pages * 4;
	k->online_cpus = sym_u32(lx, "__num_online_cpus", &u) && u && u <= 8192 ? u : 1;
	k->pid_max = sym_u32(lx, "pid_max", &u) ? (int32_t)u : 32768;
	if (!vg_linux_sym(lx, "saved_command_line", &a))
		vg_kread_strp(lx, a, k->cmdline, sizeof(k->cmdline));
}
