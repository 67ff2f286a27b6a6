// SPDX-License-Identifier: MIT
/*
 * In-process timing of discovery + the task walk on a guest RAM file, without process start-up
 * (dynamic linking alone costs more than a cached ps). Prints one JSON object:
 *   cold_ms  open + discovery from scratch (cache disabled) + ps with argv and exe paths
 *   warm_ms  the same with the discovery cache written by a previous run
 *   anchor_ram_pass_ms  one pread pass over the whole file, measured in the same run
 * Each figure is the median of --runs runs (default 15).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "vigil/linux.h"
#include "vigil/lxobj.h"

/* One full `vigil vmi ps`: open, discover, walk; returns ms or -1. */
static double one_ps(const char *path, const char *cache, size_t *ntasks)
{
	struct vg_linux_opts o = { .cache_dir = cache };
	struct vg_err err = { 0 };
	struct vg_task_list tl;
	struct vg_linux lx;
	struct vg_mem *m;
	double t = now_ms();

	if (vg_mem_open_kind(&m, path, VG_MEM_RAW, &err) || vg_linux_open(&lx, m, &o, &err) ||
	    vg_tasks_list(&lx, NULL, &tl, &err)) {
		fprintf(stderr, "bench_discovery: %s\n", err.msg);
		return -1;
	}
	t = now_ms() - t;
	*ntasks = tl.n;
	vg_tasks_free(&tl);
	vg_linux_close(&lx);
	vg_mem_close(m);
	return t;
}

static double ram_pass(const char *path)
{
	static char buf[4 << 20];
	double t = now_ms();
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	return now_ms() - t;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	char cache[] = "/tmp/vigil-bench-XXXXXX";
	int runs = 15;
	double *cold, *warm, *ram;
	size_t ntasks = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--vm") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
	}
	if (!path || runs < 1 || runs > 1000) {
		fprintf(stderr, "usage: bench_discovery --vm RAMFILE [--runs N]\n");
		return 2;
	}
	if (!mkdtemp(cache))
		return 2;
	cold = calloc(runs, sizeof(double));
	warm = calloc(runs, sizeof(double));
	ram = calloc(runs, sizeof(double));
	for (int i = 0; i < runs; i++) {
		ram[i] = ram_pass(path);
		cold[i] = one_ps(path, "", &ntasks);
		if (cold[i] < 0)
			return 2;
	}
	if (one_ps(path, cache, &ntasks) < 0) /* writes the cache */
		return 2;
	for (int i = 0; i < runs; i++)
		warm[i] = one_ps(path, cache, &ntasks);
	{
		double c = median(cold, runs), w = median(warm, runs), r = median(ram, runs);

		printf("{\"bench\":\"discovery_in_process\",\"runs\":%d,\"tasks\":%zu,"
		       "\"cold_discovery_ps_ms\":%.2f,\"warm_ps_ms\":%.3f,\"anchor_ram_pass_ms\":%."
		       "2f,"
		       "\"cold_over_ram_pass\":%.3f,\"cold_over_warm\":%.1f,"
		       "\"target_cold_ms\":250,\"target_warm_ms\":5,\"pass_cold\":%s,"
		       "\"pass_warm\":%s}\n",
		       runs, ntasks, c, w, r, c / r, c / w, c < 250 ? "true" : "false",
		       w < 5 ? "true" : "false");
	}
	{
		char cmd[sizeof(cache) + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", cache);
		if (system(cmd))
			return 2;
	}
	return 0;
}
