/* SPDX-License-Identifier: MIT */
/*
 * The one place vigil reads a clock (DESIGN.md: every clock read through one helper), so
 * timeouts, benchmarks and alert timestamps agree on which clock they mean:
 *   monotonic  for durations, deadlines and intervals (never jumps with the wall clock)
 *   wall       for timestamps a person or another host reads (alerts, reports, records)
 */
#ifndef VIGIL_CLOCK_H
#define VIGIL_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic time since an arbitrary point (CLOCK_MONOTONIC). */
uint64_t vg_mono_ns(void);
uint64_t vg_mono_us(void);
uint64_t vg_mono_ms(void);
/* Monotonic milliseconds with sub-millisecond resolution (timings printed as "12.3 ms"). */
double vg_mono_msf(void);

/* CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID): what a loop itself costs on a
 * machine shared with others. */
uint64_t vg_thread_cpu_ns(void);

/* Wall-clock time (CLOCK_REALTIME). */
int64_t vg_wall_ms(void);
int64_t vg_wall_us(void);

/* BUF gets an RFC 3339 UTC timestamp with microseconds, "2026-12-06T02:38:00.123456Z";
 * 28 bytes are enough (VG_RFC3339_LEN). US is microseconds since the epoch. */
#define VG_RFC3339_LEN 32
void vg_rfc3339_us(char *buf, size_t n, int64_t us);
void vg_rfc3339_now(char *buf, size_t n);

/* Sleeps for MS milliseconds, or until monotonic time DEADLINE_MS; a signal cuts it short
 * (no restart), so loops that watch a stop flag stay responsive. */
void vg_sleep_ms(uint64_t ms);
void vg_sleep_until_ms(uint64_t deadline_ms);

#endif
