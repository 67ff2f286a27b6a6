// SPDX-License-Identifier: MIT
/*
 * Module memory scan: struct module images found by content in the module area, so a module
 * that unlinked itself from the module list AND deleted its sysfs kobject is still seen.
 * Every mapped page of the module area (vg_linux_module_area: page-table leaves of the kernel
 * address space; on AArch64 a 4 GiB window around the image, which is left out) is scanned
 * for a word that points back to itself the way a loaded module's
 * mkobj.mod does (mod_sysfs_init sets it to the struct module that contains it); a candidate
 * must also have a known state (Live, Coming, Going) and a module-like name. Its list pointers
 * are not required to be sane: list_del() poisons them, and that is what hiding does. Unformed
 * images (state 3) are left out: they are modules being loaded or freed, and free_module marks them
 * so before the memory goes.
 *
 * Not done: reporting executable module-area memory that no module owns. BPF JIT images (in
 * shared bpf_prog_pack pages), ftrace and kprobe trampolines and optprobe buffers all live
 * there without a struct module, and telling them from a loader's anonymous code needs their
 * own lists (bpf_prog_pack, ftrace_ops trampolines, kprobe_insn_slots); see docs/checks.md.
 *
 * Bounds: the leaf walk itself is bounded (VG_AS_MAX_LEAVES/TABLES), the bytes scanned are
 * capped (MODSCAN_MAX_BYTES) and so are the images kept (VG_IDS_MAX_MODIMG).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gather_int.h"

#define MODSCAN_MAX_BYTES (512ull << 20)
#define MODULE_STATE_UNFORMED 3

struct modscan {
	struct vg_linux *lx;
	struct vg_snapshot *s;
	int32_t back_off; /* offsetof(struct module, mkobj.mod) */
	uint64_t scanned;
	bool truncated;
};

static bool name_ok(const char *n, size_t max)
{
	size_t i;

	for (i = 0; i < max && n[i]; i++)
		if (!isalnum((unsigned char)n[i]) && n[i] != '_' && n[i] != '-')
			return false;
	return i > 0 && i < max;
}

static void candidate(struct modscan *m, uint64_t mod)
{
	const struct vg_offsets *o = &m->lx->off;
	struct vg_mod_image img = { .mod = mod };
	size_t nlen = o->module_name_len > 0 && o->module_name_len < (int)sizeof(img.name)
			      ? (size_t)o->module_name_len
			      : sizeof(img.name) - 1;

	/* each address is offered once (the scan visits every word once), so no lookup for a
	 * repeat; the cap comes before any guest read */
	if (m->s->nmodimg >= VG_IDS_MAX_MODIMG ||
	    vg_as_read(&m->lx->kas, mod + o->module_name, img.name, nlen) ||
	    vg_as_read_u32(&m->lx->kas, mod + o->module_state, (uint32_t *)&img.state) ||
	    vg_as_read_u64(&m->lx->kas, mod + o->module_base, &img.base))
		return;
	img.name[sizeof(img.name) - 1] = '\0';
	if (img.state < 0 || img.state >= MODULE_STATE_UNFORMED || !name_ok(img.name, nlen))
		return;
	for (int i = 0; i < o->module_mem_count; i++) {
		uint32_t sz;

		if (vg_as_read_u32(&m->lx->kas, mod + o->module_size + i * o->module_mem_stride,
				   &sz))
			return;
		img.size += sz;
	}
	m->s->modimg[m->s->nmodimg++] = img;
}

static int scan_leaf(uint64_t va, uint64_t pa, uint64_t size, void *ctx)
{
	struct modscan *m = ctx;
	const uint8_t *p;

	if (va >= m->s->img_lo && va < m->s->img_hi)
		return 0; /* the kernel image, inside AArch64's module window */
	if (m->scanned + size > MODSCAN_MAX_BYTES) {
		m->truncated = true;
		return 1;
	}
	m->scanned += size;
	p = vg_mem_ptr(m->lx->mem, pa, size);
	if (!p)
		return 0; /* outside RAM (MMIO) or split across ranges: not module memory */
	for (uint64_t off = 0; off + 8 <= size; off += 8) {
		uint64_t v;

		memcpy(&v, p + off, 8);
		if (v == va + off - (uint64_t)m->back_off && v >= m->s->mod_lo)
			candidate(m, v);
	}
	return 0;
}

void vg_ids_gather_modscan(struct vg_linux *lx, struct vg_snapshot *s)
{
	int32_t mkobj = vg_linux_btf_offset(lx, "module", "mkobj");
	int32_t mk_mod = vg_linux_btf_offset(lx, "module_kobject", "mod");
	struct modscan m = { .lx = lx, .s = s };
	int ret;

	if (mkobj < 0 || mk_mod < 0 || lx->off.module_list < 0) {
		vg_ids_note(s, "module scan: layout unknown");
		return;
	}
	m.back_off = mkobj + mk_mod;
	s->modimg = calloc(VG_IDS_MAX_MODIMG, sizeof(*s->modimg));
	if (!s->modimg)
		return;
	ret = vg_as_for_each_leaf(&lx->kas, s->mod_lo, s->mod_hi - 1, scan_leaf, &m);
	if ((ret < 0 && ret != -E2BIG) || m.truncated) {
		vg_ids_note(s, "module area scan incomplete");
		return;
	}
	if (ret == -E2BIG) {
		vg_ids_note(s, "module area page tables too large to scan");
		return;
	}
	s->have_modscan = true;
}
