// SPDX-License-Identifier: MIT
/* Clock reads and timestamps (see clock.h). */
#include <stdio.h>
#include <time.h>

#include "vigil/clock.h"

static struct timespec now(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts;
}

uint64_t vg_mono_ns(void)
{
	struct timespec ts = now(CLOCK_MONOTONIC);

	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t vg_mono_us(void)
{
	return vg_mono_ns() / 1000;
}

uint64_t vg_mono_ms(void)
{
	return vg_mono_ns() / 1000000;
}

uint64_t vg_thread_cpu_ns(void)
{
	struct timespec ts = now(CLOCK_THREAD_CPUTIME_ID);

	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double vg_mono_msf(void)
{
	return (double)vg_mono_ns() / 1e6;
}

int64_t vg_wall_us(void)
{
	struct timespec ts = now(CLOCK_REALTIME);

	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t vg_wall_ms(void)
{
	return vg_wall_us() / 1000;
}

void vg_rfc3339_us(char *buf, size_t n, int64_t us)
{
	time_t sec = (time_t)(us / 1000000);
	long frac = (long)(us % 1000000);
	struct tm tm;

	if (frac < 0) {
		frac += 1000000;
		sec--;
	}
	if (!gmtime_r(&sec, &tm)) {
		snprintf(buf, n, "1970-01-01T00:00:00.000000Z");
		return;
	}
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void vg_rfc3339_now(char *buf, size_t n)
{
	vg_rfc3339_us(buf, n, vg_wall_us());
}

void vg_sleep_until_ms(uint64_t deadline_ms)
{
	struct timespec ts = { .tv_sec = (time_t)(deadline_ms / 1000),
			       .tv_nsec = (long)(deadline_ms % 1000) * 1000000 };

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

void vg_sleep_ms(uint64_t ms)
{
	vg_sleep_until_ms(vg_mono_ms() + ms);
}
