/* SPDX-License-Identifier: MIT */
/* Timing helpers shared by the in-process benchmarks: the project's monotonic clock in
 * milliseconds and a median. */
#ifndef VIGIL_BENCH_UTIL_H
#define VIGIL_BENCH_UTIL_H

#include <stdlib.h>

#include "vigil/clock.h"

static inline double now_ms(void)
{
	return vg_mono_msf();
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
