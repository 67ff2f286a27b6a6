/* SPDX-License-Identifier: MIT */
/* Timing helpers shared by the in-process benchmarks: a monotonic clock and a median. */
#ifndef VIGIL_BENCH_UTIL_H
#define VIGIL_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

static inline double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static inline int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts V in place and returns its median. */
static inline double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return v[n / 2];
}

#endif
