// SPDX-License-Identifier: MIT
/*
 * AArch64 discovery steps. The kernel page tables: swapper_pg_dir found among the pages near
 * the banner (kpgd_arm64.c) or, as a fast path, named by the guest's VMCOREINFO when the dump
 * carries it; the note is the guest's own text and only a claim, so its table must map the
 * banner exactly where its kimage_voffset says, and everything after (kallsyms, the exported
 * symbols, init_uts_ns, the linear map) is checked the same way as for a table found by search.
 *
 * Then the facts the symbols give. Linux 6.x lays the kernel half out as: the linear map in its
 * lower half, from PAGE_OFFSET = -(1 << VA_BITS), at physical memstart_addr (PHYS_OFFSET, moved
 * down by KASLR's linear-map randomisation); the image, modules and vmalloc in its upper half,
 * the image at kimage_vaddr (_text, KASLR-slid from KIMAGE_VADDR) with kimage_voffset = VA - PA
 * constant over it. Debian's arm64 kernel has no KALLSYMS_ALL: kallsyms holds text symbols only
 * (not even _text or linux_banner), so kimage_vaddr, memstart_addr, init_uts_ns and init_task
 * come from the exported-symbol table, and each value read is checked against the page tables.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "discover_int.h"

#define SZ_2M (2ull << 20)
#define SZ_128M (128ull << 20)
#define IMAGE_SCAN_MAX (256ull << 20)
#define UTS_LEN 65

const char *const vg_arm64_core_syms[VG_CORE_SYMS] = {
	"_text",	 "linux_banner", "init_task",	"modules",
	"memstart_addr", "kimage_vaddr", "init_uts_ns", "_stext",
};

/* The fast path: the table the dump's VMCOREINFO names, if it maps the banner where the note's
 * kimage_voffset says the image is. */
static int from_vmcoreinfo(struct vg_linux *lx, uint64_t banner_pa, struct vg_kpgd *root)
{
	const unsigned int need = VG_VMCI_SWAPPER | VG_VMCI_VOFFSET | VG_VMCI_VA_BITS;
	struct vg_vmcoreinfo vi;
	const char *text;
	uint64_t pa, va;
	size_t len;

	text = vg_mem_vmcoreinfo(lx->mem, &len);
	if (!text)
		return 0;
	if (vg_vmcoreinfo_parse(&vi, text, len) || (vi.have & need) != need ||
	    vg_arm64_levels((int)vi.va_bits) < 0) {
		lx->vmcoreinfo = "ignored: incomplete";
		return 0;
	}
	va = banner_pa + vi.kimage_voffset;
	if (vg_arm64_translate_wc(lx->mem, vi.swapper_pg_dir - vi.kimage_voffset, (int)vi.va_bits,
				  false, va, &pa, NULL, NULL) ||
	    pa != banner_pa) {
		lx->vmcoreinfo = "rejected: its swapper_pg_dir does not map the banner";
		return 0;
	}
	*root = (struct vg_kpgd){ .arch = VG_ARCH_ARM64,
				  .root = vi.swapper_pg_dir - vi.kimage_voffset,
				  .levels = vg_arm64_levels((int)vi.va_bits),
				  .va_bits = (int)vi.va_bits,
				  .banner_va = va,
				  .from_vmcoreinfo = true };
	lx->vmcoreinfo = "used";
	return 1;
}

int vg_arm64_roots(struct vg_linux *lx, uint64_t banner_pa, struct vg_kpgd *roots, int max,
		   int *misplaced)
{
	int n = max > 0 ? from_vmcoreinfo(lx, banner_pa, roots) : 0;

	/* a search too, in case the claim fails later; it finds the same table when true */
	if (n < max && vg_arm64_kpgd_scan(lx->mem, banner_pa, roots + n, 1, misplaced) == 1 &&
	    !(n && roots[n].root == roots[0].root))
		n++;
	return n;
}

static int ksym(struct vg_linux *lx, const char *name, uint64_t *addr)
{
	return vg_linux_ksymtab(lx) ? -ENOENT : vg_ksymtab_lookup(&lx->ksymtab, name, addr);
}

/* Link address of _text in Linux 6.x: KIMAGE_VADDR = MODULES_END, 128 MiB above the
 * upper half's start (_PAGE_END(VA_BITS_MIN)); 52-bit kernels place it as 48-bit ones do. */
static uint64_t link_text(int va_bits)
{
	int min = va_bits == 52 ? 48 : va_bits;

	return (~0ull << (min - 1)) + SZ_128M;
}

struct extent {
	uint64_t voffset, end;
};

static int extent_cb(uint64_t va, uint64_t pa, uint64_t size, void *c)
{
	struct extent *e = c;

	if (va - pa != e->voffset)
		return e->end ? 1 : 0; /* past the image: vmalloc space */
	e->end = va + size;
	return 0;
}

/* The linear map must put PHYS at PAGE_OFFSET + (PHYS - phys_offset): check with the banner.
 * With the linear map randomised memstart_addr is often "negative" (below physical 0): the
 * arithmetic is modulo 2^64, as the kernel's is. */
static bool linear_ok(struct vg_linux *lx, uint64_t phys_offset)
{
	uint64_t pa, va = lx->page_offset_base + (lx->banner_pa - phys_offset);

	return va >= lx->page_offset_base && !vg_as_translate(&lx->kas, va, &pa, NULL) &&
	       pa == lx->banner_pa;
}

/* memstart_addr from the kernel, else the VMCOREINFO's PHYS_OFFSET; believed only when the
 * page tables agree. */
static int find_phys_offset(struct vg_linux *lx, struct vg_err *err)
{
	struct vg_vmcoreinfo vi;
	const char *text;
	uint64_t a, v;
	size_t len;

	if (!ksym(lx, "memstart_addr", &a) && !vg_as_read_u64(&lx->kas, a, &v) &&
	    linear_ok(lx, v)) {
		lx->phys_offset = v;
		return 0;
	}
	text = vg_mem_vmcoreinfo(lx->mem, &len);
	if (text && !vg_vmcoreinfo_parse(&vi, text, len) && (vi.have & VG_VMCI_PHYS_OFFSET) &&
	    linear_ok(lx, vi.phys_offset)) {
		lx->phys_offset = vi.phys_offset;
		return 0;
	}
	return vg_errf(err, ENOENT,
		       "cannot tell where the linear map starts in physical memory "
		       "(memstart_addr unreadable or inconsistent with the page tables)");
}

int vg_arm64_facts(struct vg_linux *lx, const uint8_t *img, struct vg_err *err)
{
	struct extent ext;
	uint64_t stext, a, v;
	int ret;

	if (vg_linux_sym(lx, "_stext", &stext))
		return vg_errf(err, ENOENT, "kernel symbols have no _stext");
	ret = vg_ksymtab_parse(&lx->ksymtab, img, lx->img_len, lx->img_va, lx->ks_token_off, err);
	if (ret)
		return ret;
	lx->ksymtab_loaded = true;
	lx->kst_off = lx->ksymtab.table_off;
	lx->kimage_voffset = lx->banner_va - lx->banner_pa;
	/* kimage_vaddr holds _text; the page below _stext is not mapped (its memory is reused) */
	if (!ksym(lx, "kimage_vaddr", &a) && !vg_as_read_u64(&lx->kas, a, &v) && v <= stext &&
	    stext - v < SZ_2M && !(v & 0xffff))
		lx->text_va = v;
	else
		lx->text_va = stext & ~(SZ_2M - 1);
	lx->kaslr_slide = lx->text_va - link_text(lx->va_bits);
	lx->phys_slide = lx->text_va - lx->kimage_voffset;
	lx->page_offset_base = ~0ull << lx->va_bits;
	lx->pac_mask = ~0ull << lx->va_bits;
	ext = (struct extent){ .voffset = lx->kimage_voffset };
	vg_as_for_each_leaf(&lx->kas, lx->text_va, lx->text_va + IMAGE_SCAN_MAX - 1, extent_cb,
			    &ext);
	lx->kimage_end = ext.end ? ext.end : lx->img_va + lx->img_len;
	return find_phys_offset(lx, err);
}

/*
 * The image may hold more than one banner: Linux 6.1.y with the version-timestamp backport
 * keeps init/version.c's weak linux_banner (build number "#") beside the real one, and the
 * weak one comes first. Without a linux_banner symbol to tell them apart, the real one is the
 * banner that carries the running kernel's utsname version ("#1 SMP Debian ...").
 */
static void prefer_banner(struct vg_linux *lx, const char *version)
{
	static const char needle[] = "Linux version ";
	const uint8_t *img = vg_mem_ptr(lx->mem, lx->img_pa, lx->img_len), *p, *end;
	char want[VG_BANNER_MAX];

	if (!img || !version[0] || strstr(lx->banner, version))
		return;
	snprintf(want, sizeof(want), "%s%s ", needle, lx->release);
	end = img + lx->img_len;
	for (p = img; (p = memchr(p, 'L', (size_t)(end - p))); p++) {
		size_t room = (size_t)(end - p), n;

		if (room < sizeof(want) || memcmp(p, want, strlen(want)))
			continue;
		n = strnlen((const char *)p, room < VG_BANNER_MAX ? room : VG_BANNER_MAX - 1);
		if (n < VG_BANNER_MAX - 1 && memmem(p, n, version, strlen(version))) {
			uint64_t pa = lx->img_pa + (uint64_t)(p - img);

			lx->banner_pa = pa;
			lx->banner_va = pa + lx->kimage_voffset;
			memcpy(lx->banner, p, n);
			lx->banner[strcspn(lx->banner, "\n")] = '\0';
			return;
		}
	}
}

int vg_arm64_check_release(struct vg_linux *lx, struct vg_err *err)
{
	int32_t off = vg_btf_offset(lx->btf, "uts_namespace", "name.release");
	int32_t voff = vg_btf_offset(lx->btf, "uts_namespace", "name.version");
	char rel[UTS_LEN + 1] = { 0 }, ver[UTS_LEN + 1] = { 0 };
	uint64_t uts;

	/* the banner names the kernel it belongs to; so does the running kernel's utsname */
	if (off < 0 || ksym(lx, "init_uts_ns", &uts))
		return 0;
	if (vg_as_read(&lx->kas, uts + (uint64_t)off, rel, UTS_LEN))
		return vg_errf(err, EFAULT, "init_uts_ns at %#llx unreadable",
			       (unsigned long long)uts);
	if (strcmp(rel, lx->release))
		return vg_errf(err, EINVAL,
			       "the banner says kernel %s but the kernel's utsname says %.64s",
			       lx->release, rel);
	if (voff >= 0 && !vg_as_read(&lx->kas, uts + (uint64_t)voff, ver, UTS_LEN))
		prefer_banner(lx, ver);
	return 0;
}

int vg_arm64_reload(struct vg_linux *lx)
{
	uint64_t v;

	lx->page_offset_base = ~0ull << lx->va_bits;
	lx->pac_mask = ~0ull << lx->va_bits;
	lx->kimage_voffset = lx->banner_va - lx->banner_pa;
	lx->phys_slide = lx->text_va - lx->kimage_voffset;
	lx->kaslr_slide = lx->text_va - link_text(lx->va_bits);
	/* per boot: the linear map's physical base is read again and checked */
	if (!lx->core_sym[4] || vg_as_read_u64(&lx->kas, lx->core_sym[4], &v) || !linear_ok(lx, v))
		return -ESTALE;
	lx->phys_offset = v;
	return 0;
}
