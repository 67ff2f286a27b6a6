// SPDX-License-Identifier: MIT
/*
 * In-process timing of discovery + the task walk on a guest RAM file, without process start-up
 * (dynamic linking alone costs more than a cached ps). Prints one JSON object:
 *   cold_ms  open + discovery from scratch (cache disabled) + ps with argv and exe paths
 *   warm_ms  the same with the discovery cache written by a previous run
 *   anchor_ram_pass_ms  one pread pass over the whole file, measured in the same run
 * Each figure is the median of --runs runs (default 15).
 *
 * With several --vm (e.g. an x86-64 and an AArch64 guest) the sources are measured in turn
 * within each run, so a busy machine weighs on all of them alike; the object then has one
 * entry per source and each later source's cold and warm times over the first's.
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

#define MAX_SOURCES 4

struct source {
	const char *path;
	char cache[32];
	double *cold, *warm, *ram;
	size_t ntasks;
};

static void print_one(const struct source *src, int runs)
{
	double c = median(src->cold, runs), w = median(src->warm, runs), r = median(src->ram, runs);

	printf("{\"bench\":\"discovery_in_process\",\"runs\":%d,\"tasks\":%zu,"
	       "\"cold_discovery_ps_ms\":%.2f,\"warm_ps_ms\":%.3f,\"anchor_ram_pass_ms\":%."
	       "2f,"
	       "\"cold_over_ram_pass\":%.3f,\"cold_over_warm\":%.1f,"
	       "\"target_cold_ms\":250,\"target_warm_ms\":5,\"pass_cold\":%s,"
	       "\"pass_warm\":%s}\n",
	       runs, src->ntasks, c, w, r, c / r, c / w, c < 250 ? "true" : "false",
	       w < 5 ? "true" : "false");
}

static void print_many(const struct source *src, int n, int runs)
{
	double c0 = median(src[0].cold, runs), w0 = median(src[0].warm, runs);

	printf("{\"bench\":\"discovery_in_process\",\"runs\":%d,\"sources\":[", runs);
	for (int i = 0; i < n; i++) {
		double c = median(src[i].cold, runs), w = median(src[i].warm, runs);
		double r = median(src[i].ram, runs);

		printf("%s{\"vm\":\"%s\",\"tasks\":%zu,\"cold_discovery_ps_ms\":%.2f,"
		       "\"warm_ps_ms\":%.3f,\"anchor_ram_pass_ms\":%.2f,\"cold_over_first\":%.3f,"
		       "\"warm_over_first\":%.3f}",
		       i ? "," : "", src[i].path, src[i].ntasks, c, w, r, c / c0, w / w0);
	}
	printf("]}\n");
}

int main(int argc, char **argv)
{
	struct source src[MAX_SOURCES] = { 0 };
	int runs = 15, n = 0, ret = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--vm") && i + 1 < argc && n < MAX_SOURCES)
			src[n++].path = argv[++i];
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
	}
	if (!n || runs < 1 || runs > 1000) {
		fprintf(stderr,
			"usage: bench_discovery --vm RAMFILE [--vm RAMFILE]... [--runs N]\n");
		return 2;
	}
	for (int k = 0; k < n; k++) {
		snprintf(src[k].cache, sizeof(src[k].cache), "/tmp/vigil-bench-XXXXXX");
		src[k].cold = calloc(runs, sizeof(double));
		src[k].warm = calloc(runs, sizeof(double));
		src[k].ram = calloc(runs, sizeof(double));
		if (!mkdtemp(src[k].cache) || !src[k].cold || !src[k].warm || !src[k].ram)
			return 2;
	}
	for (int i = 0; i < runs && !ret; i++)
		for (int k = 0; k < n && !ret; k++) {
			src[k].ram[i] = ram_pass(src[k].path);
			src[k].cold[i] = one_ps(src[k].path, "", &src[k].ntasks);
			ret = src[k].cold[i] < 0;
		}
	for (int k = 0; k < n && !ret; k++) /* writes the caches */
		ret = one_ps(src[k].path, src[k].cache, &src[k].ntasks) < 0;
	for (int i = 0; i < runs && !ret; i++)
		for (int k = 0; k < n && !ret; k++) {
			src[k].warm[i] = one_ps(src[k].path, src[k].cache, &src[k].ntasks);
			ret = src[k].warm[i] < 0;
		}
	if (!ret && n == 1)
		print_one(&src[0], runs);
	else if (!ret)
		print_many(src, n, runs);
	for (int k = 0; k < n; k++) {
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", src[k].cache);
		if (system(cmd))
			ret = 1;
	}
	return ret ? 2 : 0;
}
