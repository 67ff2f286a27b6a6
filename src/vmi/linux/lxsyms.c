// SPDX-License-Identifier: MIT
/* The kernel's symbols: a symbol file the user gave, or kallsyms decoded from guest memory
 * (or its cache) on first use, then the other tables a kernel without KALLSYMS_ALL has. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discover_int.h"
#include "lxcache.h"

int vg_lx_symbols_file(struct vg_linux *lx, const char *path, struct vg_err *err)
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

const char *const *vg_core_syms(const struct vg_linux *lx)
{
	return lx->arch == VG_ARCH_ARM64 ? vg_arm64_core_syms : vg_x86_core_syms;
}

/* kallsyms again, from the image location the cache recorded (the search starts right there) */
int vg_linux_load_symbols(struct vg_linux *lx, struct vg_err *err)
{
	const uint8_t *img;

	if (lx->ksyms_loaded)
		return 0;
	if (lx->symbols_file)
		return vg_lx_symbols_file(lx, lx->symbols_file, err)
			       ?: (lx->ksyms_loaded = true, 0);
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
		const char *const *core = vg_core_syms(lx);
		struct vg_err e = { 0 };

		for (int i = 0; i < VG_CORE_SYMS; i++) {
			if (!strcmp(name, core[i])) {
				*addr = lx->core_sym[i];
				return *addr ? 0 : -ENOENT;
			}
		}
		if (vg_linux_load_symbols(lx, &e))
			return -ENOENT;
	}
	s = vg_kallsyms_lookup(&lx->ksyms, name);
	if (s) {
		*addr = vg_ksym_addr(&lx->ksyms, s);
		return 0;
	}
	/* a kernel without KALLSYMS_ALL: data symbols from the other tables it has */
	return lx->ksyms_text_only ? vg_dsym_lookup(lx, name, addr) : -ENOENT;
}

const char *vg_linux_sym_near(struct vg_linux *lx, uint64_t addr, uint64_t *off)
{
	struct vg_err e = { 0 };
	const struct vg_ksym *s;

	if (vg_linux_load_symbols(lx, &e))
		return NULL;
	s = vg_kallsyms_near(&lx->ksyms, addr);
	if (lx->ksyms_text_only) {
		/* past the text, a data symbol from the other tables is nearer than kallsyms' */
		uint64_t doff;
		const char *d = vg_dsym_near(lx, addr, &doff);

		if (d && (!s || doff < addr - vg_ksym_addr(&lx->ksyms, s))) {
			*off = doff;
			return d;
		}
	}
	if (!s)
		return NULL;
	*off = addr - vg_ksym_addr(&lx->ksyms, s);
	return vg_ksym_name(&lx->ksyms, s);
}
