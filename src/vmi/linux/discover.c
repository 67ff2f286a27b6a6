// SPDX-License-Identifier: MIT
/*
 * Zero-configuration discovery: banner -> kernel page tables -> kernel image -> kallsyms ->
 * BTF -> struct offsets, each step checked against the others (linux_banner's symbol address,
 * or on AArch64 the image's own linear mapping and init_uts_ns, must agree with where the page
 * tables map the banner; _text or _stext must equal kallsyms' relative base; the kernel's e820
 * map must agree with the physical layout chosen for a raw PC RAM file).
 *
 * The architecture is told by content: a layout that only one kind of machine has (vg_mem)
 * is tried with that architecture's page tables; when a PC layout's try fails and the code
 * under the banner is AArch64's, the other PC layouts are not tried at all. The x86-64 and
 * AArch64 steps are in discover_x86.c and discover_arm64.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/btf.h>

#include "vigil/clock.h"
#include "vigil/util.h"
#include "discover_int.h"
#include "lxcache.h"

#define MAX_BANNERS 64
#define ARM64_IMAGE_WINDOW (256ull << 20)
#define CODE_GLANCE (256u << 10) /* under the banner, past .text's alignment padding */
#define CODE_LOOK (16u << 20)	 /* as far down as .rodata can reach */

#define now_ms vg_mono_msf

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

/* The kernel-image window the page tables are searched in for the run around the banner. */
static void image_window(const struct vg_linux *lx, uint64_t *lo, uint64_t *hi)
{
	if (lx->arch == VG_ARCH_ARM64) {
		uint64_t upper = ~0ull << (lx->va_bits - 1);

		*lo = lx->banner_va - upper > ARM64_IMAGE_WINDOW
			      ? lx->banner_va - ARM64_IMAGE_WINDOW
			      : upper;
		*hi = UINT64_MAX - lx->banner_va > ARM64_IMAGE_WINDOW
			      ? lx->banner_va + ARM64_IMAGE_WINDOW
			      : UINT64_MAX;
		return;
	}
	*lo = 0xffffffff80000000ull;
	*hi = 0xffffffffbfffffffull;
}

static int image_run(struct vg_linux *lx, struct run_ctx *r)
{
	uint64_t lo, hi;

	memset(r, 0, sizeof(*r));
	r->want_va = lx->banner_va;
	image_window(lx, &lo, &hi);
	vg_as_for_each_leaf(&lx->kas, lo, hi, run_cb, r);
	if (r->len && lx->banner_va >= r->va0 && lx->banner_va < r->va0 + r->len)
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
		/* AArch64: BTF follows the exported-symbol table in .rodata */
		size_t from = lx->kst_off < len ? lx->kst_off & ~(size_t)3 : 0;

		off = vg_btf_find(img + from, len - from);
		if (off >= 0)
			off += (int64_t)from;
		else if (from)
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

/* Without KALLSYMS_ALL kallsyms keeps text symbols (and a few section markers) only: no
 * init_task, which every kernel has. */
static bool text_only(const struct vg_kallsyms *ks)
{
	return !vg_kallsyms_lookup(ks, "init_task");
}

/* The symbols must describe this banner: linux_banner where the page tables put it, or,
 * without that symbol (AArch64 without KALLSYMS_ALL), _stext inside the image's own linear
 * mapping. */
static int symbols_match(struct vg_linux *lx)
{
	const struct vg_ksym *b = vg_kallsyms_lookup(&lx->ksyms, "linux_banner");
	uint64_t pa;

	if (b)
		return vg_ksym_addr(&lx->ksyms, b) == lx->banner_va ? 0 : -ENOENT;
	if (lx->arch != VG_ARCH_ARM64)
		return -ENOENT;
	b = vg_kallsyms_lookup(&lx->ksyms, "_stext");
	if (!b || vg_as_translate(&lx->kas, vg_ksym_addr(&lx->ksyms, b), &pa, NULL) ||
	    vg_ksym_addr(&lx->ksyms, b) - pa != lx->banner_va - lx->banner_pa)
		return -ENOENT;
	return 0;
}

static int finish(struct vg_linux *lx, const uint8_t *img, size_t len, uint64_t img_va,
		  const struct vg_linux_opts *opts, struct vg_err *err)
{
	const char *const *core;
	double t;
	int ret;

	ret = lx->arch == VG_ARCH_ARM64 ? vg_arm64_facts(lx, img, err) : vg_x86_facts(lx, err);
	if (ret)
		return ret;
	t = now_ms();
	ret = opts->btf_file ? vg_lx_btf_file(lx, opts->btf_file, err)
			     : load_btf_image(lx, img, len, img_va, err);
	if (ret)
		return ret;
	lx->btf_types = btf__type_cnt(lx->btf);
	ret = vg_offsets_resolve(&lx->off, lx->btf, err);
	if (ret)
		return ret;
	lx->timing.btf_ms = now_ms() - t;
	if (lx->arch == VG_ARCH_ARM64 && (ret = vg_arm64_check_release(lx, err)))
		return ret;
	if (vg_linux_sym(lx, "init_task", &lx->init_task))
		return vg_errf(err, ENOENT, "kernel symbols have no init_task");
	if (vg_linux_sym(lx, "modules", &lx->modules_head))
		lx->modules_head = 0;
	if (lx->arch != VG_ARCH_ARM64 && !vg_x86_layout_ok(lx))
		return vg_errf(err, EAGAIN, "layout disagrees with the kernel's e820 map");
	core = vg_core_syms(lx);
	for (int i = 0; i < VG_CORE_SYMS; i++)
		if (vg_linux_sym(lx, core[i], &lx->core_sym[i]))
			lx->core_sym[i] = 0;
	return 0;
}

static void init_kas(struct vg_linux *lx, const struct vg_kpgd *c)
{
	lx->arch = c->arch;
	lx->levels = c->levels;
	if (c->arch == VG_ARCH_ARM64) {
		lx->va_bits = c->va_bits;
		vg_as_init_arm64(&lx->kas, lx->mem, c->root, c->va_bits, false);
	} else {
		lx->va_bits = c->levels == 5 ? 57 : 48;
		vg_as_init(&lx->kas, lx->mem, c->root, c->levels);
	}
}

/* One banner + root candidate: find the image, its symbols, its BTF. */
static int try_candidate(struct vg_linux *lx, uint64_t banner_pa, const struct vg_kpgd *c,
			 const struct vg_linux_opts *opts, struct vg_err *err)
{
	struct run_ctx run;
	const uint8_t *img;
	double t;
	int ret;

	init_kas(lx, c);
	lx->banner_pa = banner_pa;
	lx->banner_va = c->banner_va;
	read_banner(lx, banner_pa);
	if (image_run(lx, &run))
		return vg_errf(err, ENOENT, "kernel image mapping not contiguous");
	img = vg_mem_ptr(lx->mem, run.pa0, run.len);
	if (!img)
		return vg_errf(err, EFAULT, "kernel image at %#llx is not inside one RAM range",
			       (unsigned long long)run.pa0);
	t = now_ms();
	if (opts->symbols_file) {
		ret = vg_lx_symbols_file(lx, opts->symbols_file, err);
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
	lx->ksyms_text_only = text_only(&lx->ksyms);
	if (symbols_match(lx)) {
		vg_kallsyms_free(&lx->ksyms);
		return vg_errf(err, ENOENT, "symbols disagree with the banner's mapping");
	}
	return finish(lx, img, run.len, run.va0, opts, err);
}

static void reset(struct vg_linux *lx)
{
	struct vg_mem *mem = lx->mem;
	const char *sf = lx->symbols_file, *bf = lx->btf_file;
	char dir[sizeof(lx->cache_dir)];

	vg_linux_close(lx);
	memcpy(dir, lx->cache_dir, sizeof(dir));
	memset(lx, 0, sizeof(*lx));
	memcpy(lx->cache_dir, dir, sizeof(dir));
	lx->mem = mem;
	lx->symbols_file = sf;
	lx->btf_file = bf;
}

/*
 * Page tables of architecture WANT (VG_ARCH_ANY: either) that map the banner at BANNER_PA:
 * how many (at most 2), or -EXDEV when none does and the content belongs elsewhere: AArch64
 * code in a PC layout, or AArch64 tables of another layout's RAM. Every table found by search
 * maps the same image, so one is enough; AArch64 may add the one its VMCOREINFO names first,
 * which is only a claim. Only the first banner of a layout is PROBEd for AArch64 code: the
 * others are the printk copies of a PC guest whose own banner failed, and probing each would
 * slow exactly the x86-64 search that has to read them.
 */
static int roots_for(struct vg_linux *lx, uint64_t banner_pa, enum vg_arch want, bool probe,
		     struct vg_kpgd *roots)
{
	int misplaced = 0, n;
	/* AArch64 code right under the banner (a glance, nearly free): no x86 table search,
	 * which would read every page around the banner in vain */
	bool arm = probe && want != VG_ARCH_ARM64 &&
		   vg_arm64_code_near(lx->mem, banner_pa, CODE_GLANCE);

	if (want != VG_ARCH_ARM64 && !arm && vg_x86_roots(lx->mem, banner_pa, roots, 1) == 1)
		return 1;
	if (want == VG_ARCH_X86_64)
		return arm || (probe && vg_arm64_code_near(lx->mem, banner_pa, CODE_LOOK))
			       ? -EXDEV
			       : -ENOENT;
	if ((n = vg_arm64_roots(lx, banner_pa, roots, 2, &misplaced)))
		return n;
	return misplaced ? -EXDEV : -ENOENT;
}

/* Finds page tables that map the banner at BANNER_PA and tries the kernel image they show. */
static int try_banner(struct vg_linux *lx, uint64_t banner_pa, enum vg_arch want, bool probe,
		      const struct vg_linux_opts *opts, struct vg_err *err)
{
	struct vg_kpgd roots[2];
	struct vg_linux_timing keep;
	const char *vmci;
	double t = now_ms();
	int layout = lx->layout, n, ret = -ENOENT;

	n = roots_for(lx, banner_pa, want, probe, roots);
	lx->timing.pgd_ms += now_ms() - t;
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct vg_err e2 = { 0 };

		ret = try_candidate(lx, banner_pa, &roots[i], opts, &e2);
		if (!ret)
			return 0;
		/* keep the most telling failure: a step after the symbols were found */
		if (e2.code && (!err->code || lx->text_va)) {
			vg_err_clear(err);
			vg_errf(err, e2.code, "%s", e2.msg);
		}
		keep = lx->timing;
		vmci = lx->vmcoreinfo;
		reset(lx);
		lx->layout = layout;
		lx->timing = keep;
		lx->vmcoreinfo = roots[i].from_vmcoreinfo ? "rejected: the kernel it describes is "
							    "not the one in memory"
							  : vmci;
	}
	return ret;
}

/*
 * Discovery in the current layout. -EXDEV: the layout is the wrong one for this content (a PC
 * layout over AArch64 code, or an ARM layout whose page tables point outside its RAM), so the
 * caller moves on without the full banner scan, which could not help.
 */
/*
 * Discovery in the current layout. *BANNER is the banner to try first (the one another layout
 * found, translated here; UINT64_MAX: search) and, on return, the one tried. -EXDEV: the
 * layout is the wrong one for this content (a PC layout over AArch64 code, or an ARM layout
 * whose page tables point outside its RAM), so the caller moves on without the full banner
 * scan, which could not help.
 */
static int discover_layout(struct vg_linux *lx, const struct vg_linux_opts *opts,
			   struct vg_err *err, int *nbanners, uint64_t *banner)
{
	enum vg_arch want = vg_mem_layout_arch(lx->mem, lx->layout);
	uint64_t banners[MAX_BANNERS];
	double t = now_ms(), t1;
	int nb, ret = -ENOENT;

	/* the first rodata-looking banner is nearly always right: full scan only if it is not */
	nb = *banner != UINT64_MAX ? (banners[0] = *banner, 1)
				   : vg_banner_find(lx->mem, banners, 1);
	t1 = now_ms();
	lx->timing.banner_ms += t1 - t;
	if (nb && (!opts->stale_banner_pa || banners[0] != opts->stale_banner_pa))
		ret = try_banner(lx, banners[0], want, true, opts, err);
	*nbanners += nb;
	if (!ret)
		return 0;
	*banner = nb ? banners[0] : UINT64_MAX;
	if (ret == -EXDEV)
		return ret;
	t = now_ms();
	nb = vg_banner_find(lx->mem, banners, MAX_BANNERS);
	lx->timing.banner_ms += now_ms() - t;
	*nbanners += nb;
	for (int i = 0; i < nb; i++)
		if (banners[i] != *banner && banners[i] != opts->stale_banner_pa &&
		    try_banner(lx, banners[i], want, false, opts, err) == 0)
			return 0;
	return -ENOENT;
}

int vg_linux_open(struct vg_linux *lx, struct vg_mem *mem, const struct vg_linux_opts *opts,
		  struct vg_err *err)
{
	struct vg_linux_opts none = { 0 };
	struct vg_err first = { 0 };
	double t0 = now_ms();
	bool pc_ruled_out = false;
	uint64_t hint_pa = 0;
	int nb = 0, nl, hint_layout = -1;

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
		uint64_t banner = UINT64_MAX;
		int ret;

		if (pc_ruled_out && vg_mem_layout_arch(mem, l) == VG_ARCH_X86_64)
			continue;
		/* the banner a layout ruled out by content found is the banner here too */
		if (hint_layout >= 0 && vg_mem_layout_xlate(mem, hint_layout, hint_pa, l, &banner))
			banner = UINT64_MAX;
		vg_mem_set_layout(mem, l);
		lx->layout = l;
		ret = discover_layout(lx, opts, &first, &nb, &banner);
		if (ret == 0) {
			lx->timing.total_ms = now_ms() - t0;
			vg_lxcache_store(lx, opts);
			if (lx->ksyms.count && lx->ksyms.hash)
				vg_ksymcache_store(lx);
			return 0;
		}
		if (ret == -EXDEV && vg_mem_layout_arch(mem, l) == VG_ARCH_X86_64)
			pc_ruled_out = true;
		if (ret == -EXDEV && banner != UINT64_MAX) {
			hint_layout = l;
			hint_pa = banner;
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
	vg_dsyms_free(lx);
	vg_ksymtab_free(&lx->ksymtab);
	vg_kallsyms_free(&lx->ksyms);
	if (lx->btf)
		btf__free(lx->btf);
	lx->btf = NULL;
}
