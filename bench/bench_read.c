// SPDX-License-Identifier: MIT
/*
 * bench_read: page-sized reads through a guest virtual address space (vg_as_read: cache probe,
 * page-table walk on a miss, range lookup, memcpy) against a plain memcpy of the same bytes from
 * the same buffer into the same destination, measured in the same run. Goal: translated reads
 * at least half as fast as memcpy (ratio >= 0.5).
 *
 * Default: a synthetic guest of 256 MiB mapped once with 4 KiB pages (the worst case: every
 * page misses the 256-entry cache and costs a full walk) and once with 2 MiB pages. With
 * --vm SOURCE --root PA --levels N it measures over a real guest's mapped kernel pages instead.
 * Prints one JSON object per line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/arch.h"
#include "vigil/json.h"

#define PAGE 4096ull
#define REPS 25
#define GUEST_BYTES (256ull << 20)
#define TABLES_BYTES (2ull << 20)     /* page tables live below the guest data */
#define VA_BASE 0xffff888000000000ull /* where Linux puts its direct map without KASLR */
#define P_RW 0x3ull
#define PS (1ull << 7)

struct region {
	struct vg_as *as;
	const uint64_t *va;  /* page-aligned virtual addresses, in reading order */
	const uint8_t **src; /* the same pages' host addresses, for the memcpy anchor */
	size_t npages;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Keeps the compiler from dropping copies into a buffer nobody reads. */
static inline void clobber(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

static double time_memcpy(const struct region *r, uint8_t *dst)
{
	double t0 = now();
	size_t i;

	for (i = 0; i < r->npages; i++) {
		memcpy(dst, r->src[i], PAGE);
		clobber(dst);
	}
	return now() - t0;
}

static double time_translated(const struct region *r, uint8_t *dst)
{
	double t0 = now();
	size_t i;

	for (i = 0; i < r->npages; i++) {
		if (vg_as_read(r->as, r->va[i], dst, PAGE))
			return -1;
		clobber(dst);
	}
	return now() - t0;
}

/* Alternates the two measurements so both see the same machine state; keeps the best of each. */
/* PAGE_SIZE 0: a real guest, whose mappings are of mixed sizes. */
static int run(const char *name, uint64_t page_size, const struct region *r)
{
	double best_m = 1e30, best_t = 1e30, mg, tg, ratio;
	struct vg_json j;
	uint64_t bytes = r->npages * PAGE, hits0, miss0;
	uint8_t *dst = aligned_alloc(64, PAGE);
	int i;

	if (!dst)
		return -ENOMEM;
	memset(dst, 0, PAGE);
	hits0 = r->as->tlb_hits;
	miss0 = r->as->tlb_misses;
	for (i = 0; i < REPS; i++) {
		double m = time_memcpy(r, dst), t = time_translated(r, dst);

		if (t < 0) {
			free(dst);
			return -EFAULT;
		}
		if (m < best_m)
			best_m = m;
		if (t < best_t)
			best_t = t;
	}
	free(dst);
	mg = (double)bytes / best_m / 1e9;
	tg = (double)bytes / best_t / 1e9;
	ratio = tg / mg;
	vg_json_init(&j, stdout, false);
	vg_json_obj_open(&j);
	vg_json_kstr(&j, "bench", "translated_read");
	vg_json_kstr(&j, "source", name);
	vg_json_key(&j, "page_size");
	if (page_size)
		vg_json_uint(&j, page_size);
	else
		vg_json_str(&j, "mixed");
	vg_json_kuint(&j, "chunk", PAGE);
	vg_json_kuint(&j, "bytes", bytes);
	vg_json_kint(&j, "reps", REPS);
	vg_json_kdouble(&j, "memcpy_gbps", mg);
	vg_json_kdouble(&j, "translated_gbps", tg);
	vg_json_kdouble(&j, "ratio", ratio);
	vg_json_kdouble(&j, "target_ratio", 0.5);
	vg_json_kbool(&j, "pass", ratio >= 0.5);
	vg_json_kuint(&j, "tlb_hits", r->as->tlb_hits - hits0);
	vg_json_kuint(&j, "tlb_misses", r->as->tlb_misses - miss0);
	vg_json_obj_close(&j);
	vg_json_end(&j);
	fflush(stdout);
	return 0;
}

static void put(uint8_t *ram, uint64_t pa, uint64_t v)
{
	memcpy(ram + pa, &v, sizeof(v));
}

/* 4-level tables mapping VA_BASE.. onto physical TABLES_BYTES.. with pages of PAGE_SIZE. */
static void build(uint8_t *ram, uint64_t page_size)
{
	const uint64_t pml4 = 0x1000, pdpt = 0x2000, pd = 0x3000, pt0 = 0x10000;
	uint64_t off, npd = GUEST_BYTES >> 21;

	memset(ram, 0, TABLES_BYTES);
	put(ram, pml4 + ((VA_BASE >> 39) & 511) * 8, pdpt | P_RW);
	put(ram, pdpt + ((VA_BASE >> 30) & 511) * 8, pd | P_RW);
	for (off = 0; off < npd; off++) {
		uint64_t data = TABLES_BYTES + (off << 21);

		if (page_size == (2u << 20)) {
			put(ram, pd + off * 8, data | P_RW | PS);
			continue;
		}
		uint64_t pt = pt0 + off * PAGE, i;

		put(ram, pd + off * 8, pt | P_RW);
		for (i = 0; i < 512; i++)
			put(ram, pt + i * 8, (data + i * PAGE) | P_RW);
	}
}

static int synthetic(void)
{
	uint64_t len = TABLES_BYTES + GUEST_BYTES, sizes[2] = { PAGE, 2u << 20 }, i;
	size_t npages = GUEST_BYTES / PAGE;
	uint8_t *ram = aligned_alloc(PAGE, len);
	uint64_t *va = calloc(npages, sizeof(*va));
	const uint8_t **src = calloc(npages, sizeof(*src));
	struct vg_mem *mem = NULL;
	struct vg_err err = { 0 };
	struct vg_as as;
	int ret = -ENOMEM, s;

	if (!ram || !va || !src)
		goto out;
	memset(ram + TABLES_BYTES, 0xa5, GUEST_BYTES); /* touch every page before timing */
	ret = vg_mem_open_buffer(&mem, ram, len, &err);
	if (ret) {
		fprintf(stderr, "bench_read: %s\n", err.msg);
		goto out;
	}
	for (i = 0; i < npages; i++) {
		va[i] = VA_BASE + i * PAGE;
		src[i] = ram + TABLES_BYTES + i * PAGE;
	}
	for (s = 0; s < 2; s++) {
		struct region r = { &as, va, src, npages };

		build(ram, sizes[s]);
		vg_as_init(&as, mem, 0x1000, 4);
		ret = run("synthetic", sizes[s], &r);
		if (ret) {
			fprintf(stderr, "bench_read: translated read failed (%d)\n", ret);
			break;
		}
	}
out:
	if (mem)
		vg_mem_close(mem);
	free(src);
	free(va);
	free(ram);
	return ret;
}

struct collect {
	struct vg_mem *mem;
	uint64_t *va;
	const uint8_t **src;
	size_t n, max;
};

/* Collects readable 4 KiB pieces of the guest's kernel mappings, in address order. */
static int collect_leaf(uint64_t va, uint64_t pa, uint64_t size, void *ctx)
{
	struct collect *c = ctx;
	uint64_t off;

	for (off = 0; off < size && c->n < c->max; off += PAGE) {
		const uint8_t *p = vg_mem_ptr(c->mem, pa + off, PAGE);

		if (!p)
			continue;
		c->va[c->n] = va + off;
		c->src[c->n++] = p;
	}
	return c->n == c->max ? 1 : 0;
}

static int real_guest(const char *path, uint64_t root, int levels)
{
	struct collect c = { .max = GUEST_BYTES / PAGE };
	struct vg_err err = { 0 };
	struct vg_as as;
	int ret;

	ret = vg_mem_open(&c.mem, path, &err);
	if (ret) {
		fprintf(stderr, "bench_read: %s\n", err.msg);
		return ret;
	}
	c.va = calloc(c.max, sizeof(*c.va));
	c.src = calloc(c.max, sizeof(*c.src));
	ret = -ENOMEM;
	if (!c.va || !c.src)
		goto out;
	ret = vg_as_init(&as, c.mem, root, levels);
	if (ret)
		goto out;
	ret = vg_as_for_each_leaf(&as, 1ull << 63, UINT64_MAX, collect_leaf, &c);
	if (ret < 0 && ret != -E2BIG)
		goto out;
	if (!c.n) {
		fprintf(stderr, "bench_read: no readable kernel pages under root 0x%" PRIx64 "\n",
			root);
		ret = -ENOENT;
		goto out;
	}
	struct region r = { &as, c.va, c.src, c.n };
	ret = run(path, 0, &r);
out:
	free(c.src);
	free(c.va);
	vg_mem_close(c.mem);
	return ret;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_read [--vm SOURCE --root PA [--levels 4|5]]\n");
}

int main(int argc, char **argv)
{
	const char *vm = NULL;
	uint64_t root = 0;
	int levels = 4, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--vm") && i + 1 < argc) {
			vm = argv[++i];
		} else if (!strcmp(argv[i], "--root") && i + 1 < argc) {
			root = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--levels") && i + 1 < argc) {
			levels = atoi(argv[++i]);
		} else {
			usage();
			return 2;
		}
	}
	if (vm)
		return real_guest(vm, root, levels) ? 2 : 0;
	return synthetic() ? 2 : 0;
}
