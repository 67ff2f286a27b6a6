// SPDX-License-Identifier: MIT
/*
 * In-process timing of one IDS look through the same pipeline `vigil ids scan --baseline
 * --policy` and `ids watch` run (src/ids/look.c: gather, kernel text against the baseline,
 * checks, baseline comparison, policy), once the guest is discovered. The baseline is taken
 * from the guest first and saved to a temporary file that the configuration loads, as a user's
 * would be. Prints one JSON object:
 *   look_ms          median of --runs looks as watch and serve make them (verified text carried
 *                    between looks: a memcmp while it is unchanged)
 *   look_fulltext_ms the same with the full text comparison every time (no cache directory:
 *                    a one-shot scan's first look at a boot)
 *   look_verdict_ms  the same as one-shot scans make it later: the raw text compared with the
 *                    remembered verdict of a clean comparison (src/ids/text_verdict.c)
 *   look_notext_ms   a look without a baseline (no text comparison, no baseline checks)
 *   first_look_ms    the first look after discovery, symbols and BTF already loaded
 *   open_ms          discovery with the cache warm (what a one-shot scan adds before its look)
 *   symbols_ms, btf_ms  loading the symbol table (cached decode) and parsing the kernel's BTF,
 *                    which a one-shot scan pays once and watch once per boot
 *   anchor_text_read_ms  one plain read of the kernel text, _stext.._etext (the floor for
 *                        the text comparison), measured in the same run
 *   findings         what the look found (0 on a clean guest)
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "vigil/guest.h"
#include "vigil/ids_look.h"

/* What the baseline-and-policy configuration is loaded from, as a user's files would be. */
static const char policy_text[] = "[processes]\nnew-executables = report\n"
				  "[watch]\ninterval = 1s\n";

/* One look; returns ms, or -1 on failure. */
static double look(struct vg_guest *g, struct vg_ids_config *c, size_t *nfind)
{
	struct vg_findings f = { 0 };
	struct vg_err err = { 0 };
	char warn[1024];
	double t = now_ms();

	vg_as_flush(&g->lx.kas);
	if (vg_ids_look(g, c, &f, warn, sizeof(warn), &err)) {
		fprintf(stderr, "bench_ids: %s\n", err.msg);
		return -1;
	}
	t = now_ms() - t;
	*nfind = f.n;
	vg_findings_free(&f);
	return t;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ok = f && fputs(text, f) >= 0;

	if (f && fclose(f))
		ok = 0;
	return ok ? 0 : -1;
}

/* The baseline of the guest as it is now, saved to BASE, and the configuration loading it. */
static int configure(struct vg_guest *g, const char *base, const char *policy,
		     struct vg_ids_config *with)
{
	struct vg_ids_setup s = { .baseline = base, .policy = policy };
	struct vg_baseline b = { 0 };
	struct vg_err err = { 0 };
	char warn[1024];

	if (vg_ids_baseline_take(g, &b, warn, sizeof(warn), &err) ||
	    vg_baseline_save(&b, base, &err) || write_file(policy, policy_text) ||
	    vg_ids_config_init(with, &s, &err)) {
		fprintf(stderr, "bench_ids: %s\n", err.msg[0] ? err.msg : "cannot configure");
		vg_baseline_free(&b);
		return -1;
	}
	vg_baseline_free(&b);
	return 0;
}

int main(int argc, char **argv)
{
	struct vg_ids_config cfg, bare;
	struct vg_err err = { 0 };
	struct vg_guest g;
	struct vg_guest_opts go = { .format = "raw" };
	double *v, *w, *x, *y, t, first, open_ms, text_ms, syms_ms, btf_ms;
	char base[64], policy[64];
	uint64_t start, end;
	size_t nf = 0;
	int runs = 15, rc = 2;
	char *buf;

	if (argc < 3 || strcmp(argv[1], "--vm")) {
		fprintf(stderr, "usage: bench_ids --vm RAMFILE [--runs N]\n");
		return 2;
	}
	if (argc >= 5 && !strcmp(argv[3], "--runs"))
		runs = atoi(argv[4]) > 0 ? atoi(argv[4]) : runs;
	go.source = argv[2];
	/* as ids watch and serve run (src/ids/watcher.c): memory kept between looks */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
	t = now_ms();
	if (vg_guest_open(&g, &go, &err)) {
		fprintf(stderr, "bench_ids: %s\n", err.msg);
		return 2;
	}
	open_ms = now_ms() - t;
	t = now_ms();
	vg_linux_load_symbols(&g.lx, &err);
	syms_ms = now_ms() - t;
	t = now_ms();
	vg_linux_btf(&g.lx, &err);
	btf_ms = now_ms() - t;
	snprintf(base, sizeof(base), "/tmp/bench_ids-%d.baseline", (int)getpid());
	snprintf(policy, sizeof(policy), "/tmp/bench_ids-%d.policy", (int)getpid());
	if (vg_ids_config_init(&bare, &(struct vg_ids_setup){ 0 }, &err))
		goto out_files;
	first = look(&g, &bare, &nf);
	if (first < 0 || configure(&g, base, policy, &cfg)) {
		vg_ids_config_free(&bare);
		goto out_files;
	}
	v = calloc(runs, sizeof(*v));
	w = calloc(runs, sizeof(*w));
	x = calloc(runs, sizeof(*x));
	y = calloc(runs, sizeof(*y));
	for (int i = 0; i < runs; i++) {
		char dir[sizeof(g.lx.cache_dir)];

		w[i] = look(&g, &bare, &nf);
		/* without a cache directory nor remembered text: the full comparison */
		memcpy(dir, g.lx.cache_dir, sizeof(dir));
		g.lx.cache_dir[0] = '\0';
		vg_text_cache_free(&cfg.text_cache);
		x[i] = look(&g, &cfg, &nf);
		memcpy(g.lx.cache_dir, dir, sizeof(dir));
		/* a one-shot scan later at this boot: the verdict file, nothing in memory */
		vg_text_cache_free(&cfg.text_cache);
		y[i] = look(&g, &cfg, &nf);
		/* watch: the verified text carried from the last look */
		v[i] = look(&g, &cfg, &nf);
		if (v[i] < 0 || w[i] < 0 || x[i] < 0 || y[i] < 0)
			goto out;
	}
	/* the floor for comparing the text: reading it once through the same translation */
	if (vg_linux_sym(&g.lx, "_stext", &start) || vg_linux_sym(&g.lx, "_etext", &end) ||
	    end <= start || end - start > (64u << 20))
		goto out;
	buf = malloc(end - start);
	{
		double a[7];

		for (int i = 0; i < 7; i++) {
			vg_as_flush(&g.lx.kas);
			t = now_ms();
			vg_linux_read(&g.lx, start, buf, end - start);
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
	rc = 0;
out:
	vg_ids_config_free(&cfg);
	vg_ids_config_free(&bare);
out_files:
	unlink(base);
	unlink(policy);
	vg_guest_close(&g);
	return rc;
}
