/* SPDX-License-Identifier: MIT */
/*
 * Discovery's architecture-specific steps (internal to src/vmi/linux). discover.c runs the
 * pipeline (layouts, banners, roots, image, kallsyms, BTF, offsets); these are the steps that
 * differ: where the kernel page tables come from, and the facts read once the symbols are known
 * (slides, the direct map, the image's extent, the symbols discovery itself needs).
 */
#ifndef VIGIL_DISCOVER_INT_H
#define VIGIL_DISCOVER_INT_H

#include "vigil/linux.h"
#include "kpgd.h"

/* A BTF file (vmlinux or raw BTF) as the kernel's BTF (lxbtf.c). */
int vg_lx_btf_file(struct vg_linux *lx, const char *path, struct vg_err *err);
/* A System.map or /proc/kallsyms-style file as the kernel's symbols, slid to where
 * linux_banner really is (lxsyms.c). */
int vg_lx_symbols_file(struct vg_linux *lx, const char *path, struct vg_err *err);

/* x86-64 (discover_x86.c) */
int vg_x86_roots(struct vg_mem *mem, uint64_t banner_pa, struct vg_kpgd *roots, int max);
/* After kallsyms: _text, the slides, init_top_pgt, paging mode, page_offset_base. */
int vg_x86_facts(struct vg_linux *lx, struct vg_err *err);
/* After BTF: does the kernel's e820 map fit the chosen layout? */
bool vg_x86_layout_ok(struct vg_linux *lx);
extern const char *const vg_x86_core_syms[VG_CORE_SYMS];

/* AArch64 (discover_arm64.c) */
int vg_arm64_roots(struct vg_linux *lx, uint64_t banner_pa, struct vg_kpgd *roots, int max,
		   int *misplaced);
/* After kallsyms: the exported symbols, _text, the slides, the linear map. */
int vg_arm64_facts(struct vg_linux *lx, const uint8_t *img, struct vg_err *err);
/* After BTF: init_uts_ns must carry the banner's release. */
int vg_arm64_check_release(struct vg_linux *lx, struct vg_err *err);
/* Per-boot values again from a cached discovery (memstart_addr, the PAC mask). */
int vg_arm64_reload(struct vg_linux *lx);
extern const char *const vg_arm64_core_syms[VG_CORE_SYMS];

/* The names behind lx->core_sym for LX's architecture. */
const char *const *vg_core_syms(const struct vg_linux *lx);

/* Exported symbols (ksymtab.c), parsed from the image on first use; 0 when present. */
int vg_linux_ksymtab(struct vg_linux *lx);
/* A data symbol kallsyms lacks (dsyms.c): ksymtab, BTF per-CPU variables, code references. */
int vg_dsym_lookup(struct vg_linux *lx, const char *name, uint64_t *addr);
void vg_dsyms_free(struct vg_linux *lx);
/* The nearest of those at or below ADDR (ksymtab and the ones resolved so far), or NULL. */
const char *vg_dsym_near(struct vg_linux *lx, uint64_t addr, uint64_t *off);

#endif
