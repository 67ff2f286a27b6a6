// SPDX-License-Identifier: MIT
/*
 * Zero-configuration discovery: banner -> kernel page tables -> kernel image -> kallsyms ->
 * BTF -> struct offsets, each step checked against the others (linux_banner's symbol address
 * must be where the page tables map the banner; _text must equal kallsyms' relative base; the
 * kernel's e820 map must agree with the physical layout chosen for a raw RAM file).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/btf.h>

#include "vigil/util.h"
#include "vigil/linux.h"
#include "kpgd.h"
#include "lxcache.h"

#define START_KERNEL_MAP_TEXT 0xffffffff81000000ull
#define KTEXT_LO 0xffffffff80000000ull
#define KTEXT_HI 0xffffffffbfffffffull
#define MAX_BANNERS 64
#define E820_MAX 256

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct run_ctx {
	uint64_t want_va;
	uint64_t va0, pa0, len;
	bool done;
};

/* Tracks runs of virtually and physically contiguous leaves; keeps the one holding want_va. */
static int run_cb(uint64_t va, uint64_t pa, uint64_t size, void *c)
{
	struct run_ctx *r = c;

	if (r->len && va == r->va0 + r->len && pa == r->pa0 + r->len) {
		r->len += size;
	} else {
		if (r->len && r->want_va >= r->va0 && r->want_va < r->va0 + r->len) {
			r->done = true;
			return 1;
		}
		r->va0 = va;
		r->pa0 = pa;
		r->len = size;
	}
	return 0;
}

static int image_run(struct vg_as *as, uint64_t banner_va, struct run_ctx *r)
{
	memset(r, 0, sizeof(*r));
	r->want_va = banner_va;
	vg_as_for_each_leaf(as, KTEXT_LO, KTEXT_HI, run_cb, r);
	if (r->len && banner_va >= r->va0 && banner_va < r->va0 + r->len)
		return 0;
	return -ENOENT;
}

static void parse_release(struct vg_linux *lx)
{
	const char *p = lx->banner + strlen("Linux version ");
	size_t n = strcspn(p, " \n");

	if (n >= sizeof(lx->release))
		n = sizeof(lx->release) - 1;
	memcpy(lx->release, p, n);
	lx->release[n] = '\0';
}

static int read_banner(struct vg_linux *lx, uint64_t pa)
{
	char buf[VG_BANNER_MAX];

	memset(buf, 0, sizeof(buf));
	if (vg_mem_read(lx->mem, pa, buf, sizeof(buf) - 1)) {
		/* near the end of RAM: take what is there */
		for (size_t n = sizeof(buf) - 1; n > 0; n /= 2)
			if (!vg_mem_read(lx->mem, pa, buf, n))
				break;
	}
	buf[strcspn(buf, "\n")] = '\0';
	for (char *c = buf; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	memcpy(lx->banner, buf, sizeof(buf));
	parse_release(lx);
	return 0;
}

static int load_btf_file(struct vg_linux *lx, const char *path, struct vg_err *err)
{
	lx->btf = btf__parse(path, NULL);
	if (!lx->btf) {
		int e = errno ? errno : EINVAL;

		lx->btf = NULL;
		return vg_errf(err, e, "%s: cannot read BTF (not a vmlinux with .BTF or raw BTF)",
			       path);
	}
	return 0;
}

/* BTF from the image: __start_BTF..__stop_BTF when kallsyms has them, else by header scan. */
static int load_btf_image(struct vg_linux *lx, const uint8_t *img, size_t len, uint64_t img_va,
			  struct vg_err *err)
{
	uint64_t a = 0, b = 0;
	int64_t off = -1;
	size_t size = 0;

	if (!vg_linux_sym(lx, "__start_BTF", &a) && !vg_linux_sym(lx, "__stop_BTF", &b) &&
	    a >= img_va && b > a && b - img_va <= len) {
		off = (int64_t)(a - img_va);
		size = b - a;
	} else {
		off = vg_btf_find(img, len);
		if (off >= 0) {
			uint32_t h[6];

			memcpy(h, img + off, sizeof(h));
			size = 24 + (size_t)h[3] + h[5];
		}
	}
	if (off < 0)
		return vg_errf(err, ENOENT,
			       "the guest kernel has no BTF in memory (built without "
			       "CONFIG_DEBUG_INFO_BTF?); give --btf FILE (vmlinux or raw BTF)");
	lx->btf_off = (uint64_t)off;
	lx->btf = btf__new(img + off, (uint32_t)size);
	if (!lx->btf) {
		lx->btf = NULL;
		return vg_errf(
			err, EINVAL,
			"the kernel's BTF at %#llx does not parse; give --btf FILE (vmlinux or raw "
			"BTF)",
			(unsigned long long)(img_va + off));
	}
	lx->btf_size = size;
	return 0;
}

static int load_symbols_file(struct vg_linux *lx, const char *path, struct vg_err *err)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long sz;
	int ret;
	const struct vg_ksym *b;

	if (!f)
		return vg_errf(err, errno, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	rewind(f);
	if (sz <= 0 || sz > (512l << 20)) {
		fclose(f);
		return vg_errf(err, EINVAL, "%s: not a symbol file (size %ld)", path, sz);
	}
	buf = malloc(sz);
	if (!buf || fread(buf, 1, sz, f) != (size_t)sz) {
		free(buf);
		fclose(f);
		return vg_errf(err, EIO, "%s: read failed", path);
	}
	fclose(f);
	ret = vg_kallsyms_from_text(&lx->ksyms, buf, sz, 0, err);
	free(buf);
	if (ret)
		return vg_err_prefix(err, "%s", path);
	/* System.map has link-time addresses: slide them by where linux_banner really is */
	b = vg_kallsyms_lookup(&lx->ksyms, "linux_banner");
	if (!b)
		return vg_errf(err, ENOENT, "%s: has no linux_banner symbol", path);
	if (b->addr != lx->banner_va) {
		uint64_t slide = lx->banner_va - b->addr;

		for (uint32_t i = 0; i < lx->ksyms.count; i++)
			lx->ksyms.syms[i].addr += slide;
	}
	return 0;
}

/* The kernel's e820 RAM entries must lie inside the layout's ranges (raw RAM files only). */
static bool layout_matches_e820(struct vg_linux *lx)
{
	uint64_t tab, addr, size;
	uint32_t nr, type;
	const struct vg_offsets *o = &lx->off;
	const struct vg_mem_range *r = vg_mem_ranges(lx->mem);
	size_t nrng = vg_mem_nranges(lx->mem);

	if (o->e820_nr < 0 || o->e820_entries < 0 || o->e820_entry_size < 20)
		return true; /* cannot tell: accept */
	if (vg_linux_sym(lx, "e820_table", &tab) || vg_as_read_u64(&lx->kas, tab, &tab) ||
	    vg_as_read_u32(&lx->kas, tab + o->e820_nr, &nr) || nr > E820_MAX)
		return true;
	for (uint32_t i = 0; i < nr; i++) {
		uint64_t e = tab + o->e820_entries + (uint64_t)i * o->e820_entry_size;
		bool inside = false;

		if (vg_as_read_u64(&lx->kas, e, &addr) || vg_as_read_u64(&lx->kas, e + 8, &size) ||
		    vg_as_read_u32(&lx->kas, e + 16, &type))
			return true;
		if (type != 1 || size == 0)
			continue;
		for (size_t k = 0; k < nrng; k++)
			if (addr >= r[k].start && addr + size <= r[k].start + r[k].size)
				inside = true;
		if (!inside)
			return false;
	}
	return true;
}

static int finish(struct vg_linux *lx, const uint8_t *img, size_t len, uint64_t img_va,
		  const struct vg_linux_opts *opts, struct vg_err *err)
{
	uint64_t a;
	uint32_t l5;
	double t;
	int ret;

	if (vg_linux_sym(lx, "_text", &lx->text_va))
		return vg_errf(err, ENOENT, "kernel symbols have no _text");
	lx->kaslr_slide = lx->text_va - START_KERNEL_MAP_TEXT;
	if (vg_as_translate(&lx->kas, lx->text_va, &lx->phys_slide, NULL))
		lx->phys_slide = 0;
	/* prefer the kernel's own top-level table over whichever candidate mapped the banner */
	if (!vg_linux_sym(lx, "init_top_pgt", &a) && !vg_as_translate(&lx->kas, a, &a, NULL) &&
	    a != lx->kas.root) {
		uint64_t va;

		if (!vg_kpgd_maps(lx->mem, a, lx->levels, lx->banner_pa, &va) &&
		    va == lx->banner_va)
			vg_as_init(&lx->kas, lx->mem, a, lx->levels);
	}
	if (!vg_linux_sym(lx, "__pgtable_l5_enabled", &a) && !vg_as_read_u32(&lx->kas, a, &l5) &&
	    (l5 != 0) != (lx->levels == 5))
		return vg_errf(err, EINVAL, "page tables walk as %d-level but the kernel says %s",
			       lx->levels, l5 ? "5-level" : "4-level");
	if (!vg_linux_sym(lx, "page_offset_base", &a)) {
		if (vg_as_read_u64(&lx->kas, a, &lx->page_offset_base))
			return vg_errf(err, EFAULT, "cannot read page_offset_base");
	} else {
		lx->page_offset_base =
			lx->levels == 5 ? 0xff11000000000000ull : 0xffff888000000000ull;
	}
	t = now_ms();
	ret = opts->btf_file ? load_btf_file(lx, opts->btf_file, err)
			     : load_btf_image(lx, img, len, img_va, err);
	if (ret)
		return ret;
	lx->btf_types = btf__type_cnt(lx->btf);
	ret = vg_offsets_resolve(&lx->off, lx->btf, err);
	if (ret)
		return ret;
	lx->timing.btf_ms = now_ms() - t;
	if (vg_linux_sym(lx, "init_task", &lx->init_task))
		return vg_errf(err, ENOENT, "kernel symbols have no init_task");
	if (vg_linux_sym(lx, "modules", &lx->modules_head))
		lx->modules_head = 0;
	if (vg_mem_layout_count(lx->mem) > 1 && !layout_matches_e820(lx))
		return vg_errf(err, EAGAIN, "layout disagrees with the kernel's e820 map");
	for (int i = 0; i < VG_CORE_SYMS; i++)
		if (vg_linux_sym(lx, vg_core_sym_names[i], &lx->core_sym[i]))
			lx->core_sym[i] = 0;
	return 0;
}

/* One banner + root candidate: find the image, its symbols, its BTF. */
static int try_candidate(struct vg_linux *lx, uint64_t banner_pa, const struct vg_kpgd *c,
			 const struct vg_linux_opts *opts, struct vg_err *err)
{
	struct run_ctx run;
	const uint8_t *img;
	const struct vg_ksym *b;
	double t;
	int ret;

	vg_as_init(&lx->kas, lx->mem, c->root, c->levels);
	lx->levels = c->levels;
	lx->banner_pa = banner_pa;
	lx->banner_va = c->banner_va;
	read_banner(lx, banner_pa);
	if (image_run(&lx->kas, c->banner_va, &run))
		return vg_errf(err, ENOENT, "kernel image mapping not contiguous");
	img = vg_mem_ptr(lx->mem, run.pa0, run.len);
	if (!img)
		return vg_errf(err, EFAULT, "kernel image at %#llx is not inside one RAM range",
			       (unsigned long long)run.pa0);
	t = now_ms();
	if (opts->symbols_file) {
		ret = load_symbols_file(lx, opts->symbols_file, err);
	} else {
		ret = vg_kallsyms_parse(&lx->ksyms, img, run.len, run.va0,
					(size_t)(c->banner_va - run.va0), err);
	}
	lx->ksyms_loaded = true;
	lx->img_va = run.va0;
	lx->img_pa = run.pa0;
	lx->img_len = run.len;
	if (!ret && !opts->symbols_file) {
		size_t n =
			run.len - lx->ksyms.token_off < 1024 ? run.len - lx->ksyms.token_off : 1024;

		lx->ks_token_off = lx->ksyms.token_off;
		lx->ks_hash = vg_fnv64(img + lx->ks_token_off, n, VG_FNV64_INIT);
	}
	lx->timing.kallsyms_ms = now_ms() - t;
	if (ret)
		return ret;
	b = vg_kallsyms_lookup(&lx->ksyms, "linux_banner");
	if (!b || vg_ksym_addr(&lx->ksyms, b) != c->banner_va) {
		vg_kallsyms_free(&lx->ksyms);
		return vg_errf(err, ENOENT, "symbols disagree with the banner's mapping");
	}
	return finish(lx, img, run.len, run.va0, opts, err);
}

static void reset(struct vg_linux *lx)
{
	struct vg_mem *mem = lx->mem;
	const char *sf = lx->symbols_file, *bf = lx->btf_file;

	vg_kallsyms_free(&lx->ksyms);
	if (lx->btf)
		btf__free(lx->btf);
	char dir[sizeof(lx->cache_dir)];

	memcpy(dir, lx->cache_dir, sizeof(dir));
	memset(lx, 0, sizeof(*lx));
	memcpy(lx->cache_dir, dir, sizeof(dir));
	lx->mem = mem;
	lx->symbols_file = sf;
	lx->btf_file = bf;
}

static int roots_for(struct vg_mem *mem, uint64_t banner_pa, struct vg_kpgd *roots, int max)
{
	struct vg_cpu_state cpu;
	int n = 0;

	if (!vg_mem_cpu_state(mem, &cpu) && cpu.valid && cpu.cr3) {
		int levels = (cpu.cr4 & (1ull << 12)) ? 5 : 4;
		/* with PTI the user copy of the PGD is the kernel's | 0x1000 */
		uint64_t cand[2] = { cpu.cr3 & ~0xfffull & 0x000ffffffffff000ull,
				     cpu.cr3 & ~0x1fffull & 0x000ffffffffff000ull };

		for (int i = 0; i < 2 && n < max; i++)
			if (!vg_kpgd_maps(mem, cand[i], levels, banner_pa, &roots[n].banner_va)) {
				roots[n].root = cand[i];
				roots[n].levels = levels;
				n++;
			}
	}
	return n + vg_kpgd_scan(mem, banner_pa, roots + n, max - n);
}

/* Finds page tables that map the banner at BANNER_PA and tries the kernel image they show. */
static int try_banner(struct vg_linux *lx, uint64_t banner_pa, const struct vg_linux_opts *opts,
		      struct vg_err *err)
{
	struct vg_kpgd root;
	struct vg_err e2 = { 0 };
	struct vg_linux_timing keep;
	double t = now_ms();
	int layout = lx->layout, ret;

	/* every root that maps the banner maps the same image: one try per banner */
	if (roots_for(lx->mem, banner_pa, &root, 1) < 1) {
		lx->timing.pgd_ms += now_ms() - t;
		return -ENOENT;
	}
	lx->timing.pgd_ms += now_ms() - t;
	ret = try_candidate(lx, banner_pa, &root, opts, &e2);
	if (!ret)
		return 0;
	/* keep the most telling failure: a step after the symbols were found */
	if (e2.code && (!err->code || lx->text_va)) {
		vg_err_clear(err);
		vg_errf(err, e2.code, "%s", e2.msg);
	}
	keep = lx->timing;
	reset(lx);
	lx->layout = layout;
	lx->timing = keep;
	return ret;
}

static int discover_layout(struct vg_linux *lx, const struct vg_linux_opts *opts,
			   struct vg_err *err, int *nbanners)
{
	uint64_t banners[MAX_BANNERS];
	double t = now_ms();
	int nb;

	/* the first rodata-looking banner is nearly always right: full scan only if it is not */
	nb = vg_banner_find(lx->mem, banners, 1);
	if (nb == 0 || (opts->stale_banner_pa && banners[0] == opts->stale_banner_pa) ||
	    try_banner(lx, banners[0], opts, err) != 0) {
		uint64_t tried = nb ? banners[0] : UINT64_MAX;

		nb = vg_banner_find(lx->mem, banners, MAX_BANNERS);
		lx->timing.banner_ms = now_ms() - t;
		*nbanners += nb;
		for (int i = 0; i < nb; i++)
			if (banners[i] != tried && banners[i] != opts->stale_banner_pa &&
			    try_banner(lx, banners[i], opts, err) == 0)
				return 0;
		return -ENOENT;
	}
	lx->timing.banner_ms =
		now_ms() - t - lx->timing.pgd_ms - lx->timing.kallsyms_ms - lx->timing.btf_ms;
	*nbanners += nb;
	return 0;
}

int vg_linux_open(struct vg_linux *lx, struct vg_mem *mem, const struct vg_linux_opts *opts,
		  struct vg_err *err)
{
	struct vg_linux_opts none = { 0 };
	struct vg_err first = { 0 };
	double t0 = now_ms();
	int nb = 0, nl;

	if (!opts)
		opts = &none;
	memset(lx, 0, sizeof(*lx));
	lx->mem = mem;
	lx->symbols_file = opts->symbols_file;
	lx->btf_file = opts->btf_file;
	vg_lxcache_set_dir(lx, opts);
	if (!opts->stale_banner_pa && vg_lxcache_try(lx, opts) == 0) {
		lx->timing.total_ms = now_ms() - t0;
		lx->timing.from_cache = true;
		return 0;
	}
	nl = vg_mem_layout_count(mem);
	for (int l = 0; l < nl; l++) {
		vg_mem_set_layout(mem, l);
		lx->layout = l;
		if (discover_layout(lx, opts, &first, &nb) == 0) {
			lx->timing.total_ms = now_ms() - t0;
			vg_lxcache_store(lx, opts);
			if (lx->ksyms.count && lx->ksyms.hash)
				vg_ksymcache_store(lx);
			return 0;
		}
	}
	if (nb == 0)
		return vg_errf(
			err, ENOENT,
			"%s: no Linux kernel in this memory (no 'Linux version' banner): not "
			"guest RAM, or the guest has not booted a kernel yet",
			vg_mem_path(mem));
	if (first.code)
		return vg_errf(err, first.code, "%s: %s", vg_mem_path(mem), first.msg);
	return vg_errf(err, ENOENT,
		       "%s: found a Linux banner but no kernel page tables that map it (kernel "
		       "still booting, or memory truncated)",
		       vg_mem_path(mem));
}

void vg_linux_close(struct vg_linux *lx)
{
	vg_btfmemo_free(lx);
	vg_kallsyms_free(&lx->ksyms);
	if (lx->btf)
		btf__free(lx->btf);
	lx->btf = NULL;
}

const char *const vg_core_sym_names[VG_CORE_SYMS] = {
	"_text",	"linux_banner",		"init_task",  "modules", "page_offset_base",
	"init_top_pgt", "__pgtable_l5_enabled", "e820_table",
};

/* kallsyms again, from the image location the cache recorded (the search starts right there) */
int vg_linux_load_symbols(struct vg_linux *lx, struct vg_err *err)
{
	const uint8_t *img;

	if (lx->ksyms_loaded)
		return 0;
	if (lx->symbols_file)
		return load_symbols_file(lx, lx->symbols_file, err) ?: (lx->ksyms_loaded = true, 0);
	if (vg_ksymcache_load(lx) == 0) {
		lx->ksyms_loaded = true;
		return 0;
	}
	img = vg_mem_ptr(lx->mem, lx->img_pa, lx->img_len);
	if (!img)
		return vg_errf(err, EFAULT, "kernel image no longer readable");
	if (vg_kallsyms_parse(&lx->ksyms, img, lx->img_len, lx->img_va, lx->ks_token_off, err))
		return -err->code;
	lx->ksyms_loaded = true;
	vg_ksymcache_store(lx);
	return 0;
}

int vg_linux_sym(struct vg_linux *lx, const char *name, uint64_t *addr)
{
	const struct vg_ksym *s;

	if (!lx->ksyms_loaded) {
		struct vg_err e = { 0 };

		for (int i = 0; i < VG_CORE_SYMS; i++) {
			if (!strcmp(name, vg_core_sym_names[i])) {
				*addr = lx->core_sym[i];
				return *addr ? 0 : -ENOENT;
			}
		}
		if (vg_linux_load_symbols(lx, &e))
			return -ENOENT;
	}
	s = vg_kallsyms_lookup(&lx->ksyms, name);
	if (!s)
		return -ENOENT;
	*addr = vg_ksym_addr(&lx->ksyms, s);
	return 0;
}

const char *vg_linux_sym_near(struct vg_linux *lx, uint64_t addr, uint64_t *off)
{
	struct vg_err e = { 0 };
	const struct vg_ksym *s;

	if (vg_linux_load_symbols(lx, &e))
		return NULL;
	s = vg_kallsyms_near(&lx->ksyms, addr);
	if (!s)
		return NULL;
	*off = addr - vg_ksym_addr(&lx->ksyms, s);
	return vg_ksym_name(&lx->ksyms, s);
}

struct btf *vg_linux_btf(struct vg_linux *lx, struct vg_err *err)
{
	const uint8_t *img;
	uint32_t h[6];

	if (lx->btf)
		return lx->btf;
	if (lx->btf_file) {
		if (load_btf_file(lx, lx->btf_file, err))
			return NULL;
		return lx->btf;
	}
	img = vg_mem_ptr(lx->mem, lx->img_pa, lx->img_len);
	if (!img || lx->btf_off + 24 > lx->img_len) {
		vg_errf(err, EFAULT, "kernel BTF no longer readable");
		return NULL;
	}
	memcpy(h, img + lx->btf_off, sizeof(h));
	if ((uint64_t)24 + h[3] + h[5] > lx->img_len - lx->btf_off) {
		vg_errf(err, EINVAL, "kernel BTF header changed");
		return NULL;
	}
	lx->btf = btf__new(img + lx->btf_off, 24 + h[3] + h[5]);
	if (!lx->btf)
		vg_errf(err, EINVAL, "kernel BTF does not parse");
	return lx->btf;
}

int vg_linux_read(struct vg_linux *lx, uint64_t va, void *buf, size_t len)
{
	return vg_as_read(&lx->kas, va, buf, len);
}
