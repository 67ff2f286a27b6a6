// SPDX-License-Identifier: MIT
/*
 * In-process timing of one IDS look — what `ids watch` and `ids serve` pay per interval once
 * the guest is discovered: gather every view, rehash kernel text against a baseline, run every
 * check, compare with the baseline. Prints one JSON object:
 *   look_ms          median of --runs looks as watch and serve make them (all checks, kernel
 *                    text included, verified text carried between looks: a memcmp while it is
 *                    unchanged)
 *   look_fulltext_ms the same with the full text comparison every time (no cache directory:
 *                    a one-shot scan's first look at a boot)
 *   look_verdict_ms  the same as one-shot scans make it later: the raw text hashed against the
 *                    remembered verdict of a clean comparison (src/ids/text_verdict.c)
 *   look_notext_ms   the same without the text comparison
 *   first_look_ms    the first look after discovery, symbols and BTF already loaded
 *   open_ms          discovery with the cache warm (what a one-shot scan adds before its look)
 *   symbols_ms, btf_ms  loading the symbol table (cached decode) and parsing the kernel's BTF,
 *                    which a one-shot scan pays once and watch once per boot
 *   anchor_text_read_ms  one plain read of the kernel text, _stext.._etext (the floor for
 *                        the text comparison), measured in the same run
 *   findings         what the look found (0 on a clean guest)
 */
#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/ids.h"
#include "vigil/ids_baseline.h"
#include "vigil/ids_text.h"
#include "bench_util.h"
#include "vigil/linux.h"

/* One look; returns ms, or -1 on failure. */
static double look(struct vg_linux *lx, const struct vg_text_ref *ref, struct vg_text_cache *tc,
		   size_t *nfind)
{
	struct vg_findings f = { 0 };
	struct vg_err err = { 0 };
	struct vg_snapshot s;
	double t = now_ms();

	vg_as_flush(&lx->kas);
	if (vg_ids_gather(lx, &s, &err)) {
		fprintf(stderr, "bench_ids: %s\n", err.msg);
		return -1;
	}
	if (ref)
		vg_ids_gather_text_cached(lx, ref, tc, &s);
	vg_ids_run(&s, NULL, &f, &err);
	t = now_ms() - t;
	*nfind = f.n;
	vg_findings_free(&f);
	vg_ids_snapshot_free(&s);
	return t;
}

int main(int argc, char **argv)
{
	struct vg_text_ref ref = { 0 };
	struct vg_err err = { 0 };
	struct vg_linux lx;
	struct vg_mem *m;
	struct vg_text_cache tc = { 0 };
	double *v, *w, *x, *y, t, first, open_ms, text_ms, syms_ms, btf_ms;
	uint64_t start, end;
	uint8_t key[16];
	size_t nf = 0;
	int runs = 15;
	char *buf;

	if (argc < 3 || strcmp(argv[1], "--vm")) {
		fprintf(stderr, "usage: bench_ids --vm RAMFILE [--runs N]\n");
		return 2;
	}
	if (argc >= 5 && !strcmp(argv[3], "--runs"))
		runs = atoi(argv[4]) > 0 ? atoi(argv[4]) : runs;
	if (sodium_init() < 0)
		return 2;
	/* as ids watch and serve run (src/cli/ids_watcher.c): memory kept between looks */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
	t = now_ms();
	if (vg_mem_open_kind(&m, argv[2], VG_MEM_RAW, &err) || vg_linux_open(&lx, m, NULL, &err)) {
		fprintf(stderr, "bench_ids: %s\n", err.msg);
		return 2;
	}
	open_ms = now_ms() - t;
	t = now_ms();
	vg_linux_load_symbols(&lx, &err);
	syms_ms = now_ms() - t;
	t = now_ms();
	vg_linux_btf(&lx, &err);
	btf_ms = now_ms() - t;
	first = look(&lx, NULL, NULL, &nf);
	randombytes_buf(key, sizeof(key));
	if (first < 0 || vg_ids_text_hash(&lx, key, &ref, &err)) {
		fprintf(stderr, "bench_ids: %s\n", err.msg[0] ? err.msg : "look failed");
		return 2;
	}
	v = calloc(runs, sizeof(*v));
	w = calloc(runs, sizeof(*w));
	x = calloc(runs, sizeof(*x));
	y = calloc(runs, sizeof(*y));
	for (int i = 0; i < runs; i++) {
		char dir[sizeof(lx.cache_dir)];

		w[i] = look(&lx, NULL, NULL, &nf);
		/* without a cache directory nothing is remembered: the full comparison */
		memcpy(dir, lx.cache_dir, sizeof(dir));
		lx.cache_dir[0] = '\0';
		x[i] = look(&lx, &ref, NULL, &nf);
		memcpy(lx.cache_dir, dir, sizeof(dir));
		y[i] = look(&lx, &ref, NULL, &nf);
		v[i] = look(&lx, &ref, &tc, &nf);
		if (v[i] < 0 || w[i] < 0 || x[i] < 0 || y[i] < 0)
			return 2;
	}
	/* the floor for hashing the text: reading it once through the same translation */
	if (vg_linux_sym(&lx, "_stext", &start) || vg_linux_sym(&lx, "_etext", &end) ||
	    end <= start || end - start > (64u << 20))
		return 2;
	buf = malloc(end - start);
	{
		double a[7];

		for (int i = 0; i < 7; i++) {
			vg_as_flush(&lx.kas);
			t = now_ms();
			vg_linux_read(&lx, start, buf, end - start);
			a[i] = now_ms() - t;
		}
		text_ms = median(a, 7);
	}
	printf("{\"look_ms\":%.2f,\"look_fulltext_ms\":%.2f,\"look_verdict_ms\":%.2f,"
	       "\"look_notext_ms\":%.2f,\"first_look_ms\":%.2f,\"open_ms\":%.2f,"
	       "\"symbols_ms\":%.2f,\"btf_ms\":%.2f,"
	       "\"anchor_text_read_ms\":%.2f,\"text_bytes\":%llu,\"findings\":%zu,\"runs\":%d}\n",
	       median(v, runs), median(x, runs), median(y, runs), median(w, runs), first, open_ms,
	       syms_ms, btf_ms, text_ms, (unsigned long long)(end - start), nf, runs);
	free(buf);
	free(v);
	free(w);
	free(x);
	free(y);
	vg_text_cache_free(&tc);
	vg_text_ref_free(&ref);
	vg_linux_close(&lx);
	vg_mem_close(m);
	return 0;
}
